/* kiln_scale: x *= α, BLAS's sscal on the elementwise family. */
#include "../internal.h"

KILN_API kiln_status kiln_scale(kiln_ctx *ctx, float alpha, kiln_buf *x, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_vector(ctx, x, "x", n));
    if (n == 0 || alpha == 1.0f)
        return KILN_OK;

    /* axpby with β = 0: α = 0 writes zeros without reading x. */
    return elementwise_enqueue(ctx, ELEMENTWISE_AXPBY, n, alpha, 0.0f, x, x, x);
}
