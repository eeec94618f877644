/* The elementwise family's host side (cl/elementwise.cl): the variant for the
 * operands' alignment and the size's index width, and its launch. */
#include "internal.h"

#include <limits.h>
#include <stdio.h>

kiln_status elementwise_enqueue(kiln_ctx *ctx, enum elementwise_op op, size_t n, float alpha,
                                float beta, const kiln_buf *x, const kiln_buf *y, kiln_buf *z)
{
    bool aligned = buf_on_float4(x) && buf_on_float4(y) && buf_on_float4(z);
    /* 32-bit indices when the loop's last step stays below 2^32; the grid is far
     * smaller than 2^31 (the dispatcher caps it). */
    bool narrow = n <= (size_t)INT_MAX;
    char options[96];
    snprintf(options, sizeof(options), "-DOP=%d -DVECTOR_ALIGNED=%d -DINDEX=%s", (int)op,
             aligned, narrow ? "uint" : "ulong");
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "elementwise", options, "elementwise", &kernel));
    struct launch plan =
        plan_elementwise(&ctx->limits, &kernel->limits, aligned ? n / 4 + (n % 4 != 0) : n);
    cl_ulong count = n, x_offset = buf_elements_offset(x), y_offset = buf_elements_offset(y),
             z_offset = buf_elements_offset(z);
    const struct kernel_arg args[] = {
        KERNEL_ARG(count),    KERNEL_ARG(alpha),  KERNEL_ARG(beta),
        KERNEL_ARG_BUF(x),   KERNEL_ARG(x_offset), KERNEL_ARG_BUF(y),
        KERNEL_ARG(y_offset), KERNEL_ARG_BUF(z), KERNEL_ARG(z_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
