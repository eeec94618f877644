/* The on-disk program cache: compiled binaries (CL_PROGRAM_BINARIES) kept under
 * $KILN_CACHE_DIR, keyed by device, driver, source and build options.
 *
 * A cached binary is code the process will run, so the folder is untrusted input: it
 * is used only when this user owns it and nobody else can write it, and every entry is
 * checked (magic, format, key, length, checksum) before its bytes reach OpenCL. An
 * entry that fails any check, or fails to load, is deleted and rebuilt from source.
 * Entries are written to a temporary file and renamed, so concurrent processes never
 * see a torn one; the folder is kept under a size limit by evicting the least recently
 * used entries (a hit refreshes an entry's modification time). */
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* Version 2: key and checksum are XXH3-128 (version 1 used a hash of our own); an entry
 * of another version fails its check and is rebuilt. */
enum { FORMAT_VERSION = 2 };
static const char entry_magic[8] = "KILNBIN";
static const char entry_suffix[] = ".kbin";
static const unsigned long long default_limit_bytes = 256ull << 20;

struct entry_header {
    char magic[8];
    uint32_t format;
    uint32_t reserved;
    uint64_t key[2];
    uint64_t length;
    uint64_t checksum[2];
};

static atomic_ullong counter_hits, counter_misses, counter_stores, counter_rejected,
    counter_evicted;
static atomic_flag warned = ATOMIC_FLAG_INIT;
static atomic_uint temp_serial;

/* Says once per process why the cache is not used; the program still runs. */
static void warn_once(const char *path, const char *why)
{
    if (!atomic_flag_test_and_set(&warned))
        fprintf(stderr, "kiln: kernel cache %s disabled: %s\n", path, why);
}

/* ---- hashing: XXH3-128 (libxxhash), high half first */

static void hash_split(XXH128_hash_t hash, uint64_t out[2])
{
    out[0] = hash.high64;
    out[1] = hash.low64;
}

/* The hash of the strings, each with its terminating zero, so ("ab", "c") and ("a", "bc")
 * differ; false when there is no memory for the hash state. */
static bool hash_strings(const char *const *texts, size_t count, uint64_t out[2])
{
    XXH3_state_t *state = XXH3_createState();
    bool ok = state != NULL && XXH3_128bits_reset(state) == XXH_OK;
    for (size_t i = 0; ok && i < count; ++i)
        ok = XXH3_128bits_update(state, texts[i], strlen(texts[i]) + 1) == XXH_OK;
    if (ok)
        hash_split(XXH3_128bits_digest(state), out);
    XXH3_freeState(state);
    return ok;
}

/* ---- where the cache lives */

/* The cache folder into path, or false when caching is off. */
static bool cache_dir(char *path, size_t size)
{
    const char *dir = getenv("KILN_CACHE_DIR");
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (dir != NULL && *dir != '\0') {
        if (strcmp(dir, "off") == 0)
            return false;
        n = snprintf(path, size, "%s", dir);
    } else if (xdg != NULL && *xdg != '\0') {
        n = snprintf(path, size, "%s/kiln", xdg);
    } else if (home != NULL && *home != '\0') {
        n = snprintf(path, size, "%s/.cache/kiln", home);
    } else {
        return false;
    }
    return n > 0 && (size_t)n < size;
}

/* Makes each missing folder of path, the last one private to this user. */
static bool make_dirs(char *path)
{
    for (char *slash = strchr(path + 1, '/'); slash != NULL; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        bool made = mkdir(path, 0700) == 0 || errno == EEXIST;
        *slash = '/';
        if (!made)
            return false;
    }
    return mkdir(path, 0700) == 0 || errno == EEXIST;
}

/* The folder exists, is a folder, belongs to this user and only this user can write it. */
static bool dir_usable(char *path)
{
    struct stat st;
    if (!make_dirs(path)) {
        warn_once(path, strerror(errno));
        return false;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        warn_once(path, "not a folder");
        return false;
    }
    if (st.st_uid != geteuid()) {
        warn_once(path, "owned by another user");
        return false;
    }
    if (st.st_mode & (S_IWGRP | S_IWOTH)) {
        warn_once(path, "writable by other users");
        return false;
    }
    return true;
}

/* ---- entries */

struct entry_key {
    uint64_t key[2];
    char path[4096];
};

/* The key and file of (device, driver, source, options), or false when caching is off. */
static bool entry_locate(const kiln_ctx *ctx, const char *source, const char *options,
                         struct entry_key *entry)
{
    const char *const keyed[] = {ctx->device_identity, source, options};
    if (!cache_dir(entry->path, sizeof(entry->path)) || !dir_usable(entry->path) ||
        !hash_strings(keyed, 3, entry->key))
        return false;
    size_t used = strlen(entry->path);
    int n = snprintf(entry->path + used, sizeof(entry->path) - used, "/%016llx%016llx%s",
                     (unsigned long long)entry->key[0], (unsigned long long)entry->key[1],
                     entry_suffix);
    return n > 0 && (size_t)n < sizeof(entry->path) - used;
}

bool cache_device_file(const kiln_ctx *ctx, const char *suffix, char *path, size_t size)
{
    const char *const keyed[] = {ctx->device_identity};
    uint64_t key[2];
    if (!cache_dir(path, size) || !dir_usable(path) || !hash_strings(keyed, 1, key))
        return false;
    size_t used = strlen(path);
    int n = snprintf(path + used, size - used, "/%016llx%016llx%s", (unsigned long long)key[0],
                     (unsigned long long)key[1], suffix);
    return n > 0 && (size_t)n < size - used;
}

static void checksum_of(const void *data, size_t length, uint64_t out[2])
{
    hash_split(XXH3_128bits(data, length), out);
}

static bool read_all(int fd, void *data, size_t length)
{
    unsigned char *p = data;
    while (length > 0) {
        ssize_t n = read(fd, p, length);
        if (n <= 0)
            return false;
        p += n;
        length -= (size_t)n;
    }
    return true;
}

/* The checked payload of the entry into a malloc'd *binary, or false for a missing
 * (*present false) or bad (*present true) entry. */
static bool entry_read(const struct entry_key *entry, unsigned char **binary, size_t *length,
                       bool *present)
{
    int fd = open(entry->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    *present = fd >= 0 || errno != ENOENT;
    if (fd < 0)
        return false;
    struct stat st;
    struct entry_header header;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
              (size_t)st.st_size > sizeof(header) && read_all(fd, &header, sizeof(header)) &&
              memcmp(header.magic, entry_magic, sizeof(entry_magic)) == 0 &&
              header.format == FORMAT_VERSION && header.key[0] == entry->key[0] &&
              header.key[1] == entry->key[1] &&
              header.length == (uint64_t)st.st_size - sizeof(header);
    unsigned char *data = ok ? malloc(header.length) : NULL;
    uint64_t checksum[2] = {0, 0};
    ok = data != NULL && read_all(fd, data, header.length);
    if (ok)
        checksum_of(data, header.length, checksum);
    ok = ok && checksum[0] == header.checksum[0] && checksum[1] == header.checksum[1];
    if (ok)
        futimens(fd, NULL); /* recently used: last to be evicted */
    close(fd);
    if (!ok) {
        free(data);
        return false;
    }
    *binary = data;
    *length = header.length;
    return true;
}

static void entry_reject(const struct entry_key *entry)
{
    unlink(entry->path);
    atomic_fetch_add(&counter_rejected, 1);
}

/* Builds the program from the entry's binary; false (entry deleted) when that fails. */
static bool program_from_entry(const kiln_ctx *ctx, const struct entry_key *entry,
                               const char *options, cl_program *out)
{
    unsigned char *binary;
    size_t length;
    bool present;
    if (!entry_read(entry, &binary, &length, &present)) {
        if (present)
            entry_reject(entry);
        return false;
    }
    cl_int binary_status, err;
    const unsigned char *bytes = binary;
    cl_program program = clCreateProgramWithBinary(ctx->context, 1, &ctx->device, &length,
                                                   &bytes, &binary_status, &err);
    free(binary);
    if (err == CL_SUCCESS && binary_status == CL_SUCCESS &&
        clBuildProgram(program, 1, &ctx->device, options, NULL, NULL) == CL_SUCCESS) {
        *out = program;
        return true;
    }
    if (err == CL_SUCCESS)
        clReleaseProgram(program);
    entry_reject(entry);
    return false;
}

bool cache_load(const kiln_ctx *ctx, const char *source, const char *options, cl_program *out)
{
    struct entry_key entry;
    if (!entry_locate(ctx, source, options, &entry))
        return false;
    bool hit = program_from_entry(ctx, &entry, options, out);
    atomic_fetch_add(hit ? &counter_hits : &counter_misses, 1);
    return hit;
}

/* The program's binary for its one device, malloc'd. */
static unsigned char *program_binary(cl_program program, size_t *length)
{
    cl_uint devices = 0;
    if (clGetProgramInfo(program, CL_PROGRAM_NUM_DEVICES, sizeof(devices), &devices, NULL) !=
            CL_SUCCESS ||
        devices != 1 ||
        clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof(*length), length, NULL) !=
            CL_SUCCESS ||
        *length == 0)
        return NULL;
    unsigned char *binary = malloc(*length);
    if (binary != NULL && clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof(binary),
                                           &binary, NULL) != CL_SUCCESS) {
        free(binary);
        binary = NULL;
    }
    return binary;
}

static bool write_all(int fd, const void *data, size_t length)
{
    const unsigned char *p = data;
    while (length > 0) {
        ssize_t n = write(fd, p, length);
        if (n <= 0)
            return false;
        p += n;
        length -= (size_t)n;
    }
    return true;
}

/* Writes header and payload to a temporary file beside the entry, then renames it into
 * place: a reader sees the old entry, none, or the whole new one. */
static bool entry_write(const struct entry_key *entry, const unsigned char *binary,
                        size_t length)
{
    char temp[4160];
    snprintf(temp, sizeof(temp), "%s.%ld.%u.tmp", entry->path, (long)getpid(),
             atomic_fetch_add(&temp_serial, 1));
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        warn_once(entry->path, strerror(errno));
        return false;
    }
    struct entry_header header = {.format = FORMAT_VERSION, .length = length};
    memcpy(header.magic, entry_magic, sizeof(entry_magic));
    header.key[0] = entry->key[0];
    header.key[1] = entry->key[1];
    checksum_of(binary, length, header.checksum);
    bool ok = write_all(fd, &header, sizeof(header)) && write_all(fd, binary, length);
    ok = close(fd) == 0 && ok && rename(temp, entry->path) == 0;
    if (!ok)
        unlink(temp);
    return ok;
}

static unsigned long long cache_limit_bytes(void)
{
    const char *text = getenv("KILN_CACHE_MAX_BYTES");
    char *end;
    unsigned long long limit = text != NULL ? strtoull(text, &end, 10) : 0;
    return text != NULL && *text != '\0' && *end == '\0' ? limit : default_limit_bytes;
}

struct cached_file {
    char name[128];
    time_t used;
    unsigned long long bytes;
};

static int older_first(const void *a, const void *b)
{
    const struct cached_file *x = a, *y = b;
    return (x->used > y->used) - (x->used < y->used);
}

static bool is_entry_name(const char *name)
{
    size_t length = strlen(name), suffix = sizeof(entry_suffix) - 1;
    return length > suffix && length < sizeof(((struct cached_file *)0)->name) &&
           strcmp(name + length - suffix, entry_suffix) == 0;
}

/* Lists the folder's entries into a malloc'd array. */
static struct cached_file *list_entries(const char *dir, size_t *count,
                                        unsigned long long *total)
{
    DIR *folder = opendir(dir);
    struct cached_file *files = NULL;
    size_t capacity = 0;
    *count = 0;
    *total = 0;
    struct dirent *item;
    while (folder != NULL && (item = readdir(folder)) != NULL) {
        struct stat st;
        if (!is_entry_name(item->d_name) ||
            fstatat(dirfd(folder), item->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (*count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            struct cached_file *grown = realloc(files, capacity * sizeof(*files));
            if (grown == NULL)
                break;
            files = grown;
        }
        struct cached_file *file = &files[(*count)++];
        /* is_entry_name checked that it fits; the precision tells GCC so at -O0 too. */
        snprintf(file->name, sizeof(file->name), "%.*s", (int)sizeof(file->name) - 1,
                 item->d_name);
        file->used = st.st_mtime;
        file->bytes = (unsigned long long)st.st_size;
        *total += file->bytes;
    }
    if (folder != NULL)
        closedir(folder);
    return files;
}

/* Deletes the least recently used entries until the folder is within its limit. */
static void evict(const char *entry_path)
{
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s", entry_path);
    char *slash = strrchr(dir, '/');
    if (slash == NULL)
        return;
    *slash = '\0';
    size_t count;
    unsigned long long total, limit = cache_limit_bytes();
    struct cached_file *files = list_entries(dir, &count, &total);
    if (count > 1) /* files is NULL when the listing found nothing or memory ran out */
        qsort(files, count, sizeof(*files), older_first);
    char path[4224];
    for (size_t i = 0; i < count && total > limit; ++i) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i].name);
        if (unlink(path) == 0) {
            total -= files[i].bytes;
            atomic_fetch_add(&counter_evicted, 1);
        }
    }
    free(files);
}

void cache_store(const kiln_ctx *ctx, const char *source, const char *options,
                 cl_program program)
{
    struct entry_key entry;
    if (!entry_locate(ctx, source, options, &entry))
        return;
    size_t length;
    unsigned char *binary = program_binary(program, &length);
    if (binary != NULL && entry_write(&entry, binary, length)) {
        atomic_fetch_add(&counter_stores, 1);
        evict(entry.path);
    }
    free(binary);
}

KILN_API kiln_status kiln_cache_stats_get(kiln_cache_stats *stats)
{
    if (stats == NULL)
        return fail(NULL, KILN_ERR_ARG, "stats is NULL");
    if (stats->struct_size < sizeof(*stats))
        return fail(NULL, KILN_ERR_ARG,
                    "stats->struct_size is %zu; set it to sizeof(kiln_cache_stats), %zu",
                    stats->struct_size, sizeof(*stats));
    stats->hits = atomic_load(&counter_hits);
    stats->misses = atomic_load(&counter_misses);
    stats->stores = atomic_load(&counter_stores);
    stats->rejected = atomic_load(&counter_rejected);
    stats->evicted = atomic_load(&counter_evicted);
    return KILN_OK;
}
