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

    return elementwise_enqueue(ctx, ELEMENTWISE_SIGMOID, n, 1.0f, 0.0f, x, x, y);
}
