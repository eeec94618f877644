/* kiln_sgemm and kiln_matmul: C = alpha·op(A)·op(B) + beta·C. */
#include "../internal.h"

KILN_API kiln_status kiln_sgemm(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                size_t n, size_t k, float alpha, const kiln_buf *a,
                                size_t lda, const kiln_buf *b, size_t ldb, float beta,
                                kiln_buf *c, size_t ldc)
{
    CHECK(check_ctx(ctx));
    CHECK(check_trans(ctx, ta, "ta"));
    CHECK(check_trans(ctx, tb, "tb"));
    CHECK(check_buf(ctx, a, "a"));
    CHECK(check_buf(ctx, b, "b"));
    CHECK(check_buf(ctx, c, "c"));
    CHECK(check_ld(ctx, "a", ta, m, k, lda));
    CHECK(check_ld(ctx, "b", tb, k, n, ldb));
    CHECK(check_ld(ctx, "c", KILN_NO_TRANS, m, n, ldc));
    CHECK(check_matrix(ctx, a, "a", ta, m, k, lda));
    CHECK(check_matrix(ctx, b, "b", tb, k, n, ldb));
    CHECK(check_matrix(ctx, c, "c", KILN_NO_TRANS, m, n, ldc));
    CHECK(check_apart(ctx, c, "c", a, "a"));
    CHECK(check_apart(ctx, c, "c", b, "b"));
    if (m == 0 || n == 0)
        return KILN_OK;

    const struct gemm_call call = {ta, tb, m, n, k, alpha, a, lda, b, ldb,
                                   beta, c, ldc, NULL, KILN_ACT_NONE};
    if (atomic_load(&ctx->gemm_backend) == KILN_GEMM_CLBLAST)
        return gemm_clblast_enqueue(ctx, &call);
    return gemm_portable_enqueue(ctx, &call);
}

KILN_API kiln_status kiln_matmul(kiln_ctx *ctx, size_t m, size_t n, size_t k,
                                 const kiln_buf *a, const kiln_buf *b, kiln_buf *c)
{
    /* Tight leading dimensions; max(1, ·) keeps the zero-size cases legal. */
    return kiln_sgemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, a, k > 0 ? k : 1, b,
                      n > 0 ? n : 1, 0.0f, c, n > 0 ? n : 1);
}
