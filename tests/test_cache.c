/* The on-disk kernel cache: entries are stored, reused by a new context, and a bad
 * entry is rebuilt, never trusted. Each test works in a fresh private folder. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "common.h"

#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static kiln_cache_stats stats_now(void)
{
    kiln_cache_stats stats = {.struct_size = sizeof stats};
    assert_ok(NULL, kiln_cache_stats_get(&stats));
    return stats;
}

/* A new private folder as KILN_CACHE_DIR. */
static int cache_folder_make(void **state)
{
    static char path[64];
    snprintf(path, sizeof path, "%s", "/tmp/kiln-cache-test-XXXXXX");
    if (mkdtemp(path) == NULL || setenv("KILN_CACHE_DIR", path, 1) != 0)
        return -1;
    *state = path;
    return 0;
}

static size_t files_seen;

static int cache_folder_remove(void **state)
{
    scratch_release(state);
    return folder_remove(getenv("KILN_CACHE_DIR"));
}

/* How cache_folder_spoil damages each entry. The SPOIL_PAYLOAD_* kinds keep the header
 * whole and consistent (magic, format, key, and a length that matches the file), so
 * only the payload's checksum can tell. */
static enum {
    SPOIL_OVERWRITE,
    SPOIL_TRUNCATE,
    SPOIL_EMPTY,
    SPOIL_FOREIGN,
    SPOIL_PAYLOAD_BYTE,    /* one byte in the middle of the payload flipped */
    SPOIL_PAYLOAD_CUT,     /* the payload's second half cut off, the length made to match */
    SPOIL_PAYLOAD_SWAPPED, /* the payload of another program's entry under this header */
} spoil_kind;
static char first_entry[4096]; /* SPOIL_FOREIGN, _SWAPPED: the entry others copy */

/* The entry layout of lib/cache.c (format 2): a 56-byte header whose payload length is
 * the little-endian uint64 at byte 32. payload_spoil checks that this still holds. */
enum { HEADER_BYTES = 56, LENGTH_AT = 32 };

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int c, status = in != NULL && out != NULL ? 0 : -1;
    while (status == 0 && (c = fgetc(in)) != EOF)
        fputc(c, out);
    if (in != NULL)
        fclose(in);
    return out != NULL ? fclose(out) | status : status;
}

/* The whole file in a malloc'd array. */
static unsigned char *file_read(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    long end = ftell(file);
    assert_true(end > HEADER_BYTES);
    unsigned char *bytes = malloc((size_t)end);
    assert_non_null(bytes);
    rewind(file);
    assert_int_equal(fread(bytes, 1, (size_t)end, file), (size_t)end);
    fclose(file);
    *size = (size_t)end;
    return bytes;
}

static void file_write(const char *path, const unsigned char *bytes, size_t size)
{
    FILE *file = fopen(path, "wb");
    assert_non_null(file);
    assert_int_equal(fwrite(bytes, 1, size, file), size);
    assert_int_equal(fclose(file), 0);
}

static uint64_t header_length(const unsigned char *header)
{
    uint64_t length = 0;
    for (int i = 7; i >= 0; i--)
        length = length << 8 | header[LENGTH_AT + i];
    return length;
}

static void header_length_set(unsigned char *header, uint64_t length)
{
    for (int i = 0; i < 8; i++, length >>= 8)
        header[LENGTH_AT + i] = (unsigned char)length;
}

/* Damages the entry's payload as spoil_kind says, leaving a header that agrees with the
 * file's new size. */
static int payload_spoil(const char *path)
{
    size_t size, donor_size = 0;
    unsigned char *entry = file_read(path, &size), *donor = NULL;
    assert_int_equal(header_length(entry), size - HEADER_BYTES); /* the layout still holds */
    if (spoil_kind == SPOIL_PAYLOAD_BYTE) {
        entry[HEADER_BYTES + (size - HEADER_BYTES) / 2] ^= 0x01;
    } else if (spoil_kind == SPOIL_PAYLOAD_CUT) {
        size = HEADER_BYTES + (size - HEADER_BYTES) / 2;
    } else if (first_entry[0] == '\0') {
        snprintf(first_entry, sizeof first_entry, "%s", path); /* the donor stays whole */
    } else {
        donor = file_read(first_entry, &donor_size);
        unsigned char *grown = realloc(entry, donor_size);
        assert_non_null(grown);
        entry = grown;
        memcpy(entry + HEADER_BYTES, donor + HEADER_BYTES, donor_size - HEADER_BYTES);
        size = donor_size;
    }
    header_length_set(entry, size - HEADER_BYTES);
    file_write(path, entry, size);
    free(entry);
    free(donor);
    return 0;
}

/* Overwrites the start with bytes no entry holds, cuts the file to half or to nothing,
 * replaces it with another program's entry (valid, but for another key), or damages
 * only its payload. */
static int spoil_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    files_seen++;
    if (spoil_kind >= SPOIL_PAYLOAD_BYTE)
        return payload_spoil(path);
    if (spoil_kind == SPOIL_TRUNCATE || spoil_kind == SPOIL_EMPTY)
        return truncate(path, spoil_kind == SPOIL_EMPTY ? 0 : sb->st_size / 2);
    if (spoil_kind == SPOIL_FOREIGN) {
        if (first_entry[0] == '\0')
            snprintf(first_entry, sizeof first_entry, "%s", path);
        return strcmp(first_entry, path) == 0 ? 0 : copy_file(first_entry, path);
    }
    FILE *file = fopen(path, "r+b");
    if (file == NULL)
        return -1;
    for (int i = 0; i < 64; i++)
        fputc(0x5a, file);
    return fclose(file);
}

static size_t cache_folder_spoil(void)
{
    files_seen = 0;
    first_entry[0] = '\0';
    assert_int_equal(nftw(getenv("KILN_CACHE_DIR"), spoil_file, 16, FTW_PHYS), 0);
    return files_seen;
}

/* Opens a new context (so no program is built yet) and checks a vadd on it. */
static void vadd_on_a_new_context(void)
{
    assert_vadd_works(scratch_context(NULL));
}

static void cache_stores_a_program_and_a_new_context_reuses_it(void **state)
{
    (void)state;
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    kiln_cache_stats built = stats_now();
    assert_true(built.misses > before.misses);
    assert_true(built.stores > before.stores);
    vadd_on_a_new_context();
    kiln_cache_stats reused = stats_now();
    assert_true(reused.hits > built.hits);
    assert_int_equal(reused.stores, built.stores);
}

/* Stores the programs of vadd and sgemm, damages every entry, and checks that new
 * contexts reject the damaged ones, rebuild and compute right. */
static void check_rebuilt_after(int kind)
{
    spoil_kind = kind;
    vadd_on_a_new_context();
    assert_sgemm_works(scratch_context(NULL));
    bool copies = kind == SPOIL_FOREIGN || kind == SPOIL_PAYLOAD_SWAPPED;
    assert_true(cache_folder_spoil() > (copies ? 1 : 0));
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    assert_sgemm_works(scratch_context(NULL));
    kiln_cache_stats after = stats_now();
    assert_true(after.rejected > before.rejected);
    assert_true(after.misses > before.misses);
}

static void cache_rebuilds_an_entry_that_fails_its_check(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_OVERWRITE);
}

static void cache_rebuilds_a_truncated_entry(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_TRUNCATE);
}

static void cache_rebuilds_a_zero_length_entry(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_EMPTY);
}

static void cache_rebuilds_an_entry_of_another_program(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_FOREIGN);
}

static void cache_rebuilds_an_entry_with_a_flipped_payload_byte_under_its_header(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_PAYLOAD_BYTE);
}

static void cache_rebuilds_an_entry_with_a_cut_payload_under_a_matching_header(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_PAYLOAD_CUT);
}

/* The payload is a whole, loadable binary, but of another program: only the checksum
 * keeps kiln from running the wrong kernels. */
static void cache_rebuilds_an_entry_holding_another_programs_payload(void **state)
{
    (void)state;
    check_rebuilt_after(SPOIL_PAYLOAD_SWAPPED);
}

/* Caching is off for a folder that cannot be made or is not safe, and kiln still runs. */
static void check_runs_without_caching(const char *folder)
{
    const char *saved = getenv("KILN_CACHE_DIR");
    char kept[256];
    snprintf(kept, sizeof kept, "%s", saved);
    assert_int_equal(setenv("KILN_CACHE_DIR", folder, 1), 0);
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    kiln_cache_stats after = stats_now();
    assert_int_equal(setenv("KILN_CACHE_DIR", kept, 1), 0);
    assert_int_equal(after.stores, before.stores);
    assert_int_equal(after.hits, before.hits);
}

static void cache_folder_that_cannot_be_made_only_disables_caching(void **state)
{
    char under_a_file[300];
    snprintf(under_a_file, sizeof under_a_file, "%s/file", (const char *)*state);
    FILE *file = fopen(under_a_file, "w");
    assert_non_null(file);
    fclose(file);
    strcat(under_a_file, "/kiln"); /* a folder inside a regular file */
    check_runs_without_caching(under_a_file);
    check_runs_without_caching("/proc/kiln-cache"); /* not writable, even by root */
}

static void cache_folder_others_can_write_is_not_used(void **state)
{
    char open_folder[300];
    snprintf(open_folder, sizeof open_folder, "%s/open", (const char *)*state);
    assert_int_equal(mkdir(open_folder, 0700), 0);
    assert_int_equal(chmod(open_folder, 0777), 0);
    check_runs_without_caching(open_folder);
}

static void cache_folder_that_is_missing_is_made(void **state)
{
    char missing[300];
    snprintf(missing, sizeof missing, "%s/new/deeper", (const char *)*state);
    assert_int_equal(setenv("KILN_CACHE_DIR", missing, 1), 0);
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    kiln_cache_stats after = stats_now();
    assert_true(after.stores > before.stores);
    struct stat st;
    assert_int_equal(stat(missing, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    assert_int_equal(setenv("KILN_CACHE_DIR", (const char *)*state, 1), 0);
}

static void cache_turned_off_stores_nothing(void **state)
{
    const char *folder = *state;
    assert_int_equal(setenv("KILN_CACHE_DIR", "off", 1), 0);
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    kiln_cache_stats after = stats_now();
    assert_int_equal(setenv("KILN_CACHE_DIR", folder, 1), 0);
    assert_int_equal(after.stores, before.stores);
    assert_int_equal(after.hits, before.hits);
}

/* Counts the folder's files (cache_folder_spoil's walk, damaging nothing). */
static int count_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)path, (void)sb, (void)ftw;
    files_seen += flag == FTW_F;
    return 0;
}

static size_t cache_folder_count(void)
{
    files_seen = 0;
    assert_int_equal(nftw(getenv("KILN_CACHE_DIR"), count_file, 16, FTW_PHYS), 0);
    return files_seen;
}

/* A limit below any entry's size: each store evicts what is there, itself included. */
static void cache_evicts_entries_beyond_its_size_limit(void **state)
{
    (void)state;
    assert_int_equal(setenv("KILN_CACHE_MAX_BYTES", "1", 1), 0);
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    assert_sgemm_works(scratch_context(NULL));
    kiln_cache_stats after = stats_now();
    assert_int_equal(unsetenv("KILN_CACHE_MAX_BYTES"), 0);
    assert_true(after.stores > before.stores);
    assert_int_equal(after.evicted - before.evicted, after.stores - before.stores);
    assert_int_equal(cache_folder_count(), 0);
}

static void cache_stats_get_rejects_null(void **state)
{
    (void)state;
    assert_arg_error(NULL, kiln_cache_stats_get(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(cache_stores_a_program_and_a_new_context_reuses_it,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_rebuilds_an_entry_that_fails_its_check,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_rebuilds_a_truncated_entry, cache_folder_make,
                                        cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_rebuilds_a_zero_length_entry, cache_folder_make,
                                        cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_rebuilds_an_entry_of_another_program,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(
            cache_rebuilds_an_entry_with_a_flipped_payload_byte_under_its_header,
            cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(
            cache_rebuilds_an_entry_with_a_cut_payload_under_a_matching_header,
            cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(
            cache_rebuilds_an_entry_holding_another_programs_payload, cache_folder_make,
            cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_turned_off_stores_nothing, cache_folder_make,
                                        cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_that_cannot_be_made_only_disables_caching,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_others_can_write_is_not_used,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_that_is_missing_is_made,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_evicts_entries_beyond_its_size_limit,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test(cache_stats_get_rejects_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
