/* kiln_sigmoid: y = 1 / (1 + exp(-x)), elementwise. */
#include "../internal.h"

KILN_API kiln_status kiln_sigmoid(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_vector(ctx, x, "x", n));
    CHECK(check_vector(ctx, y, "y", n));
    CHECK(check_same_or_apart(ctx, y, "y", x, "x"));
    if (n == 0)
        return KILN_OK;

    const struct kernel *kernel;
    CHECK(kernel_get(ctx, "sigmoid", "", "sigmoid", &kernel));
    struct launch plan = plan_elementwise(&ctx->limits, &kernel->limits, n);
    cl_ulong count = n, x_offset = buf_elements_offset(x), y_offset = buf_elements_offset(y);
    const struct kernel_arg args[] = {
        KERNEL_ARG(count), KERNEL_ARG(x->mem), KERNEL_ARG(x_offset),
        KERNEL_ARG(y->mem), KERNEL_ARG(y_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
