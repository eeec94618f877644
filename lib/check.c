/* Argument checks shared by the operations: each sets a message naming the argument
 * and the sizes involved, and returns the status a caller gets. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>

kiln_status check_ctx(const kiln_ctx *ctx)
{
    return ctx != NULL ? KILN_OK : fail(NULL, KILN_ERR_ARG, "ctx is NULL");
}

size_t dtype_size(kiln_dtype type)
{
    return type == KILN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

const char *dtype_name(kiln_dtype type)
{
    switch (type) {
    case KILN_DTYPE_F32: return "f32";
    case KILN_DTYPE_F16: return "f16";
    case KILN_DTYPE_BF16: return "bf16";
    default: return "unknown";
    }
}

/* What a count of elements of type is called in messages: "floats" keeps the words of
 * the float-only operations. */
static const char *elements_name(kiln_dtype type)
{
    switch (type) {
    case KILN_DTYPE_F16: return "f16 elements";
    case KILN_DTYPE_BF16: return "bf16 elements";
    default: return "floats";
    }
}

kiln_status check_dtype(const kiln_ctx *ctx, kiln_dtype type, const char *what)
{
    if (type != KILN_DTYPE_F32 && type != KILN_DTYPE_F16 && type != KILN_DTYPE_BF16)
        return fail(ctx, KILN_ERR_ARG,
                    "%s is %d, not a kiln_dtype (KILN_DTYPE_F32, _F16 or _BF16)", what,
                    (int)type);
    return KILN_OK;
}

kiln_status check_math(const kiln_ctx *ctx, kiln_math math)
{
    if (math < KILN_MATH_STRICT || math > KILN_MATH_FAST)
        return fail(ctx, KILN_ERR_ARG,
                    "math is %d, not a kiln_math (KILN_MATH_STRICT, _TF32X3, _TF32 or _FAST)",
                    (int)math);
    return KILN_OK;
}

kiln_status check_buf_of(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         kiln_dtype type)
{
    if (buf == NULL)
        return fail(ctx, KILN_ERR_ARG, "%s is NULL", name);
    if (buf->ctx != ctx)
        return fail(ctx, KILN_ERR_ARG, "%s belongs to another context", name);
    if (buf->offset % dtype_size(type) != 0 && type == KILN_DTYPE_F32)
        return fail(ctx, KILN_ERR_ARG, "%s starts at byte %zu, not on a float boundary", name,
                    buf->offset);
    if (buf->offset % dtype_size(type) != 0)
        return fail(ctx, KILN_ERR_ARG, "%s starts at byte %zu, not on the 2-byte boundary of "
                    "%s", name, buf->offset, elements_name(type));
    return KILN_OK;
}

kiln_status check_buf(const kiln_ctx *ctx, const kiln_buf *buf, const char *name)
{
    return check_buf_of(ctx, buf, name, KILN_DTYPE_F32);
}

kiln_status check_trans(const kiln_ctx *ctx, kiln_trans trans, const char *name)
{
    if (trans != KILN_NO_TRANS && trans != KILN_TRANS)
        return fail(ctx, KILN_ERR_ARG, "%s is %d, neither KILN_NO_TRANS nor KILN_TRANS", name,
                    (int)trans);
    return KILN_OK;
}

kiln_status check_act(const kiln_ctx *ctx, kiln_act act)
{
    if (act != KILN_ACT_NONE && act != KILN_ACT_SIGMOID && act != KILN_ACT_RELU &&
        act != KILN_ACT_TANH)
        return fail(ctx, KILN_ERR_ARG,
                    "act is %d, not a kiln_act (KILN_ACT_NONE, _SIGMOID, _RELU or _TANH)",
                    (int)act);
    return KILN_OK;
}

kiln_status check_layer_buffers(const kiln_ctx *ctx, kiln_act act, const kiln_buf *w,
                                const kiln_buf *x, const kiln_buf *bias, const kiln_buf *y)
{
    CHECK(check_act(ctx, act));
    CHECK(check_buf(ctx, w, "w"));
    CHECK(check_buf(ctx, x, "x"));
    if (bias != NULL)
        CHECK(check_buf(ctx, bias, "bias"));
    return check_buf(ctx, y, "y");
}

kiln_status check_rows(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                       size_t rows, size_t cols, size_t ld)
{
    if (ld < (cols > 0 ? cols : 1))
        return fail(ctx, KILN_ERR_ARG, "ld is %zu, below the row length %zu of %s (%zux%zu)",
                    ld, cols > 0 ? cols : 1, name, rows, cols);
    return check_matrix(ctx, buf, name, KILN_NO_TRANS, rows, cols, ld);
}

kiln_status check_axis(const kiln_ctx *ctx, kiln_axis axis)
{
    if (axis != KILN_PER_ROW && axis != KILN_PER_COL)
        return fail(ctx, KILN_ERR_ARG, "axis is %d, neither KILN_PER_ROW nor KILN_PER_COL",
                    (int)axis);
    return KILN_OK;
}

kiln_status check_row_map(const kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *y,
                          size_t rows, size_t cols, size_t ld)
{
    CHECK(check_rows(ctx, x, "x", rows, cols, ld));
    CHECK(check_rows(ctx, y, "y", rows, cols, ld));
    return check_same_or_apart(ctx, y, "y", x, "x");
}

kiln_status size_mul(const kiln_ctx *ctx, size_t a, size_t b, size_t *out, const char *what)
{
    if (a != 0 && b > SIZE_MAX / a)
        return fail(ctx, KILN_ERR_SIZE, "%s: %zu x %zu overflows size_t", what, a, b);
    *out = a * b;
    return KILN_OK;
}

/* The buffer holds `count` elements of type. */
static kiln_status check_holds(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                               kiln_dtype type, size_t count, const char *shape)
{
    size_t bytes = 0;
    CHECK(size_mul(ctx, count, dtype_size(type), &bytes, name));
    if (bytes > buf->size)
        return fail(ctx, KILN_ERR_SIZE,
                    "%s%s needs %zu %s (%zu bytes) but its buffer holds %zu bytes", name,
                    shape, count, elements_name(type), bytes, buf->size);
    return KILN_OK;
}

kiln_status check_vector(const kiln_ctx *ctx, const kiln_buf *buf, const char *name, size_t n)
{
    return check_holds(ctx, buf, name, KILN_DTYPE_F32, n, "");
}

kiln_status check_vector_of(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                            kiln_dtype type, size_t n)
{
    return check_holds(ctx, buf, name, type, n, "");
}

/* The stored matrix of op(X) rows×cols: transposed, it is cols×rows. */
static void stored_shape(kiln_trans trans, size_t rows, size_t cols, size_t *stored_rows,
                         size_t *stored_cols)
{
    *stored_rows = trans == KILN_TRANS ? cols : rows;
    *stored_cols = trans == KILN_TRANS ? rows : cols;
}

kiln_status check_ld(const kiln_ctx *ctx, const char *name, kiln_trans trans, size_t rows,
                     size_t cols, size_t ld)
{
    size_t stored_rows, stored_cols;
    stored_shape(trans, rows, cols, &stored_rows, &stored_cols);
    size_t least = stored_cols > 0 ? stored_cols : 1;
    if (ld < least)
        return fail(ctx, KILN_ERR_ARG,
                    "ld%s is %zu, below the row length %zu of %s (a %zux%zu stored matrix)", name,
                    ld, least, name, stored_rows, stored_cols);
    return KILN_OK;
}

kiln_status matrix_span(const kiln_ctx *ctx, const char *name, size_t stored_rows,
                        size_t stored_cols, size_t ld, size_t *span)
{
    *span = 0;
    if (stored_rows == 0 || stored_cols == 0)
        return KILN_OK;
    size_t floats = 0;
    CHECK(size_mul(ctx, stored_rows - 1, ld, &floats, name));
    if (floats > SIZE_MAX - stored_cols)
        return fail(ctx, KILN_ERR_SIZE, "%s: (%zu - 1)·%zu + %zu overflows size_t", name,
                    stored_rows, ld, stored_cols);
    *span = floats + stored_cols;
    return KILN_OK;
}

/* buf holds batch matrices of elements of type, each stride elements after the one
 * before (batch 0: none, nothing to hold); the stored shape of op(X) rows×cols. */
static kiln_status check_matrices_of(const kiln_ctx *ctx, const kiln_buf *buf,
                                     const char *name, kiln_dtype type, kiln_trans trans,
                                     size_t rows, size_t cols, size_t ld, size_t stride,
                                     size_t batch)
{
    size_t stored_rows, stored_cols, span = 0, last = 0;
    stored_shape(trans, rows, cols, &stored_rows, &stored_cols);
    CHECK(matrix_span(ctx, name, stored_rows, stored_cols, ld, &span));
    if (span == 0 || batch == 0)
        return KILN_OK;
    CHECK(size_mul(ctx, batch - 1, stride, &last, name));
    if (last > SIZE_MAX - span)
        return fail(ctx, KILN_ERR_SIZE, "%s: (%zu - 1)·%zu + %zu overflows size_t", name,
                    batch, stride, span);
    char shape[128];
    if (batch == 1)
        snprintf(shape, sizeof(shape), " (%zux%zu stored, ld %zu)", stored_rows, stored_cols,
                 ld);
    else
        snprintf(shape, sizeof(shape), " (%zu of %zux%zu stored, ld %zu, stride %zu)", batch,
                 stored_rows, stored_cols, ld, stride);
    return check_holds(ctx, buf, name, type, last + span, shape);
}

kiln_status check_matrix(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         kiln_trans trans, size_t rows, size_t cols, size_t ld)
{
    return check_matrices_of(ctx, buf, name, KILN_DTYPE_F32, trans, rows, cols, ld, 0, 1);
}


kiln_status check_output_stride(const kiln_ctx *ctx, const char *name, size_t rows,
                                size_t cols, size_t ld, size_t stride, size_t batch)
{
    size_t span = 0;
    CHECK(matrix_span(ctx, name, rows, cols, ld, &span));
    if (batch > 1 && stride == 0)
        return fail(ctx, KILN_ERR_ARG, "stride_%s is 0 for a batch of %zu: every product "
                    "would write the same %s", name, batch, name);
    if (batch > 1 && stride < span)
        return fail(ctx, KILN_ERR_ARG, "stride_%s %zu is below the %zu floats one %s spans: "
                    "consecutive outputs overlap", name, stride, span, name);
    return KILN_OK;
}

kiln_status check_gemm_call(const kiln_ctx *ctx, const struct gemm_call *call)
{
    size_t m = call->m, n = call->n, k = call->k, batch = call->batch;
    CHECK(check_trans(ctx, call->ta, "ta"));
    CHECK(check_trans(ctx, call->tb, "tb"));
    CHECK(check_buf_of(ctx, call->a, "a", call->a_type));
    CHECK(check_buf_of(ctx, call->b, "b", call->a_type));
    CHECK(check_buf_of(ctx, call->c, "c", call->c_type));
    CHECK(check_ld(ctx, "a", call->ta, m, k, call->lda));
    CHECK(check_ld(ctx, "b", call->tb, k, n, call->ldb));
    CHECK(check_ld(ctx, "c", KILN_NO_TRANS, m, n, call->ldc));
    CHECK(check_matrices_of(ctx, call->a, "a", call->a_type, call->ta, m, k, call->lda,
                            call->stride_a, batch));
    CHECK(check_matrices_of(ctx, call->b, "b", call->a_type, call->tb, k, n, call->ldb,
                            call->stride_b, batch));
    CHECK(check_matrices_of(ctx, call->c, "c", call->c_type, KILN_NO_TRANS, m, n, call->ldc,
                            call->stride_c, batch));
    CHECK(check_output_stride(ctx, "c", m, n, call->ldc, call->stride_c, batch));
    CHECK(check_apart(ctx, call->c, "c", call->a, "a"));
    return check_apart(ctx, call->c, "c", call->b, "b");
}

bool ranges_overlap(const kiln_buf *a, const kiln_buf *b)
{
    return a->root == b->root && a->root_offset < b->root_offset + b->size &&
           b->root_offset < a->root_offset + a->size;
}

kiln_status check_apart(const kiln_ctx *ctx, const kiln_buf *out, const char *out_name,
                        const kiln_buf *in, const char *in_name)
{
    if (in != NULL && ranges_overlap(out, in))
        return fail(ctx, KILN_ERR_ARG, "%s shares memory with the input %s", out_name, in_name);
    return KILN_OK;
}

kiln_status check_same_or_apart(const kiln_ctx *ctx, const kiln_buf *out, const char *out_name,
                                const kiln_buf *in, const char *in_name)
{
    bool same = out->root == in->root && out->root_offset == in->root_offset;
    if (!same && ranges_overlap(out, in))
        return fail(ctx, KILN_ERR_ARG,
                    "%s partly overlaps the input %s: in place it must be the very same range",
                    out_name, in_name);
    return KILN_OK;
}
