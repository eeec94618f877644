/* kiln_axpy: y += α·x, BLAS's saxpy on the elementwise family. */
#include "../internal.h"

KILN_API kiln_status kiln_axpy(kiln_ctx *ctx, float alpha, const kiln_buf *x, kiln_buf *y,
                               size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_vector(ctx, x, "x", n));
    CHECK(check_vector(ctx, y, "y", n));
    CHECK(check_same_or_apart(ctx, y, "y", x, "x"));
    /* BLAS's quick return: α = 0 leaves y as it is, NaN in x ignored. */
    if (n == 0 || alpha == 0.0f)
        return KILN_OK;

    return elementwise_enqueue(ctx, ELEMENTWISE_AXPBY, n, alpha, 1.0f, x, y, y);
}
