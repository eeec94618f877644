/* C = act(alpha·op(A)·op(B) + beta·C + bias) on Hopper tensor cores (sm_90a): wgmma on
 * f16 or bf16 operands read from local memory through matrix descriptors, fp32
 * accumulation in registers.
 *
 * The OpenCL compiler targets sm_90, where wgmma does not assemble: the Hopper-only lines
 * are written as PTX comments that start with "// KILN: " (the compiler still puts the
 * operands in), and the host uncomments them and retargets the PTX to sm_90a before
 * building it from binary (lib/program.c). Built from source alone, the kernel computes
 * nothing, so only that path may run it.
 *
 * A work-group is WARPGROUPS groups of 128 work-items; each owns TILE_M/WARPGROUPS rows of
 * the TILE_M×TILE_N block of C, as m64nTILE_Nk16 products. Operands move global → local
 * memory with cp.async (16 bytes a copy, zero-filled past the matrix's edge) through a
 * ring of STAGES slices of TILE_K = 32 (one multiplied, one whose products may still run,
 * the rest on their way in), laid out as the 64-byte swizzle atoms wgmma
 * reads: a K-major operand (A as stored, B transposed) as rows of 32 elements, chunk c of
 * row r at c ^ ((r >> 1) & 3); an MN-major operand (B as stored, A transposed) as atoms
 * of 8 k-rows × 32 elements, atoms along MN first.
 *
 * Needs 16-byte aligned rows: lda, ldb and the element offsets of A and B multiples of 8
 * (the host checks). beta == 0 leaves C unread; alpha == 0 and k == 0 are the host's.
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
#define TILE_N 128 /* the wgmma's N: 64, 128 or 256 */
#endif
#ifndef WARPGROUPS
#define WARPGROUPS 1
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

#define THREADS (128 * WARPGROUPS)
#define GROUP_M (TILE_M / WARPGROUPS) /* rows of one warpgroup */
#define BLOCKS_M (GROUP_M / 64)       /* its m64 products */
#define ACC (TILE_N / 2)              /* accumulators of one m64 product per work-item */

#include "tc_tiles.h" /* TILE_K, the ring's slices and their loads */
/* The ring holds a slice being multiplied, one whose products may still run, and
 * STAGES - 2 on their way in. */
#if STAGES == 3
#define WAIT_IN_FLIGHT "cp.async.wait_group 0;"
#elif STAGES == 4
#define WAIT_IN_FLIGHT "cp.async.wait_group 1;"
#elif STAGES == 5
#define WAIT_IN_FLIGHT "cp.async.wait_group 2;"
#elif STAGES == 6
#define WAIT_IN_FLIGHT "cp.async.wait_group 3;"
#else
#error "the wgmma kernel's STAGES must be 3 to 6"
#endif

#include "wgmma_ops.h" /* descriptors, wgmma, products_wait_all, products_store */

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void block_multiply(const ulong m, const ulong n, const ulong k, const float alpha,
                           __global const ushort *a, const ulong lda,
                           __global const ushort *b, const ulong ldb, const float beta,
                           __global ELEM(C_TYPE) *c, const ulong ldc, __global const float *bias,
                           const int has_bias, const ulong row0, const ulong col0,
                           const uint ring)
{
    const uint tid = get_local_id(0), group = tid / 128;
    float acc[BLOCKS_M][ACC];
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i)
#pragma unroll
        for (uint e = 0; e < ACC; ++e)
            acc[i][e] = 0.0f;

    const struct share a_share = A_SHARE(a, lda, m, k, row0, tid);
    const struct share b_share = B_SHARE(b, ldb, n, k, col0, tid);
    const ulong slices = (k + TILE_K - 1) / TILE_K;
    for (uint s = 0; s < STAGES - 2; ++s) {
        if (s < slices)
            stage_load(ring, s, &a_share, &b_share, k, tid);
        asm volatile("cp.async.commit_group;");
    }
    for (ulong slice = 0; slice < slices; ++slice) {
        asm volatile(WAIT_IN_FLIGHT ::: "memory");
        /* cp.async wrote through the generic proxy; wgmma reads through the async one. */
        asm volatile("// KILN: fence.proxy.async.shared::cta;" ::: "memory");
        /* this slice is in for every warp, and the products of the one two back are done */
        barrier(CLK_LOCAL_MEM_FENCE);
        if (slice + STAGES - 2 < slices)
            stage_load(ring, slice + STAGES - 2, &a_share, &b_share, k, tid);
        asm volatile("cp.async.commit_group;");
        const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
        stage_products(acc, base, group);
        /* the last slice's products are done, this one's may run on (waiting for them:
         * 375.1 against 454.4 TFLOP/s at 4096³) */
        products_wait_previous(acc);
    }
    products_wait_all(acc);
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE); /* the ring is free for the next block */

    products_store(acc, m, n, alpha, beta, c, ldc, bias, has_bias, row0, col0, group, tid);
}

#define KERNEL gemm_wgmma
#include "tc_kernel.h" /* the kernel: block_multiply over the blocks and the batch */
