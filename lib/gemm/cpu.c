/* The CPU GEMM back end: cl/gemm_cpu.cl, the packed-panel kernel written for PoCL, for
 * every shape, transpose and layout on devices of the CPU family (gemm/portable.c's
 * pick asks here first). */
#include "internal.h"

#include <stdio.h>

bool gemm_cpu_applies(const struct gemm_call *call)
{
    return gemm_call_is_f32(call) && call->alpha != 0.0f && call->k > 0;
}

kiln_status gemm_cpu_build(kiln_ctx *ctx, const struct gemm_call *call,
                           const struct gemm_config *config, struct gemm_kernel *out)
{
    struct gemm_kernel built = {GEMM_KIND_CPU, config, NULL, 1, ""};
    snprintf(built.options, sizeof(built.options),
             "-DMC=%u -DNC=%u -DKC=%u -DMR=%u -DNR=%u -DVW=%u -DTRANS_A=%d -DTRANS_B=%d "
             "-DACT=%d -DBATCHED=%d",
             config->tile_m, config->tile_n, config->tile_k, config->wpt_m, config->wpt_n,
             gemm_cpu_vector_width(&ctx->limits, config), (int)call->ta, (int)call->tb,
             (int)call->act, call->batch > 1);
    CHECK(kernel_get(ctx, "gemm_cpu", built.options, "gemm_cpu", &built.kernel));
    *out = built;
    return KILN_OK;
}

kiln_status gemm_cpu_pick(kiln_ctx *ctx, const struct gemm_call *call,
                          struct gemm_kernel *out, bool *used)
{
    const struct gemm_config *config =
        gemm_cpu_applies(call) ? plan_gemm_cpu_config(&ctx->limits, call->m, call->n) : NULL;
    *used = config != NULL;
    return config != NULL ? gemm_cpu_build(ctx, call, config, out) : KILN_OK;
}
