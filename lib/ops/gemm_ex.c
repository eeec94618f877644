/* kiln_gemm_ex: C = alpha·op(A)·op(B) + beta·C with f32, f16 or bf16 operands, on kiln's
 * own kernels whatever the back end. */
#include "../internal.h"

KILN_API kiln_status kiln_gemm_ex(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                  size_t n, size_t k, float alpha, const kiln_buf *a,
                                  kiln_dtype a_type, size_t lda, const kiln_buf *b,
                                  kiln_dtype b_type, size_t ldb, float beta, kiln_buf *c,
                                  kiln_dtype c_type, size_t ldc, kiln_math math)
{
    CHECK(check_ctx(ctx));
    CHECK(check_dtype(ctx, a_type, "a_type"));
    CHECK(check_dtype(ctx, b_type, "b_type"));
    CHECK(check_dtype(ctx, c_type, "c_type"));
    if (a_type != b_type)
        return fail(ctx, KILN_ERR_ARG, "a_type is %s but b_type is %s: A and B must have "
                    "one type", dtype_name(a_type), dtype_name(b_type));
    CHECK(check_math(ctx, math));
    const struct gemm_call call = {ta,   tb,   m,    n,     k,    alpha, a,
                                   lda,  b,    ldb,  beta,  c,    ldc,   NULL,
                                   KILN_ACT_NONE,    1,     0,    0,     0,
                                   a_type, c_type,   math};
    CHECK(check_gemm_call(ctx, &call));
    if (m == 0 || n == 0)
        return KILN_OK;

    return gemm_enqueue(ctx, &call);
}
