/* The tensor-core GEMM family (lib/gemm/tensor.c): which calls it takes and, on an NVIDIA
 * GPU of sm_80 or later, its kernels (cl/gemm_mma.cl, and cl/gemm_wgmma.cl on sm_90)
 * against the double reference and the portable kernels. Includes lib/internal.h on
 * purpose: the choice is made on a context whose device facts the tests set. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */
#include "introspect.h"

#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A call of the shape the family takes (f16, FAST, 16-byte aligned), on buffers large
 * enough for any ld the tests try. */
static struct gemm_call tc_call(kiln_ctx *ctx)
{
    kiln_buf *a = scratch_buffer(ctx, 4096), *b = scratch_buffer(ctx, 4096);
    kiln_buf *c = scratch_buffer(ctx, 4096);
    struct gemm_call call = {KILN_NO_TRANS, KILN_NO_TRANS, 16, 16, 16, 1.0f, a, 16, b, 16,
                             0.0f, c, 16, NULL, KILN_ACT_NONE, 1, 0, 0, 0,
                             KILN_DTYPE_F16, KILN_DTYPE_F32, KILN_MATH_FAST};
    return call;
}

static enum gemm_tc_path path_on(kiln_ctx *ctx, unsigned capability,
                                 const struct gemm_call *call)
{
    unsigned real = ctx->limits.nv_compute_capability;
    ctx->limits.nv_compute_capability = capability;
    struct gemm_tc_plan plan = gemm_tc_plan_for(ctx, call);
    ctx->limits.nv_compute_capability = real;
    assert_true((plan.path == GEMM_TC_NONE) == (plan.why != NULL));
    return plan.path;
}

static void tensor_cores_take_16_bit_operands_below_strict_math(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    assert_int_equal(path_on(ctx, 89, &call), GEMM_TC_MMA);
    assert_int_equal(path_on(ctx, 80, &call), GEMM_TC_MMA);
    assert_int_equal(path_on(ctx, 75, &call), GEMM_TC_NONE);
    assert_int_equal(path_on(ctx, 0, &call), GEMM_TC_NONE);
    call.a_type = KILN_DTYPE_BF16, call.c_type = KILN_DTYPE_BF16, call.math = KILN_MATH_TF32X3;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    call.math = KILN_MATH_STRICT; /* widened exactly for the fp32 kernels */
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
}

static void f32_operands_take_tf32_wgmma_in_every_layout(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    call.a_type = KILN_DTYPE_F32;
    for (kiln_math math = KILN_MATH_TF32X3; math <= KILN_MATH_FAST; math++) {
        call.math = math;
        assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    }
    assert_int_equal(path_on(ctx, 89, &call), GEMM_TC_NONE); /* no mma.sync tf32 kernel */
    for (size_t t = 0; t < 4; t++) {
        call.ta = t / 2 ? KILN_TRANS : KILN_NO_TRANS, call.tb = t % 2 ? KILN_TRANS : KILN_NO_TRANS;
        assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    }
    call.math = KILN_MATH_STRICT;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call.math = KILN_MATH_TF32, call.lda = 18; /* rows 72 bytes apart: packed */
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    setenv("KILN_GEMM_TC", "mma", 1);
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    unsetenv("KILN_GEMM_TC");
}

static void tensor_cores_leave_unaligned_scaling_and_vector_calls_alone(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    call.lda = 20; /* rows 40 bytes apart */
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call = tc_call(ctx);
    call.ldb = 12;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call = tc_call(ctx);
    call.a = scratch_view((kiln_buf *)call.a, 2, 2048); /* one f16 element in */
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call = tc_call(ctx);
    call.b = scratch_view((kiln_buf *)call.b, 16, 2048); /* eight elements in: aligned */
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    call.batch = 2, call.stride_a = 260;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call = tc_call(ctx);
    call.alpha = 0.0f;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call.alpha = 1.0f, call.k = 0;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    call.k = 16, call.n = 1;
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
}

static void kiln_gemm_tc_forces_a_path_or_turns_them_off(void **state)
{
    kiln_ctx *ctx = *state;
    struct gemm_call call = tc_call(ctx);
    setenv("KILN_GEMM_TC", "mma", 1);
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_MMA);
    setenv("KILN_GEMM_TC", "wgmma", 1);
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_WGMMA);
    assert_int_equal(path_on(ctx, 80, &call), GEMM_TC_NONE); /* not there to force */
    setenv("KILN_GEMM_TC", "off", 1);
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_NONE);
    unsetenv("KILN_GEMM_TC");
}

static void a_refused_sm90a_build_leaves_mma_sync(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    assert_null(gemm_tc_refusal(ctx));
    ctx->wgmma_refusal = strdup("refused");
    assert_int_equal(path_on(ctx, 90, &call), GEMM_TC_MMA);
    assert_string_equal(gemm_tc_refusal(ctx), "refused");
    free(ctx->wgmma_refusal);
    ctx->wgmma_refusal = NULL;
}

/* On a device that cannot build the kernels (PoCL takes no inline PTX) the sm_90a build's
 * failure is kept as the refusal, and the next choice is mma.sync. */
static void a_failed_sm90a_build_is_kept_as_the_refusal(void **state)
{
    kiln_ctx *ctx = *state;
    if (ctx->limits.nv_compute_capability >= 80)
        skip(); /* the kernels build here: nothing is refused */
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    ctx->limits.nv_compute_capability = 90;
    struct gemm_tc_plan plan;
    assert_int_equal(gemm_tc_build(ctx, &call, &plan), KILN_ERR_BUILD); /* mma.sync too */
    assert_int_equal(plan.path, GEMM_TC_MMA); /* the plan that failed is the one reported */
    assert_non_null(gemm_tc_refusal(ctx));
    assert_non_null(strstr(gemm_tc_refusal(ctx), "gemm_wgmma"));
    assert_int_equal(gemm_tc_plan_for(ctx, &call).path, GEMM_TC_MMA);
    ctx->limits.nv_compute_capability = 0;
    free(ctx->wgmma_refusal);
    ctx->wgmma_refusal = NULL;
}

/* ---- the plan: one value that gemm_enqueue runs and kiln-query --plan prints */

/* The tensor-core plan of an m×n×k call on a device of this capability and this many
 * compute units (the context's own facts are put back). */
static struct gemm_tc_plan plan_on(kiln_ctx *ctx, unsigned capability, size_t units,
                                   struct gemm_call call, size_t m, size_t n, size_t k)
{
    struct device_limits real = ctx->limits;
    ctx->limits.nv_compute_capability = capability, ctx->limits.compute_units = units;
    call.m = m, call.n = n, call.k = k, call.lda = k, call.ldb = n, call.ldc = n;
    struct gemm_tc_plan plan = gemm_tc_plan_for(ctx, &call);
    ctx->limits = real;
    return plan;
}

/* The plan runs `kernel` on `path` with a tile_m×tile_n tile of `stages` stages, 128
 * work-items a group, one group per block of C; its options carry the tile. */
static void assert_tc_plan(const struct gemm_tc_plan *plan, enum gemm_tc_path path,
                           const char *kernel, unsigned tile_m, unsigned tile_n,
                           unsigned stages, size_t m, size_t n)
{
    char tile_options[64];
    assert_int_equal(plan->path, path);
    assert_non_null(plan->tile);
    assert_string_equal(plan->tile->kernel, kernel);
    assert_int_equal(plan->tile->tile_m, tile_m);
    assert_int_equal(plan->tile->tile_n, tile_n);
    assert_int_equal(plan->tile->stages, stages);
    assert_int_equal(plan->tile->threads, 128);
    snprintf(tile_options, sizeof tile_options, "-DTILE_M=%u -DTILE_N=%u", tile_m, tile_n);
    assert_non_null(strstr(plan->options, tile_options));
    snprintf(tile_options, sizeof tile_options, "-DSTAGES=%u", stages);
    assert_non_null(strstr(plan->options, tile_options));
    assert_int_equal(plan->launch.dims, 2);
    assert_int_equal(plan->launch.local[0], 128);
    assert_int_equal(plan->launch.local[1], 1);
    assert_int_equal(plan->launch.global[0], (n + tile_n - 1) / tile_n * 128);
    assert_int_equal(plan->launch.global[1], (m + tile_m - 1) / tile_m);
}

static void f16_plan_takes_wgmma_128x128_for_a_big_call_and_64x128_for_a_small_one(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    struct gemm_tc_plan big = plan_on(ctx, 90, 132, call, 4096, 4096, 4096);
    assert_int_equal(big.large_blocks, 32 * 32);
    assert_tc_plan(&big, GEMM_TC_WGMMA, "gemm_wgmma", 128, 128, 4, 4096, 4096);
    assert_non_null(strstr(big.options, "-DWARPGROUPS=1"));
    assert_non_null(strstr(big.options, "-DA_TYPE=1"));
    /* 8 × 8 blocks of 128×128 would leave 68 of the 132 units idle */
    struct gemm_tc_plan small = plan_on(ctx, 90, 132, call, 1024, 1024, 1024);
    assert_int_equal(small.large_blocks, 64);
    assert_tc_plan(&small, GEMM_TC_WGMMA, "gemm_wgmma", 64, 128, 5, 1024, 1024);
    assert_ptr_equal(small.table, big.table);
}

/* What a tf32 plan packs: what wgmma cannot read K-major and aligned, both operands at
 * 3xTF32, one copy of an operand the batch shares; too large a workspace leaves STRICT. */
static void tf32_plans_pack_what_wgmma_cannot_read_and_both_operands_at_3xtf32(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    call.a_type = call.c_type = KILN_DTYPE_F32, call.math = KILN_MATH_TF32;
    call.tb = KILN_TRANS;
    struct gemm_tc_plan plan = plan_on(ctx, 90, 132, call, 300, 200, 72);
    assert_false(plan.pack_a || plan.pack_b);
    assert_int_equal(plan.workspace, 0);
    assert_non_null(strstr(plan.options, "-DTRANS_A=0 -DTRANS_B=1"));
    plan = plan_on(ctx, 90, 132, call, 300, 200, 70); /* A's rows 280 bytes apart */
    assert_true(plan.pack_a && !plan.pack_b);
    assert_int_equal(plan.workspace, 300 * 72 * 4); /* packed rows start on 16 bytes */
    call.tb = KILN_NO_TRANS; /* B as stored is n-major: packed */
    plan = plan_on(ctx, 90, 132, call, 300, 200, 72);
    assert_true(!plan.pack_a && plan.pack_b);
    assert_int_equal(plan.workspace, 200 * 72 * 4);
    assert_non_null(strstr(plan.options, "-DTRANS_A=0 -DTRANS_B=1"));
    call.ta = KILN_TRANS;
    plan = plan_on(ctx, 90, 132, call, 300, 200, 72);
    assert_true(plan.pack_a && plan.pack_b);
    assert_int_equal(plan.workspace, (300 + 200) * 72 * 4);
    call.math = KILN_MATH_TF32X3, call.batch = 3, call.stride_a = 300 * 72, call.stride_b = 0;
    call.ta = KILN_NO_TRANS;
    plan = plan_on(ctx, 90, 132, call, 300, 200, 72);
    assert_true(plan.pack_a && plan.pack_b);
    assert_int_equal(plan.workspace, (3 * 300 + 200) * 72 * 2 * 4);
    assert_non_null(strstr(plan.options, "-DSPLIT=1"));
    unsigned long long real = ctx->max_alloc_bytes;
    ctx->max_alloc_bytes = plan.workspace - 1;
    plan = plan_on(ctx, 90, 132, call, 300, 200, 72);
    ctx->max_alloc_bytes = real;
    assert_int_equal(plan.path, GEMM_TC_NONE);
    assert_non_null(strstr(plan.why, "largest allocation"));
}

static void f32_plans_take_the_tf32_and_3xtf32_tables(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    call.a_type = call.c_type = KILN_DTYPE_F32, call.math = KILN_MATH_TF32;
    struct gemm_tc_plan tf32 = plan_on(ctx, 90, 132, call, 4096, 4096, 4096);
    assert_tc_plan(&tf32, GEMM_TC_WGMMA, "gemm_wgmma", 128, 128, 4, 4096, 4096);
    assert_non_null(strstr(tf32.options, "-DSPLIT=0"));
    call.math = KILN_MATH_TF32X3;
    struct gemm_tc_plan split = plan_on(ctx, 90, 132, call, 4096, 4096, 4096);
    assert_tc_plan(&split, GEMM_TC_WGMMA, "gemm_wgmma", 128, 64, 3, 4096, 4096);
    assert_non_null(strstr(split.options, "-DSPLIT=1"));
    split = plan_on(ctx, 90, 132, call, 1024, 512, 1024); /* 8 × 8 blocks of 128×64 */
    assert_tc_plan(&split, GEMM_TC_WGMMA, "gemm_wgmma", 64, 64, 3, 1024, 512);
    assert_true(split.table != tf32.table);
}

static void f16_plan_at_capability_80_takes_mma_sync(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_call call = tc_call(ctx);
    struct gemm_tc_plan plan = plan_on(ctx, 80, 108, call, 4096, 4096, 4096);
    assert_tc_plan(&plan, GEMM_TC_MMA, "gemm_mma", 128, 128, 3, 4096, 4096);
    assert_non_null(strstr(plan.options, "-DWARPS_M=2 -DWARPS_N=2"));
    plan = plan_on(ctx, 80, 108, call, 1024, 1024, 1024);
    assert_tc_plan(&plan, GEMM_TC_MMA, "gemm_mma", 64, 128, 4, 1024, 1024);
}

static void plan_at_capability_75_says_why_there_are_no_tensor_cores(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct gemm_tc_plan plan = plan_on(ctx, 75, 40, tc_call(ctx), 4096, 4096, 4096);
    assert_int_equal(plan.path, GEMM_TC_NONE);
    assert_string_equal(plan.why, "no mma.sync tensor cores (NVIDIA sm_80 or later)");
    assert_null(plan.tile);
}

/* The report --plan gemm_ex prints, for a request on a device of this capability and
 * this many compute units. */
static struct plan_report query_plan_on(kiln_ctx *ctx, unsigned capability, size_t units,
                                        const char *shape, const char *dtype,
                                        const char *math)
{
    struct plan_request request;
    static struct plan_report report; /* large */
    memset(&report, 0, sizeof report);
    assert_int_equal(plan_request_parse("gemm_ex", shape, &request), KILN_OK);
    assert_int_equal(plan_request_types(&request, dtype, math), KILN_OK);
    struct device_limits real = ctx->limits;
    ctx->limits.nv_compute_capability = capability, ctx->limits.compute_units = units;
    introspect_gemm_tc(ctx, &request, &report);
    ctx->limits = real;
    return report;
}

static void assert_says(const struct plan_report *report, const char *line)
{
    if (strstr(report->why, line) == NULL)
        fail_msg("the plan does not say \"%s\":\n%s", line, report->why);
}

static void query_plan_prints_the_tensor_core_kernel_tile_and_launch(void **state)
{
    kiln_ctx *ctx = *state;
    unsetenv("KILN_GEMM_TC");
    struct plan_report big = query_plan_on(ctx, 90, 132, "4096x4096x4096", "f16", "fast");
    assert_true(big.has_tc);
    assert_int_equal(big.tc.path, GEMM_TC_WGMMA);
    assert_int_equal(big.launch.global[0], 32 * 128);
    assert_int_equal(big.groups[0], 32);
    assert_int_equal(big.groups[1], 32);
    assert_says(&big, "tensor cores run it: cl/gemm_wgmma.cl on the wgmma path");
    assert_says(&big, "tile 128x128 of its table's 128x128 and 64x128: 1024 block(s) of "
                      "128x128 give a block to each of the 132 compute units");
    assert_says(&big, "128 work-items a work-group, 4 stages");
    struct plan_report small = query_plan_on(ctx, 90, 132, "1024x1024x1024", "bf16", "fast");
    assert_int_equal(small.groups[1], 16);
    assert_says(&small, "tile 64x128 of its table's 128x128 and 64x128: 64 block(s) of "
                        "128x128 would leave idle some of the 132 compute units");
    struct plan_report split = query_plan_on(ctx, 90, 132, "4096x4096x4096", "f32", "tf32x3");
    assert_says(&split, "cl/gemm_wgmma.cl on the wgmma path (wgmma: 3xTF32");
    assert_says(&split, "tile 128x64 of its table's 128x64 and 64x64");
    assert_says(&split, "first cl/tf32_pack.cl splits op(A) and op(B)ᵀ K-major into "
                        "268435456 bytes of the context's workspace");
    struct plan_report mma = query_plan_on(ctx, 80, 108, "4096x4096x4096", "f16", "fast");
    assert_says(&mma, "cl/gemm_mma.cl on the mma.sync path");
    struct plan_report none = query_plan_on(ctx, 75, 40, "4096x4096x4096", "f16", "fast");
    assert_int_equal(none.tc.path, GEMM_TC_NONE);
    assert_says(&none, "no tensor-core kernel: no mma.sync tensor cores (NVIDIA sm_80 or "
                       "later)");
}

/* ---- cl/tf32_pack.cl, on any device */

/* x rounded to tf32, ties away from zero (PTX's cvt.rna.tf32.f32), in C. */
static float tf32_rna(float x)
{
    if (!isfinite(x))
        return x;
    uint32_t bits;
    memcpy(&bits, &x, 4);
    bits = (bits + 0x1000u) & 0xffffe000u;
    memcpy(&x, &bits, 4);
    return x;
}

/* Packs a batch of two 37×29 matrices (stored as they are or transposed, 3 floats of
 * padding a row) K-major, copied or split, and compares each element with C. */
static void check_tf32_pack(kiln_ctx *ctx, kiln_trans trans, bool split)
{
    enum { ROWS = 37, K = 29, PAD = 3, BATCH = 2, Y_LD = 32, X_FLOATS = 2 * 1200 + 12 };
    size_t x_ld = (trans ? ROWS : K) + PAD, x_stride = (trans ? K : ROWS) * x_ld + 5;
    size_t parts = split ? 2 : 1, y_stride = ROWS * Y_LD * parts + 4;
    float x[X_FLOATS], y[BATCH * ROWS * Y_LD * 2 + 8 + 8];
    size_t mark = scratch_mark();
    assert_true(BATCH * x_stride + 7 <= X_FLOATS);
    floats_random(x, X_FLOATS, 31);
    /* a tie that rounds away, NaN, Inf, and a finite value that rounds up to Inf */
    x[7] = 1.0f + 0x1p-11f, x[8] = NAN, x[9] = -INFINITY, x[10] = 3.4027e38f, x[11] = 1e-40f;
    kiln_buf *dx = scratch_buffer(ctx, sizeof x), *dy = scratch_buffer(ctx, sizeof y);
    assert_ok(ctx, kiln_buf_write(dx, 0, x, sizeof x));
    const struct tf32_pack pack = {trans, split, ROWS, K, BATCH, x_ld, x_stride, Y_LD, y_stride};
    assert_ok(ctx, tf32_pack_enqueue(ctx, &pack, scratch_view(dx, 4 * 7, sizeof x - 4 * 7),
                                     scratch_view(dy, 4 * 8, sizeof y - 4 * 8)));
    assert_ok(ctx, kiln_buf_read(dy, 0, y, sizeof y));
    for (size_t i = 0; i < BATCH; i++)
        for (size_t r = 0; r < ROWS; r++)
            for (size_t k = 0; k < K; k++) {
                float v = x[7 + i * x_stride + (trans ? k * x_ld + r : r * x_ld + k)];
                const float *hi = &y[8 + i * y_stride + r * Y_LD + k];
                float want_hi = split ? tf32_rna(v) : v;
                float want_lo = isfinite(want_hi) ? tf32_rna(v - want_hi) : 0.0f;
                if (!(memcmp(hi, &want_hi, 4) == 0 ||
                      (isnan(*hi) && isnan(want_hi))))
                    fail_msg("matrix %zu (%zu, %zu): %a, want %a", i, r, k, (double)*hi,
                             (double)want_hi);
                if (split && memcmp(hi + ROWS * Y_LD, &want_lo, 4) != 0)
                    fail_msg("lo of matrix %zu (%zu, %zu): %a, want %a", i, r, k,
                             (double)hi[ROWS * Y_LD], (double)want_lo);
            }
    scratch_release_to(mark);
}

static void tf32_packing_transposes_and_splits_on_any_device(void **state)
{
    kiln_ctx *ctx = *state;
    for (int t = 0; t < 2; t++)
        for (int split = 0; split < 2; split++)
            check_tf32_pack(ctx, t ? KILN_TRANS : KILN_NO_TRANS, split);
}

/* ---- the kernels, on a GPU that has them */

/* The paths this device runs: mma.sync from sm_80, wgmma on sm_90. */
static size_t device_paths(const kiln_ctx *ctx, const char *paths[2])
{
    unsigned capability = ctx->limits.nv_compute_capability;
    size_t count = 0;
    if (capability >= 80)
        paths[count++] = "mma";
    if (capability == 90)
        paths[count++] = "wgmma";
    return count;
}

/* Floats of padding that make a row of `cols` 16-bit elements a multiple of 8 long. */
static size_t pad_to_8(size_t cols)
{
    return (8 - cols % 8) % 8;
}

static void check_tc(kiln_ctx *ctx, matrix_case g, kiln_dtype ab, kiln_dtype c_type,
                     kiln_math math)
{
    size_t mark = scratch_mark();
    size_t a_cols = g.ta ? g.m : g.k, b_cols = g.tb ? g.k : g.n;
    operand a = typed_input_make(ctx, ab, g.ta, g.m, g.k, pad_to_8(a_cols) + g.pad, g.offset,
                                 g.fill_a, 11);
    operand b = typed_input_make(ctx, ab, g.tb, g.k, g.n, pad_to_8(b_cols) + g.pad, g.offset,
                                 g.fill_b, 12);
    operand c = typed_output_make(ctx, c_type, g.m, g.n, 1, 3, g.fill_c, 13);
    assert_ok(ctx, kiln_gemm_ex(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.view, ab, a.ld,
                                b.view, ab, b.ld, g.beta, c.view, c_type, c.ld, math));
    reference r = reference_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, operand_data(&a), a.ld,
                                  operand_data(&b), b.ld, g.beta, operand_data(&c), c.ld);
    reference_allow(&r, ab, math, c_type);
    assert_operand_near(&c, &r);
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&b);
    scratch_release_to(mark);
}

static const kiln_trans transposes[4][2] = {{KILN_NO_TRANS, KILN_NO_TRANS},
                                            {KILN_NO_TRANS, KILN_TRANS},
                                            {KILN_TRANS, KILN_NO_TRANS},
                                            {KILN_TRANS, KILN_TRANS}};
static const kiln_dtype types[3] = {KILN_DTYPE_F32, KILN_DTYPE_F16, KILN_DTYPE_BF16};

/* Blocks cut at every edge (m, n not multiples of 128, k not of 32), k of one slice and
 * of one element, one shape of whole blocks, and one of enough blocks for every compute
 * unit of an H200 (132), which takes the larger tile (the others take the smaller). */
static const size_t shapes[][3] = {{255, 257, 130}, {1025, 17, 64}, {7, 1023, 33},
                                   {17, 7, 1},      {128, 256, 96}, {1536, 1544, 40}};

static void tensor_core_gemm_matches_the_reference_on_every_type_and_transpose(void **state)
{
    kiln_ctx *ctx = *state;
    const char *paths[2];
    size_t count = device_paths(ctx, paths);
    if (count == 0)
        skip(); /* no NVIDIA tensor cores: the portable kernels run these calls */
    matrix_case g = {.alpha = 0.75f, .beta = -0.5f, .offset = 8};
    for (size_t p = 0; p < count; p++) {
        setenv("KILN_GEMM_TC", paths[p], 1);
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (size_t t = 0; t < 4; t++)
                for (size_t ab = 0; ab < 3; ab++) {
                    g.m = shapes[s][0], g.n = shapes[s][1], g.k = shapes[s][2];
                    g.ta = transposes[t][0], g.tb = transposes[t][1];
                    /* f32 operands run tf32 (wgmma only), at both of its levels */
                    kiln_math math = ab > 0 || (t + s) % 2 ? KILN_MATH_FAST : KILN_MATH_TF32X3;
                    check_tc(ctx, g, types[ab], types[(ab + t + s) % 3], math);
                }
    }
    unsetenv("KILN_GEMM_TC");
}

static void tensor_core_gemm_with_beta_zero_does_not_read_c(void **state)
{
    kiln_ctx *ctx = *state;
    const char *paths[2];
    size_t count = device_paths(ctx, paths);
    if (count == 0)
        skip();
    matrix_case g = {.m = 300, .n = 200, .k = 72, .alpha = 1.0f, .fill_c = FILL_NAN};
    for (size_t p = 0; p < count; p++) {
        setenv("KILN_GEMM_TC", paths[p], 1);
        for (size_t c = 0; c < 3; c++)
            check_tc(ctx, g, types[(c + p) % 3], types[c], KILN_MATH_FAST);
    }
    unsetenv("KILN_GEMM_TC");
}

/* C = A·B in f32 at `math`, all packed, read back. */
static void gemm_f32(kiln_ctx *ctx, const float *a, const float *b, float *c, size_t m,
                     size_t n, size_t k, kiln_math math)
{
    kiln_buf *da = scratch_buffer(ctx, m * k * 4), *db = scratch_buffer(ctx, k * n * 4);
    kiln_buf *dc = scratch_buffer(ctx, m * n * 4);
    assert_ok(ctx, kiln_buf_write(da, 0, a, m * k * 4));
    assert_ok(ctx, kiln_buf_write(db, 0, b, k * n * 4));
    assert_ok(ctx, kiln_gemm_ex(ctx, KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, da,
                                KILN_DTYPE_F32, k, db, KILN_DTYPE_F32, n, 0.0f, dc,
                                KILN_DTYPE_F32, n, math));
    assert_ok(ctx, kiln_buf_read(dc, 0, c, m * n * 4));
}

/* The largest |C(i, j) - (A·B)(i, j)| against a double reference. */
static double max_error(const float *a, const float *b, const float *c, size_t m, size_t n,
                        size_t k)
{
    double worst = 0.0;
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < n; j++) {
            double exact = 0.0;
            for (size_t p = 0; p < k; p++)
                exact += (double)a[i * k + p] * b[p * n + j];
            worst = fmax(worst, fabs(c[i * n + j] - exact));
        }
    return worst;
}

static void tf32x3_is_as_accurate_as_strict_fp32_on_random_data(void **state)
{
    kiln_ctx *ctx = *state;
    if (ctx->limits.nv_compute_capability != 90)
        skip(); /* tf32 runs on wgmma only */
    unsetenv("KILN_GEMM_TC");
    size_t mark = scratch_mark(), m = 256, n = 256, k = 4096;
    float *a = malloc(m * k * 4), *b = malloc(k * n * 4), *c = malloc(m * n * 4);
    assert_non_null(a), assert_non_null(b), assert_non_null(c);
    floats_random(a, m * k, 21);
    floats_random(b, k * n, 22);
    gemm_f32(ctx, a, b, c, m, n, k, KILN_MATH_STRICT);
    double strict = max_error(a, b, c, m, n, k);
    gemm_f32(ctx, a, b, c, m, n, k, KILN_MATH_TF32X3);
    double split = max_error(a, b, c, m, n, k);
    print_message("max error at %zux%zux%zu: 3xTF32 %.3g, STRICT %.3g\n", m, n, k, split,
                  strict);
    assert_true(split <= strict);
    free(a), free(b), free(c);
    scratch_release_to(mark);
}

/* NaN stays NaN, an infinity and an overflow come out not finite, subnormal inputs read
 * as tf32's coarser subnormals or as 0 (kiln.h's TF32X3). */
static void tf32x3_keeps_nan_and_infinity_not_finite(void **state)
{
    kiln_ctx *ctx = *state;
    if (ctx->limits.nv_compute_capability != 90)
        skip();
    unsetenv("KILN_GEMM_TC");
    size_t mark = scratch_mark(), m = 8, n = 64, k = 64;
    float a[8 * 64], b[64 * 64], c[8 * 64];
    floats_random(a, m * k, 23);
    floats_random(b, k * n, 24);
    a[0 * k + 5] = NAN;
    a[1 * k + 9] = INFINITY;
    for (size_t p = 0; p < k; p++)
        a[2 * k + p] = 3e38f, b[p * n] = 1.0f, a[3 * k + p] = 1e-40f;
    gemm_f32(ctx, a, b, c, m, n, k, KILN_MATH_TF32X3);
    for (size_t j = 0; j < n; j++) {
        assert_true(isnan(c[0 * n + j]));
        assert_false(isfinite(c[1 * n + j]));
        /* tf32 rounds a subnormal to steps of 2^-136, 1.5e-41: 6.61e-39 for 6.4e-39 */
        if (!(fabsf(c[3 * n + j]) <= 1.2e-40f * k))
            fail_msg("C(3, %zu) = %g from subnormal inputs, above %g", j, (double)c[3 * n + j],
                     1.2e-40 * k);
    }
    assert_true(c[2 * n] == INFINITY);
    assert_true(max_error(a + 4 * k, b, c + 4 * n, m - 4, n, k) < 1e-4);
    scratch_release_to(mark);
}

/* Operands off 16 bytes (an odd ld, an odd offset) take the portable kernels: still right. */
static void unaligned_operands_still_multiply_right(void **state)
{
    kiln_ctx *ctx = *state;
    if (ctx->limits.nv_compute_capability < 80)
        skip();
    matrix_case g = {.m = 200, .n = 136, .k = 40, .alpha = 1.0f, .beta = 1.0f, .pad = 1};
    check_tc(ctx, g, KILN_DTYPE_F16, KILN_DTYPE_F16, KILN_MATH_FAST);
    check_tc(ctx, g, KILN_DTYPE_F32, KILN_DTYPE_F32, KILN_MATH_TF32X3);
    g.pad = 0, g.offset = 3;
    check_tc(ctx, g, KILN_DTYPE_BF16, KILN_DTYPE_F32, KILN_MATH_FAST);
    check_tc(ctx, g, KILN_DTYPE_F32, KILN_DTYPE_BF16, KILN_MATH_TF32);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(tensor_cores_take_16_bit_operands_below_strict_math),
        KILN_TEST(f32_operands_take_tf32_wgmma_in_every_layout),
        KILN_TEST(tf32_plans_pack_what_wgmma_cannot_read_and_both_operands_at_3xtf32),
        KILN_TEST(tf32_packing_transposes_and_splits_on_any_device),
        KILN_TEST(tensor_cores_leave_unaligned_scaling_and_vector_calls_alone),
        KILN_TEST(kiln_gemm_tc_forces_a_path_or_turns_them_off),
        KILN_TEST(a_refused_sm90a_build_leaves_mma_sync),
        KILN_TEST(a_failed_sm90a_build_is_kept_as_the_refusal),
        KILN_TEST(f16_plan_takes_wgmma_128x128_for_a_big_call_and_64x128_for_a_small_one),
        KILN_TEST(f32_plans_take_the_tf32_and_3xtf32_tables),
        KILN_TEST(f16_plan_at_capability_80_takes_mma_sync),
        KILN_TEST(plan_at_capability_75_says_why_there_are_no_tensor_cores),
        KILN_TEST(query_plan_prints_the_tensor_core_kernel_tile_and_launch),
        KILN_TEST(tensor_core_gemm_matches_the_reference_on_every_type_and_transpose),
        KILN_TEST(tensor_core_gemm_with_beta_zero_does_not_read_c),
        KILN_TEST(unaligned_operands_still_multiply_right),
        KILN_TEST(tf32x3_is_as_accurate_as_strict_fp32_on_random_data),
        KILN_TEST(tf32x3_keeps_nan_and_infinity_not_finite),
    };
    return RUN_KILN_TESTS(tests);
}
