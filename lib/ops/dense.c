/* kiln_dense: y = act(W·x + bias), one GEMM kernel with the bias and activation in its
 * epilogue. */
#include "../internal.h"

KILN_API kiln_status kiln_dense(kiln_ctx *ctx, const kiln_buf *w, const kiln_buf *x,
                                const kiln_buf *bias, kiln_buf *y, size_t out, size_t in,
                                size_t batch, kiln_act act)
{
    CHECK(check_ctx(ctx));
    CHECK(check_layer_buffers(ctx, act, w, x, bias, y));
    size_t ldw = in > 0 ? in : 1, ldx = batch > 0 ? batch : 1;
    CHECK(check_matrix(ctx, w, "w", KILN_NO_TRANS, out, in, ldw));
    CHECK(check_matrix(ctx, x, "x", KILN_NO_TRANS, in, batch, ldx));
    if (bias != NULL)
        CHECK(check_vector(ctx, bias, "bias", out));
    CHECK(check_matrix(ctx, y, "y", KILN_NO_TRANS, out, batch, ldx));
    CHECK(check_apart(ctx, y, "y", w, "w"));
    CHECK(check_apart(ctx, y, "y", x, "x"));
    CHECK(check_apart(ctx, y, "y", bias, "bias"));
    if (out == 0 || batch == 0)
        return KILN_OK;

    const struct gemm_call call = {KILN_NO_TRANS, KILN_NO_TRANS, out, batch, in, 1.0f, w, ldw,
                                   x, ldx, 0.0f, y, ldx, bias, act, 1, 0, 0, 0,
                                   KILN_DTYPE_F32, KILN_DTYPE_F32,
                                   (kiln_math)atomic_load(&ctx->math)};
    /* The bias and activation are not CLBlast's: dense ignores the GEMM back end. */
    return gemm_enqueue(ctx, &call);
}
