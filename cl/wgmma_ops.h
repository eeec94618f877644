/* What the f16/bf16 wgmma kernels (cl/gemm_wgmma.cl, cl/gemm_wgmma_ws.cl) share after
 * their parameters and cl/tc_tiles.h: the wgmma of one m64×TILE_N×16 step on operands in
 * local memory, their descriptors, the final wait and the accumulators' store into C.
 * Needs A_TYPE, TILE_M, TILE_N, TRANS_A, TRANS_B, BLOCKS_M, ACC and cl/tc_epilogue.h. */
#if A_TYPE == 1
#define WGMMA_TYPES "f16.f16"
#else
#define WGMMA_TYPES "bf16.bf16"
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
/* wgmma's transpose flags say MN-major: A stored transposed, B stored as it is. */
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
    return descriptor(base + block * 64 * (TILE_K * 2) + kk * 2, 16, 512);
#endif
}

__attribute__((always_inline))
inline ulong b_descriptor(const uint base, const uint kk)
{
#if TRANS_B
    return descriptor(base + kk * 2, 16, 512);
#else
    return descriptor(base + (kk / 8) * (TILE_N / 32) * 512, 512, (TILE_N / 32) * 512);
#endif
}

/* d += A·B for one m64×TILE_N×16 step. */
__attribute__((always_inline))
inline void wgmma(float d[ACC], const ulong a, const ulong b)
{
    asm volatile("// KILN: {\n"
                 "// KILN: .reg .pred p;\n"
                 "// KILN: setp.ne.b32 p, " SCALE_TEXT ", 0;\n"
                 "// KILN: wgmma.mma_async.sync.aligned.m64n" XSTR(TILE_N) "k16.f32."
                 WGMMA_TYPES " " ACC_TEXT ", " DESC_TEXT ", 1, 1, " MN_MAJOR_A ", "
                 MN_MAJOR_B ";\n"
                 "// KILN: }"
                 : ACC_OPERANDS(d) : "l"(a), "l"(b), "r"(1) : "memory");
}

/* Starts the products of the ring slot at base as one group: warpgroup `group`'s m64
 * blocks of A times B, every k step of the slice. */
__attribute__((always_inline))
inline void stage_products(float acc[BLOCKS_M][ACC], const uint base, const uint group)
{
    asm volatile("// KILN: wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (uint kk = 0; kk < TILE_K; kk += 16)
#pragma unroll
        for (uint i = 0; i < BLOCKS_M; ++i)
            wgmma(acc[i], a_descriptor(base, group * BLOCKS_M + i, kk),
                  b_descriptor(base + A_BYTES, kk));
    asm volatile("// KILN: wgmma.commit_group.sync.aligned;" ::: "memory");
}

/* Waits for all product groups but the last. */
__attribute__((always_inline))
inline void products_wait_previous(float acc[BLOCKS_M][ACC])
{
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i)
        asm volatile("// KILN: wgmma.wait_group.sync.aligned 1;"
                     : ACC_OPERANDS(acc[i]) :: "memory");
}

/* Waits for every product group: nothing may read an accumulator while a product runs. */
__attribute__((always_inline))
inline void products_wait_all(float acc[BLOCKS_M][ACC])
{
#if BLOCKS_M == 2
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;"
                 : ACC_OPERANDS(acc[0]), ACC_OPERANDS(acc[1]) :: "memory");
#else
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;" : ACC_OPERANDS(acc[0]) :: "memory");
#endif
}

/* acc of m64 block i of the warpgroup's rows into C's block at (row0, col0), warpgroup
 * `group` of the block's rows. */
__attribute__((always_inline))
inline void products_store(float acc[BLOCKS_M][ACC], const ulong m, const ulong n,
                           const float alpha, const float beta, __global ELEM(C_TYPE) *c,
                           const ulong ldc, __global const float *bias, const int has_bias,
                           const ulong row0, const ulong col0, const uint group,
                           const uint tid)
{
    /* Accumulators 4j+e and 4j+e+1 of an m64 block (e 0 or 2): row 16·warp + lane/4 (+8
     * for e 2), columns 8j + 2·(lane % 4) and the next. */
    const uint lane = tid % 32, warp = (tid / 32) % 4;
    /* unrolled, so that the accumulators stay in registers */
#pragma unroll
    for (uint i = 0; i < BLOCKS_M; ++i)
#pragma unroll
        for (uint half_rows = 0; half_rows < 2; ++half_rows) {
            const ulong row = row0 + (group * BLOCKS_M + i) * 64 + warp * 16 + lane / 4 +
                              half_rows * 8;
            if (row >= m)
                continue;
            const float shift = has_bias ? bias[row] : 0.0f;
#pragma unroll
            for (uint j = 0; j < TILE_N / 8; ++j) {
                const ulong col = col0 + j * 8 + 2 * (lane % 4);
                const uint e = 4 * j + 2 * half_rows;
                if (col < n)
                    c_store_pair(c, ldc, n, row, col, (float2)(acc[i][e], acc[i][e + 1]),
                                 alpha, beta, shift);
            }
        }
}
