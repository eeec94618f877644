/* kiln_sgemm_batched, kiln_sgemm and kiln_matmul: C = alpha·op(A)·op(B) + beta·C. */
#include "../internal.h"

KILN_API kiln_status kiln_sgemm_batched(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                        size_t n, size_t k, float alpha, const kiln_buf *a,
                                        size_t lda, size_t stride_a, const kiln_buf *b,
                                        size_t ldb, size_t stride_b, float beta, kiln_buf *c,
                                        size_t ldc, size_t stride_c, size_t batch)
{
    CHECK(check_ctx(ctx));
    const struct gemm_call call = {ta,   tb,   m,    n,     k,    alpha, a,
                                   lda,  b,    ldb,  beta,  c,    ldc,   NULL,
                                   KILN_ACT_NONE,    batch, stride_a, stride_b, stride_c,
                                   KILN_DTYPE_F32, KILN_DTYPE_F32,
                                   (kiln_math)atomic_load(&ctx->math)};
    CHECK(check_gemm_call(ctx, &call));
    if (m == 0 || n == 0 || batch == 0)
        return KILN_OK;

    if (atomic_load(&ctx->gemm_backend) == KILN_GEMM_CLBLAST) /* fp32 STRICT, always */
        return gemm_clblast_enqueue(ctx, &call);
    return gemm_enqueue(ctx, &call);
}

KILN_API kiln_status kiln_sgemm(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                size_t n, size_t k, float alpha, const kiln_buf *a,
                                size_t lda, const kiln_buf *b, size_t ldb, float beta,
                                kiln_buf *c, size_t ldc)
{
    return kiln_sgemm_batched(ctx, ta, tb, m, n, k, alpha, a, lda, 0, b, ldb, 0, beta, c, ldc,
                              0, 1);
}

KILN_API kiln_status kiln_matmul(kiln_ctx *ctx, size_t m, size_t n, size_t k,
                                 const kiln_buf *a, const kiln_buf *b, kiln_buf *c)
{
    /* Tight leading dimensions; max(1, ·) keeps the zero-size cases legal. */
    return kiln_sgemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, a, k > 0 ? k : 1, b,
                      n > 0 ? n : 1, 0.0f, c, n > 0 ? n : 1);
}
