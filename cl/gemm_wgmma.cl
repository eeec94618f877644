/* C = act(alpha·op(A)·op(B) + beta·C + bias) on Hopper tensor cores (sm_90a): wgmma on
 * f16, bf16 or (A_TYPE 0) tf32 operands read from local memory through matrix
 * descriptors, fp32 accumulation in registers. tf32 operands must be K-major (A as
 * stored, B transposed: the host packs others with cl/tf32_pack.cl); SPLIT 1 (3xTF32)
 * takes A as m rows of hi parts then m of lo parts, B likewise, and sums a_lo·b_hi +
 * a_hi·b_lo + a_hi·b_hi.
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
 * ring of STAGES slices of 64 bytes along k (one multiplied, one whose products may still
 * run, the rest on their way in), laid out as the 64-byte swizzle atoms wgmma
 * reads: a K-major operand (A as stored, B transposed) as rows of 64 bytes, chunk c of
 * row r at c ^ ((r >> 1) & 3); an MN-major operand (B as stored, A transposed; 16-bit
 * only) as atoms of 8 k-rows × 32 elements, atoms along MN first.
 *
 * Needs 16-byte aligned rows: lda, ldb and the element offsets of A and B multiples of 8
 * elements (4 for tf32; the host checks). beta == 0 leaves C unread; alpha == 0 and
 * k == 0 are the host's.
 */
#ifndef A_TYPE
#define A_TYPE 2 /* kiln_dtype of A and B: 0 f32 (tf32 products), 1 f16, 2 bf16 */
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
#ifndef SPLIT
#define SPLIT 0 /* 3xTF32: A holds m rows of hi parts then m of lo parts, B n and n */
#endif
#if A_TYPE == 0
#define ELEM_BYTES 4
#if TRANS_A || !TRANS_B
#error "tf32 wgmma reads only K-major operands: A as stored, B transposed"
#endif
#elif SPLIT
#error "SPLIT is for f32 operands"
#endif
#define PARTS (SPLIT ? 2 : 1)

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

/* The instruction's k step, types and (16-bit only) transpose flags: wgmma's transpose
 * flags say MN-major, A stored transposed, B stored as it is. */
#if TRANS_A
#define MN_MAJOR_A "1"
#else
#define MN_MAJOR_A "0"
#endif
#if TRANS_B
#define MN_MAJOR_B "0"
#else
#define MN_MAJOR_B "1"
#endif
#if A_TYPE == 0
#define K_STEP 8
#define WGMMA_SHAPE "k8.f32.tf32.tf32"
#define WGMMA_FLAGS "1, 1"
#else
#define K_STEP 16
#if A_TYPE == 1
#define WGMMA_SHAPE "k16.f32.f16.f16"
#else
#define WGMMA_SHAPE "k16.f32.bf16.bf16"
#endif
#define WGMMA_FLAGS "1, 1, " MN_MAJOR_A ", " MN_MAJOR_B
#endif


/* The accumulator operands of one wgmma, "{%0, ..., %(ACC-1)}", then its descriptors. */
#include "wgmma.h" /* ACC_TEXT_N, FN, XSTR */

#if TILE_N == 64
#define ACC_TEXT ACC_TEXT_32
#define ACC_OPERANDS(d) F32(d, 0)
#define DESC_TEXT "%32, %33, p"
#define SCALE_TEXT "%34"
#elif TILE_N == 128
#define ACC_TEXT ACC_TEXT_64
#define ACC_OPERANDS(d) F32(d, 0), F32(d, 32)
#define DESC_TEXT "%64, %65, p"
#define SCALE_TEXT "%66"
#elif TILE_N == 256
#define ACC_TEXT ACC_TEXT_128
#define ACC_OPERANDS(d) F32(d, 0), F32(d, 32), F32(d, 64), F32(d, 96)
#define DESC_TEXT "%128, %129, p"
#define SCALE_TEXT "%130"
#else
#error "TILE_N must be 64, 128 or 256"
#endif

/* Helpers are always inlined (clang emits no body for an inline function it chooses not
 * to inline). */

/* A wgmma matrix descriptor: 64-byte swizzle, start address, leading and stride byte
 * offsets. */
__attribute__((always_inline))
inline ulong descriptor(const uint address, const uint leading, const uint stride)
{
    return (ulong)((address & 0x3ffff) >> 4) | ((ulong)(leading >> 4) << 16) |
           ((ulong)(stride >> 4) << 32) | (2ul << 62);
}

/* The descriptor of A's m64 block `block` (of TILE_M) at k step kk. */
__attribute__((always_inline))
inline ulong a_descriptor(const uint base, const uint block, const uint kk)
{
#if TRANS_A /* MN-major: atoms 512 bytes apart along M, rows of them along K */
    return descriptor(base + (block * 64 / 32) * 512 + (kk / 8) * (TILE_M / 32) * 512, 512,
                      (TILE_M / 32) * 512);
#else /* K-major: 8-row groups 512 bytes apart; the leading offset is unused */
    return descriptor(base + block * 64 * 64 + kk * ELEM_BYTES, 16, 512);
#endif
}

__attribute__((always_inline))
inline ulong b_descriptor(const uint base, const uint kk)
{
#if TRANS_B
    return descriptor(base + kk * ELEM_BYTES, 16, 512);
#else
    return descriptor(base + (kk / 8) * (TILE_N / 32) * 512, 512, (TILE_N / 32) * 512);
#endif
}

/* d = A·B + (scale ? d : 0) for one m64×TILE_N×K_STEP step. */
__attribute__((always_inline))
inline void wgmma(float d[ACC], const ulong a, const ulong b, const int scale)
{
    asm volatile("// KILN: {\n"
                 "// KILN: .reg .pred p;\n"
                 "// KILN: setp.ne.b32 p, " SCALE_TEXT ", 0;\n"
                 "// KILN: wgmma.mma_async.sync.aligned.m64n" XSTR(TILE_N) WGMMA_SHAPE " "
                 ACC_TEXT ", " DESC_TEXT ", " WGMMA_FLAGS ";\n"
                 "// KILN: }"
                 : ACC_OPERANDS(d) : "l"(a), "l"(b), "r"(scale) : "memory");
}

/* The products of the ring slice at base into d, committed as one group; fresh: d starts
 * from 0. 3xTF32 takes a_lo·b_hi, a_hi·b_lo and then a_hi·b_hi at each k step. */
__attribute__((always_inline))
inline void slice_products(float d[BLOCKS_M][ACC], const uint base, const uint group,
                           const int fresh)
{
    asm volatile("// KILN: wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (uint kk = 0; kk < TILE_K; kk += K_STEP)
#pragma unroll
        for (uint i = 0; i < BLOCKS_M; ++i) {
            const ulong a = a_descriptor(base, group * BLOCKS_M + i, kk);
            const ulong b = b_descriptor(base + A_BYTES, kk);
            const int scale = kk > 0 || !fresh;
#if SPLIT
            wgmma(d[i], a_descriptor(base + PART_BYTES, group * BLOCKS_M + i, kk), b, scale);
            wgmma(d[i], a, b_descriptor(base + PART_BYTES + A_BYTES, kk), 1);
            wgmma(d[i], a, b, 1);
#else
            wgmma(d[i], a, b, scale);
#endif
        }
    asm volatile("// KILN: wgmma.commit_group.sync.aligned;" ::: "memory");
}

/* Waits for every product group: nothing may read an accumulator while a product runs. */
__attribute__((always_inline))
inline void products_wait(float d[BLOCKS_M][ACC])
{
#if BLOCKS_M == 2
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;"
                 : ACC_OPERANDS(d[0]), ACC_OPERANDS(d[1]) :: "memory");
#else
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;" : ACC_OPERANDS(d[0]) :: "memory");
#endif
}

/* Floats a staged row of C takes: 8 more than it has, so that a warp's float2 writes
 * (8 rows × 4) fall on 32 banks in two phases. */
#define C_ROW (TILE_N + 8)
#if 64 * C_ROW * 4 * WARPGROUPS > STAGES * STAGE_BYTES
#error "a staged m64 block of C per warpgroup does not fit the ring"
#endif

/* The accumulators into C through local memory (the ring, free once the products are
 * done): each warpgroup's m64 blocks in turn, written as wgmma left them, then read back
 * as quads along whole rows, so a warp stores 512 contiguous bytes of f32 C (256 of 16-bit
 * C) at once rather than 16 bytes in each of 8 rows (harness, H200, 4096³/8192³: f16 C
 * 452.1/479.1 TFLOP/s against 399.9/449.9 stored from registers, bf16 C 466.0/494.7
 * against 452.7/486.9, f32 C 455.8/486.5 against 452.2/485.5). */
__attribute__((always_inline))
inline void staged_store(float acc[BLOCKS_M][ACC], const ulong m, const ulong n,
                         const float alpha, const float beta, __global ELEM(C_TYPE) *c,
                         const ulong ldc, __global const float *bias, const int has_bias,
                         const ulong row0, const ulong col0, const uint ring, const uint tid)
{
    const uint lane = tid % 32, warp = tid / 32 % 4, group = tid / 128, item = tid % 128;
    const uint base = ring + group * 64 * C_ROW * 4;
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i) {
#pragma unroll
        for (uint half_rows = 0; half_rows < 2; ++half_rows)
#pragma unroll
            for (uint j = 0; j < TILE_N / 8; ++j) {
                const uint e = 4 * j + 2 * half_rows;
                const uint at = base + ((warp * 16 + lane / 4 + half_rows * 8) * C_ROW + j * 8 +
                                        2 * (lane % 4)) * 4;
                asm volatile("st.shared.v2.f32 [%0], {%1, %2};"
                             :: "r"(at), "f"(acc[i][e]), "f"(acc[i][e + 1]) : "memory");
            }
        barrier(CLK_LOCAL_MEM_FENCE);
        const ulong block_row = row0 + (group * BLOCKS_M + i) * 64;
        const uint rows_per_step = 128 / (TILE_N / 4), quad = item % (TILE_N / 4);
#pragma unroll
        for (uint step = 0; step < 64 / rows_per_step; ++step) {
            const uint r = step * rows_per_step + item / (TILE_N / 4);
            const ulong row = block_row + r, col = col0 + 4 * quad;
            float4 v;
            asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];"
                         : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
                         : "r"(base + (r * C_ROW + 4 * quad) * 4) : "memory");
            if (row < m && col < n)
                c_store_quad(c, ldc, n, row, col, v, alpha, beta, has_bias ? bias[row] : 0.0f);
        }
        barrier(CLK_LOCAL_MEM_FENCE); /* read before the next block overwrites it */
    }
}

__attribute__((always_inline))
inline void accumulators_clear(float d[BLOCKS_M][ACC])
{
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i)
#pragma unroll
        for (uint e = 0; e < ACC; ++e)
            d[i][e] = 0.0f;
}

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void block_multiply(const ulong m, const ulong n, const ulong k, const float alpha,
                           __global const OPERAND *a, const ulong lda,
                           __global const OPERAND *b, const ulong ldb, const float beta,
                           __global ELEM(C_TYPE) *c, const ulong ldc, __global const float *bias,
                           const int has_bias, const ulong row0, const ulong col0,
                           const uint ring)
{
    const uint tid = get_local_id(0), group = tid / 128;
    float acc[BLOCKS_M][ACC];
    accumulators_clear(acc);

    struct share a_share[PARTS], b_share[PARTS];
#pragma unroll
    for (uint part = 0; part < PARTS; ++part) {
        a_share[part] = A_SHARE(a + part * m * lda, lda, m, k, row0, tid);
        b_share[part] = B_SHARE(b + part * n * ldb, ldb, n, k, col0, tid);
    }
#if SPLIT
    /* The tensor cores' accumulation truncates, which over a long k drifts far past
     * fp32's rounding: each slice's products sum apart, from 0, and join acc in fp32. */
    float part[BLOCKS_M][ACC];
    accumulators_clear(part);
#endif
    const ulong slices = (k + TILE_K - 1) / TILE_K;
    for (uint s = 0; s < STAGES - 2; ++s) {
        if (s < slices)
            stage_load(ring, s, a_share, b_share, k, tid);
        asm volatile("cp.async.commit_group;");
    }
    for (ulong slice = 0; slice < slices; ++slice) {
        asm volatile(WAIT_IN_FLIGHT ::: "memory");
        /* cp.async wrote through the generic proxy; wgmma reads through the async one. */
        asm volatile("// KILN: fence.proxy.async.shared::cta;" ::: "memory");
        /* this slice is in for every warp, and the products of the one two back are done */
        barrier(CLK_LOCAL_MEM_FENCE);
        if (slice + STAGES - 2 < slices)
            stage_load(ring, slice + STAGES - 2, a_share, b_share, k, tid);
        asm volatile("cp.async.commit_group;");
        const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
#if SPLIT
        slice_products(part, base, group, 1);
        products_wait(part);
#pragma unroll
        for (uint i = 0; i < BLOCKS_M; ++i)
#pragma unroll
            for (uint e = 0; e < ACC; ++e)
                acc[i][e] += part[i][e];
#else
        slice_products(acc, base, group, 0);
        /* the last slice's products are done, this one's may run on (waiting for them:
         * 375.1 against 454.4 TFLOP/s at 4096³) */
#pragma unroll
        for (uint i = 0; i < BLOCKS_M; ++i)
            asm volatile("// KILN: wgmma.wait_group.sync.aligned 1;"
                         : ACC_OPERANDS(acc[i]) :: "memory");
#endif
    }
    products_wait(acc);
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE); /* the ring is free for the next block */

    staged_store(acc, m, n, alpha, beta, c, ldc, bias, has_bias, row0, col0, ring, tid);
}

#define KERNEL gemm_wgmma
#include "tc_kernel.h" /* the kernel: block_multiply over the blocks and the batch */
