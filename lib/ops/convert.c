/* kiln_convert: a vector from one element type to another (cl/convert.cl). */
#include "../internal.h"

#include <stdio.h>

KILN_API kiln_status kiln_convert(kiln_ctx *ctx, const kiln_buf *src, kiln_dtype src_type,
                                  kiln_buf *dst, kiln_dtype dst_type, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_dtype(ctx, src_type, "src_type"));
    CHECK(check_dtype(ctx, dst_type, "dst_type"));
    CHECK(check_buf_of(ctx, src, "src", src_type));
    CHECK(check_buf_of(ctx, dst, "dst", dst_type));
    CHECK(check_vector_of(ctx, src, "src", src_type, n));
    CHECK(check_vector_of(ctx, dst, "dst", dst_type, n));
    CHECK(check_apart(ctx, dst, "dst", src, "src"));
    if (n == 0)
        return KILN_OK;

    char options[48];
    snprintf(options, sizeof(options), "-DSRC_TYPE=%d -DDST_TYPE=%d", (int)src_type,
             (int)dst_type);
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "convert", options, "convert", &kernel));
    struct launch plan = plan_elementwise(&ctx->limits, &kernel->limits, n);
    cl_ulong count = n, src_offset = buf_offset_of(src, src_type),
             dst_offset = buf_offset_of(dst, dst_type);
    const struct kernel_arg args[] = {
        KERNEL_ARG(count),      KERNEL_ARG_BUF(src), KERNEL_ARG(src_offset),
        KERNEL_ARG_BUF(dst),    KERNEL_ARG(dst_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
