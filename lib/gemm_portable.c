/* The portable GEMM back end: cl/gemm_block.cl for shapes made of whole blocks with
 * float4-aligned matrices, cl/gemm.cl for everything else, each with a tile shape the
 * dispatcher picks. */
#include "internal.h"

#include <stdio.h>

static void gemm_options(const struct gemm_config *config, kiln_trans ta, kiln_trans tb,
                         kiln_act act, char *options, size_t size)
{
    snprintf(options, size,
             "-DTILE_M=%u -DTILE_N=%u -DTILE_K=%u -DWPT_M=%u -DWPT_N=%u -DTRANS_A=%d "
             "-DTRANS_B=%d -DACT=%d",
             config->tile_m, config->tile_n, config->tile_k, config->wpt_m, config->wpt_n,
             (int)ta, (int)tb, (int)act);
}

kiln_status gemm_portable_pick(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, kiln_act act,
                               struct gemm_kernel *out)
{
    out->max_threads = ctx->limits.max_work_group_size;
    for (;;) {
        out->config = plan_gemm_config(&ctx->limits, out->max_threads);
        if (out->config == NULL)
            return fail(ctx, KILN_ERR_CL,
                        "no GEMM tile fits this device (max work-group %zu, local memory "
                        "%zu bytes)",
                        ctx->limits.max_work_group_size, ctx->limits.local_mem_bytes);
        const struct gemm_config *config = out->config;
        gemm_options(config, ta, tb, act, out->options, sizeof(out->options));
        CHECK(kernel_get(ctx, "gemm", out->options, "gemm", &out->kernel));
        size_t threads = gemm_config_threads(config);
        if (out->kernel->limits.work_group_size >= threads)
            return KILN_OK;
        out->max_threads = threads - 1;
    }
}

static bool float4_aligned(const kiln_buf *buf, size_t ld)
{
    return buf->offset % (4 * sizeof(float)) == 0 && ld % 4 == 0;
}

/* The shape and alignment half of the decision: no OpenCL call. */
static enum gemm_block_verdict gemm_block_config(const kiln_ctx *ctx,
                                                 const struct gemm_call *call,
                                                 const struct gemm_config **config)
{
    *config = NULL;
    if (call->alpha == 0.0f)
        return GEMM_BLOCK_ALPHA_ZERO;
    if (!float4_aligned(call->a, call->lda) || !float4_aligned(call->b, call->ldb) ||
        !float4_aligned(call->c, call->ldc))
        return GEMM_BLOCK_UNALIGNED;
    *config = plan_gemm_block_config(&ctx->limits, ctx->limits.max_work_group_size, call->m,
                                     call->n, call->k);
    return *config != NULL ? GEMM_BLOCK_USED : GEMM_BLOCK_NO_TILE;
}

kiln_status gemm_block_pick(kiln_ctx *ctx, const struct gemm_call *call,
                            struct gemm_kernel *out, enum gemm_block_verdict *verdict)
{
    const struct gemm_config *config;
    *verdict = gemm_block_config(ctx, call, &config);
    if (*verdict != GEMM_BLOCK_USED)
        return KILN_OK;
    struct gemm_kernel picked = {config, NULL, ctx->limits.max_work_group_size, ""};
    gemm_options(config, call->ta, call->tb, call->act, picked.options, sizeof(picked.options));
    CHECK(kernel_get(ctx, "gemm_block", picked.options, "gemm_block", &picked.kernel));
    *out = picked;
    /* A kernel allowing fewer work-items than its tile (registers) leaves it to gemm.cl. */
    if (picked.kernel->limits.work_group_size < gemm_config_threads(config))
        *verdict = GEMM_BLOCK_KERNEL_LIMIT;
    return KILN_OK;
}

kiln_status gemm_portable_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    if (gemv_applies(call)) /* a matrix-vector product: read A once, no tiles */
        return gemv_enqueue(ctx, call);
    struct gemm_kernel picked;
    enum gemm_block_verdict verdict;
    CHECK(gemm_block_pick(ctx, call, &picked, &verdict));
    if (verdict != GEMM_BLOCK_USED)
        CHECK(gemm_portable_pick(ctx, call->ta, call->tb, call->act, &picked));
    struct launch plan = plan_gemm(picked.config, call->m, call->n);

    /* Without a bias the kernel never reads it; C stands in as a valid cl_mem. */
    const kiln_buf *bias = call->bias != NULL ? call->bias : call->c;
    cl_int has_bias = call->bias != NULL;
    cl_ulong m = call->m, n = call->n, k = call->k, lda = call->lda, ldb = call->ldb,
             ldc = call->ldc, a_offset = buf_elements_offset(call->a),
             b_offset = buf_elements_offset(call->b), c_offset = buf_elements_offset(call->c),
             bias_offset = buf_elements_offset(bias);
    const struct kernel_arg args[] = {
        KERNEL_ARG(m),           KERNEL_ARG(n),         KERNEL_ARG(k),
        KERNEL_ARG(call->alpha), KERNEL_ARG_BUF(call->a), KERNEL_ARG(a_offset),
        KERNEL_ARG(lda),         KERNEL_ARG_BUF(call->b), KERNEL_ARG(b_offset),
        KERNEL_ARG(ldb),         KERNEL_ARG(call->beta),   KERNEL_ARG_BUF(call->c),
        KERNEL_ARG(c_offset),    KERNEL_ARG(ldc),          KERNEL_ARG_BUF(bias),
        KERNEL_ARG(bias_offset), KERNEL_ARG(has_bias),
    };
    return kernel_launch(ctx, picked.kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
