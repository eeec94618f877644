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
 * Local tiles are laid out as cl/tc_tiles.h says (wgmma's layouts): the eight rows one
 * ldmatrix reads fall on eight different bank groups.
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
#include "dtype.h"      /* ELEM, LOAD, STORE */

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

#include "tc_tiles.h" /* TILE_K, the ring's slices and their loads */

/* Helpers are always inlined (clang emits no body for an inline function it chooses not
 * to inline). */

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
        ldmatrix_x4_trans(frag[i], base + mn_major_offset(r, col / 8, TILE_M));
#else
        const uint r = m0 + (lane & 15), col = kk + (lane >> 4) * 8;
        ldmatrix_x4(frag[i], base + k_major_offset(r, col / 8));
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
        ldmatrix_x4(pair, base + k_major_offset(r, col / 8));
#else
        const uint r = kk + (lane & 15), col = n0 + (lane >> 4) * 8;
        ldmatrix_x4_trans(pair, base + mn_major_offset(r, col / 8, TILE_N));
#endif
        frag[j][0] = pair[0];
        frag[j][1] = pair[1];
        frag[j + 1][0] = pair[2];
        frag[j + 1][1] = pair[3];
    }
}

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void block_multiply(const ulong m, const ulong n, const ulong k, const float alpha,
                           __global const ushort *a, const ulong lda,
                           __global const ushort *b, const ulong ldb, const float beta,
                           __global ELEM(C_TYPE) *c, const ulong ldc, __global const float *bias,
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

    const struct share a_share = A_SHARE(a, lda, m, k, row0, tid);
    const struct share b_share = B_SHARE(b, ldb, n, k, col0, tid);
    const ulong slices = (k + TILE_K - 1) / TILE_K;
    for (uint s = 0; s < STAGES - 1; ++s) {
        if (s < slices)
            stage_load(ring, s, &a_share, &b_share, k, tid);
        asm volatile("cp.async.commit_group;");
    }
    for (ulong slice = 0; slice < slices; ++slice) {
        asm volatile(WAIT_PENDING ::: "memory");
        barrier(CLK_LOCAL_MEM_FENCE); /* this slice is in; the ring's oldest is free */
        if (slice + STAGES - 1 < slices)
            stage_load(ring, slice + STAGES - 1, &a_share, &b_share, k, tid);
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

    /* Fragment elements e and e+1 of (i, j) (e 0 or 2) are row g (+8 for e 2), columns
     * 2t and 2t + 1. */
    const uint g = lane >> 2, t = lane & 3;
    for (uint i = 0; i < FRAGS_M; ++i)
        for (uint half_rows = 0; half_rows < 2; ++half_rows) {
            const ulong row = row0 + warp_m0 + i * 16 + g + half_rows * 8;
            if (row >= m)
                continue;
            const float shift = has_bias ? bias[row] : 0.0f;
            for (uint j = 0; j < FRAGS_N; ++j) {
                const ulong col = col0 + warp_n0 + j * 8 + 2 * t;
                const uint e = half_rows * 2;
                if (col < n)
                    c_store_pair(c, ldc, n, row, col, (float2)(acc[i][j][e], acc[i][j][e + 1]),
                                 alpha, beta, shift);
            }
        }
}

#define KERNEL gemm_mma
#include "tc_kernel.h" /* the kernel: block_multiply over the blocks and the batch */
