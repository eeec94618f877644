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

    return elementwise_enqueue(ctx, ELEMENTWISE_VADD, n, 1.0f, 1.0f, a, b, c);
}
