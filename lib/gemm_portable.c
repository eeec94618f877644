/* The portable GEMM back end: cl/gemm.cl with a tile shape the dispatcher picks. */
#include "internal.h"

#include <stdio.h>

static kiln_status build_for(kiln_ctx *ctx, const struct gemm_call *call,
                             const struct gemm_config *config, const struct kernel **out)
{
    char options[192];
    snprintf(options, sizeof(options),
             "-DTILE_M=%u -DTILE_N=%u -DTILE_K=%u -DWPT_M=%u -DWPT_N=%u -DTRANS_A=%d "
             "-DTRANS_B=%d -DACT=%d",
             config->tile_m, config->tile_n, config->tile_k, config->wpt_m, config->wpt_n,
             (int)call->ta, (int)call->tb, (int)call->act);
    return kernel_get(ctx, "gemm", options, "gemm", out);
}

/* The largest tile whose built kernel accepts its work-group: a kernel may allow fewer
 * work-items than the device (registers), and then a smaller tile is tried. */
static kiln_status pick_kernel(kiln_ctx *ctx, const struct gemm_call *call,
                               const struct gemm_config **config, const struct kernel **kernel)
{
    size_t max_threads = ctx->limits.max_work_group_size;
    for (;;) {
        *config = plan_gemm_config(&ctx->limits, max_threads);
        if (*config == NULL)
            return fail(ctx, KILN_ERR_CL,
                        "no GEMM tile fits this device (max work-group %zu, local memory "
                        "%zu bytes)",
                        ctx->limits.max_work_group_size, ctx->limits.local_mem_bytes);
        CHECK(build_for(ctx, call, *config, kernel));
        size_t threads = gemm_config_threads(*config);
        if ((*kernel)->limits.work_group_size >= threads)
            return KILN_OK;
        max_threads = threads - 1;
    }
}

kiln_status gemm_portable_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    const struct gemm_config *config;
    const struct kernel *kernel;
    CHECK(pick_kernel(ctx, call, &config, &kernel));
    struct launch plan = plan_gemm(config, call->m, call->n);

    /* Without a bias the kernel never reads it; C stands in as a valid cl_mem. */
    const kiln_buf *bias = call->bias != NULL ? call->bias : call->c;
    cl_int has_bias = call->bias != NULL;
    cl_ulong m = call->m, n = call->n, k = call->k, lda = call->lda, ldb = call->ldb,
             ldc = call->ldc, a_offset = buf_elements_offset(call->a),
             b_offset = buf_elements_offset(call->b), c_offset = buf_elements_offset(call->c),
             bias_offset = buf_elements_offset(bias);
    const struct kernel_arg args[] = {
        KERNEL_ARG(m),           KERNEL_ARG(n),         KERNEL_ARG(k),
        KERNEL_ARG(call->alpha), KERNEL_ARG(call->a->mem), KERNEL_ARG(a_offset),
        KERNEL_ARG(lda),         KERNEL_ARG(call->b->mem), KERNEL_ARG(b_offset),
        KERNEL_ARG(ldb),         KERNEL_ARG(call->beta),   KERNEL_ARG(call->c->mem),
        KERNEL_ARG(c_offset),    KERNEL_ARG(ldc),          KERNEL_ARG(bias->mem),
        KERNEL_ARG(bias_offset), KERNEL_ARG(has_bias),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
