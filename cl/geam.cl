/* C = alpha·op(A) + beta·op(B), C m×n, row-major with leading dimensions.
 *
 * A work-group of TILE×TILE_ROWS work-items moves TILE×TILE blocks of C, striding over
 * the blocks so any shape runs on any grid. A transposed operand is staged through
 * local memory (padded by one float against bank conflicts), so its reads run along
 * its stored rows, as do every other read and every write: all global accesses
 * coalesce. alpha == 0 leaves A unread and beta == 0 leaves B unread (BLAS rules: NaN
 * there has no effect). Contiguous matrices without transposes take the elementwise
 * family instead (cl/elementwise.cl, OP 3). */
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef TILE
#define TILE 32
#endif
#ifndef TILE_ROWS
#define TILE_ROWS 8
#endif

/* Helpers are always inlined: PoCL needs a kernel's barriers in its own body, and clang
 * (AMD's compiler) emits no body for a C99 inline function it chooses not to inline. */

/* Stages the block of op(X) at (i0, j0), stored transposed (n×m), as tile[j][i]. */
__attribute__((always_inline))
inline void stage_transposed(__local float tile[TILE][TILE + 1], __global const float *x,
                             const ulong ld, const ulong m, const ulong n, const ulong i0,
                             const ulong j0)
{
    const uint tx = get_local_id(0), ty = get_local_id(1);
    for (uint r = ty; r < TILE; r += TILE_ROWS) {
        const ulong stored_row = j0 + r, stored_col = i0 + tx;
        tile[r][tx] = stored_row < n && stored_col < m ? x[stored_row * ld + stored_col] : 0.0f;
    }
}

/* op(X)(i, j) for the work-item's element: from the staged tile or straight from X. */
#define A_AT(i, j, r) (TRANS_A ? a_tile[get_local_id(0)][r] : a[(i) * lda + (j)])
#define B_AT(i, j, r) (TRANS_B ? b_tile[get_local_id(0)][r] : b[(i) * ldb + (j)])

__kernel __attribute__((reqd_work_group_size(TILE, TILE_ROWS, 1)))
void geam(const ulong m, const ulong n,
          const float alpha, __global const float *a, const ulong a_offset, const ulong lda,
          const float beta, __global const float *b, const ulong b_offset, const ulong ldb,
          __global float *c, const ulong c_offset, const ulong ldc)
{
    __local float a_tile[TILE][TILE + 1];
    __local float b_tile[TILE][TILE + 1];
    a += a_offset;
    b += b_offset;
    c += c_offset;
    const uint tx = get_local_id(0), ty = get_local_id(1);
    for (ulong i0 = (ulong)get_group_id(1) * TILE; i0 < m; i0 += (ulong)get_num_groups(1) * TILE) {
        for (ulong j0 = (ulong)get_group_id(0) * TILE; j0 < n;
             j0 += (ulong)get_num_groups(0) * TILE) {
            if (TRANS_A && alpha != 0.0f)
                stage_transposed(a_tile, a, lda, m, n, i0, j0);
            if (TRANS_B && beta != 0.0f)
                stage_transposed(b_tile, b, ldb, m, n, i0, j0);
            barrier(CLK_LOCAL_MEM_FENCE);
            for (uint r = ty; r < TILE; r += TILE_ROWS) {
                const ulong i = i0 + r, j = j0 + tx;
                if (i >= m || j >= n)
                    continue;
                float v = 0.0f;
                if (alpha != 0.0f)
                    v = alpha * A_AT(i, j, r);
                if (beta != 0.0f)
                    v += beta * B_AT(i, j, r);
                c[i * ldc + j] = v;
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
    }
}
