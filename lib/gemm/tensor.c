/* The tensor-core GEMM family of NVIDIA GPUs, where the call's math allows tensor cores
 * (anything but STRICT): for f16 and bf16 operands cl/gemm_wgmma.cl on Hopper (sm_90,
 * built for sm_90a through lib/program.c's retarget), cl/gemm_mma.cl (mma.sync) on
 * sm_80 and later, or where the driver refuses the sm_90a binary; for f32 operands
 * cl/gemm_wgmma.cl on tf32 on Hopper only (TF32, or 3xTF32 at TF32X3), which reads both
 * operands K-major: cl/tf32_pack.cl first packs (and at TF32X3 splits) any that is not
 * into the context's workspace. All accumulate in fp32 and keep the portable kernels'
 * epilogue, argument list and BLAS rules. */
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
 * - tf32 (f32 operands) on the same kernel, both operands K-major through local memory,
 *   128×128, 4 stages: 242.8/255.6 TFLOP/s at 4096³/8192³ (NT, nothing to pack); 5 and 6
 *   stages 238.4–249.4; 128×256 and 256×128 on two warpgroups 230.6–253.9. Before, P came
 *   from registers (cl/gemm_wgmma_tf32.cl, the other operand K-major as stored): 209.6/
 *   226.0, every wgmma serialised by ptxas (C7513). 3xTF32 with both operands packed as
 *   hi and lo parts, each slice's sum joined in fp32: 128×64, 3 stages 78.6/82.7 (4
 *   stages 86.4/77.8; 128×128 on two warpgroups 62.0/63.1; 64×128 83.2/75.8), against
 *   55.9/58.4 when each work-item split its operands in local memory; max error over
 *   Σ|a·b| 5.6e-08 at 256×256×4096.
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
        {"gemm_wgmma", 128, 128, 128, 4, " -DWARPGROUPS=1"},
        {"gemm_wgmma", 64, 128, 128, 4, " -DWARPGROUPS=1"},
    },
    [TC_WGMMA_TF32X3] = {
        {"gemm_wgmma", 128, 64, 128, 3, " -DWARPGROUPS=1"},
        {"gemm_wgmma", 64, 64, 128, 3, " -DWARPGROUPS=1"},
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

/* Every matrix of an operand starts, and has its rows, on 16 bytes (cp.async's copies). */
static bool operand_aligned(const struct gemm_call *call, const kiln_buf *x, size_t ld,
                            size_t stride)
{
    size_t per_copy = 16 / dtype_size(call->a_type);
    return buf_offset_of(x, call->a_type) % per_copy == 0 && ld % per_copy == 0 &&
           stride % per_copy == 0;
}

static bool operands_aligned(const struct gemm_call *call)
{
    return operand_aligned(call, call->a, call->lda, call->stride_a) &&
           operand_aligned(call, call->b, call->ldb, call->stride_b);
}

/* Floats from a packed operand's row to the next: k rounded up to 16 bytes. */
static size_t packed_ld(size_t k)
{
    return (k + 3) / 4 * 4;
}

/* Floats of one packed matrix of `rows` rows: its hi part, and its lo part at 3xTF32. */
static size_t packed_matrix(const struct gemm_call *call, size_t rows)
{
    return rows * packed_ld(call->k) * (call->math == KILN_MATH_TF32X3 ? 2 : 1);
}

/* Floats of one packed operand: a matrix for each distinct one of the batch. */
static size_t packed_floats(const struct gemm_call *call, size_t rows, size_t stride)
{
    return packed_matrix(call, rows) * (stride != 0 ? call->batch : 1);
}

/* Which f32 operands cl/tf32_pack.cl packs for the wgmma kernel (which reads tf32 only
 * K-major and 16-byte aligned), and the workspace they take; false where that exceeds
 * the device's largest allocation. */
static bool tf32_packing(const kiln_ctx *ctx, const struct gemm_call *call,
                         struct gemm_tc_plan *plan)
{
    bool split = call->math == KILN_MATH_TF32X3;
    plan->pack_a = split || call->ta == KILN_TRANS ||
                   !operand_aligned(call, call->a, call->lda, call->stride_a);
    plan->pack_b = split || call->tb == KILN_NO_TRANS ||
                   !operand_aligned(call, call->b, call->ldb, call->stride_b);
    size_t floats = (plan->pack_a ? packed_floats(call, call->m, call->stride_a) : 0) +
                    (plan->pack_b ? packed_floats(call, call->n, call->stride_b) : 0);
    plan->workspace = floats * sizeof(float);
    return plan->workspace <= ctx->max_alloc_bytes;
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
    else if (capability < 80)
        *why = "no mma.sync tensor cores (NVIDIA sm_80 or later)";
    else if (call->alpha == 0.0f || call->k == 0)
        *why = "alpha or k is 0: C is only scaled";
    else if (gemv_applies(call))
        *why = "a matrix-vector product: GEMV reads the matrix once";
    else if (call->a_type != KILN_DTYPE_F32 && !operands_aligned(call))
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
    /* packed operands are K-major: A as stored, B transposed; SPLIT: 3xTF32 */
    kiln_trans ta = plan->pack_a ? KILN_NO_TRANS : call->ta;
    kiln_trans tb = plan->pack_b ? KILN_TRANS : call->tb;
    snprintf(plan->options, sizeof(plan->options),
             "-DTILE_M=%u -DTILE_N=%u%s -DSTAGES=%u -DA_TYPE=%d -DC_TYPE=%d -DTRANS_A=%d "
             "-DTRANS_B=%d -DACT=%d -DSPLIT=%d",
             tile->tile_m, tile->tile_n, tile->warps, tile->stages, (int)call->a_type,
             (int)call->c_type, (int)ta, (int)tb, (int)call->act,
             call->a_type == KILN_DTYPE_F32 && call->math == KILN_MATH_TF32X3);
    plan->launch = plan_gemm_tc(tile->threads, tile->tile_m, tile->tile_n, call->m, call->n,
                                call->batch);
}

struct gemm_tc_plan gemm_tc_plan_for(const kiln_ctx *ctx, const struct gemm_call *call)
{
    struct gemm_tc_plan plan = {0};
    plan.path = tc_path_for(ctx, call, &plan.why);
    if (plan.path == GEMM_TC_NONE)
        return plan;
    if (call->a_type == KILN_DTYPE_F32 && !tf32_packing(ctx, call, &plan)) {
        plan.path = GEMM_TC_NONE;
        plan.why = "the packed tf32 operands exceed the device's largest allocation";
        return plan;
    }
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

/* One operand of a tf32 call as the wgmma kernel reads it. */
struct operand {
    kiln_buf view; /* the caller's buffer, or its packed copy in the workspace */
    size_t ld, stride;
};

kiln_status tf32_pack_enqueue(kiln_ctx *ctx, const struct tf32_pack *pack, const kiln_buf *x,
                              kiln_buf *y)
{
    char options[32];
    snprintf(options, sizeof(options), "-DTRANS=%d -DSPLIT=%d", (int)pack->trans,
             (int)pack->split);
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "tf32_pack", options, "tf32_pack", &kernel));
    cl_ulong rows = pack->rows, k = pack->k, batch = pack->batch,
             x_offset = buf_offset_of(x, KILN_DTYPE_F32), x_ld = pack->x_ld,
             x_stride = pack->x_stride, y_offset = buf_offset_of(y, KILN_DTYPE_F32),
             y_ld = pack->y_ld, y_stride = pack->y_stride;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows),     KERNEL_ARG(k),        KERNEL_ARG(batch),
        KERNEL_ARG_BUF(x),    KERNEL_ARG(x_offset), KERNEL_ARG(x_ld),
        KERNEL_ARG(x_stride), KERNEL_ARG_BUF(y),    KERNEL_ARG(y_offset),
        KERNEL_ARG(y_ld),     KERNEL_ARG(y_stride),
    };
    struct launch plan = plan_tf32_pack(&ctx->limits, pack->rows, pack->k, pack->batch);
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* Packs x (stored `rows`×k, or k×`rows` when trans) K-major into the workspace at
 * `*at` floats, moving *at past it. */
static kiln_status operand_pack(kiln_ctx *ctx, const struct gemm_call *call, const kiln_buf *x,
                                kiln_trans trans, size_t ld, size_t stride, size_t rows,
                                kiln_buf *workspace, size_t *at, struct operand *out)
{
    const struct tf32_pack pack = {trans, call->math == KILN_MATH_TF32X3, rows, call->k,
                                   stride != 0 ? call->batch : 1, ld, stride,
                                   packed_ld(call->k),
                                   stride != 0 ? packed_matrix(call, rows) : 0};
    const size_t floats = packed_floats(call, rows, stride);
    out->view = *workspace;
    out->view.offset = workspace->offset + *at * sizeof(float);
    out->view.size = floats * sizeof(float);
    out->ld = pack.y_ld, out->stride = pack.y_stride;
    *at += floats;
    return tf32_pack_enqueue(ctx, &pack, x, &out->view);
}

/* The context's workspace of at least `bytes`, grown at need. workspace_lock held. */
static kiln_status workspace_get(kiln_ctx *ctx, size_t bytes, kiln_buf **out)
{
    if (ctx->gemm_workspace == NULL || ctx->gemm_workspace->size < bytes) {
        /* a release waits for the kernels still reading it (OpenCL's rule) */
        kiln_buf_destroy(ctx->gemm_workspace);
        ctx->gemm_workspace = NULL;
        CHECK(kiln_buf_create(ctx, bytes, &ctx->gemm_workspace));
    }
    *out = ctx->gemm_workspace;
    return KILN_OK;
}

/* Packs the plan's operands and runs the kernel on them. workspace_lock held. */
static kiln_status tf32_enqueue(kiln_ctx *ctx, const struct gemm_call *call,
                                const struct gemm_tc_plan *plan)
{
    kiln_buf *workspace;
    CHECK(workspace_get(ctx, plan->workspace, &workspace));
    struct operand a = {*call->a, call->lda, call->stride_a};
    struct operand b = {*call->b, call->ldb, call->stride_b};
    size_t at = 0;
    if (plan->pack_a)
        CHECK(operand_pack(ctx, call, call->a, call->ta, call->lda, call->stride_a, call->m,
                           workspace, &at, &a));
    if (plan->pack_b)
        CHECK(operand_pack(ctx, call, call->b,
                           call->tb == KILN_TRANS ? KILN_NO_TRANS : KILN_TRANS, call->ldb,
                           call->stride_b, call->n, workspace, &at, &b));
    struct gemm_call packed = *call;
    packed.ta = KILN_NO_TRANS, packed.tb = KILN_TRANS;
    packed.a = &a.view, packed.lda = a.ld, packed.stride_a = a.stride;
    packed.b = &b.view, packed.ldb = b.ld, packed.stride_b = b.stride;
    return gemm_launch(ctx, plan->kernel, &plan->launch, &packed);
}

kiln_status gemm_tc_enqueue(kiln_ctx *ctx, const struct gemm_call *call,
                            const struct gemm_tc_plan *plan)
{
    if (!plan->pack_a && !plan->pack_b)
        return gemm_launch(ctx, plan->kernel, &plan->launch, call);
    pthread_mutex_lock(&ctx->workspace_lock);
    kiln_status status = tf32_enqueue(ctx, call, plan);
    pthread_mutex_unlock(&ctx->workspace_lock);
    return status;
}
