/* kiln_vadd: c = a + b, elementwise. */
#include "../internal.h"

KILN_API kiln_status kiln_vadd(kiln_ctx *ctx, const kiln_buf *a, const kiln_buf *b,
                               kiln_buf *c, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, a, "a"));
    CHECK(check_buf(ctx, b, "b"));
    CHECK(check_buf(ctx, c, "c"));
    CHECK(check_vector(ctx, a, "a", n));
    CHECK(check_vector(ctx, b, "b", n));
    CHECK(check_vector(ctx, c, "c", n));
    CHECK(check_same_or_apart(ctx, c, "c", a, "a"));
    CHECK(check_same_or_apart(ctx, c, "c", b, "b"));
    if (n == 0)
        return KILN_OK;

    const struct kernel *kernel;
    CHECK(kernel_get(ctx, "vadd", "", "vadd", &kernel));
    struct launch plan = plan_elementwise(&ctx->limits, &kernel->limits, n);
    cl_ulong count = n, a_offset = buf_elements_offset(a), b_offset = buf_elements_offset(b),
             c_offset = buf_elements_offset(c);
    const struct kernel_arg args[] = {
        KERNEL_ARG(count),    KERNEL_ARG(a->mem), KERNEL_ARG(a_offset), KERNEL_ARG(b->mem),
        KERNEL_ARG(b_offset), KERNEL_ARG(c->mem), KERNEL_ARG(c_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
