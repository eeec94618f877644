/* kiln_softmax and kiln_log_softmax: per row, the row's max subtracted (cl/softmax.cl). */
#include "../internal.h"

#include <stdio.h>

/* A running max and sum per work-item in local memory. */
enum { SOFTMAX_BYTES_PER_ITEM = 2 * sizeof(float) };

static kiln_status softmax_run(kiln_ctx *ctx, bool log_output, const kiln_buf *x, kiln_buf *y,
                               size_t rows, size_t cols, size_t ld)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_rows(ctx, x, "x", rows, cols, ld));
    CHECK(check_rows(ctx, y, "y", rows, cols, ld));
    CHECK(check_same_or_apart(ctx, y, "y", x, "x"));
    if (rows == 0 || cols == 0)
        return KILN_OK;

    char options[64];
    snprintf(options, sizeof(options), "-DLOG=%d -DVECTORS=%d -DINDEX=%s", (int)log_output,
             buf_elements_offset(x) % 4 == buf_elements_offset(y) % 4, row_index_type(cols));
    struct kernel *kernel;
    size_t local;
    CHECK(row_kernel_get(ctx, "softmax", options, "softmax_rows", SOFTMAX_BYTES_PER_ITEM,
                         &kernel, &local));
    struct launch plan = plan_rows(local, rows);
    return row_kernel_launch(ctx, kernel, &plan, rows, cols, ld, x, y, NULL, 0);
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
