/* kiln_geam: C = alpha·op(A) + beta·op(B), the 2-D matrix add. */
#include "../internal.h"

#include <stdio.h>

/* An input that C may alias only when it is read in C's own layout. */
static kiln_status check_output_against(const kiln_ctx *ctx, const kiln_buf *c,
                                        const kiln_buf *input, const char *name,
                                        kiln_trans trans, size_t ld, size_t ldc)
{
    if (trans == KILN_NO_TRANS && ld == ldc)
        return check_same_or_apart(ctx, c, "c", input, name);
    return check_apart(ctx, c, "c", input, name);
}

kiln_status geam_pick(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, struct geam_kernel *out)
{
    size_t max_threads = ctx->limits.max_work_group_size;
    for (;;) {
        out->config = plan_geam_config(&ctx->limits, max_threads);
        if (out->config == NULL)
            return fail(ctx, KILN_ERR_CL, "no geam tile fits this device");
        snprintf(out->options, sizeof(out->options),
                 "-DTRANS_A=%d -DTRANS_B=%d -DTILE=%u -DTILE_ROWS=%u", (int)ta, (int)tb,
                 out->config->tile, out->config->rows);
        CHECK(kernel_get(ctx, "geam", out->options, "geam", &out->kernel));
        size_t threads = (size_t)out->config->tile * out->config->rows;
        if (out->kernel->limits.work_group_size >= threads)
            return KILN_OK;
        max_threads = threads - 1;
    }
}

/* Without transposes and with rows back to back, C is one vector: the elementwise
 * family moves it with float4s at the memory's speed. */
static bool contiguous(kiln_trans ta, kiln_trans tb, size_t m, size_t n, size_t lda,
                       size_t ldb, size_t ldc)
{
    return ta == KILN_NO_TRANS && tb == KILN_NO_TRANS &&
           (m == 1 || (lda == n && ldb == n && ldc == n));
}

KILN_API kiln_status kiln_geam(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                               size_t n, float alpha, const kiln_buf *a, size_t lda,
                               float beta, const kiln_buf *b, size_t ldb, kiln_buf *c,
                               size_t ldc)
{
    CHECK(check_ctx(ctx));
    CHECK(check_trans(ctx, ta, "ta"));
    CHECK(check_trans(ctx, tb, "tb"));
    CHECK(check_buf(ctx, a, "a"));
    CHECK(check_buf(ctx, b, "b"));
    CHECK(check_buf(ctx, c, "c"));
    CHECK(check_ld(ctx, "a", ta, m, n, lda));
    CHECK(check_ld(ctx, "b", tb, m, n, ldb));
    CHECK(check_ld(ctx, "c", KILN_NO_TRANS, m, n, ldc));
    CHECK(check_matrix(ctx, a, "a", ta, m, n, lda));
    CHECK(check_matrix(ctx, b, "b", tb, m, n, ldb));
    CHECK(check_matrix(ctx, c, "c", KILN_NO_TRANS, m, n, ldc));
    CHECK(check_output_against(ctx, c, a, "a", ta, lda, ldc));
    CHECK(check_output_against(ctx, c, b, "b", tb, ldb, ldc));
    if (m == 0 || n == 0)
        return KILN_OK;
    if (contiguous(ta, tb, m, n, lda, ldb, ldc))
        return elementwise_enqueue(ctx, ELEMENTWISE_AXPBY, m * n, alpha, beta, a, b, c);

    struct geam_kernel picked;
    CHECK(geam_pick(ctx, ta, tb, &picked));
    struct launch plan = plan_geam(&ctx->limits, picked.config, m, n);
    cl_ulong rows = m, cols = n, a_offset = buf_elements_offset(a), a_ld = lda,
             b_offset = buf_elements_offset(b), b_ld = ldb, c_offset = buf_elements_offset(c),
             c_ld = ldc;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows),     KERNEL_ARG(cols),   KERNEL_ARG(alpha),    KERNEL_ARG_BUF(a),
        KERNEL_ARG(a_offset), KERNEL_ARG(a_ld),   KERNEL_ARG(beta),     KERNEL_ARG_BUF(b),
        KERNEL_ARG(b_offset), KERNEL_ARG(b_ld),   KERNEL_ARG_BUF(c),   KERNEL_ARG(c_offset),
        KERNEL_ARG(c_ld),
    };
    return kernel_launch(ctx, picked.kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
