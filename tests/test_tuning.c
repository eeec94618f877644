/* Tuned GEMM tiles (lib/gemm/tuning.c): a stored winner is used for its shape, one that
 * cannot fit or build falls back to the table, a damaged store file is ignored; and the
 * forced-tile entry point kiln-tune times with runs every tile of the tables on edge
 * shapes. It links kiln's objects and includes lib/internal.h on purpose, to force tiles
 * and read the context's tuning counters. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */

#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- running one GEMM */

/* C = 0.75·op(A)·op(B) - 1.25·C with the tile forced (config) or as dispatched (NULL),
 * checked against the double reference; float4-aligned with ld 4 beyond each row. */
static void check_gemm(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, const size_t shape[3],
                       enum gemm_kind kind, const struct gemm_config *config)
{
    size_t mark = scratch_mark(), m = shape[0], n = shape[1], k = shape[2];
    operand a = input_make(ctx, ta, m, k, 4, 4, FILL_RANDOM, 1);
    operand b = input_make(ctx, tb, k, n, 4, 8, FILL_RANDOM, 2);
    operand c = input_make(ctx, KILN_NO_TRANS, m, n, 4, 4, FILL_RANDOM, 3);
    struct gemm_call call = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k, .alpha = 0.75f,
                             .a = a.view, .lda = a.ld, .b = b.view, .ldb = b.ld,
                             .beta = -1.25f, .c = c.view, .ldc = c.ld, .act = KILN_ACT_NONE,
                             .batch = 1};
    reference r = reference_sgemm(ta, tb, m, n, k, call.alpha, operand_data(&a), a.ld,
                                  operand_data(&b), b.ld, call.beta, operand_data(&c), c.ld);
    assert_ok(ctx, config != NULL ? gemm_run_config(ctx, &call, kind, config)
                                  : gemm_portable_enqueue(ctx, &call));
    assert_operand_near(&c, &r);
    scratch_release_to(mark);
}

/* ---- the store */

static char folder[] = "/tmp/kiln-tuning-XXXXXX";
static char *saved_cache_dir;
static bool folder_made;

/* A context whose store file holds text: KILN_CACHE_DIR points at the run's private
 * folder for as long as the test runs (restored by cache_restore). */
static kiln_ctx *context_with_store(const char *text)
{
    const char *old = getenv("KILN_CACHE_DIR");
    saved_cache_dir = old != NULL ? strdup(old) : NULL;
    if (!folder_made) /* one folder for the run, so its built kernels are reused */
        assert_non_null(mkdtemp(folder));
    folder_made = true;
    setenv("KILN_CACHE_DIR", folder, 1);
    kiln_ctx *ctx = scratch_context(NULL);
    char path[4096];
    assert_true(cache_device_file(ctx, ".tune", path, sizeof(path)));
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return ctx;
}

static int cache_restore(void **state)
{
    scratch_release(state);
    if (!folder_made)
        return 0;
    if (saved_cache_dir != NULL)
        setenv("KILN_CACHE_DIR", saved_cache_dir, 1);
    else
        unsetenv("KILN_CACHE_DIR");
    free(saved_cache_dir);
    saved_cache_dir = NULL;
    return 0;
}

#define BLOCK_OR_PORTABLE (GEMM_KIND_BIT(GEMM_KIND_BLOCK) | GEMM_KIND_BIT(GEMM_KIND_PORTABLE))

static const size_t block_shape[3] = {64, 64, 32};   /* whole 32×32 and 64×64 blocks */
static const size_t ragged_shape[3] = {37, 45, 13};  /* no block tile serves it */

static void tuned_block_tile_is_used_for_its_exact_shape(void **state)
{
    (void)state;
    /* 32x32x8 4x4 is in no table: only the store can have picked it. */
    kiln_ctx *ctx = context_with_store("kiln-tune 1\n# a comment\n"
                                       "block 64 64 32 32 32 8 4 4\n");
    check_gemm(ctx, KILN_NO_TRANS, KILN_TRANS, block_shape, GEMM_KIND_BLOCK, NULL);
    assert_int_equal(atomic_load(&ctx->tuning.used), 1);
    assert_int_equal(atomic_load(&ctx->tuning.fallbacks), 0);
    assert_int_equal(ctx->tuning.count, 1);
}

static void tuned_cpu_tile_is_used_for_its_shape_and_not_for_alpha_zero(void **state)
{
    (void)state;
    /* 24x48x8 6x16 is in no table; a call with alpha 0 only scales C: not the CPU kernel. */
    kiln_ctx *ctx = context_with_store("kiln-tune 1\ncpu 37 45 13 24 48 8 6 16\n");
    check_gemm(ctx, KILN_TRANS, KILN_TRANS, ragged_shape, GEMM_KIND_CPU, NULL);
    assert_int_equal(atomic_load(&ctx->tuning.used), 1);
    struct tuned_entry found;
    size_t index;
    assert_false(tuning_lookup(ctx, BLOCK_OR_PORTABLE, 37, 45, 13, &found, &index));
    assert_int_equal(atomic_load(&ctx->tuning.fallbacks), 0);
}

static void tuned_portable_tile_serves_nearby_shapes(void **state)
{
    (void)state;
    kiln_ctx *ctx = context_with_store("kiln-tune 1\nportable 40 40 16 16 32 4 2 4\n");
    check_gemm(ctx, KILN_TRANS, KILN_NO_TRANS, ragged_shape, GEMM_KIND_PORTABLE, NULL);
    const size_t far[3] = {37, 45, 100}; /* k beyond twice the entry's: the table */
    check_gemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, far, GEMM_KIND_PORTABLE, NULL);
    assert_int_equal(atomic_load(&ctx->tuning.used), 1);
}

static void tuned_tile_that_cannot_fit_falls_back_to_the_table(void **state)
{
    (void)state;
    /* 256x256 blocks 1024 deep need 4 MiB of local memory; 4096x4096 with 1x1 is
     * beyond any work-group and the parameter bound; wpt 3 makes no float4 pieces. */
    kiln_ctx *ctx = context_with_store("kiln-tune 1\n"
                                       "block 256 256 1024 256 256 1024 4 4\n"
                                       "portable 37 45 13 4096 4096 4 1 1\n"
                                       "block 64 64 32 64 64 32 3 4\n");
    const size_t big[3] = {256, 256, 1024};
    check_gemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, big, GEMM_KIND_BLOCK, NULL);
    check_gemm(ctx, KILN_TRANS, KILN_TRANS, ragged_shape, GEMM_KIND_PORTABLE, NULL);
    check_gemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, block_shape, GEMM_KIND_BLOCK, NULL);
    assert_int_equal(atomic_load(&ctx->tuning.used), 0);
    assert_int_equal(atomic_load(&ctx->tuning.fallbacks), 3);
    /* Given up once per context: a second call does not try again. */
    check_gemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, big, GEMM_KIND_BLOCK, NULL);
    assert_int_equal(atomic_load(&ctx->tuning.fallbacks), 3);
}

static void damaged_store_files_are_ignored(void **state)
{
    (void)state;
    static const char *const texts[] = {
        "",                                                    /* empty */
        "kiln-tune 2\nblock 64 64 32 32 32 8 4 4\n",           /* another format */
        "kiln-tune 1\nblock 64 64 32 32 32 8 4",               /* torn: no newline */
        "kiln-tune 1\nblock 64 64 32 32 32 8 4\n",             /* a field short */
        "kiln-tune 1\nblock 64 64 32 32 32 8 4 4 9\n",         /* a field too many */
        "kiln-tune 1\nblock -64 64 32 32 32 8 4 4\n",          /* negative */
        "kiln-tune 1\nblock 64 64 0 32 32 8 4 4\n",            /* k of 0 */
        "kiln-tune 1\nwarp 64 64 32 32 32 8 4 4\n",            /* unknown kernel */
        "kiln-tune 1\nblock 64 64 32 99999999999 32 8 4 4\n",  /* overflowing tile */
        "\x7f" "ELF\x01\x02\x03garbage\n\n\n",                 /* binary */
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); ++i) {
        kiln_ctx *ctx = context_with_store(texts[i]);
        check_gemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, block_shape, GEMM_KIND_BLOCK, NULL);
        assert_int_equal(atomic_load(&ctx->tuning.used), 0);
        cache_restore(NULL);
    }
}

static void store_written_by_the_tuner_is_read_back_first_entry_first(void **state)
{
    (void)state;
    kiln_ctx *ctx = context_with_store("kiln-tune 1\nportable 64 64 32 16 16 8 4 4\n");
    const struct tuned_entry winners[] = {
        {GEMM_KIND_BLOCK, 64, 64, 32, {32, 32, 8, 4, 4}, false},
        {GEMM_KIND_PORTABLE, 64, 64, 32, {32, 32, 8, 2, 2}, false},
    };
    char path[4096];
    assert_ok(ctx, tuning_store(ctx, winners, 2, path, sizeof(path)));
    struct tuned_entry found;
    size_t index;
    assert_true(tuning_lookup(ctx, BLOCK_OR_PORTABLE, 64, 64, 32, &found, &index));
    assert_int_equal(found.kind, GEMM_KIND_BLOCK);
    assert_true(tuning_lookup(ctx, GEMM_KIND_BIT(GEMM_KIND_PORTABLE), 64, 64, 32, &found,
                              &index));
    assert_int_equal(found.config.wpt_m, 2); /* the old portable entry was replaced */
    assert_int_equal(ctx->tuning.count, 2);
}

/* ---- every tile of the tables */

enum { MAX_EDGE_SHAPES = 32 };

/* Edge shapes of a tile: 1, the tile ± 1, ragged in each dimension, k small. */
static size_t edge_shapes(const struct gemm_config *t, size_t (*shapes)[3])
{
    const size_t tm = t->tile_m, tn = t->tile_n, tk = t->tile_k;
    const size_t list[][3] = {
        {1, 1, 1},          {1, tn + 1, 3},      {tm + 1, 1, 2},       {tm, tn, tk},
        {tm - 1, tn, tk},   {tm + 1, tn, tk},    {tm, tn - 1, tk},     {tm, tn + 1, tk},
        {tm, tn, tk - 1},   {tm, tn, tk + 1},    {tm - 1, tn - 1, 1},  {tm + 1, tn + 1, 5},
        {2 * tm + 3, 7, 3}, {5, 2 * tn + 1, 9},  {3, 3, 2 * tk + 3},   {17, 33, 1},
        {tm / 2, tn / 2, tk / 2 + 1}, {2 * tm - 1, tn + 3, tk}, {7, tn - 1, 2},
        {tm + 2, 2, tk + 2}, {2 * tm, 2 * tn, 1},
    };
    size_t count = 0;
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); ++i)
        if (list[i][0] > 0 && list[i][1] > 0 && list[i][2] > 0)
            memcpy(shapes[count++], list[i], sizeof(list[i]));
    return count;
}

static void check_every_transpose(kiln_ctx *ctx, const size_t shape[3], enum gemm_kind kind,
                                  const struct gemm_config *config)
{
    for (int t = 0; t < 4; ++t)
        check_gemm(ctx, (kiln_trans)(t & 1), (kiln_trans)(t >> 1), shape, kind, config);
}

static void every_portable_tile_of_the_table_on_edge_shapes(void **state)
{
    for (size_t i = 0; i < gemm_portable_config_count; ++i) {
        size_t shapes[MAX_EDGE_SHAPES][3];
        size_t count = edge_shapes(&gemm_portable_configs[i], shapes);
        assert_true(count >= 20);
        for (size_t s = 0; s < count; ++s)
            check_every_transpose(*state, shapes[s], GEMM_KIND_PORTABLE,
                                  &gemm_portable_configs[i]);
    }
}

/* Every GPU family's block tiles on the shapes of whole blocks among multiples of the
 * tile. */
static void every_block_tile_of_every_table_on_its_shapes(void **state)
{
    kiln_ctx *ctx = *state;
    const size_t multiples[][3] = {{1, 1, 1}, {2, 1, 1}, {1, 2, 2}, {3, 1, 1}, {1, 3, 3}};
    for (int f = FAMILY_GPU; f <= FAMILY_AMD; ++f) {
        if (f == FAMILY_CPU) /* CPUs run cl/gemm_cpu.cl: the GPU table serves them */
            continue;
        struct device_limits family = ctx->limits;
        family.family = (enum device_family)f;
        struct gemm_table table = gemm_block_table(&family);
        for (size_t i = 0; i < table.count; ++i) {
            const struct gemm_config *t = &table.configs[i];
            for (size_t s = 0; s < sizeof(multiples) / sizeof(multiples[0]); ++s) {
                const size_t shape[3] = {t->tile_m * multiples[s][0],
                                         t->tile_n * multiples[s][1],
                                         t->tile_k * multiples[s][2]};
                if (gemm_block_fits(&ctx->limits, ctx->limits.max_work_group_size, t,
                                    shape[0], shape[1], shape[2]))
                    check_every_transpose(ctx, shape, GEMM_KIND_BLOCK, t);
            }
        }
    }
}

static void forced_tile_the_kernel_cannot_take_is_refused(void **state)
{
    kiln_ctx *ctx = *state;
    const struct gemm_config odd = {32, 32, 6, 4, 4}; /* block needs whole float4 k steps */
    size_t mark = scratch_mark();
    operand a = input_make(ctx, KILN_NO_TRANS, 32, 36, 0, 0, FILL_RANDOM, 1);
    struct gemm_call call = {.m = 32, .n = 32, .k = 36, .alpha = 1.0f, .a = a.view,
                             .lda = a.ld, .b = a.view, .ldb = 36, .c = a.view, .ldc = a.ld,
                             .batch = 1};
    assert_arg_error(ctx, gemm_run_config(ctx, &call, GEMM_KIND_BLOCK, &odd));
    const struct gemm_config ragged_rows = {96, 256, 256, 6, 30}; /* no whole float4s */
    assert_arg_error(ctx, gemm_run_config(ctx, &call, GEMM_KIND_CPU, &ragged_rows));
    call.alpha = 0.0f; /* C is only scaled: the CPU kernel leaves that to gemm.cl */
    assert_arg_error(ctx, gemm_run_config(ctx, &call, GEMM_KIND_CPU,
                                          &gemm_cpu_table().configs[0]));
    /* whole blocks, but A's rows 65 floats apart: the block kernel reads float4s */
    const struct gemm_config block = {64, 64, 16, 4, 4};
    operand padded = input_make(ctx, KILN_NO_TRANS, 64, 64, 1, 0, FILL_RANDOM, 2);
    operand square = input_make(ctx, KILN_NO_TRANS, 64, 64, 0, 0, FILL_RANDOM, 3);
    operand out = output_make(ctx, 64, 64, 0, 0, FILL_RANDOM, 4);
    struct gemm_call whole = {.m = 64, .n = 64, .k = 64, .alpha = 1.0f, .a = padded.view,
                              .lda = padded.ld, .b = square.view, .ldb = square.ld,
                              .c = out.view, .ldc = out.ld, .batch = 1};
    assert_arg_error(ctx, gemm_run_config(ctx, &whole, GEMM_KIND_BLOCK, &block));
    whole.a = square.view, whole.lda = square.ld; /* and taken once they are not */
    assert_ok(ctx, gemm_run_config(ctx, &whole, GEMM_KIND_BLOCK, &block));
    scratch_release_to(mark);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(tuned_block_tile_is_used_for_its_exact_shape,
                                  cache_restore),
        cmocka_unit_test_teardown(tuned_portable_tile_serves_nearby_shapes, cache_restore),
        cmocka_unit_test_teardown(tuned_cpu_tile_is_used_for_its_shape_and_not_for_alpha_zero,
                                  cache_restore),
        cmocka_unit_test_teardown(tuned_tile_that_cannot_fit_falls_back_to_the_table,
                                  cache_restore),
        cmocka_unit_test_teardown(damaged_store_files_are_ignored, cache_restore),
        cmocka_unit_test_teardown(store_written_by_the_tuner_is_read_back_first_entry_first,
                                  cache_restore),
        KILN_TEST(every_portable_tile_of_the_table_on_edge_shapes),
        KILN_TEST(every_block_tile_of_every_table_on_its_shapes),
        KILN_TEST(forced_tile_the_kernel_cannot_take_is_refused),
    };
    int failed = RUN_KILN_TESTS(tests);
    if (folder_made)
        folder_remove(folder);
    return failed;
}
