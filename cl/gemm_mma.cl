/* C = act(alpha·op(A)·op(B) + beta·C + bias) on NVIDIA tensor cores (sm_80 and later)
 * through inline PTX: mma.sync m16n8k16 on f16 or bf16 operands, fp32 accumulation.
 *
 * A work-group of WARPS_M×WARPS_N warps computes a TILE_M×TILE_N block of C; each warp a
 * (TILE_M/WARPS_M)×(TILE_N/WARPS_N) part of it as 16×8 fragments held in registers.
 * Operands move global → local memory with cp.async (16 bytes a copy, zero-filled past
 * the matrix's edge, so ragged shapes need no padding) through a ring of STAGES slices
 * of TILE_K, so the loads of later slices overlap the products of this one; local →
 * registers with ldmatrix (.trans where the stored layout is the other way round).
 *
 * Local tiles keep each operand as it is stored (rows along its leading dimension) in
 * 16-byte chunks, and chunk c of row r sits at c ^ swizzle(r): the eight rows one
 * ldmatrix reads then fall on eight different bank groups.
 *
 * Needs 16-byte aligned rows: lda, ldb and the element offsets of A and B multiples of
 * 8 (the host checks). BLAS rules: alpha == 0 or k == 0 are the host's (another
 * kernel); beta == 0 leaves C unread.
 */
#ifndef A_TYPE
#define A_TYPE 2 /* kiln_dtype of A and B: 1 f16, 2 bf16 */
#endif
#ifndef C_TYPE
#define C_TYPE 0 /* kiln_dtype of C: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef TILE_K
#define TILE_K 32
#endif
#ifndef WARPS_M
#define WARPS_M 2
#endif
#ifndef WARPS_N
#define WARPS_N 4
#endif
#ifndef STAGES
#define STAGES 3
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#include "activation.h" /* ACT, ACTIVATE */

#define THREADS (32 * WARPS_M * WARPS_N)
#define WARP_M (TILE_M / WARPS_M)
#define WARP_N (TILE_N / WARPS_N)
#define FRAGS_M (WARP_M / 16)
#define FRAGS_N (WARP_N / 8)

#if A_TYPE == 1
#define MMA_TYPES "f16.f16"
#else
#define MMA_TYPES "bf16.bf16"
#endif

/* Each operand's tile as stored: ROWS rows of COLS contiguous 16-bit elements. */
#if TRANS_A
#define A_ROWS TILE_K
#define A_COLS TILE_M
#else
#define A_ROWS TILE_M
#define A_COLS TILE_K
#endif
#if TRANS_B
#define B_ROWS TILE_N
#define B_COLS TILE_K
#else
#define B_ROWS TILE_K
#define B_COLS TILE_N
#endif
#define A_BYTES (A_ROWS * A_COLS * 2)
#define B_BYTES (B_ROWS * B_COLS * 2)
#define STAGE_BYTES (A_BYTES + B_BYTES)

#if STAGES == 2
#define WAIT_PENDING "cp.async.wait_group 0;"
#elif STAGES == 3
#define WAIT_PENDING "cp.async.wait_group 1;"
#elif STAGES == 4
#define WAIT_PENDING "cp.async.wait_group 2;"
#else
#error "STAGES must be 2, 3 or 4"
#endif

/* Helpers are always inlined (clang emits no body for an inline function it chooses not
 * to inline). */

/* Byte offset of chunk c of row r in a tile of `cols` 16-bit elements a row. Rows of
 * fewer than 8 chunks share a 128-byte line: the swizzle then counts lines. */
__attribute__((always_inline))
inline uint chunk_offset(const uint r, const uint c, const uint cols)
{
    const uint chunks = cols / 8;
    const uint swizzle = chunks >= 8 ? (r & 7) : ((r / (8 / chunks)) & (chunks - 1));
    return r * cols * 2 + ((c ^ swizzle) << 4);
}

/* Copies one stored tile, rows [row0, row0 + ROWS) and columns [col0, col0 + COLS) of a
 * matrix with `rows`×`cols` valid elements, into local memory at `base`; bytes past the
 * matrix's edge are zeros. */
__attribute__((always_inline))
inline void tile_load(const uint base, __global const ushort *matrix, const ulong ld,
                      const ulong rows, const ulong cols, const ulong row0, const ulong col0,
                      const uint tile_rows, const uint tile_cols, const uint tid)
{
    const uint chunks = tile_rows * tile_cols / 8;
    for (uint e = tid; e < chunks; e += THREADS) {
        const uint r = e / (tile_cols / 8), c = e % (tile_cols / 8);
        const ulong row = row0 + r, col = col0 + c * 8;
        const ulong left = row < rows && col < cols ? cols - col : 0;
        const uint bytes = left >= 8 ? 16 : (uint)left * 2;
        __global const ushort *source = bytes != 0 ? matrix + row * ld + col : matrix;
        const uint target = base + chunk_offset(r, c, tile_cols);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                     :: "r"(target), "l"(source), "r"(bytes));
    }
}

__attribute__((always_inline))
inline void ldmatrix_x4(uint out[4], const uint address)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(out[0]), "=r"(out[1]), "=r"(out[2]), "=r"(out[3]) : "r"(address));
}

__attribute__((always_inline))
inline void ldmatrix_x4_trans(uint out[4], const uint address)
{
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];"
                 : "=r"(out[0]), "=r"(out[1]), "=r"(out[2]), "=r"(out[3]) : "r"(address));
}

__attribute__((always_inline))
inline void mma(float acc[4], const uint a[4], const uint b0, const uint b1)
{
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32." MMA_TYPES ".f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
                 : "+f"(acc[0]), "+f"(acc[1]), "+f"(acc[2]), "+f"(acc[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

/* The A fragments (16×16 each, FRAGS_M of them down the warp's rows) of k step kk. */
__attribute__((always_inline))
inline void load_a_fragments(uint frag[FRAGS_M][4], const uint base, const uint warp_m0,
                             const uint kk, const uint lane)
{
    for (uint i = 0; i < FRAGS_M; ++i) {
        const uint m0 = warp_m0 + i * 16;
#if TRANS_A
        const uint r = kk + (lane & 7) + ((lane >> 4) & 1) * 8;
        const uint col = m0 + ((lane >> 3) & 1) * 8;
        ldmatrix_x4_trans(frag[i], base + chunk_offset(r, col / 8, A_COLS));
#else
        const uint r = m0 + (lane & 15), col = kk + (lane >> 4) * 8;
        ldmatrix_x4(frag[i], base + chunk_offset(r, col / 8, A_COLS));
#endif
    }
}

/* The B fragments (16×8 each, two per ldmatrix) of k step kk. */
__attribute__((always_inline))
inline void load_b_fragments(uint frag[FRAGS_N][2], const uint base, const uint warp_n0,
                             const uint kk, const uint lane)
{
    for (uint j = 0; j < FRAGS_N; j += 2) {
        const uint n0 = warp_n0 + j * 8;
        uint pair[4];
#if TRANS_B
        const uint r = n0 + (lane & 7) + ((lane >> 4) & 1) * 8;
        const uint col = kk + ((lane >> 3) & 1) * 8;
        ldmatrix_x4(pair, base + chunk_offset(r, col / 8, B_COLS));
#else
        const uint r = kk + (lane & 15), col = n0 + (lane >> 4) * 8;
        ldmatrix_x4_trans(pair, base + chunk_offset(r, col / 8, B_COLS));
#endif
        frag[j][0] = pair[0];
        frag[j][1] = pair[1];
        frag[j + 1][0] = pair[2];
        frag[j + 1][1] = pair[3];
    }
}

/* Stage `slice` of the k loop: its A and B tiles into ring position slice % STAGES. */
__attribute__((always_inline))
inline void stage_load(const uint ring, const ulong slice, __global const ushort *a,
                       const ulong lda, __global const ushort *b, const ulong ldb,
                       const ulong m, const ulong n, const ulong k, const ulong row0,
                       const ulong col0, const uint tid)
{
    const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
    const ulong p0 = slice * TILE_K;
#if TRANS_A
    tile_load(base, a, lda, k, m, p0, row0, A_ROWS, A_COLS, tid);
#else
    tile_load(base, a, lda, m, k, row0, p0, A_ROWS, A_COLS, tid);
#endif
#if TRANS_B
    tile_load(base + A_BYTES, b, ldb, n, k, col0, p0, B_ROWS, B_COLS, tid);
#else
    tile_load(base + A_BYTES, b, ldb, k, n, p0, col0, B_ROWS, B_COLS, tid);
#endif
}

/* C's element type: loads widen, stores round to nearest even. */
#if C_TYPE == 0
typedef float c_elem;
#define C_LOAD(p, i) ((p)[i])
#define C_STORE(p, i, v) ((p)[i] = (v))
#elif C_TYPE == 1
typedef ushort c_elem;
#define C_LOAD(p, i) vload_half((i), (__global const half *)(p))
#define C_STORE(p, i, v) vstore_half_rte((v), (i), (__global half *)(p))
#else
typedef ushort c_elem;
#define C_LOAD(p, i) as_float((uint)(p)[i] << 16)
#define C_STORE(p, i, v) ((p)[i] = bf16_round(v))
#endif

/* f32 → bf16, rounding to nearest even; NaN stays a quiet NaN of its sign. */
__attribute__((always_inline))
inline ushort bf16_round(const float v)
{
    const uint bits = as_uint(v);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (ushort)((bits >> 16) | 0x40u);
    return (ushort)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void gemm_mma_tile(const ulong m, const ulong n, const ulong k, const float alpha,
                          __global const ushort *a, const ulong lda,
                          __global const ushort *b, const ulong ldb, const float beta,
                          __global c_elem *c, const ulong ldc, __global const float *bias,
                          const int has_bias, const ulong row0, const ulong col0,
                          const uint ring)
{
    const uint tid = get_local_id(0), lane = tid & 31, warp = tid >> 5;
    const uint warp_m0 = (warp / WARPS_N) * WARP_M, warp_n0 = (warp % WARPS_N) * WARP_N;
    float acc[FRAGS_M][FRAGS_N][4];
    for (uint i = 0; i < FRAGS_M; ++i)
        for (uint j = 0; j < FRAGS_N; ++j)
            for (uint e = 0; e < 4; ++e)
                acc[i][j][e] = 0.0f;

    const ulong slices = (k + TILE_K - 1) / TILE_K;
    for (uint s = 0; s < STAGES - 1; ++s) {
        if (s < slices)
            stage_load(ring, s, a, lda, b, ldb, m, n, k, row0, col0, tid);
        asm volatile("cp.async.commit_group;");
    }
    for (ulong slice = 0; slice < slices; ++slice) {
        asm volatile(WAIT_PENDING ::: "memory");
        barrier(CLK_LOCAL_MEM_FENCE); /* this slice is in; the ring's oldest is free */
        if (slice + STAGES - 1 < slices)
            stage_load(ring, slice + STAGES - 1, a, lda, b, ldb, m, n, k, row0, col0, tid);
        asm volatile("cp.async.commit_group;");

        const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
        for (uint kk = 0; kk < TILE_K; kk += 16) {
            uint a_frag[FRAGS_M][4], b_frag[FRAGS_N][2];
            load_a_fragments(a_frag, base, warp_m0, kk, lane);
            load_b_fragments(b_frag, base + A_BYTES, warp_n0, kk, lane);
            for (uint i = 0; i < FRAGS_M; ++i)
                for (uint j = 0; j < FRAGS_N; ++j)
                    mma(acc[i][j], a_frag[i], b_frag[j][0], b_frag[j][1]);
        }
    }
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE); /* the ring is free for the next block */

    /* Fragment element e of (i, j) is row g (+8 for e >= 2), column 2t (+1 for odd e). */
    const uint g = lane >> 2, t = lane & 3;
    for (uint i = 0; i < FRAGS_M; ++i)
        for (uint half_rows = 0; half_rows < 2; ++half_rows) {
            const ulong row = row0 + warp_m0 + i * 16 + g + half_rows * 8;
            if (row >= m)
                continue;
            const float shift = has_bias ? bias[row] : 0.0f;
            for (uint j = 0; j < FRAGS_N; ++j)
                for (uint odd = 0; odd < 2; ++odd) {
                    const ulong col = col0 + warp_n0 + j * 8 + 2 * t + odd;
                    if (col >= n)
                        continue;
                    float v = alpha * acc[i][j][half_rows * 2 + odd];
                    if (beta != 0.0f)
                        v += beta * C_LOAD(c, row * ldc + col);
                    C_STORE(c, row * ldc + col, ACTIVATE(v + shift));
                }
        }
}

/* Work-groups stride over the blocks of C (dimensions 0 and 1, in blocks) and the batch
 * (dimension 2): matrix i starts i·stride elements after the first; the bias is shared. */
__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1)))
void gemm_mma(const ulong m, const ulong n, const ulong k, const float alpha,
              __global const ushort *a, const ulong a_offset, const ulong lda,
              __global const ushort *b, const ulong b_offset, const ulong ldb,
              const float beta, __global c_elem *c, const ulong c_offset, const ulong ldc,
              __global const float *bias, const ulong bias_offset, const int has_bias,
              const ulong batch, const ulong stride_a, const ulong stride_b,
              const ulong stride_c)
{
    __local uint4 ring[STAGES * STAGE_BYTES / 16];
    const uint ring_base = (uint)(size_t)ring;
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        for (ulong row0 = (ulong)get_group_id(1) * TILE_M; row0 < m;
             row0 += (ulong)get_num_groups(1) * TILE_M)
            for (ulong col0 = (ulong)get_group_id(0) * TILE_N; col0 < n;
                 col0 += (ulong)get_num_groups(0) * TILE_N)
                gemm_mma_tile(m, n, k, alpha, a + a_offset + i * stride_a, lda,
                              b + b_offset + i * stride_b, ldb, beta,
                              c + c_offset + i * stride_c, ldc, bias + bias_offset, has_bias,
                              row0, col0, ring_base);
}
