/* kiln_softmax and kiln_log_softmax: per row, the row's max subtracted (cl/softmax.cl). */
#include "../internal.h"


/* A running max and sum per work-item in local memory. */
enum { SOFTMAX_BYTES_PER_ITEM = 2 * sizeof(float) };

static kiln_status softmax_run(kiln_ctx *ctx, bool log_output, const kiln_buf *x, kiln_buf *y,
                               size_t rows, size_t cols, size_t ld)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_row_map(ctx, x, y, rows, cols, ld));
    if (rows == 0 || cols == 0)
        return KILN_OK;

    struct kernel *kernel;
    struct launch plan;
    cl_uint vectors;
    CHECK(row_map_kernel(ctx, "softmax", "softmax_rows", log_output ? "-DLOG=1" : "-DLOG=0",
                         SOFTMAX_BYTES_PER_ITEM, x, y, rows, cols, &kernel, &plan, &vectors));
    const struct kernel_arg extra[] = {KERNEL_ARG(vectors)};
    return row_kernel_launch(ctx, kernel, &plan, rows, cols, ld, x, y, extra, 1);
}

KILN_API kiln_status kiln_softmax(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t rows,
                                  size_t cols, size_t ld)
{
    return softmax_run(ctx, false, x, y, rows, cols, ld);
}

KILN_API kiln_status kiln_log_softmax(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y,
                                      size_t rows, size_t cols, size_t ld)
{
    return softmax_run(ctx, true, x, y, rows, cols, ld);
}
