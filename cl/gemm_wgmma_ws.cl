/* C = act(alpha·op(A)·op(B) + beta·C + bias) on Hopper tensor cores (sm_90a, built as
 * cl/gemm_wgmma.cl is, through the "// KILN: " lines): f16 or bf16 operands, fp32
 * accumulation, with the work split by warpgroup. CONSUMERS warpgroups each own
 * TILE_M/CONSUMERS rows of the block and only multiply; the last warpgroup only copies
 * the operands in (cp.async, cl/tc_tiles.h's layouts). They meet at two mbarriers a ring
 * slot instead of a work-group barrier a slice: "full" completes when the copies of the
 * slot's slice have landed (cp.async.mbarrier.arrive), "empty" when every consumer's
 * products reading it are done, so the copier runs up to STAGES slices ahead and the
 * tensor cores never wait for the slowest warp. The barriers and a count of the slices
 * the work-group has put through the ring live after the ring, so their phases carry on
 * from one block of C to the next. On the H200 (build-tc harness, bf16): 256×128 with 4
 * stages 466.8 TFLOP/s at 4096³ and 527.3 at 8192³ against 452.4 and 486.9 for
 * cl/gemm_wgmma.cl's 128×128 (5 and 6 stages: 467.5/521.4, 470.0/522.5; 128×256 of Bᵀ
 * 462.8/521.6; one consumer at 128×128 390.8/421.5; handing the copier's registers to the
 * consumers with setmaxnreg 40/232: 373.4/417.5). 162 registers, no spills.
 *
 * Needs 16-byte aligned rows (lda, ldb and the element offsets of A and B multiples of
 * 8) and A as stored (TRANS_A 0: copying Aᵀ's MN-major rows takes more work-items than
 * one warpgroup). beta == 0 leaves C unread; alpha == 0 and k == 0 are the host's.
 */
#ifndef A_TYPE
#define A_TYPE 2 /* kiln_dtype of A and B: 1 f16, 2 bf16 */
#endif
#ifndef C_TYPE
#define C_TYPE 0 /* kiln_dtype of C: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef TILE_M
#define TILE_M 256
#endif
#ifndef TILE_N
#define TILE_N 128 /* the wgmma's N: 64, 128 or 256 */
#endif
#ifndef CONSUMERS
#define CONSUMERS 2
#endif
#ifndef STAGES
#define STAGES 4
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#if TRANS_A
#error "the warp-specialised wgmma kernel takes A as stored"
#endif
#if STAGES > 8
#error "at most 8 stages: the barriers take 64 bytes a kind"
#endif

#include "activation.h" /* ACT, ACTIVATE */
#include "dtype.h"      /* ELEM, LOAD, STORE */

#define THREADS (128 * (CONSUMERS + 1))
#define LOADERS 128
#define GROUP_M (TILE_M / CONSUMERS) /* rows of one consumer warpgroup */
#define BLOCKS_M (GROUP_M / 64)      /* its m64 products */
#define ACC (TILE_N / 2)             /* accumulators of one m64 product per work-item */

#include "tc_tiles.h" /* TILE_K, the slices' loads */

/* After the ring: STAGES "full" barriers, STAGES "empty" ones, the slice count. */
#define FULL(ring, slot) ((ring) + STAGES * STAGE_BYTES + 8 * (slot))
#define EMPTY(ring, slot) ((ring) + STAGES * STAGE_BYTES + 64 + 8 * (slot))
#define SLICES_DONE(ring) ((ring) + STAGES * STAGE_BYTES + 128)
#define RING_BYTES (STAGES * STAGE_BYTES + 512)
#define RING_SETUP(ring) pipeline_setup(ring)

#include "wgmma_ops.h" /* descriptors, stage_products, products_wait_*, products_store */

/* The barriers, each expecting its arrivals, and a zero count; once a work-group. */
__attribute__((always_inline))
inline void pipeline_setup(const uint ring)
{
    if (get_local_id(0) == 0) {
        for (uint slot = 0; slot < STAGES; ++slot) {
            asm volatile("mbarrier.init.shared.b64 [%0], %1;"
                         :: "r"(FULL(ring, slot)), "r"(LOADERS) : "memory");
            asm volatile("mbarrier.init.shared.b64 [%0], %1;"
                         :: "r"(EMPTY(ring, slot)), "r"(128 * CONSUMERS) : "memory");
        }
        asm volatile("st.shared.u32 [%0], 0;" :: "r"(SLICES_DONE(ring)) : "memory");
    }
    barrier(CLK_LOCAL_MEM_FENCE);
}

/* Waits until the barrier at `at` has completed the phase of parity `parity`. */
__attribute__((always_inline))
inline void barrier_wait(const uint at, const uint parity)
{
    uint done = 0;
    while (!done)
        asm volatile("{\n"
                     ".reg .pred p;\n"
                     "mbarrier.try_wait.parity.shared.b64 p, [%1], %2;\n"
                     "selp.u32 %0, 1, 0, p;\n"
                     "}"
                     : "=r"(done) : "r"(at), "r"(parity) : "memory");
}

__attribute__((always_inline))
inline void barrier_arrive(const uint at)
{
    asm volatile("{\n"
                 ".reg .b64 state;\n"
                 "mbarrier.arrive.shared.b64 state, [%0];\n"
                 "}" :: "r"(at) : "memory");
}

/* The copier's part of a block: slice by slice into the ring once its slot is empty. */
__attribute__((always_inline))
inline void block_copy(const ulong m, const ulong n, const ulong k,
                       __global const ushort *a, const ulong lda, __global const ushort *b,
                       const ulong ldb, const ulong row0, const ulong col0, const uint ring,
                       const uint done, const ulong slices)
{
    const uint tid = get_local_id(0) - 128 * CONSUMERS;
    const struct share a_share = A_SHARE(a, lda, m, k, row0, tid);
    const struct share b_share = B_SHARE(b, ldb, n, k, col0, tid);
    for (ulong slice = 0; slice < slices; ++slice) {
        const ulong use = done + slice;
        const uint slot = (uint)(use % STAGES), base = ring + slot * STAGE_BYTES;
        if (use >= STAGES) /* its last use's products are done */
            barrier_wait(EMPTY(ring, slot), (uint)(use / STAGES - 1) & 1);
        share_load(&a_share, base, slice, k, A_ROWS, A_COLS, TRANS_A, tid);
        share_load(&b_share, base + A_BYTES, slice, k, B_ROWS, B_COLS, !TRANS_B, tid);
        asm volatile("cp.async.mbarrier.arrive.noinc.shared.b64 [%0];"
                     :: "r"(FULL(ring, slot)) : "memory");
    }
}

/* A consumer's part of a block: its rows' products, slot by slot, then their store. */
__attribute__((always_inline))
inline void block_products(const ulong m, const ulong n, const float alpha, const float beta,
                           __global ELEM(C_TYPE) *c, const ulong ldc,
                           __global const float *bias, const int has_bias, const ulong row0,
                           const ulong col0, const uint ring, const uint done,
                           const ulong slices)
{
    const uint tid = get_local_id(0), group = tid / 128;
    float acc[BLOCKS_M][ACC];
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i)
#pragma unroll
        for (uint e = 0; e < ACC; ++e)
            acc[i][e] = 0.0f;
    for (ulong slice = 0; slice < slices; ++slice) {
        const ulong use = done + slice;
        const uint slot = (uint)(use % STAGES);
        barrier_wait(FULL(ring, slot), (uint)(use / STAGES) & 1);
        /* cp.async wrote through the generic proxy; wgmma reads through the async one */
        asm volatile("// KILN: fence.proxy.async.shared::cta;" ::: "memory");
        stage_products(acc, ring + slot * STAGE_BYTES, group);
        products_wait_previous(acc);
        if (slice > 0)
            barrier_arrive(EMPTY(ring, (uint)((use - 1) % STAGES)));
    }
    products_wait_all(acc);
    if (slices > 0)
        barrier_arrive(EMPTY(ring, (uint)((done + slices - 1) % STAGES)));
    products_store(acc, m, n, alpha, beta, c, ldc, bias, has_bias, row0, col0, group, tid);
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
    uint done;
    asm volatile("ld.shared.u32 %0, [%1];" : "=r"(done) : "r"(SLICES_DONE(ring)) : "memory");
    const ulong slices = (k + TILE_K - 1) / TILE_K;
    if (get_local_id(0) >= 128 * CONSUMERS)
        block_copy(m, n, k, a, lda, b, ldb, row0, col0, ring, done, slices);
    else
        block_products(m, n, alpha, beta, c, ldc, bias, has_bias, row0, col0, ring, done,
                       slices);
    /* every work-item has read the count; the copier's last copies have landed */
    barrier(CLK_LOCAL_MEM_FENCE);
    if (get_local_id(0) == 0)
        asm volatile("st.shared.u32 [%0], %1;"
                     :: "r"(SLICES_DONE(ring)), "r"(done + (uint)slices) : "memory");
    barrier(CLK_LOCAL_MEM_FENCE);
}

#define KERNEL gemm_wgmma_ws
#include "tc_kernel.h" /* the kernel: block_multiply over the blocks and the batch */
