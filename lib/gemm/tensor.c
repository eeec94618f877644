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

/* A kernel's tile: -D values and the work-items a group has. */
struct tc_tile {
    const char *source;
    unsigned tile_m, tile_n, threads;
    const char *options;
};

/* Each kernel's tiles, a large one and a small one: a call takes the large one where it
 * gives every compute unit a block. Measured on the H200 (build-tc harness, 2026-12-01):
 * - wgmma bf16 128×128, one warpgroup, 3 stages: 447.8 TFLOP/s at 8192³ and 394.8 at
 *   4096³ with blocks walked 8 rows a band (415.0 and 394.2 in plain row order), 258.1 at
 *   2048³, 82.6 at 1024³ (64 blocks for 132 units; 64×128 with 4 stages: 109.6, and 251.3
 *   at 2048³); 156 registers, three groups an SM. Two warpgroups at 256×128 or 128×256:
 *   200.2 and 207.3 at 8192³ (one group an SM). 4, 5 and 6 stages: 430.8, 393.1 and 410.4.
 * - wgmma tf32 (f32 operands) 128×128, one warpgroup, 4 stages of 16-deep slices, one
 *   product group left running across each slice's barrier: TF32 225.5 TFLOP/s at 8192³
 *   and 209.0 at 4096³, 3xTF32 80.7 and 78.1 (5 stages 210.6 TF32, 3 stages 79.6 3xTF32;
 *   waiting for each slice's products: 198.7 TF32 with 4 stages). 4 stages of 3xTF32 take
 *   100864 bytes of local memory, which NVIDIA's OpenCL grants to static arrays.
 * - mma.sync 128×128, 2×2 warps, 3 stages: 335.0 at 8192³, 302.7 at 4096³, 242.0 at
 *   2048³, 82.6 at 1024³ (64×128 with 1×4 warps and 4 stages: 102.5); 2×4 warps 290.8
 *   at 8192³, 4×2 214.4, 128×256 with 2×4 warps and 2 stages 259.4. */
enum tc_kernel { TC_WGMMA, TC_WGMMA_TF32, TC_MMA };
static const struct tc_tile tc_tiles[][2] = {
    [TC_WGMMA] = {
        {"gemm_wgmma", 128, 128, 128, "-DTILE_M=128 -DTILE_N=128 -DWARPGROUPS=1 -DSTAGES=3"},
        {"gemm_wgmma", 64, 128, 128, "-DTILE_M=64 -DTILE_N=128 -DWARPGROUPS=1 -DSTAGES=4"},
    },
    [TC_WGMMA_TF32] = {
        {"gemm_wgmma_tf32", 128, 128, 128, "-DTILE_M=128 -DTILE_N=128 -DSTAGES=4"},
        {"gemm_wgmma_tf32", 64, 128, 128, "-DTILE_M=64 -DTILE_N=128 -DSTAGES=4"},
    },
    [TC_MMA] = {
        {"gemm_mma", 128, 128, 128, "-DTILE_M=128 -DTILE_N=128 -DWARPS_M=2 -DWARPS_N=2 -DSTAGES=3"},
        {"gemm_mma", 64, 128, 128, "-DTILE_M=64 -DTILE_N=128 -DWARPS_M=1 -DWARPS_N=4 -DSTAGES=4"},
    },
};

/* The path's tile for an m×n product (a batch counts as more blocks). */
static const struct tc_tile *tc_tile_for(const kiln_ctx *ctx, const struct gemm_call *call,
                                         enum gemm_tc_path path)
{
    const struct tc_tile *tiles = tc_tiles[call->a_type == KILN_DTYPE_F32 ? TC_WGMMA_TF32
                                           : path == GEMM_TC_WGMMA        ? TC_WGMMA
                                                                          : TC_MMA];
    size_t blocks = ((call->m + tiles[0].tile_m - 1) / tiles[0].tile_m) *
                    ((call->n + tiles[0].tile_n - 1) / tiles[0].tile_n) * call->batch;
    return blocks >= ctx->limits.compute_units ? &tiles[0] : &tiles[1];
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

enum gemm_tc_path gemm_tc_path_for(const kiln_ctx *ctx, const struct gemm_call *call,
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

void gemm_tc_options(const kiln_ctx *ctx, const struct gemm_call *call,
                     enum gemm_tc_path path, char *options, size_t size)
{
    /* SPLIT: 3xTF32 for f32 operands at TF32X3 (the 16-bit kernels ignore it) */
    snprintf(options, size,
             "%s -DA_TYPE=%d -DC_TYPE=%d -DTRANS_A=%d -DTRANS_B=%d -DACT=%d -DSPLIT=%d",
             tc_tile_for(ctx, call, path)->options, (int)call->a_type, (int)call->c_type,
             (int)call->ta, (int)call->tb, (int)call->act, call->math == KILN_MATH_TF32X3);
}

/* Keeps the first refusal of the sm_90a kernel; later calls take mma.sync. Lock held. */
static void wgmma_refused(kiln_ctx *ctx)
{
    if (ctx->wgmma_refusal == NULL)
        ctx->wgmma_refusal = strdup(kiln_last_error(ctx));
}

/* The path's kernel for the call; a refused sm_90a build is kept as the refusal. */
static kiln_status tc_kernel(kiln_ctx *ctx, const struct gemm_call *call,
                             enum gemm_tc_path path, struct kernel **kernel)
{
    const char *source = tc_tile_for(ctx, call, path)->source;
    char options[256];
    gemm_tc_options(ctx, call, path, options, sizeof(options));
    kiln_status status = kernel_get(ctx, source, options, source, kernel);
    if (status == KILN_ERR_BUILD && path == GEMM_TC_WGMMA) {
        pthread_mutex_lock(&ctx->lock);
        wgmma_refused(ctx);
        pthread_mutex_unlock(&ctx->lock);
    }
    return status;
}

kiln_status gemm_tc_prepare(kiln_ctx *ctx, const struct gemm_call *call)
{
    const char *why;
    enum gemm_tc_path path = gemm_tc_path_for(ctx, call, &why);
    struct kernel *kernel;
    if (path == GEMM_TC_NONE)
        return KILN_OK;
    kiln_status status = tc_kernel(ctx, call, path, &kernel);
    if (status == KILN_ERR_BUILD && path == GEMM_TC_WGMMA)
        return gemm_tc_prepare(ctx, call); /* now on mma.sync, or none */
    return status;
}

kiln_status gemm_tc_enqueue(kiln_ctx *ctx, const struct gemm_call *call,
                            enum gemm_tc_path path)
{
    const struct tc_tile *tile = tc_tile_for(ctx, call, path);
    struct kernel *kernel;
    CHECK(tc_kernel(ctx, call, path, &kernel));
    struct launch plan = plan_gemm_tc(tile->threads, tile->tile_m, tile->tile_n, call->m,
                                      call->n, call->batch);
    return gemm_launch(ctx, kernel, &plan, call);
}
