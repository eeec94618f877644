/* Which family runs a GEMM call: the one place every GEMM-based operation enqueues
 * through, so a faster family is added by one test here.
 *
 * Today: the portable families (gemm/portable.c picks among a tuned tile, the CPU
 * kernel, the whole-block kernel, the tiled kernel and GEMV). cl/gemm_cpu.cl and
 * cl/gemm_block.cl are float-only, so calls with f16 or bf16 operands run cl/gemm.cl
 * (or cl/gemv.cl), which convert as they load. The tensor-core family (gemm/tensor.c)
 * is tried first, where the device has one and the call's math allows it. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

bool gemm_call_is_f32(const struct gemm_call *call)
{
    return call->a_type == KILN_DTYPE_F32 && call->c_type == KILN_DTYPE_F32;
}

void gemm_type_options(const struct gemm_call *call, char *options, size_t size)
{
    if (gemm_call_is_f32(call)) /* the defaults: f32 kernels keep their options */
        return;
    size_t used = strlen(options);
    snprintf(options + used, size - used, " -DA_TYPE=%d -DC_TYPE=%d", (int)call->a_type,
             (int)call->c_type);
}

kiln_status gemm_launch(kiln_ctx *ctx, struct kernel *kernel, const struct launch *plan,
                        const struct gemm_call *call)
{
    /* Without a bias the kernel never reads it; C stands in as a valid cl_mem. */
    const kiln_buf *bias = call->bias != NULL ? call->bias : call->c;
    cl_int has_bias = call->bias != NULL;
    cl_ulong m = call->m, n = call->n, k = call->k, lda = call->lda, ldb = call->ldb,
             ldc = call->ldc, a_offset = buf_offset_of(call->a, call->a_type),
             b_offset = buf_offset_of(call->b, call->a_type),
             c_offset = buf_offset_of(call->c, call->c_type),
             bias_offset = buf_elements_offset(bias), batch = call->batch,
             stride_a = call->stride_a, stride_b = call->stride_b, stride_c = call->stride_c;
    const struct kernel_arg args[] = {
        KERNEL_ARG(m),           KERNEL_ARG(n),           KERNEL_ARG(k),
        KERNEL_ARG(call->alpha), KERNEL_ARG_BUF(call->a), KERNEL_ARG(a_offset),
        KERNEL_ARG(lda),         KERNEL_ARG_BUF(call->b), KERNEL_ARG(b_offset),
        KERNEL_ARG(ldb),         KERNEL_ARG(call->beta),  KERNEL_ARG_BUF(call->c),
        KERNEL_ARG(c_offset),    KERNEL_ARG(ldc),         KERNEL_ARG_BUF(bias),
        KERNEL_ARG(bias_offset), KERNEL_ARG(has_bias),    KERNEL_ARG(batch),
        KERNEL_ARG(stride_a),    KERNEL_ARG(stride_b),    KERNEL_ARG(stride_c),
    };
    return kernel_launch(ctx, kernel, plan, args, sizeof(args) / sizeof(args[0]));
}

kiln_status gemm_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    struct gemm_tc_plan tc;
    CHECK(gemm_tc_build(ctx, call, &tc));
    if (tc.path == GEMM_TC_NONE)
        return gemm_portable_enqueue(ctx, call);
    return gemm_tc_enqueue(ctx, call, &tc);
}
