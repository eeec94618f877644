/* The tensor-core GEMM family of NVIDIA GPUs, where the call's math allows tensor cores
 * (anything but STRICT): for f16 and bf16 operands cl/gemm_wgmma.cl on Hopper (sm_90,
 * built for sm_90a through lib/program.c's retarget), cl/gemm_mma.cl (mma.sync) on
 * sm_80 and later, or where the driver refuses the sm_90a binary; for f32 operands
 * cl/gemm_wgmma_tf32.cl on Hopper only (TF32, or 3xTF32 at TF32X3). All accumulate in
 * fp32 and keep the portable kernels' epilogue, argument list and BLAS rules. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Each kernel's tiles, a large one and a small one: a call takes the large one where it
 * gives every compute unit a block. Measured on the H200 (build-tc harness, 2026-12-01):
 * - wgmma bf16 128×128, one warpgroup, 4 stages, one product group left running across
 *   each slice's barrier: 491.0 TFLOP/s at 8192³ and 454.4 at 4096³ (waiting for each
 *   slice's products, 3 stages: 437.1 and 375.1; 5 and 6 stages: 455.6 and 456.4 at
 *   8192³). Blocks walked 8 rows a band (415.0 and 394.2 in plain row order, before).
 *   At 1024³ 64 blocks leave most of 132 units idle: 64×128 (109.6 against 82.6 before).
 *   Two warpgroups at 256×128 or 128×256: 200.2 and 207.3 at 8192³ (one group an SM);
 *   again after the ring went past 48 KiB, 3 to 6 stages: 418.2–483.5 at 4096³/8192³
 *   against 451.7/486.9 for 128×128 in the same run; 64-deep stages (two slices a
 *   barrier) 405.8/448.2. A warp-specialised 256×128 kernel (one copying warpgroup, two
 *   multiplying, mbarriers a ring slot; commit 235db02) ran 466.8/527.3 in the harness
 *   (f32 C) but in kiln-bench, C in bf16 and f16, 413.9/439.1 and 301.4/365.4 (launched
 *   one work-group a unit, block after block: 390.0/413.8 and 292.2/350.0) against
 *   451.2/439.6 and 405.1/401.1 here: with one work-group an SM nothing multiplies while
 *   the consumers round and store C. Next: two consumer sets taking turns on blocks.
 * - wgmma tf32 (f32 operands) 128×128, one warpgroup, 4 stages of 16-deep slices, one
 *   product group left running: TF32 226.0 TFLOP/s at 8192³ and 209.6 at 4096³ (5
 *   stages 210.6; waiting for each slice's products, 198.7).
 *   256×128 on two warpgroups 188.2/195.7 and 32-deep stages 213.6/225.4 at 4096³/8192³;
 *   ptxas serialises the wgmmas of every TF32 variant (C7513: P's fragments are loaded
 *   while products run).
 * - 3xTF32 128×64, 3 stages: each slice's products sum apart and join in fp32 (the
 *   tensor cores' accumulation truncates), so two accumulator sets: 58.4 at 8192³, 55.9
 *   at 4096³ (4 stages 52.8; 128×128 on two warpgroups 55.3; without the joins, 128×128
 *   ran 80.7 with 16 times STRICT's error at k = 4096). 4 stages of 128×128 3xTF32 took
 *   100864 bytes of local memory, which NVIDIA's OpenCL grants to static arrays.
 *   Joining each partial one slice late from a second set, to leave the products
 *   running, has ptxas serialise every wgmma (C7514): 48.0/49.9 at 4096³/8192³; 32-deep
 *   slices 37.8/39.7.
 * - mma.sync 128×128, 2×2 warps, 3 stages: 335.0 at 8192³, 302.7 at 4096³, 242.0 at
 *   2048³, 82.6 at 1024³ (64×128 with 1×4 warps and 4 stages: 102.5); 2×4 warps 290.8
 *   at 8192³, 4×2 214.4, 128×256 with 2×4 warps and 2 stages 259.4. */
enum tc_kernel { TC_WGMMA, TC_WGMMA_TF32, TC_WGMMA_TF32X3, TC_MMA };
static const struct gemm_tc_tile tc_tiles[][GEMM_TC_TILES] = {
    [TC_WGMMA] = {
        {"gemm_wgmma", 128, 128, 128, 4, " -DWARPGROUPS=1"},
        {"gemm_wgmma", 64, 128, 128, 5, " -DWARPGROUPS=1"},
    },
    [TC_WGMMA_TF32] = {
        {"gemm_wgmma_tf32", 128, 128, 128, 4, ""},
        {"gemm_wgmma_tf32", 64, 128, 128, 4, ""},
    },
    [TC_WGMMA_TF32X3] = {
        {"gemm_wgmma_tf32", 128, 64, 128, 3, ""},
        {"gemm_wgmma_tf32", 64, 64, 128, 3, ""},
    },
    [TC_MMA] = {
        {"gemm_mma", 128, 128, 128, 3, " -DWARPS_M=2 -DWARPS_N=2"},
        {"gemm_mma", 64, 128, 128, 4, " -DWARPS_M=1 -DWARPS_N=4"},
    },
};
static const char *const tc_methods[] = {
    [TC_WGMMA] = "wgmma: f16/bf16 products, fp32 accumulation",
    [TC_WGMMA_TF32] = "wgmma: tf32 products, fp32 accumulation",
    [TC_WGMMA_TF32X3] = "wgmma: 3xTF32 (a = a_hi + a_lo, three tf32 products), fp32 sums",
    [TC_MMA] = "mma.sync: f16/bf16 products, fp32 accumulation",
};

/* The kernel a call runs on its path. */
static enum tc_kernel tc_kernel_for(const struct gemm_call *call, enum gemm_tc_path path)
{
    if (call->a_type == KILN_DTYPE_F32)
        return call->math == KILN_MATH_TF32X3 ? TC_WGMMA_TF32X3 : TC_WGMMA_TF32;
    return path == GEMM_TC_WGMMA ? TC_WGMMA : TC_MMA;
}

/* $KILN_GEMM_TC: the path a test or measurement forces (GEMM_TC_NONE for "off"), or -1. */
static int tc_forced(void)
{
    const char *value = getenv("KILN_GEMM_TC");
    if (value == NULL || *value == '\0')
        return -1;
    return strcmp(value, "mma") == 0     ? GEMM_TC_MMA
           : strcmp(value, "wgmma") == 0 ? GEMM_TC_WGMMA
           : strcmp(value, "off") == 0   ? GEMM_TC_NONE
                                         : -1;
}

/* Every A and B matrix starts, and has its rows, on 16 bytes (cp.async's copies). */
static bool operands_aligned(const struct gemm_call *call)
{
    size_t size = dtype_size(call->a_type), per_copy = 16 / size;
    return buf_offset_of(call->a, call->a_type) % per_copy == 0 &&
           buf_offset_of(call->b, call->a_type) % per_copy == 0 && call->lda % per_copy == 0 &&
           call->ldb % per_copy == 0 && call->stride_a % per_copy == 0 &&
           call->stride_b % per_copy == 0;
}

const char *gemm_tc_refusal(const kiln_ctx *ctx)
{
    return ctx->wgmma_refusal;
}

/* The tensor-core kernel for the call, or GEMM_TC_NONE with *why saying what rules them
 * out. $KILN_GEMM_TC forces a path where the call and device allow it; a wgmma build the
 * driver refused leaves mma.sync. */
static enum gemm_tc_path tc_path_for(const kiln_ctx *ctx, const struct gemm_call *call,
                                     const char **why)
{
    int forced = tc_forced();
    unsigned capability = ctx->limits.nv_compute_capability;
    *why = NULL;
    if (forced == GEMM_TC_NONE)
        *why = "KILN_GEMM_TC=off";
    else if (call->math == KILN_MATH_STRICT)
        *why = "math is STRICT: f16 and bf16 are widened for fp32 FMA kernels";
    else if (call->a_type == KILN_DTYPE_F32 && call->ta == KILN_TRANS &&
             call->tb == KILN_NO_TRANS)
        *why = "f32 Aᵀ·B: tf32 wgmma reads only K-major operands, and neither is";
    else if (capability < 80)
        *why = "no mma.sync tensor cores (NVIDIA sm_80 or later)";
    else if (call->alpha == 0.0f || call->k == 0)
        *why = "alpha or k is 0: C is only scaled";
    else if (gemv_applies(call))
        *why = "a matrix-vector product: GEMV reads the matrix once";
    else if (!operands_aligned(call))
        *why = "A or B is not 16-byte aligned (offsets, ld and strides multiples of 8)";
    if (*why != NULL)
        return GEMM_TC_NONE;
    bool wgmma = capability == 90 && ctx->wgmma_refusal == NULL;
    if (call->a_type == KILN_DTYPE_F32) { /* tf32 has a wgmma kernel only */
        *why = forced == GEMM_TC_MMA       ? "KILN_GEMM_TC=mma: tf32 runs on wgmma only"
               : ctx->wgmma_refusal != NULL ? "the driver refused the sm_90a kernel"
               : !wgmma                     ? "tf32 tensor cores need wgmma (sm_90)"
                                            : NULL;
        return *why != NULL ? GEMM_TC_NONE : GEMM_TC_WGMMA;
    }
    if (forced == GEMM_TC_MMA || (forced != GEMM_TC_WGMMA && !wgmma))
        return GEMM_TC_MMA;
    if (!wgmma) {
        *why = ctx->wgmma_refusal != NULL ? "the driver refused the sm_90a kernel"
                                          : "wgmma needs sm_90 (Hopper)";
        return GEMM_TC_NONE;
    }
    return GEMM_TC_WGMMA;
}

/* Blocks of `tile` over the call's C, a batch counting as more. */
static size_t tc_blocks(const struct gemm_call *call, const struct gemm_tc_tile *tile)
{
    return ((call->m + tile->tile_m - 1) / tile->tile_m) *
           ((call->n + tile->tile_n - 1) / tile->tile_n) * call->batch;
}

void gemm_tc_plan_tile(const struct gemm_call *call, size_t row, struct gemm_tc_plan *plan)
{
    const struct gemm_tc_tile *tile = &plan->table[row];
    plan->tile = tile;
    plan->kernel = NULL;
    /* SPLIT: 3xTF32 for f32 operands at TF32X3 (the 16-bit kernels ignore it) */
    snprintf(plan->options, sizeof(plan->options),
             "-DTILE_M=%u -DTILE_N=%u%s -DSTAGES=%u -DA_TYPE=%d -DC_TYPE=%d -DTRANS_A=%d "
             "-DTRANS_B=%d -DACT=%d -DSPLIT=%d",
             tile->tile_m, tile->tile_n, tile->warps, tile->stages, (int)call->a_type,
             (int)call->c_type, (int)call->ta, (int)call->tb, (int)call->act,
             call->math == KILN_MATH_TF32X3);
    plan->launch = plan_gemm_tc(tile->threads, tile->tile_m, tile->tile_n, call->m, call->n,
                                call->batch);
}

struct gemm_tc_plan gemm_tc_plan_for(const kiln_ctx *ctx, const struct gemm_call *call)
{
    struct gemm_tc_plan plan = {0};
    plan.path = tc_path_for(ctx, call, &plan.why);
    if (plan.path == GEMM_TC_NONE)
        return plan;
    enum tc_kernel kernel = tc_kernel_for(call, plan.path);
    plan.method = tc_methods[kernel];
    plan.table = tc_tiles[kernel];
    /* the large tile where it gives every compute unit a block */
    plan.large_blocks = tc_blocks(call, &plan.table[0]);
    gemm_tc_plan_tile(call, plan.large_blocks >= ctx->limits.compute_units ? 0 : 1, &plan);
    return plan;
}

/* Keeps the first refusal of the sm_90a kernel; later calls take mma.sync. Lock held. */
static void wgmma_refused(kiln_ctx *ctx)
{
    if (ctx->wgmma_refusal == NULL)
        ctx->wgmma_refusal = strdup(kiln_last_error(ctx));
}

kiln_status gemm_tc_kernel_get(kiln_ctx *ctx, struct gemm_tc_plan *plan)
{
    const char *source = plan->tile->kernel;
    kiln_status status = kernel_get(ctx, source, plan->options, source, &plan->kernel);
    if (status == KILN_ERR_BUILD && plan->path == GEMM_TC_WGMMA) {
        pthread_mutex_lock(&ctx->lock);
        wgmma_refused(ctx);
        pthread_mutex_unlock(&ctx->lock);
    }
    return status;
}

kiln_status gemm_tc_build(kiln_ctx *ctx, const struct gemm_call *call,
                          struct gemm_tc_plan *plan)
{
    for (;;) {
        *plan = gemm_tc_plan_for(ctx, call);
        if (plan->path == GEMM_TC_NONE)
            return KILN_OK;
        kiln_status status = gemm_tc_kernel_get(ctx, plan);
        /* A refused sm_90a build is remembered, and the next pass plans mma.sync. */
        if (status != KILN_ERR_BUILD || plan->path != GEMM_TC_WGMMA)
            return status;
    }
}

kiln_status gemm_tc_enqueue(kiln_ctx *ctx, const struct gemm_call *call,
                            const struct gemm_tc_plan *plan)
{
    return gemm_launch(ctx, plan->kernel, &plan->launch, call);
}
