/* C = act(alpha·op(A)·op(B) + beta·C + bias), row-major, the portable tiled GEMM.
 *
 * A work-group computes a TILE_M×TILE_N block of C. Each step stages a TILE_K-deep
 * slice of op(A) and op(B) in local memory (zero-filled past the edges, so ragged
 * shapes need no padded copies), then every work-item accumulates a WPT_M×WPT_N
 * register tile. A work-item owns rows ty + r·LY and columns tx + c·LX: neighbouring
 * work-items touch neighbouring columns, so local reads and global stores coalesce.
 * The k-major local layout is padded by one float so column-wise stores of a
 * non-transposed A slice do not hit one bank.
 *
 * BLAS rules: alpha == 0 skips the product (A and B unread); beta == 0 leaves C unread.
 * ACT and the bias make the dense layer's epilogue; sgemm builds with ACT 0 and no bias.
 *
 * A_TYPE (A and B) and C_TYPE are cl/dtype.h's element types: f16 and bf16 are widened
 * as they are staged, products accumulate in float, C is read in its type and rounded to
 * nearest even on store. Offsets, leading dimensions and strides are in elements. The
 * bias is always float.
 */
#ifndef TILE_M
#define TILE_M 64
#endif
#ifndef TILE_N
#define TILE_N 64
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef WPT_M
#define WPT_M 4
#endif
#ifndef WPT_N
#define WPT_N 4
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#define LX (TILE_N / WPT_N)
#define LY (TILE_M / WPT_M)
#define THREADS (LX * LY)
#define PAD 1

#if TRANS_A
#define A_AT(i, p) LOAD(A_TYPE, a, (p) * lda + (i))
#else
#define A_AT(i, p) LOAD(A_TYPE, a, (i) * lda + (p))
#endif
#if TRANS_B
#define B_AT(p, j) LOAD(A_TYPE, b, (j) * ldb + (p))
#else
#define B_AT(p, j) LOAD(A_TYPE, b, (p) * ldb + (j))
#endif

#include "activation.h" /* ACT, ACTIVATE */
#include "dtype.h"      /* A_TYPE, C_TYPE, a_elem, c_elem, LOAD, STORE */

/* Helpers are always inlined: PoCL needs a kernel's barriers in its own body, and clang
 * (AMD's compiler) emits no body for a C99 inline function it chooses not to inline. */

/* Copies op(A)[row0 .. row0+TILE_M, p0 .. p0+TILE_K] into tile[p][i], walking the
 * stored matrix along its contiguous dimension. */
__attribute__((always_inline))
inline void load_a(__local float tile[TILE_K][TILE_M + PAD], __global const a_elem *a,
                   const ulong lda, const ulong m, const ulong k, const ulong row0,
                   const ulong p0, const uint tid)
{
    for (uint e = tid; e < TILE_M * TILE_K; e += THREADS) {
#if TRANS_A
        const uint i = e % TILE_M, p = e / TILE_M;
#else
        const uint p = e % TILE_K, i = e / TILE_K;
#endif
        const ulong gi = row0 + i, gp = p0 + p;
        tile[p][i] = (gi < m && gp < k) ? A_AT(gi, gp) : 0.0f;
    }
}

/* Copies op(B)[p0 .. p0+TILE_K, col0 .. col0+TILE_N] into tile[p][j]. */
__attribute__((always_inline))
inline void load_b(__local float tile[TILE_K][TILE_N + PAD], __global const a_elem *b,
                   const ulong ldb, const ulong n, const ulong k, const ulong col0,
                   const ulong p0, const uint tid)
{
    for (uint e = tid; e < TILE_N * TILE_K; e += THREADS) {
#if TRANS_B
        const uint p = e % TILE_K, j = e / TILE_K;
#else
        const uint j = e % TILE_N, p = e / TILE_N;
#endif
        const ulong gj = col0 + j, gp = p0 + p;
        tile[p][j] = (gj < n && gp < k) ? B_AT(gp, gj) : 0.0f;
    }
}

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void gemm_tile(const ulong m, const ulong n, const ulong depth, const ulong k,
                      const float alpha, __global const a_elem *a, const ulong lda,
                      __global const a_elem *b, const ulong ldb, const float beta,
                      __global c_elem *c, const ulong ldc, __global const float *bias,
                      const int has_bias, const ulong row0, const ulong col0,
                      __local float a_tile[TILE_K][TILE_M + PAD],
                      __local float b_tile[TILE_K][TILE_N + PAD])
{
    const uint tx = get_local_id(0), ty = get_local_id(1);
    const uint tid = ty * LX + tx;
    float acc[WPT_M][WPT_N];
    for (uint r = 0; r < WPT_M; ++r)
        for (uint s = 0; s < WPT_N; ++s)
            acc[r][s] = 0.0f;

    for (ulong p0 = 0; p0 < depth; p0 += TILE_K) {
        load_a(a_tile, a, lda, m, k, row0, p0, tid);
        load_b(b_tile, b, ldb, n, k, col0, p0, tid);
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint p = 0; p < TILE_K; ++p) {
            float a_reg[WPT_M], b_reg[WPT_N];
            for (uint r = 0; r < WPT_M; ++r)
                a_reg[r] = a_tile[p][ty + r * LY];
            for (uint s = 0; s < WPT_N; ++s)
                b_reg[s] = b_tile[p][tx + s * LX];
            for (uint r = 0; r < WPT_M; ++r)
                for (uint s = 0; s < WPT_N; ++s)
                    acc[r][s] += a_reg[r] * b_reg[s];
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }

    for (uint r = 0; r < WPT_M; ++r) {
        const ulong row = row0 + ty + r * LY;
        if (row >= m)
            break;
        const float shift = has_bias ? bias[row] : 0.0f;
        for (uint s = 0; s < WPT_N; ++s) {
            const ulong col = col0 + tx + s * LX;
            if (col >= n)
                break;
            float v = alpha * acc[r][s];
            if (beta != 0.0f)
                v += beta * LOAD(C_TYPE, c, row * ldc + col);
            STORE(C_TYPE, ACTIVATE(v + shift), c, row * ldc + col);
        }
    }
}

/* Work-groups stride over the tiles, so a grid capped by the device's limit on groups
 * per dimension still covers any m and n; and over the batch in dimension 2 (matrix i
 * of A, B and C starts i·stride elements after the first; the bias is shared). */
__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm(const ulong m, const ulong n, const ulong k, const float alpha,
          __global const a_elem *a, const ulong a_offset, const ulong lda,
          __global const a_elem *b, const ulong b_offset, const ulong ldb,
          const float beta, __global c_elem *c, const ulong c_offset, const ulong ldc,
          __global const float *bias, const ulong bias_offset, const int has_bias,
          const ulong batch, const ulong stride_a, const ulong stride_b,
          const ulong stride_c)
{
    __local float a_tile[TILE_K][TILE_M + PAD];
    __local float b_tile[TILE_K][TILE_N + PAD];
    const ulong depth = alpha == 0.0f ? 0 : k;
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        for (ulong row0 = (ulong)get_group_id(1) * TILE_M; row0 < m;
             row0 += (ulong)get_num_groups(1) * TILE_M)
            for (ulong col0 = (ulong)get_group_id(0) * TILE_N; col0 < n;
                 col0 += (ulong)get_num_groups(0) * TILE_N)
                gemm_tile(m, n, depth, k, alpha, a + a_offset + i * stride_a, lda,
                          b + b_offset + i * stride_b, ldb, beta, c + c_offset + i * stride_c,
                          ldc, bias + bias_offset, has_bias, row0, col0, a_tile, b_tile);
}
