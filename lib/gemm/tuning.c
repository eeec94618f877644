/* The tuned-parameters store: kiln-tune's winning GEMM tiles for a device, one text
 * file per device in the cache folder (named by the hash of the device identity that
 * also keys cached binaries, with the suffix ".tune"):
 *
 *     kiln-tune 1
 *     # device: NVIDIA H100 80GB HBM3
 *     block 4096 4096 4096 128 256 8 8 8
 *     portable 1000 1000 1000 64 64 16 4 4
 *     cpu 1024 1024 1024 96 256 256 6 32
 *
 * Each entry is kernel, m n k, then tile_m tile_n tile_k wpt_m wpt_n. The folder is
 * untrusted as for binaries: the file must be a regular file of this user's, small, and
 * start with the format line; a line that does not parse, or does not end in a newline
 * (a torn write), is skipped. Tiles are checked again where they are used
 * (gemm/portable.c), and one that does not fit or build falls back to the table. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char store_suffix[] = ".tune";
static const char format_line[] = "kiln-tune 1\n";
enum { STORE_MAX_BYTES = 1 << 16, STORE_MAX_ENTRIES = 512 };
/* No m, n or k beyond this is taken from the file (keeps the distance arithmetic sane). */
static const size_t shape_max = (size_t)1 << 40;

static const char *const kind_names[GEMM_KIND_COUNT] = {
    [GEMM_KIND_PORTABLE] = "portable", [GEMM_KIND_BLOCK] = "block", [GEMM_KIND_CPU] = "cpu"};

const char *gemm_kind_name(enum gemm_kind kind)
{
    return (unsigned)kind < GEMM_KIND_COUNT ? kind_names[kind] : "portable";
}

/* ---- reading */

/* The whole file into a malloc'd string, or NULL when it is missing or unsafe. */
static char *store_read(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    char *text = NULL;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
        !(st.st_mode & (S_IWGRP | S_IWOTH)) && st.st_size < STORE_MAX_BYTES)
        text = calloc((size_t)st.st_size + 1, 1);
    if (text != NULL && read(fd, text, (size_t)st.st_size) != (ssize_t)st.st_size) {
        free(text);
        text = NULL;
    }
    close(fd);
    return text;
}

/* One line (without its newline) as an entry; false for anything malformed. */
static bool entry_parse(const char *line, struct tuned_entry *out)
{
    char kind[16];
    unsigned long long m, n, k;
    struct gemm_config c;
    int used = 0;
    if (sscanf(line, "%15s %llu %llu %llu %u %u %u %u %u%n", kind, &m, &n, &k, &c.tile_m,
               &c.tile_n, &c.tile_k, &c.wpt_m, &c.wpt_n, &used) != 9 ||
        line[strspn(line + used, " \t") + used] != '\0')
        return false;
    int found = GEMM_KIND_COUNT;
    for (int i = 0; i < GEMM_KIND_COUNT; ++i)
        if (strcmp(kind, kind_names[i]) == 0)
            found = i;
    if (found == GEMM_KIND_COUNT)
        return false;
    if (m == 0 || n == 0 || k == 0 || m > shape_max || n > shape_max || k > shape_max)
        return false;
    *out = (struct tuned_entry){(enum gemm_kind)found, (size_t)m, (size_t)n, (size_t)k, c,
                                false};
    /* A tile no kernel can be built with is kept, to be counted as a fallback at use. */
    return true;
}

/* The entries of the file's text into a malloc'd array (NULL when there is none). */
static struct tuned_entry *entries_parse(char *text, size_t *count)
{
    *count = 0;
    if (strncmp(text, format_line, sizeof(format_line) - 1) != 0)
        return NULL;
    struct tuned_entry *entries = calloc(STORE_MAX_ENTRIES, sizeof(*entries));
    char *line = text + sizeof(format_line) - 1, *end;
    while (entries != NULL && *count < STORE_MAX_ENTRIES &&
           (end = strchr(line, '\n')) != NULL) { /* no newline: a torn last line */
        *end = '\0';
        if (line[0] != '#' && line[0] != '\0' && entry_parse(line, &entries[*count]))
            ++*count;
        line = end + 1;
    }
    return entries;
}

/* The device's entries, read once per context; called under ctx->lock. */
static void tuning_load(kiln_ctx *ctx)
{
    char path[4096];
    struct tuning *tuning = &ctx->tuning;
    tuning->loaded = true;
    char *text = cache_device_file(ctx, store_suffix, path, sizeof(path)) ? store_read(path)
                                                                          : NULL;
    if (text != NULL)
        tuning->entries = entries_parse(text, &tuning->count);
    free(text);
}

/* ---- lookup */

static double shape_ratio(size_t a, size_t b)
{
    double ratio = (double)a / (double)b;
    return ratio >= 1.0 ? ratio : 1.0 / ratio;
}

/* How far an entry's shape is from m×n×k: the product of the ratios, each at least 1;
 * < 0 when one ratio is over 2 or the entry's tile does not serve the shape. */
static double entry_distance(const kiln_ctx *ctx, const struct tuned_entry *entry,
                             unsigned kinds, size_t m, size_t n, size_t k)
{
    if (entry->broken || !(kinds & GEMM_KIND_BIT(entry->kind)))
        return -1.0;
    double dm = shape_ratio(entry->m, m), dn = shape_ratio(entry->n, n),
           dk = shape_ratio(entry->k, k);
    if (dm > 2.0 || dn > 2.0 || dk > 2.0)
        return -1.0;
    bool exact = entry->m == m && entry->n == n && entry->k == k;
    /* Another shape's block tile only where it divides this one; the exact shape's is
     * taken as it is, and if it does not fit that counts as a fallback. */
    if (!exact && entry->kind == GEMM_KIND_BLOCK &&
        (!gemm_config_valid(&entry->config, GEMM_KIND_BLOCK) ||
         !gemm_block_fits(&ctx->limits, ctx->limits.max_work_group_size, &entry->config, m,
                          n, k)))
        return -1.0;
    if (!exact && entry->kind == GEMM_KIND_CPU &&
        (!gemm_config_valid(&entry->config, GEMM_KIND_CPU) ||
         !gemm_cpu_fits(&ctx->limits, &entry->config)))
        return -1.0;
    return dm * dn * dk;
}

bool tuning_lookup(kiln_ctx *ctx, unsigned kinds, size_t m, size_t n, size_t k,
                   struct tuned_entry *found, size_t *index)
{
    pthread_mutex_lock(&ctx->lock);
    if (!ctx->tuning.loaded)
        tuning_load(ctx);
    double best = -1.0;
    for (size_t i = 0; i < ctx->tuning.count; ++i) {
        double distance = entry_distance(ctx, &ctx->tuning.entries[i], kinds, m, n, k);
        if (distance >= 0.0 && (best < 0.0 || distance < best)) {
            best = distance;
            *index = i;
        }
    }
    if (best >= 0.0)
        *found = ctx->tuning.entries[*index];
    pthread_mutex_unlock(&ctx->lock);
    return best >= 0.0;
}

void tuning_mark_broken(kiln_ctx *ctx, size_t index)
{
    pthread_mutex_lock(&ctx->lock);
    if (index < ctx->tuning.count)
        ctx->tuning.entries[index].broken = true;
    pthread_mutex_unlock(&ctx->lock);
    atomic_fetch_add(&ctx->tuning.fallbacks, 1);
}

void tuning_free(struct tuning *tuning)
{
    free(tuning->entries);
    tuning->entries = NULL;
    tuning->count = 0;
    tuning->loaded = false;
}

/* ---- writing */

static bool same_key(const struct tuned_entry *a, const struct tuned_entry *b)
{
    return a->kind == b->kind && a->m == b->m && a->n == b->n && a->k == b->k;
}

static void entry_write(FILE *f, const struct tuned_entry *e)
{
    fprintf(f, "%s %zu %zu %zu %u %u %u %u %u\n", gemm_kind_name(e->kind), e->m, e->n, e->k,
            e->config.tile_m, e->config.tile_n, e->config.tile_k, e->config.wpt_m,
            e->config.wpt_n);
}

/* Writes the winners, then the old entries they do not replace, to temp. */
static bool store_write(const kiln_ctx *ctx, const char *temp, const struct tuned_entry *winners,
                        size_t count, const struct tuned_entry *old, size_t old_count)
{
    int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
    if (f == NULL) {
        if (fd >= 0)
            close(fd);
        return false;
    }
    fputs(format_line, f);
    fprintf(f, "# device: %.*s\n", (int)strcspn(ctx->device_identity, "\n"),
            ctx->device_identity);
    for (size_t i = 0; i < count; ++i)
        entry_write(f, &winners[i]);
    for (size_t i = 0; i < old_count && count + i < STORE_MAX_ENTRIES; ++i) {
        bool replaced = false;
        for (size_t j = 0; j < count; ++j)
            replaced = replaced || same_key(&old[i], &winners[j]);
        if (!replaced)
            entry_write(f, &old[i]);
    }
    return fclose(f) == 0;
}

kiln_status tuning_store(kiln_ctx *ctx, const struct tuned_entry *winners, size_t count,
                         char *path, size_t path_size)
{
    if (!cache_device_file(ctx, store_suffix, path, path_size))
        return fail(ctx, KILN_ERR_ARG, "no usable cache folder for tuned parameters "
                                       "(KILN_CACHE_DIR is off or unsafe)");
    char temp[4160];
    snprintf(temp, sizeof(temp), "%s.%ld.tmp", path, (long)getpid());
    char *text = store_read(path);
    size_t old_count = 0;
    struct tuned_entry *old = text != NULL ? entries_parse(text, &old_count) : NULL;
    bool ok = store_write(ctx, temp, winners, count, old, old_count) &&
              rename(temp, path) == 0;
    int err = errno;
    free(old);
    free(text);
    if (!ok) {
        unlink(temp);
        return fail(ctx, KILN_ERR_ARG, "cannot write %s: %s", path, strerror(err));
    }
    pthread_mutex_lock(&ctx->lock);
    tuning_free(&ctx->tuning); /* the next lookup reads the new file */
    pthread_mutex_unlock(&ctx->lock);
    return KILN_OK;
}
