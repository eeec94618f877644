/* The *_host conveniences: device copies of plain arrays, one operation, the result
 * copied back; the device buffers are borrowed from the context (host_buffers.c) and
 * given back before returning. */
#include "internal.h"

enum { MAX_STAGED = 4 };

/* The device buffers of one call, given back together. */
struct staging {
    kiln_ctx *ctx;
    kiln_buf *bufs[MAX_STAGED];
    size_t count;
};

/* A device buffer of `floats` floats (at least one, as buffers cannot be empty),
 * receiving a copy of src unless src is NULL. The copy is asynchronous, so the next
 * input's copy and the operation queue behind it; finish() waits for them. */
static kiln_status stage(struct staging *s, const float *src, size_t floats, kiln_buf **out)
{
    size_t bytes = 0;
    CHECK(size_mul(s->ctx, floats > 0 ? floats : 1, sizeof(float), &bytes, "host array"));
    CHECK(host_buffer_borrow(s->ctx, bytes, &s->bufs[s->count]));
    *out = s->bufs[s->count++];
    return src != NULL && floats > 0
               ? kiln_buf_write_async(*out, 0, src, floats * sizeof(float))
               : KILN_OK;
}

/* Runs the staged operation's result back into dst and gives the staging back: the
 * blocking read has waited for all work on it. */
static kiln_status finish(struct staging *s, kiln_status status, const kiln_buf *result,
                          float *dst, size_t floats)
{
    if (status == KILN_OK)
        status = kiln_buf_read(result, 0, dst, floats * sizeof(float));
    else
        kiln_finish(s->ctx); /* copies from the caller's arrays may still be running */
    for (size_t i = 0; i < s->count; ++i)
        host_buffer_give_back(s->bufs[i], status == KILN_OK);
    return status;
}

static kiln_status check_pointer(const kiln_ctx *ctx, const void *p, const char *name)
{
    return p != NULL ? KILN_OK : fail(ctx, KILN_ERR_ARG, "%s is NULL", name);
}

KILN_API kiln_status kiln_vadd_host(kiln_ctx *ctx, const float *a, const float *b, float *c,
                                    size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_pointer(ctx, a, "a"));
    CHECK(check_pointer(ctx, b, "b"));
    CHECK(check_pointer(ctx, c, "c"));
    if (n == 0)
        return KILN_OK;
    struct staging s = {.ctx = ctx};
    kiln_buf *da, *db, *dc = NULL;
    kiln_status status = stage(&s, a, n, &da);
    if (status == KILN_OK)
        status = stage(&s, b, n, &db);
    if (status == KILN_OK)
        status = stage(&s, NULL, n, &dc);
    if (status == KILN_OK)
        status = kiln_vadd(ctx, da, db, dc, n);
    return finish(&s, status, dc, c, n);
}

KILN_API kiln_status kiln_sigmoid_host(kiln_ctx *ctx, const float *x, float *y, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_pointer(ctx, x, "x"));
    CHECK(check_pointer(ctx, y, "y"));
    if (n == 0)
        return KILN_OK;
    struct staging s = {.ctx = ctx};
    kiln_buf *dx = NULL;
    kiln_status status = stage(&s, x, n, &dx);
    if (status == KILN_OK)
        status = kiln_sigmoid(ctx, dx, dx, n);
    return finish(&s, status, dx, y, n);
}

KILN_API kiln_status kiln_matmul_host(kiln_ctx *ctx, size_t m, size_t n, size_t k,
                                      const float *a, const float *b, float *c)
{
    CHECK(check_ctx(ctx));
    CHECK(check_pointer(ctx, a, "a"));
    CHECK(check_pointer(ctx, b, "b"));
    CHECK(check_pointer(ctx, c, "c"));
    size_t a_floats = 0, b_floats = 0, c_floats = 0;
    CHECK(size_mul(ctx, m, k, &a_floats, "a (m x k)"));
    CHECK(size_mul(ctx, k, n, &b_floats, "b (k x n)"));
    CHECK(size_mul(ctx, m, n, &c_floats, "c (m x n)"));
    if (c_floats == 0)
        return KILN_OK;
    struct staging s = {.ctx = ctx};
    kiln_buf *da, *db, *dc = NULL;
    kiln_status status = stage(&s, a, a_floats, &da);
    if (status == KILN_OK)
        status = stage(&s, b, b_floats, &db);
    if (status == KILN_OK)
        status = stage(&s, NULL, c_floats, &dc);
    if (status == KILN_OK)
        status = kiln_matmul(ctx, m, n, k, da, db, dc);
    return finish(&s, status, dc, c, c_floats);
}

KILN_API kiln_status kiln_dense_host(kiln_ctx *ctx, const float *w, const float *x,
                                     const float *bias, float *y, size_t out, size_t in,
                                     size_t batch, kiln_act act)
{
    CHECK(check_ctx(ctx));
    CHECK(check_pointer(ctx, w, "w"));
    CHECK(check_pointer(ctx, x, "x"));
    CHECK(check_pointer(ctx, y, "y"));
    size_t w_floats = 0, x_floats = 0, y_floats = 0;
    CHECK(size_mul(ctx, out, in, &w_floats, "w (out x in)"));
    CHECK(size_mul(ctx, in, batch, &x_floats, "x (in x batch)"));
    CHECK(size_mul(ctx, out, batch, &y_floats, "y (out x batch)"));
    CHECK(check_act(ctx, act));
    if (y_floats == 0)
        return KILN_OK;
    struct staging s = {.ctx = ctx};
    kiln_buf *dw, *dx, *db = NULL, *dy = NULL;
    kiln_status status = stage(&s, w, w_floats, &dw);
    if (status == KILN_OK)
        status = stage(&s, x, x_floats, &dx);
    if (status == KILN_OK && bias != NULL)
        status = stage(&s, bias, out, &db);
    if (status == KILN_OK)
        status = stage(&s, NULL, y_floats, &dy);
    if (status == KILN_OK)
        status = kiln_dense(ctx, dw, dx, db, dy, out, in, batch, act);
    return finish(&s, status, dy, y, y_floats);
}
