/*
 * The dispatcher is pure: these tests drive it with made-up device limits, no device.
 * They include lib/internal.h on purpose, to reach the plan_* functions.
 */
#include "internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

static const struct device_limits nvidia_like = {1024, {1024, 1024, 64}, 132, 48 << 10, FAMILY_GPU, 1, 90};
static const struct device_limits amd_like = {256, {1024, 1024, 1024}, 104, 64 << 10, FAMILY_AMD, 4, 0};
static const struct device_limits pocl_like = {4096, {4096, 4096, 4096}, 2, 1 << 20, FAMILY_CPU, 16, 0};
static const struct device_limits tiny_one = {1, {1, 1, 1}, 1, 1 << 10, FAMILY_GPU, 1, 0};
static const struct device_limits tiny_64 = {64, {64, 64, 64}, 1, 1 << 10, FAMILY_GPU, 1, 0};

static const struct device_limits *const devices[] = {&nvidia_like, &amd_like, &pocl_like,
                                                      &tiny_one, &tiny_64};

/* What every launch must satisfy on `device` for a kernel allowing kernel_group. */
static void assert_launch_fits(const struct launch *plan, const struct device_limits *device,
                               size_t kernel_group)
{
    size_t items = 1;
    for (unsigned d = 0; d < plan->dims; ++d) {
        assert_true(plan->local[d] >= 1);
        assert_true(plan->local[d] <= device->max_work_item_sizes[d]);
        assert_int_equal(plan->global[d] % plan->local[d], 0);
        /* CUDA-based drivers: 2^31 - 1 groups along x, 65535 along y and z. */
        assert_true(plan->global[d] / plan->local[d] <= (d == 0 ? 2147483647u : 65535u));
        items *= plan->local[d];
    }
    assert_true(items <= device->max_work_group_size);
    assert_true(items <= kernel_group);
}

/* plan's groups are `width` items along dimension 0 by `lanes` along dimension 1. */
static void group_is(const struct launch *plan, size_t width, size_t lanes)
{
    assert_int_equal(plan->local[0], width);
    assert_int_equal(plan->local[1], lanes);
}

/* An elementwise plan for n fits, and for large n neither gives every element its own
 * work-item nor puts all of them in one work-group. */
static void check_elementwise(const struct device_limits *device,
                              const struct kernel_limits *kernel, size_t n)
{
    struct launch plan = plan_elementwise(device, kernel, n);
    assert_int_equal(plan.dims, 1);
    assert_launch_fits(&plan, device, kernel->work_group_size);
    if (n >= (size_t)1 << 32) /* huge n loops: never a work-item per step */
        assert_true(plan.global[0] < n);
    assert_true(plan.local[0] <= device->max_work_group_size);
    /* A step per work-item while that keeps the grid within 2^20 groups. */
    size_t groups = plan.global[0] / plan.local[0];
    assert_true(groups <= (size_t)1 << 20);
    assert_true(groups == (size_t)1 << 20 || plan.global[0] >= n);
}

static void elementwise_plans_fit_every_device_for_n_from_0_to_2_pow_40(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d) {
        struct kernel_limits kernel = {devices[d]->max_work_group_size, 32};
        for (unsigned bits = 0; bits <= 40; ++bits) {
            size_t n = (size_t)1 << bits;
            check_elementwise(devices[d], &kernel, n - 1);
            check_elementwise(devices[d], &kernel, n);
            check_elementwise(devices[d], &kernel, n + 1);
        }
    }
}

static void elementwise_plan_for_500000_is_never_one_group_of_500000(void **state)
{
    (void)state;
    struct kernel_limits kernel = {1024, 32};
    struct launch plan = plan_elementwise(&nvidia_like, &kernel, 500000);
    assert_true(plan.local[0] <= 1024);
    assert_true(plan.global[0] / plan.local[0] > 1);
    assert_int_equal(plan.local[0] % 32, 0);
}

static void elementwise_plan_respects_a_kernel_smaller_than_the_device(void **state)
{
    (void)state;
    struct kernel_limits kernel = {96, 32};
    struct launch plan = plan_elementwise(&nvidia_like, &kernel, 1 << 20);
    assert_true(plan.local[0] <= 96);
    assert_int_equal(plan.local[0] % 32, 0);
}

/* The geam tile fits, and its launch fits the device. */
static void check_geam(const struct device_limits *device, size_t max_threads, size_t m,
                       size_t n)
{
    const struct geam_config *config = plan_geam_config(device, max_threads);
    assert_non_null(config);
    assert_true(config->rows <= config->tile);
    assert_true(2 * sizeof(float) * config->tile * (config->tile + 1) <=
                device->local_mem_bytes);
    struct launch plan = plan_geam(device, config, m, n);
    assert_int_equal(plan.dims, 2);
    assert_launch_fits(&plan, device, max_threads);
}

static void geam_tiles_fit_every_device(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{0, 0}, {1, 1}, {7, 1025}, {1025, 7}, {1 << 20, 3}, {3, 1 << 20}};
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
            check_geam(devices[d], devices[d]->max_work_group_size, shapes[s][0],
                       shapes[s][1]);
    assert_int_equal(plan_geam_config(&nvidia_like, 1024)->tile, 32);
    assert_int_equal(plan_geam_config(&tiny_one, 1)->tile, 1);
}

/* The tile config fits, and its launch covers the matrix or strides over it. */
static void check_gemm(const struct device_limits *device, size_t max_threads, size_t m,
                       size_t n)
{
    const struct gemm_config *config = plan_gemm_config(device, max_threads);
    assert_non_null(config);
    assert_true(gemm_config_threads(config) <= max_threads);
    assert_true(sizeof(float) * config->tile_k * (config->tile_m + config->tile_n + 2) <=
                device->local_mem_bytes);
    assert_int_equal(config->tile_m % config->wpt_m, 0);
    assert_int_equal(config->tile_n % config->wpt_n, 0);
    struct launch plan = plan_gemm(config, m, n, 1);
    assert_launch_fits(&plan, device, max_threads);
}

/* A batch takes the third dimension, a work-item deep, capped at 65535 groups (the
 * kernels stride beyond); one product stays 2-D. */
static void gemm_batches_span_the_third_dimension_up_to_its_cap(void **state)
{
    (void)state;
    const struct gemm_config *config = plan_gemm_config(&nvidia_like, 1024);
    const size_t batches[][2] = {{1, 1}, {2, 2}, {65535, 65535}, {70001, 65535}};
    for (size_t i = 0; i < sizeof(batches) / sizeof(batches[0]); ++i) {
        struct launch plan = plan_gemm(config, 7, 17, batches[i][0]);
        assert_int_equal(plan.dims, batches[i][0] > 1 ? 3 : 2);
        assert_int_equal(plan.global[2], batches[i][1]);
        assert_int_equal(plan.local[2], 1);
        assert_launch_fits(&plan, &nvidia_like, 1024);
        struct gemv_config gemv = plan_gemv_config(&nvidia_like, 1024, true, 7, 17);
        plan = plan_gemv(&gemv, true, 7, batches[i][0]);
        assert_int_equal(plan.global[2], batches[i][1]);
        assert_launch_fits(&plan, &nvidia_like, 1024);
    }
}

static void gemm_tiles_fit_every_device_and_shrink_on_small_ones(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{1, 1}, {7, 17}, {1025, 1023}, {1 << 22, 1}, {1, 1 << 22}};
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
            check_gemm(devices[d], devices[d]->max_work_group_size, shapes[s][0],
                       shapes[s][1]);
    assert_int_equal(gemm_config_threads(plan_gemm_config(&tiny_one, 1)), 1);
    assert_true(gemm_config_threads(plan_gemm_config(&tiny_64, 64)) <= 64);
    assert_int_equal(gemm_config_threads(plan_gemm_config(&nvidia_like, 1024)), 256);
}

static void gemm_tile_falls_back_when_the_kernel_allows_fewer_work_items(void **state)
{
    (void)state;
    const struct gemm_config *config = plan_gemm_config(&nvidia_like, 255);
    assert_non_null(config);
    assert_true(gemm_config_threads(config) <= 255);
}

static void gemm_tile_is_none_when_local_memory_holds_no_tile(void **state)
{
    (void)state;
    struct device_limits no_local = nvidia_like;
    no_local.local_mem_bytes = 16;
    assert_null(plan_gemm_config(&no_local, 1024));
}

/* The block tile for m×n×k, as "MxNxK", or "none". */
static void block_tile_is(const struct device_limits *device, size_t m, size_t n, size_t k,
                          const char *expected)
{
    const struct gemm_config *config =
        plan_gemm_block_config(device, device->max_work_group_size, m, n, k);
    char got[32] = "none";
    if (config != NULL)
        snprintf(got, sizeof got, "%ux%ux%u", config->tile_m, config->tile_n, config->tile_k);
    assert_string_equal(got, expected);
}

static void block_tiles_are_the_largest_that_still_fill_most_compute_units(void **state)
{
    (void)state;
    block_tile_is(&nvidia_like, 4096, 4096, 4096, "128x128x8");
    block_tile_is(&nvidia_like, 2048, 2048, 2048, "128x128x8");
    block_tile_is(&nvidia_like, 1024, 1024, 1024, "128x64x16");
    block_tile_is(&nvidia_like, 1024, 512, 1024, "64x64x16");
    block_tile_is(&nvidia_like, 512, 512, 512, "32x64x8");
    block_tile_is(&nvidia_like, 1025, 1024, 1024, "none");
    block_tile_is(&nvidia_like, 1024, 1024, 0, "none");
    block_tile_is(&pocl_like, 1024, 1024, 1024, "128x128x8"); /* the GPU table's */
    block_tile_is(&tiny_64, 4096, 4096, 4096, "none");
    block_tile_is(&amd_like, 4096, 4096, 4096, "128x128x16");
}

/* A tile as "MxNxK RxC", or "none", is `expected`. */
static void tile_is(const struct gemm_config *config, const char *expected)
{
    char got[48] = "none";
    if (config != NULL)
        snprintf(got, sizeof got, "%ux%ux%u %ux%u", config->tile_m, config->tile_n,
                 config->tile_k, config->wpt_m, config->wpt_n);
    assert_string_equal(got, expected);
}

/* The CPU kernel's tile for m×n. */
static void cpu_tile_is(const struct device_limits *device, size_t m, size_t n,
                        const char *expected)
{
    tile_is(plan_gemm_cpu_config(device, m, n), expected);
}

/* The implicit convolution's tile for m filters by n output pixels of the batch. */
static void conv_tile_is(const struct device_limits *device, size_t m, size_t n,
                         const char *expected)
{
    tile_is(plan_conv2d_implicit_config(device, device->max_work_group_size, m, n),
            expected);
}

static void conv_tiles_waste_little_on_edges_and_fill_most_compute_units(void **state)
{
    (void)state;
    conv_tile_is(&nvidia_like, 64, 32 * 56 * 56, "64x128x8 8x8"); /* 128 rows: half idle */
    conv_tile_is(&nvidia_like, 256, 32 * 14 * 14, "64x128x8 8x8"); /* 196 blocks, not 98 */
    conv_tile_is(&nvidia_like, 1024, 32 * 14 * 14, "64x128x8 8x8"); /* 392 of 128x128 */
    conv_tile_is(&nvidia_like, 128, 32 * 56 * 56, "128x128x8 8x8"); /* 784 blocks */
    conv_tile_is(&nvidia_like, 256, 32 * 56 * 56, "128x128x8 8x8");
    conv_tile_is(&nvidia_like, 512, 32 * 7 * 7, "64x128x8 8x8");
    conv_tile_is(&nvidia_like, 1, 1000, "32x64x8 4x4"); /* the least padded work */
    conv_tile_is(&nvidia_like, 64, (size_t)65536 * 128 + 1, "none"); /* beyond the grid */
    conv_tile_is(&amd_like, 1024, 32 * 14 * 14, "128x128x16 8x8");
    conv_tile_is(&tiny_64, 64, 4096, "none");
}

/* The implicit GEMM's tile for m filters by n pixels of the batch on device. */
static const struct gemm_config *conv_tile(const struct device_limits *device, size_t m,
                                           size_t n)
{
    const struct gemm_config *tile =
        plan_conv2d_implicit_config(device, device->max_work_group_size, m, n);
    assert_non_null(tile);
    return tile;
}

/* Whether the implicit GEMM's tile for m filters by n pixels of the batch, unsplit, fills
 * device. */
static bool conv_fills(const struct device_limits *device, size_t m, size_t n)
{
    return conv2d_implicit_fills(device, conv_tile(device, m, n), m, n, 1);
}

/* The H200's four bench layers (batch 32): three implicit grids fill its 132 SMs, the 104
 * blocks of 512→512 at 7×7 do not unsplit (im2col ran it faster: 21.63 against 17.61
 * TFLOP/s). */
static void conv_implicit_grids_below_a_block_per_compute_unit_do_not_fill(void **state)
{
    (void)state;
    assert_true(conv_fills(&nvidia_like, 64, 32 * 56 * 56));   /* 784 blocks */
    assert_true(conv_fills(&nvidia_like, 256, 32 * 14 * 14));  /* 196 */
    assert_true(conv_fills(&nvidia_like, 1024, 32 * 14 * 14)); /* 392 */
    assert_false(conv_fills(&nvidia_like, 512, 32 * 7 * 7));   /* 104 */
    assert_true(conv_fills(&nvidia_like, 512, 128 * 7 * 7));   /* 196 at batch 128 */
    const struct gemm_config tile = {64, 128, 8, 8, 8};
    assert_true(conv2d_implicit_fills(&nvidia_like, &tile, 64 * 12, 128 * 11, 1)); /* 132 */
    assert_false(conv2d_implicit_fills(&nvidia_like, &tile, 64 * 131, 128, 1));
    assert_true(conv2d_implicit_fills(&nvidia_like, &tile, 64 * 131 + 1, 128, 1)); /* an edge */
    assert_true(conv2d_implicit_fills(&nvidia_like, &tile, 64 * 66, 128, 2)); /* split k */
}

/* The k splits of m filters by n pixels of the batch with k taps on device, at most `most`. */
static size_t conv_splits(const struct device_limits *device, size_t m, size_t n, size_t k,
                          size_t most)
{
    return conv2d_implicit_splits(device, conv_tile(device, m, n), m, n, k, most);
}

/* The H200's bench layers (batch 32): the two of fewer than two blocks per SM split their k
 * into the fewest ranges that reach two (196 blocks by 2, 104 by 3), no more than the
 * workspace allows nor than 8, each range 256 k's or more; the others do not split, nor
 * does a short k. */
static void conv_implicit_splits_k_until_two_blocks_per_compute_unit(void **state)
{
    (void)state;
    assert_int_equal(conv_splits(&nvidia_like, 64, 32 * 56 * 56, 576, 8), 1);  /* 784 */
    assert_int_equal(conv_splits(&nvidia_like, 256, 32 * 14 * 14, 2304, 8), 2); /* 196 */
    assert_int_equal(conv_splits(&nvidia_like, 1024, 32 * 14 * 14, 256, 8), 1); /* 392 */
    assert_int_equal(conv_splits(&nvidia_like, 512, 32 * 7 * 7, 4608, 8), 3);   /* 104 */
    assert_true(conv2d_implicit_fills(&nvidia_like, conv_tile(&nvidia_like, 512, 32 * 7 * 7),
                                      512, 32 * 7 * 7, 3));
    assert_int_equal(conv_splits(&nvidia_like, 512, 32 * 7 * 7, 4608, 2), 2); /* workspace */
    assert_int_equal(conv_splits(&nvidia_like, 512, 32 * 7 * 7, 4608, 0), 1);
    assert_int_equal(conv_splits(&nvidia_like, 512, 32 * 7 * 7, 767, 8), 2); /* 383 each */
    assert_int_equal(conv_splits(&nvidia_like, 512, 32 * 7 * 7, 511, 8), 1); /* 255 */
    assert_int_equal(conv_splits(&nvidia_like, 64, 128, 100000, 64), 8);     /* 1 block */
    assert_int_equal(conv_splits(&amd_like, 512, 32 * 7 * 7, 4608, 8), 2);   /* 104 units */
}

/* Split-K's ranges: whole slices, the last to k, none empty however many are asked. */
static void conv_split_ranges_are_whole_slices_and_never_empty(void **state)
{
    (void)state;
    size_t taps = 0;
    assert_int_equal(plan_conv2d_split(4608, 8, 3, &taps), 3);
    assert_int_equal(taps, 1536);
    assert_int_equal(plan_conv2d_split(153, 8, 8, &taps), 7); /* 20 slices: 3 each */
    assert_int_equal(taps, 24);
    assert_int_equal(plan_conv2d_split(27, 8, 8, &taps), 4); /* as many as the slices */
    assert_int_equal(taps, 8);
    assert_int_equal(plan_conv2d_split(1, 16, 8, &taps), 1);
    assert_int_equal(taps, 16);
    assert_int_equal(plan_conv2d_split(100, 8, 0, &taps), 1);
    assert_int_equal(taps, 104);
}

static void conv_tiles_stage_whole_columns_of_b(void **state)
{
    (void)state;
    struct gemm_config ragged = {64, 128, 8, 4, 8}; /* 256 items for 128 columns: fine */
    assert_true(conv2d_implicit_fits(&nvidia_like, 1024, &ragged, 64, 64));
    ragged = (struct gemm_config){128, 128, 8, 16, 16}; /* 64 items for 128 columns */
    assert_false(conv2d_implicit_fits(&nvidia_like, 1024, &ragged, 64, 64));
    ragged = (struct gemm_config){128, 32, 4, 4, 4}; /* 256 items: 8 k's a step, TILE_K 4 */
    assert_false(conv2d_implicit_fits(&nvidia_like, 1024, &ragged, 64, 64));
}

static void cpu_tiles_are_two_native_vectors_wide_and_fill_every_core(void **state)
{
    (void)state;
    struct device_limits avx2 = pocl_like, sse = pocl_like, small = pocl_like;
    avx2.vector_width = 8;
    sse.vector_width = 4;
    small.local_mem_bytes = 64 << 10;
    cpu_tile_is(&pocl_like, 1024, 1024, "96x256x256 6x32");
    cpu_tile_is(&pocl_like, 1000, 1000, "96x256x256 6x32");
    cpu_tile_is(&pocl_like, 256, 256, "48x128x256 6x32"); /* 3 large blocks for 2 cores */
    cpu_tile_is(&pocl_like, 7, 9, "48x128x256 6x32");
    cpu_tile_is(&avx2, 1024, 1024, "96x256x256 6x16");
    cpu_tile_is(&sse, 1024, 1024, "96x256x256 6x8");
    cpu_tile_is(&small, 1024, 1024, "none");
    const struct gemm_config *config = plan_gemm_cpu_config(&pocl_like, 1024, 1024);
    assert_int_equal(gemm_cpu_vector_width(&pocl_like, config), 16);
    assert_int_equal(gemm_cpu_vector_width(&avx2, config), 8);
    assert_int_equal(gemm_cpu_vector_width(&nvidia_like, config), 4);
    struct launch plan = plan_gemm_cpu(config, 1000, 1000, 3);
    assert_int_equal(plan.dims, 3);
    assert_int_equal(plan.global[0], 4);
    assert_int_equal(plan.global[1], 11);
    assert_int_equal(plan.global[2], 3);
    assert_int_equal(plan.local[0] * plan.local[1] * plan.local[2], 1);
}

/* The CPU kernel's tile fits the device, and its launch covers C or strides over it. */
static void check_gemm_cpu(const struct device_limits *device, size_t m, size_t n)
{
    const struct gemm_config *config = plan_gemm_cpu_config(device, m, n);
    if (config == NULL)
        return;
    assert_true(gemm_config_valid(config, GEMM_KIND_CPU));
    assert_true(gemm_cpu_fits(device, config));
    assert_int_equal(config->wpt_n % gemm_cpu_vector_width(device, config), 0);
    struct launch plan = plan_gemm_cpu(config, m, n, 1);
    assert_launch_fits(&plan, device, 1);
    assert_true(plan.global[0] * config->tile_n >= n || plan.global[0] == 65535);
    assert_true(plan.global[1] * config->tile_m >= m || plan.global[1] == 65535);
}

static bool is_pow2(size_t n)
{
    return n > 0 && (n & (n - 1)) == 0;
}

/* The gemv work-group is a power of two each way within every limit, its partial sums
 * fit local memory, and its launch covers the rows or strides over them. */
static struct gemv_config check_gemv(const struct device_limits *device, size_t max_threads,
                                     bool row_major, size_t rows, size_t cols)
{
    struct gemv_config config = plan_gemv_config(device, max_threads, row_major, rows, cols);
    size_t threads = (size_t)config.local_x * config.local_y;
    assert_true(is_pow2(config.local_x) && is_pow2(config.local_y));
    assert_true(threads == 1 || threads * sizeof(float) <= device->local_mem_bytes);
    struct launch plan = plan_gemv(&config, row_major, rows, 1);
    group_is(&plan, config.local_x, config.local_y);
    assert_launch_fits(&plan, device, max_threads);
    size_t block = row_major ? config.local_y : config.local_x;
    size_t groups = plan.global[row_major ? 1 : 0] / plan.local[row_major ? 1 : 0];
    assert_true(groups * block >= rows || groups == 65535);
    return config;
}

/* bias_act's 2-D grid fits every device for 1×n, n×1 and large shapes, covers small ones
 * with an element per work-item and bounds the grid of large ones. */
static void bias_act_grids_fit_every_device_and_stay_bounded(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{0, 0},    {1, 1},        {1, 1 << 24}, {1 << 24, 1},
                                {7, 4099}, {4099, 7},     {65536, 1024}, {1 << 30, 1 << 30}};
    const struct kernel_limits kernels[] = {{4096, 1}, {64, 32}, {1, 1}};
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); ++k)
            for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s) {
                size_t rows = shapes[s][0], cols = shapes[s][1];
                struct launch plan = plan_bias_act(devices[d], &kernels[k], rows, cols);
                assert_int_equal(plan.dims, 2);
                assert_launch_fits(&plan, devices[d], kernels[k].work_group_size);
                size_t groups = plan.global[0] / plan.local[0] * (plan.global[1] / plan.local[1]);
                assert_true(groups <= (1u << 20));
                if (rows * cols <= 4099 * 7)
                    assert_true(plan.global[0] >= cols && plan.global[1] >= rows);
            }
    /* A wide row gets 64 consecutive columns a group, 4 rows of them on a GPU. */
    const struct kernel_limits wide = {1024, 32};
    struct launch plan = plan_bias_act(&nvidia_like, &wide, 512, 1024);
    group_is(&plan, 64, 4);
}

/* softmax_xent's first pass: a group per row up to a few per compute unit, never more
 * groups than the context's partials hold. */
static void softmax_xent_groups_never_outnumber_the_partials(void **state)
{
    (void)state;
    const size_t rows[] = {0, 1, 7, 1024, 1025, 1 << 20, SIZE_MAX / 2};
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t r = 0; r < sizeof(rows) / sizeof(rows[0]); ++r) {
            struct launch plan = plan_softmax_xent(devices[d], 1, rows[r]);
            assert_launch_fits(&plan, devices[d], 1);
            size_t groups = plan.global[0] / plan.local[0];
            assert_true(groups >= 1 && groups <= SUM_MAX_PARTIALS);
            assert_true(groups <= (rows[r] > 0 ? rows[r] : 1));
        }
    struct launch plan = plan_softmax_xent(&nvidia_like, 256, 1 << 20);
    assert_int_equal(plan.global[0] / plan.local[0], SUM_MAX_PARTIALS);
    assert_int_equal(plan.local[0], 256);
}

static void gemv_groups_fit_every_device_for_both_layouts(void **state)
{
    (void)state;
    const size_t shapes[][2] = {{0, 0},       {1, 1},       {7, 4099},
                                {4099, 7},    {1 << 22, 3}, {3, 1 << 22}};
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
            for (int row_major = 0; row_major < 2; ++row_major)
                check_gemv(devices[d], devices[d]->max_work_group_size, row_major,
                           shapes[s][0], shapes[s][1]);
    /* GPUs: 256 work-items along a 4096-long row; across a column-major matrix, groups
     * narrowed to 32 rows so 128 of them reach the compute units. CPUs: a row each. */
    struct gemv_config config = check_gemv(&nvidia_like, 1024, true, 4096, 4096);
    assert_int_equal(config.local_x, 256);
    config = check_gemv(&nvidia_like, 1024, false, 4096, 4096);
    assert_int_equal(config.local_x, 32);
    assert_int_equal(config.local_y, 8);
    config = check_gemv(&pocl_like, 4096, true, 4096, 4096);
    assert_int_equal(config.local_x, 1);
    assert_int_equal(config.local_y, 256);
    config = check_gemv(&amd_like, 100, true, 4096, 4096); /* the kernel allows 100 */
    assert_int_equal((size_t)config.local_x * config.local_y, 64);
}

/* xorshift64*: a fixed seed, so a failure reproduces. */
static uint64_t next_random(uint64_t *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545f4914f6cdd1dull;
}

static size_t random_below(uint64_t *state, size_t bound)
{
    return (size_t)(next_random(state) % bound);
}

static struct device_limits random_device(uint64_t *state)
{
    struct device_limits device;
    device.max_work_group_size = 1 + random_below(state, 4096);
    for (int d = 0; d < 3; ++d)
        device.max_work_item_sizes[d] = 1 + random_below(state, device.max_work_group_size);
    device.compute_units = 1 + random_below(state, 256);
    device.local_mem_bytes = 512 + random_below(state, 1 << 20);
    device.family = (enum device_family)random_below(state, 3);
    device.vector_width = 1u << random_below(state, 6);
    return device;
}

static void random_limits_and_shapes_keep_every_invariant(void **state)
{
    (void)state;
    uint64_t seed = 0x6b696c6e;
    for (int round = 0; round < 5000; ++round) {
        struct device_limits device = random_device(&seed);
        struct kernel_limits kernel = {1 + random_below(&seed, device.max_work_group_size),
                                       1 + random_below(&seed, 64)};
        size_t n = random_below(&seed, (size_t)1 << random_below(&seed, 41)) ;
        size_t m = random_below(&seed, (size_t)1 << random_below(&seed, 31));
        check_elementwise(&device, &kernel, n);
        if (plan_geam_config(&device, kernel.work_group_size) != NULL)
            check_geam(&device, kernel.work_group_size, m, n);
        if (plan_gemm_config(&device, kernel.work_group_size) != NULL)
            check_gemm(&device, kernel.work_group_size, m, n);
        check_gemv(&device, kernel.work_group_size, random_below(&seed, 2), m, n);
        check_gemm_cpu(&device, m, n);
    }
}

/* The plans of a rows×cols problem with row groups of `local` items fit the device and
 * keep their partials within the context's scratch. */
static void check_row_wise_plans(const struct device_limits *device, size_t kernel,
                                 size_t local, size_t rows, size_t cols)
{
    struct launch teams = plan_row_teams(device, local, rows, cols);
    assert_launch_fits(&teams, device, kernel);
    assert_int_equal(teams.local[0] * teams.local[1], local);
    assert_true(is_pow2(teams.local[0]));
    assert_true(teams.global[0] / teams.local[0] <= ((size_t)1 << 20));
    size_t pieces = plan_row_pieces(device, local, rows, cols);
    assert_true(pieces >= 1);
    assert_true(pieces == 1 || rows * pieces <= REDUCE_MAX_PARTIALS);
    assert_true(pieces == 1 || cols / 4 / pieces >= local); /* every item gets a float4 */
    struct launch columns = plan_columns(device, local, rows, cols);
    assert_launch_fits(&columns, device, kernel);
    assert_int_equal(columns.local[0] * columns.local[1], local);
    assert_true(is_pow2(columns.local[0]) &&
                columns.local[0] <= row_params_for(device)->column_items);
    size_t chunks = columns.global[1] / columns.local[1];
    assert_true(chunks >= 1 && chunks <= 65535);
    assert_true(chunks == 1 || chunks * cols <= REDUCE_MAX_PARTIALS);
    assert_true(chunks <= rows || chunks == 1);
}

/* Row groups: a power of two within the device, the kernel and the local memory. */
static void row_groups_fit_every_device_kernel_and_local_memory(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d) {
        const struct device_limits *device = devices[d];
        for (size_t kernel = 1; kernel <= 2048; kernel = kernel * 3 + 1) {
            size_t local = plan_row_local(device, kernel, 12);
            assert_true(is_pow2(local));
            assert_true(local <= 256 && local <= kernel);
            assert_true(local <= device->max_work_group_size);
            assert_true(local * 12 <= device->local_mem_bytes || local == 1);
            for (unsigned bits = 0; bits <= 40; bits += 5) {
                size_t count = ((size_t)1 << bits) + 1;
                struct launch rows = plan_rows(local, count);
                assert_launch_fits(&rows, device, kernel);
                assert_true(rows.global[0] / local <= ((size_t)1 << 20));
                assert_true(rows.global[0] / local <= count);
                for (unsigned col_bits = 0; col_bits <= 40; col_bits += 8)
                    check_row_wise_plans(device, kernel, local, count,
                                         ((size_t)1 << col_bits) + 3);
                for (size_t parts = 1; parts <= REDUCE_MAX_PARTIALS; parts *= 32) {
                    struct launch partials = plan_partials(device, local, parts, count);
                    assert_launch_fits(&partials, device, kernel);
                    assert_int_equal(partials.local[0] * partials.local[1], local);
                    assert_true(is_pow2(partials.local[0]) && partials.local[0] <= 32);
                }
            }
        }
    }
}

/* Chunks of the rows plan_columns should give `blocks` column blocks of nvidia_like (132
 * SMs): the table's column_groups per SM, rounded up, within rows / (lanes · 4) and the
 * partials. */
static size_t nvidia_chunks(size_t blocks, size_t lanes, size_t rows, size_t cols)
{
    size_t wanted = 132 * row_params_for(&nvidia_like)->column_groups;
    size_t chunks = (wanted + blocks - 1) / blocks;
    chunks = chunks < rows / (lanes * 4) ? chunks : rows / (lanes * 4);
    chunks = chunks < REDUCE_MAX_PARTIALS / cols ? chunks : REDUCE_MAX_PARTIALS / cols;
    return chunks > 0 ? chunks : 1;
}

/* Columns on GPUs: a group spans up to the table's column_items items of a float4 each
 * where the matrix has the columns, the rest of the group down the rows; where the column blocks are few, chunks of the rows as the table's grid
 * asks. The H200's shapes, then narrower ones whatever the table says. */
static void column_groups_span_the_tables_width_and_chunk_the_rows_when_few(void **state)
{
    (void)state;
    const size_t items = row_params_for(&nvidia_like)->column_items;
    const size_t width = items < 256 ? items : 256, lanes = 256 / width;
    static const size_t shapes[][2] = {{4096, 32768}, {65536, 1024}, {8192, 8192}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t rows = shapes[s][0], cols = shapes[s][1], blocks = cols / (4 * width);
        struct launch plan = plan_columns(&nvidia_like, 256, rows, cols);
        group_is(&plan, width, lanes);
        assert_int_equal(plan.global[0], blocks * width);
        assert_int_equal(plan.global[1] / lanes, nvidia_chunks(blocks, lanes, rows, cols));
    }
    struct launch one = plan_columns(&nvidia_like, 256, 1 << 22, 1);
    group_is(&one, 1, 256);
    assert_int_equal(one.global[1] / 256, nvidia_chunks(1, 256, 1 << 22, 1));
    struct launch narrow = plan_columns(&nvidia_like, 256, 1000, 37); /* 10 float4s */
    group_is(&narrow, 16, 16);
    struct launch few_rows = plan_columns(&nvidia_like, 256, 3, 1024);
    assert_int_equal(few_rows.global[1], few_rows.local[1]); /* one chunk: one pass */
}

/* CPUs keep one group shape whatever the table says, 32 items by 8 (PoCL builds a kernel
 * per shape), and split the rows up to 8 groups per core. */
static void cpu_column_groups_keep_one_shape(void **state)
{
    (void)state;
    struct launch cpu = plan_columns(&pocl_like, 256, 1, 1);
    group_is(&cpu, 32, 8);
    struct launch cpu_wide = plan_columns(&pocl_like, 256, 1, 4096);
    assert_int_equal(cpu_wide.local[0], 32);
    struct launch cpu_tall = plan_columns(&pocl_like, 256, 1000, 37);
    assert_int_equal(cpu_tall.global[1] / 8, 16); /* split on PoCL too: the tests see it */
}

/* The second pass: on GPUs the many chunks of wide column groups spread over lanes, 8
 * parts a lane (1024 parts of 1024 results: 512 groups of 2 results, not 32 of 32); few
 * parts keep 32 results a group; CPUs keep one shape, 32 by 8. */
static void partials_of_many_chunks_take_more_lanes_on_gpus(void **state)
{
    (void)state;
    struct launch many = plan_partials(&nvidia_like, 256, 1024, 1024);
    group_is(&many, 2, 128);
    assert_int_equal(many.global[0] / many.local[0], 512);
    struct launch few = plan_partials(&nvidia_like, 256, 66, 1024);
    assert_int_equal(few.local[0], 16); /* 16 lanes of 5 parts or fewer */
    struct launch two = plan_partials(&nvidia_like, 256, 2, 32768);
    group_is(&two, 32, 8);
    struct launch cpu = plan_partials(&pocl_like, 256, 1024, 1024);
    group_is(&cpu, 32, 8);
}

/* Few long rows are shared among groups, as kiln_sum's vector is; many rows are not. */
static void few_long_rows_are_split_into_pieces_and_many_rows_are_not(void **state)
{
    (void)state;
    assert_int_equal(plan_row_pieces(&nvidia_like, 256, 1, (size_t)1 << 28), 132 * 4);
    assert_int_equal(plan_row_pieces(&nvidia_like, 256, 4, (size_t)1 << 24), 132);
    assert_int_equal(plan_row_pieces(&nvidia_like, 256, 4096, 32768), 1);
    assert_int_equal(plan_row_pieces(&nvidia_like, 256, 1, 1000), 1); /* too short */
    assert_int_equal(plan_row_pieces(&pocl_like, 256, 1, 100000), 16);
    assert_int_equal(plan_row_pieces(&nvidia_like, 256, 0, 100000), 1);
}

/* softmax and the norms: a row a team holds whole in registers (HELD float4s per item,
 * powers of two) where the device's table allows, streamed otherwise; every plan fits. */
static void map_rows_are_held_in_registers_up_to_the_tables_capacity(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d)
        for (size_t kernel = 1; kernel <= 2048; kernel = kernel * 3 + 1)
            for (unsigned bits = 0; bits <= 36; bits += 3) {
                size_t cols = ((size_t)1 << bits) + bits % 4;
                struct row_map_plan plan = plan_row_map(devices[d], kernel, 12, true, 1000, cols);
                assert_launch_fits(&plan.launch, devices[d], kernel);
                assert_true(is_pow2(plan.local) && plan.local * 12 <= devices[d]->local_mem_bytes);
                assert_int_equal(plan.launch.local[0] * plan.launch.local[1], plan.local);
                assert_true(plan.held == 0 || is_pow2(plan.held));
                assert_true(plan.held == 0 || plan.held * plan.launch.local[0] >= cols / 4);
            }
    /* rows, cols: team, rows per group, float4s held per item */
    static const size_t gpu_cases[][5] = {
        {65536, 1024, 32, 8, 8}, {8192, 8192, 256, 1, 8}, {4096, 16384, 512, 1, 8},
        {4096, 32768, 1024, 1, 8}, {100, 130, 8, 32, 4}, {5000, 3, 8, 32, 1},
    };
    for (size_t c = 0; c < sizeof(gpu_cases) / sizeof(gpu_cases[0]); ++c) {
        const size_t *g = gpu_cases[c];
        struct row_map_plan plan = plan_row_map(&nvidia_like, SIZE_MAX, 8, true, g[0], g[1]);
        assert_int_equal(plan.launch.local[0], g[2]);
        assert_int_equal(plan.launch.local[1], g[3]);
        assert_int_equal(plan.held, g[4]);
    }
    /* A kernel refused at 1024 items: 512 of 16 float4s. Longer rows, y off x's phase, a
     * kernel limited to 256 items, CPUs: streamed. */
    assert_int_equal(plan_row_map(&nvidia_like, 512, 8, true, 4096, 32768).held, 16);
    assert_int_equal(plan_row_map(&nvidia_like, SIZE_MAX, 8, true, 4096, 32772).held, 0);
    assert_int_equal(plan_row_map(&nvidia_like, SIZE_MAX, 8, false, 4096, 1024).held, 0);
    assert_int_equal(plan_row_map(&nvidia_like, 511, 8, true, 4096, 32768).held, 0);
    assert_int_equal(plan_row_map(&pocl_like, SIZE_MAX, 8, true, 4096, 1024).held, 0);
}

/* Short rows share a group in teams whose items each read about 8 float4s on GPUs,
 * one on CPUs. */
static void short_rows_share_a_group_in_teams(void **state)
{
    (void)state;
    struct launch short_rows = plan_row_teams(&nvidia_like, 256, 65536, 1024);
    group_is(&short_rows, 32, 8);
    assert_int_equal(short_rows.global[0] / 32, 65536 / 8);
    struct launch long_rows = plan_row_teams(&nvidia_like, 256, 8192, 8192);
    group_is(&long_rows, 256, 1);
    struct launch tiny_rows = plan_row_teams(&nvidia_like, 256, 100, 3);
    group_is(&tiny_rows, 1, 256);
    assert_int_equal(tiny_rows.global[0], 1);
    struct launch cpu_rows = plan_row_teams(&pocl_like, 256, 4096, 1024);
    assert_int_equal(cpu_rows.local[0], 256); /* PoCL: a team only for rows under 1024 */
    struct launch cpu_short = plan_row_teams(&pocl_like, 256, 300, 40);
    assert_int_equal(cpu_short.local[0], 16);
}

/* kiln_sum's and kiln_map_reduce's partials never outgrow SUM_MAX_PARTIALS, whatever n;
 * kiln_sum's grid is one wave (4 groups per SM), map_reduce's a few (8). */
static void sum_plans_keep_their_partials_bounded_for_n_up_to_2_pow_40(void **state)
{
    (void)state;
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d) {
        size_t local = plan_row_local(devices[d], devices[d]->max_work_group_size, 8);
        for (unsigned bits = 0; bits <= 80; ++bits) {
            struct launch plan = plan_sum(devices[d], local, (size_t)1 << bits / 2, bits % 2);
            assert_launch_fits(&plan, devices[d], local);
            size_t groups = plan.global[0] / local;
            assert_true(groups >= 1 && groups <= SUM_MAX_PARTIALS);
            /* no group without a float4 to read */
            assert_true(groups == 1 || (groups - 1) * local * 4 < ((size_t)1 << bits / 2));
        }
    }
    assert_int_equal(plan_sum(&nvidia_like, 256, (size_t)1 << 28, true).global[0], 528 * 256);
    assert_int_equal(plan_sum(&nvidia_like, 256, (size_t)1 << 28, false).global[0], 1024 * 256);
}

/* kiln_sum reads float4s on GPUs, items interleaved so loads coalesce; on CPUs the
 * device's vectors (at least float4, at most float16), each item a contiguous run. */
static void sum_lanes_are_float4s_on_gpus_and_the_vector_width_on_cpus(void **state)
{
    (void)state;
    struct device_limits cpu = pocl_like;
    const unsigned widths[][2] = {{1, 4}, {4, 4}, {8, 8}, {16, 16}, {32, 16}};
    for (size_t i = 0; i < sizeof(widths) / sizeof(widths[0]); ++i) {
        cpu.vector_width = widths[i][0];
        struct sum_lanes lanes = plan_sum_lanes(&cpu);
        assert_int_equal(lanes.width, widths[i][1]);
        assert_true(lanes.chunked);
    }
    for (size_t d = 0; d < sizeof(devices) / sizeof(devices[0]); ++d) {
        struct sum_lanes lanes = plan_sum_lanes(devices[d]);
        if (devices[d]->family != FAMILY_CPU) {
            assert_int_equal(lanes.width, 4);
            assert_false(lanes.chunked);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(elementwise_plans_fit_every_device_for_n_from_0_to_2_pow_40),
        cmocka_unit_test(elementwise_plan_for_500000_is_never_one_group_of_500000),
        cmocka_unit_test(elementwise_plan_respects_a_kernel_smaller_than_the_device),
        cmocka_unit_test(geam_tiles_fit_every_device),
        cmocka_unit_test(gemm_tiles_fit_every_device_and_shrink_on_small_ones),
        cmocka_unit_test(gemm_batches_span_the_third_dimension_up_to_its_cap),
        cmocka_unit_test(gemm_tile_falls_back_when_the_kernel_allows_fewer_work_items),
        cmocka_unit_test(gemm_tile_is_none_when_local_memory_holds_no_tile),
        cmocka_unit_test(block_tiles_are_the_largest_that_still_fill_most_compute_units),
        cmocka_unit_test(cpu_tiles_are_two_native_vectors_wide_and_fill_every_core),
        cmocka_unit_test(gemv_groups_fit_every_device_for_both_layouts),
        cmocka_unit_test(bias_act_grids_fit_every_device_and_stay_bounded),
        cmocka_unit_test(softmax_xent_groups_never_outnumber_the_partials),
        cmocka_unit_test(random_limits_and_shapes_keep_every_invariant),
        cmocka_unit_test(row_groups_fit_every_device_kernel_and_local_memory),
        cmocka_unit_test(column_groups_span_the_tables_width_and_chunk_the_rows_when_few),
        cmocka_unit_test(cpu_column_groups_keep_one_shape),
        cmocka_unit_test(partials_of_many_chunks_take_more_lanes_on_gpus),
        cmocka_unit_test(few_long_rows_are_split_into_pieces_and_many_rows_are_not),
        cmocka_unit_test(short_rows_share_a_group_in_teams),
        cmocka_unit_test(map_rows_are_held_in_registers_up_to_the_tables_capacity),
        cmocka_unit_test(sum_plans_keep_their_partials_bounded_for_n_up_to_2_pow_40),
        cmocka_unit_test(sum_lanes_are_float4s_on_gpus_and_the_vector_width_on_cpus),
        cmocka_unit_test(conv_tiles_waste_little_on_edges_and_fill_most_compute_units),
        cmocka_unit_test(conv_implicit_grids_below_a_block_per_compute_unit_do_not_fill),
        cmocka_unit_test(conv_implicit_splits_k_until_two_blocks_per_compute_unit),
        cmocka_unit_test(conv_split_ranges_are_whole_slices_and_never_empty),
        cmocka_unit_test(conv_tiles_stage_whole_columns_of_b),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
