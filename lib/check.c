/* Argument checks shared by the operations: each sets a message naming the argument
 * and the sizes involved, and returns the status a caller gets. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>

kiln_status check_ctx(const kiln_ctx *ctx)
{
    return ctx != NULL ? KILN_OK : fail(NULL, KILN_ERR_ARG, "ctx is NULL");
}

kiln_status check_buf(const kiln_ctx *ctx, const kiln_buf *buf, const char *name)
{
    if (buf == NULL)
        return fail(ctx, KILN_ERR_ARG, "%s is NULL", name);
    if (buf->ctx != ctx)
        return fail(ctx, KILN_ERR_ARG, "%s belongs to another context", name);
    if (buf->offset % sizeof(float) != 0)
        return fail(ctx, KILN_ERR_ARG, "%s starts at byte %zu, not on a float boundary", name,
                    buf->offset);
    return KILN_OK;
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
    if (act != KILN_ACT_NONE && act != KILN_ACT_SIGMOID && act != KILN_ACT_RELU)
        return fail(ctx, KILN_ERR_ARG, "act is %d, not a kiln_act", (int)act);
    return KILN_OK;
}

kiln_status size_mul(const kiln_ctx *ctx, size_t a, size_t b, size_t *out, const char *what)
{
    if (a != 0 && b > SIZE_MAX / a)
        return fail(ctx, KILN_ERR_SIZE, "%s: %zu x %zu overflows size_t", what, a, b);
    *out = a * b;
    return KILN_OK;
}

/* The buffer holds `floats` floats. */
static kiln_status check_holds(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                               size_t floats, const char *shape)
{
    size_t bytes = 0;
    CHECK(size_mul(ctx, floats, sizeof(float), &bytes, name));
    if (bytes > buf->size)
        return fail(ctx, KILN_ERR_SIZE,
                    "%s%s needs %zu floats (%zu bytes) but its buffer holds %zu bytes", name,
                    shape, floats, bytes, buf->size);
    return KILN_OK;
}

kiln_status check_vector(const kiln_ctx *ctx, const kiln_buf *buf, const char *name, size_t n)
{
    return check_holds(ctx, buf, name, n, "");
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

/* Floats from a stored matrix's first element to its last, inclusive (0 when empty). */
static kiln_status matrix_span(const kiln_ctx *ctx, const char *name, size_t stored_rows,
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

kiln_status check_matrix(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         kiln_trans trans, size_t rows, size_t cols, size_t ld)
{
    return check_matrices(ctx, buf, name, trans, rows, cols, ld, 0, 1);
}

kiln_status check_matrices(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                           kiln_trans trans, size_t rows, size_t cols, size_t ld,
                           size_t stride, size_t batch)
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
    return check_holds(ctx, buf, name, last + span, shape);
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
