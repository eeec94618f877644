/* The on-disk kernel cache: entries are stored, reused by a new context, and a bad
 * entry is rebuilt, never trusted. Each test works in a fresh private folder. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "common.h"

#include <ftw.h>
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

/* How cache_folder_spoil damages each entry. */
static enum { SPOIL_OVERWRITE, SPOIL_TRUNCATE, SPOIL_EMPTY, SPOIL_FOREIGN } spoil_kind;
static char first_entry[4096]; /* SPOIL_FOREIGN: every entry becomes a copy of this one */

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

/* Overwrites the start with bytes no entry holds, cuts the file to half or to nothing,
 * or replaces it with another program's entry (valid, but for another key). */
static int spoil_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)ftw;
    if (flag != FTW_F)
        return 0;
    files_seen++;
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
    assert_true(cache_folder_spoil() > (kind == SPOIL_FOREIGN ? 1 : 0));
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
        cmocka_unit_test_setup_teardown(cache_turned_off_stores_nothing, cache_folder_make,
                                        cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_that_cannot_be_made_only_disables_caching,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_others_can_write_is_not_used,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test_setup_teardown(cache_folder_that_is_missing_is_made,
                                        cache_folder_make, cache_folder_remove),
        cmocka_unit_test(cache_stats_get_rejects_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
