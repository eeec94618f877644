/* The on-disk kernel cache: entries are stored, reused by a new context, and a bad
 * entry is rebuilt, never trusted. Each test works in a fresh private folder. */
#define _XOPEN_SOURCE 700 /* nftw */
#include "common.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
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

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static int cache_folder_remove(void **state)
{
    scratch_release(state);
    return nftw(getenv("KILN_CACHE_DIR"), remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Overwrites every file with bytes no cache entry can hold, counting them. */
static int spoil_file(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)ftw;
    if (flag != FTW_F)
        return 0;
    FILE *file = fopen(path, "r+b");
    if (file == NULL)
        return -1;
    for (int i = 0; i < 64; i++)
        fputc(0x5a, file);
    files_seen++;
    return fclose(file);
}

static size_t cache_folder_spoil(void)
{
    files_seen = 0;
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

static void cache_rebuilds_an_entry_that_fails_its_check(void **state)
{
    (void)state;
    vadd_on_a_new_context();
    assert_true(cache_folder_spoil() > 0);
    kiln_cache_stats before = stats_now();
    vadd_on_a_new_context();
    kiln_cache_stats after = stats_now();
    assert_true(after.rejected > before.rejected);
    assert_true(after.misses > before.misses);
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
        cmocka_unit_test_setup_teardown(cache_turned_off_stores_nothing, cache_folder_make,
                                        cache_folder_remove),
        cmocka_unit_test(cache_stats_get_rejects_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
