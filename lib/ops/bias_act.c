/* kiln_bias_act: y = act(x + bias), a bias per row or per column, in cl/bias_act.cl. */
#include "../internal.h"

#include <limits.h>
#include <stdio.h>

KILN_API kiln_status kiln_bias_act(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *bias,
                                   kiln_buf *y, size_t rows, size_t cols, size_t ld,
                                   kiln_axis axis, kiln_act act)
{
    CHECK(check_ctx(ctx));
    CHECK(check_axis(ctx, axis));
    CHECK(check_act(ctx, act));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, bias, "bias"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_rows(ctx, x, "x", rows, cols, ld));
    CHECK(check_vector(ctx, bias, "bias", axis == KILN_PER_ROW ? rows : cols));
    CHECK(check_rows(ctx, y, "y", rows, cols, ld));
    CHECK(check_same_or_apart(ctx, y, "y", x, "x"));
    CHECK(check_apart(ctx, y, "y", bias, "bias"));
    if (rows == 0 || cols == 0)
        return KILN_OK;

    /* The matrix's indices and a grid's stride past them stay below 2^31 in 32 bits. */
    bool narrow = rows <= (size_t)INT_MAX / ld;
    char options[64];
    snprintf(options, sizeof(options), "-DACT=%d -DAXIS=%d -DINDEX=%s", (int)act, (int)axis,
             narrow ? "uint" : "ulong");
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "bias_act", options, "bias_act", &kernel));
    cl_ulong row_count = rows, col_count = cols, stride = ld, x_offset = buf_elements_offset(x),
             bias_offset = buf_elements_offset(bias), y_offset = buf_elements_offset(y);
    /* rows move as float4s, a work-item each */
    cl_uint vectors = buf_same_phase(x, y);
    struct launch plan = plan_bias_act(&ctx->limits, &kernel->limits, rows,
                                       vectors ? cols / 4 + (cols % 4 != 0) : cols);
    const struct kernel_arg args[] = {
        KERNEL_ARG(row_count), KERNEL_ARG(col_count),   KERNEL_ARG(stride),
        KERNEL_ARG_BUF(x),     KERNEL_ARG(x_offset),    KERNEL_ARG_BUF(bias),
        KERNEL_ARG(bias_offset), KERNEL_ARG_BUF(y),     KERNEL_ARG(y_offset),
        KERNEL_ARG(vectors),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
