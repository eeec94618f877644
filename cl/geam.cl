/* C = alpha·op(A) + beta·op(B), C m×n, row-major with leading dimensions.
 * alpha == 0 leaves A unread and beta == 0 leaves B unread (BLAS rules: NaN there has
 * no effect). A 2-D grid-stride loop, so any shape runs on any grid. */
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#if TRANS_A
#define A_AT(i, j) a[(j) * lda + (i)]
#else
#define A_AT(i, j) a[(i) * lda + (j)]
#endif
#if TRANS_B
#define B_AT(i, j) b[(j) * ldb + (i)]
#else
#define B_AT(i, j) b[(i) * ldb + (j)]
#endif

__kernel void geam(const ulong m, const ulong n,
                   const float alpha, __global const float *a, const ulong a_offset,
                   const ulong lda,
                   const float beta, __global const float *b, const ulong b_offset,
                   const ulong ldb,
                   __global float *c, const ulong c_offset, const ulong ldc)
{
    a += a_offset;
    b += b_offset;
    c += c_offset;
    for (ulong i = get_global_id(1); i < m; i += get_global_size(1)) {
        for (ulong j = get_global_id(0); j < n; j += get_global_size(0)) {
            float v = 0.0f;
            if (alpha != 0.0f)
                v = alpha * A_AT(i, j);
            if (beta != 0.0f)
                v += beta * B_AT(i, j);
            c[i * ldc + j] = v;
        }
    }
}
