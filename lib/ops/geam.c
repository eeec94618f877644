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

    char options[64];
    snprintf(options, sizeof(options), "-DTRANS_A=%d -DTRANS_B=%d", (int)ta, (int)tb);
    const struct kernel *kernel;
    CHECK(kernel_get(ctx, "geam", options, "geam", &kernel));
    struct launch plan = plan_2d(&ctx->limits, &kernel->limits, m, n);
    cl_ulong rows = m, cols = n, a_offset = buf_elements_offset(a), a_ld = lda,
             b_offset = buf_elements_offset(b), b_ld = ldb, c_offset = buf_elements_offset(c),
             c_ld = ldc;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows),     KERNEL_ARG(cols),   KERNEL_ARG(alpha),    KERNEL_ARG(a->mem),
        KERNEL_ARG(a_offset), KERNEL_ARG(a_ld),   KERNEL_ARG(beta),     KERNEL_ARG(b->mem),
        KERNEL_ARG(b_offset), KERNEL_ARG(b_ld),   KERNEL_ARG(c->mem),   KERNEL_ARG(c_offset),
        KERNEL_ARG(c_ld),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
