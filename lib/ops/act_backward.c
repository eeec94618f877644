/* kiln_act_backward: dx = dy·act'(·) through the activation's output y, on the
 * elementwise family. */
#include "../internal.h"

KILN_API kiln_status kiln_act_backward(kiln_ctx *ctx, kiln_act act, const kiln_buf *y,
                                       const kiln_buf *dy, kiln_buf *dx, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_act(ctx, act));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_buf(ctx, dy, "dy"));
    CHECK(check_buf(ctx, dx, "dx"));
    CHECK(check_vector(ctx, y, "y", n));
    CHECK(check_vector(ctx, dy, "dy", n));
    CHECK(check_vector(ctx, dx, "dx", n));
    CHECK(check_same_or_apart(ctx, dx, "dx", y, "y"));
    CHECK(check_same_or_apart(ctx, dx, "dx", dy, "dy"));
    if (n == 0)
        return KILN_OK;

    switch (act) {
    case KILN_ACT_SIGMOID:
        return elementwise_enqueue(ctx, ELEMENTWISE_SIGMOID_BACKWARD, n, 1.0f, 1.0f, y, dy, dx);
    case KILN_ACT_RELU:
        return elementwise_enqueue(ctx, ELEMENTWISE_RELU_BACKWARD, n, 1.0f, 1.0f, y, dy, dx);
    case KILN_ACT_TANH:
        return elementwise_enqueue(ctx, ELEMENTWISE_TANH_BACKWARD, n, 1.0f, 1.0f, y, dy, dx);
    default:
        /* The identity's slope is 1: dx = dy, a copy unless dx is dy. */
        if (dx->root == dy->root && dx->root_offset == dy->root_offset)
            return KILN_OK;
        return elementwise_enqueue(ctx, ELEMENTWISE_AXPBY, n, 0.0f, 1.0f, dy, dy, dx);
    }
}
