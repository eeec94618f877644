/* C = act(alpha·op(A)·op(B) + beta·C + bias) for f32 operands on Hopper tensor cores
 * (sm_90a, built as cl/gemm_wgmma.cl is, through the "// KILN: " lines): wgmma on tf32,
 * fp32 accumulation.
 *
 * SPLIT 0 (TF32): the tensor cores read each float as tf32 (its low 13 mantissa bits
 * dropped). SPLIT 1 (3xTF32): x = hi + lo with hi = tf32(x) and lo = tf32(x − hi), both
 * rounded to nearest, and a·b taken as hi_a·hi_b + lo_a·hi_b + hi_a·lo_b (lo·lo, below
 * 2^-22 of it, dropped): on finite data an error as small as fp32 FMA's. An infinite or
 * NaN hi gets lo 0 (not NaN); its product with the other operand's lo may still be an
 * Inf of the other sign, so an infinite input gives ±Inf or NaN (kiln.h says so). A
 * finite x that tf32 rounds up to Inf (above 3.4025e38) is taken as Inf.
 *
 * wgmma reads tf32 from local memory only K-major. The work-group computes a block of
 * P·Q where Q, the operand read through a matrix descriptor, is whichever of op(A) and
 * op(B)ᵀ is stored K-major (B transposed: Q = op(B), P = op(A); else Q = A, P = Bᵀ and
 * the block is Cᵀ's), and P comes from registers, read out of local memory in any
 * layout. Aᵀ·B has neither operand K-major: the host keeps it off this kernel.
 * Both move global → local memory with cp.async, 16 bytes a copy, zero-filled past the
 * matrix's edge, through a ring of STAGES slices of TILE_K = 16: Q as rows of 16 floats
 * in the 64-byte swizzle (chunk c of row r at c ^ ((r >> 1) & 3)), P as it is stored,
 * rows padded so that a warp's fragment reads hit 32 banks. With SPLIT 1 each work-item
 * splits the Q chunks it copied in place, hi over x and lo beside it.
 *
 * Needs 16-byte aligned rows: lda, ldb and the element offsets of A and B multiples of 4
 * (the host checks). beta == 0 leaves C unread; alpha == 0 and k == 0 are the host's.
 */
#ifndef C_TYPE
#define C_TYPE 0 /* kiln_dtype of C: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef STAGES
#define STAGES 5
#endif
#ifndef SPLIT
#define SPLIT 0
#endif
#ifndef WARPGROUPS
#define WARPGROUPS 1 /* each takes TILE_P / WARPGROUPS rows of P (2 at 3xTF32 128×128:
                        200 registers, one group an SM, 55.3 TFLOP/s at 8192³) */
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif

#include "activation.h" /* ACT, ACTIVATE */
#include "dtype.h"      /* ELEM, LOAD, STORE */

#if TRANS_A && !TRANS_B
#error "Aᵀ·B has no K-major operand for tf32 wgmma"
#endif
#define SWAP (!TRANS_B) /* the block is Cᵀ's: P = Bᵀ, Q = A */
#if SWAP
#define TILE_P TILE_N
#define TILE_Q TILE_M
#define P_MN 1 /* B as stored: rows along k */
#else
#define TILE_P TILE_M
#define TILE_Q TILE_N
#define P_MN TRANS_A
#endif

#define THREADS (128 * WARPGROUPS)
#define TILE_K 16
#define BLOCKS_P (TILE_P / 64 / WARPGROUPS) /* m64 products of a warpgroup */
#define ACC (TILE_Q / 2)       /* accumulators of one m64 product per work-item */
#define PARTS (SPLIT ? 2 : 1)  /* Q's hi, then its lo */
/* Floats a stored row of P's tile takes: 8 (or 4) more than it has, so that the 32 reads
 * of a fragment, 4 rows × 8 or 8 rows × 4 floats, fall on 32 banks. */
#define P_ROW (P_MN ? TILE_P + 8 : TILE_K + 4)
#define P_ROWS (P_MN ? TILE_K : TILE_P)
#define Q_BYTES (TILE_Q * TILE_K * 4)
#define P_BYTES (P_ROWS * P_ROW * 4)
#define STAGE_BYTES (PARTS * Q_BYTES + P_BYTES) /* every part a multiple of 512 bytes */
#define OPERAND float

/* Slices the ring holds: one being multiplied, one whose products may still run, and
 * STAGES - 2 on their way in. */
#if STAGES == 3
#define WAIT_PENDING "cp.async.wait_group 0;"
#elif STAGES == 4
#define WAIT_PENDING "cp.async.wait_group 1;"
#elif STAGES == 5
#define WAIT_PENDING "cp.async.wait_group 2;"
#elif STAGES == 6
#define WAIT_PENDING "cp.async.wait_group 3;"
#else
#error "STAGES must be 3 to 6"
#endif

#include "wgmma.h" /* ACC_TEXT_N, FN, XSTR */

#if TILE_Q == 64
#define ACC_TEXT ACC_TEXT_32
#define ACC_OPERANDS(d) F32(d, 0)
#define OPERAND_TEXT "{%32, %33, %34, %35}, %36, p"
#define SCALE_TEXT "%37"
#elif TILE_Q == 128
#define ACC_TEXT ACC_TEXT_64
#define ACC_OPERANDS(d) F32(d, 0), F32(d, 32)
#define OPERAND_TEXT "{%64, %65, %66, %67}, %68, p"
#define SCALE_TEXT "%69"
#else
#error "Q's tile (TILE_N, or TILE_M when B is not transposed) must be 64 or 128"
#endif

/* Helpers are always inlined (clang emits no body for an inline function it chooses not
 * to inline). */

/* A work-item's part of one operand's slices: chunk q of a slice is 16-byte column c of
 * stored row r0 + q·ROW_STEP of the tile, ROW_STEP = THREADS / (chunks in a row). */
struct share {
    __global const float *source; /* chunk 0 at slice 0 (maybe past the edge: not read) */
    ulong ld;
    ulong k0;     /* chunk 0's first k at slice 0 */
    ulong edge;   /* along k: matrix rows from chunk 0's on; along MN: columns from its */
    uint target;  /* chunk 0's byte offset in the tile */
};

/* The share of a tile of `cols` floats a stored row at (row0, col0) of a matrix
 * `height`×`width`; mn: the stored rows run along k. */
__attribute__((always_inline))
inline struct share share_of(__global const float *matrix, const ulong ld, const ulong height,
                             const ulong width, const ulong row0, const ulong col0,
                             const uint cols, const int mn, const uint target_row,
                             const int swizzled, const uint tid)
{
    const uint r = tid / (cols / 4), c = tid % (cols / 4);
    const ulong row = row0 + r, col = col0 + c * 4;
    struct share share;
    share.source = matrix + row * ld + col;
    share.ld = ld;
    share.k0 = mn ? row : col;
    share.edge = mn ? (col < width ? width - col : 0) : (row < height ? height - row : 0);
    share.target = r * target_row + ((swizzled ? c ^ ((r >> 1) & 3) : c) << 4);
    return share;
}

/* Issues the work-item's copies of slice `slice` of a share into the tile at base. */
__attribute__((always_inline))
inline void share_load(const struct share *share, const uint base, const ulong slice,
                       const ulong k, const uint rows, const uint cols, const int mn,
                       const uint target_row, const uint tid)
{
    const uint row_step = THREADS / (cols / 4);
    const ulong k_first = share->k0 + slice * TILE_K;
#pragma unroll
    for (uint q = 0; q < rows / row_step; ++q) {
        const ulong kq = mn ? k_first + q * row_step : k_first;
        const ulong inside = mn ? share->edge : (q * row_step < share->edge ? 4 : 0);
        const ulong left = kq < k ? (mn ? inside : min(inside, k - kq)) : 0;
        const uint bytes = left >= 4 ? 16 : (uint)left * 4;
        __global const float *source =
            share->source + (mn ? (slice * TILE_K + q * row_step) * share->ld
                                : q * row_step * share->ld + slice * TILE_K);
        const uint target = base + share->target + q * row_step * target_row;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                     :: "r"(target), "l"(source), "r"(bytes));
    }
}

/* x rounded to tf32 (to nearest), as the bits of a float. */
__attribute__((always_inline))
inline uint tf32(const float x)
{
    uint bits;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(bits) : "f"(x));
    return bits;
}

/* The lo part of x beside its hi part: 0 where hi is not finite. */
__attribute__((always_inline))
inline uint tf32_lo(const float x, const uint hi)
{
    return isfinite(as_float(hi)) ? tf32(x - as_float(hi)) : 0u;
}

#if SPLIT
/* Splits the work-item's Q chunks of the slice at base: hi in place, lo Q_BYTES on. */
__attribute__((always_inline))
inline void q_split(const struct share *q_share, const uint base)
{
#pragma unroll
    for (uint q = 0; q < TILE_Q / (THREADS / 4); ++q) {
        const uint at = base + q_share->target + q * (THREADS / 4) * 64;
        float4 x;
        asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];"
                     : "=f"(x.x), "=f"(x.y), "=f"(x.z), "=f"(x.w) : "r"(at) : "memory");
        const uint4 hi = (uint4)(tf32(x.x), tf32(x.y), tf32(x.z), tf32(x.w));
        const uint4 lo = (uint4)(tf32_lo(x.x, hi.x), tf32_lo(x.y, hi.y), tf32_lo(x.z, hi.z),
                                 tf32_lo(x.w, hi.w));
        asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};"
                     :: "r"(at), "r"(hi.x), "r"(hi.y), "r"(hi.z), "r"(hi.w) : "memory");
        asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};"
                     :: "r"(at + Q_BYTES), "r"(lo.x), "r"(lo.y), "r"(lo.z), "r"(lo.w)
                     : "memory");
    }
}
#endif

/* The work-item's fragment of its warpgroup's m64 block i of P at k step kk: rows
 * 16·warp + lane/4 (+8) of the block, k lane % 4 (+4), in the order wgmma takes them. */
__attribute__((always_inline))
inline void p_fragment(uint fragment[4], const uint base, const uint i, const uint kk,
                       const uint tid)
{
    const uint lane = tid % 32, col = kk + lane % 4;
    const uint row = (tid / 128 * BLOCKS_P + i) * 64 + (tid / 32 % 4) * 16 + lane / 4;
#pragma unroll
    for (uint e = 0; e < 4; ++e) {
        const uint p = row + 8 * (e & 1), kq = col + 4 * (e >> 1);
        const uint at = base + (P_MN ? kq * P_ROW + p : p * P_ROW + kq) * 4;
        asm volatile("ld.shared.b32 %0, [%1];" : "=r"(fragment[e]) : "r"(at) : "memory");
    }
}

/* A wgmma matrix descriptor, K-major with the 64-byte swizzle: 8-row groups 512 bytes
 * apart (the leading offset is unused). */
__attribute__((always_inline))
inline ulong descriptor(const uint address)
{
    return (ulong)((address & 0x3ffff) >> 4) | (1ul << 16) | ((ulong)(512 >> 4) << 32) |
           (2ul << 62);
}

/* d += P·Q for one m64×TILE_Q×8 step, P's fragment from registers. */
__attribute__((always_inline))
inline void wgmma(float d[ACC], const uint p[4], const ulong q)
{
    asm volatile("// KILN: {\n"
                 "// KILN: .reg .pred p;\n"
                 "// KILN: setp.ne.b32 p, " SCALE_TEXT ", 0;\n"
                 "// KILN: wgmma.mma_async.sync.aligned.m64n" XSTR(TILE_Q) "k8.f32.tf32.tf32 "
                 ACC_TEXT ", " OPERAND_TEXT ", 1, 1;\n"
                 "// KILN: }"
                 : ACC_OPERANDS(d)
                 : "r"(p[0]), "r"(p[1]), "r"(p[2]), "r"(p[3]), "l"(q), "r"(1) : "memory");
}

/* P's fragments of one slice: two sets take turns, as a slice's products read theirs
 * while the next slice's load. */
struct fragments {
    uint hi[2][BLOCKS_P][4];
#if SPLIT
    uint lo[2][BLOCKS_P][4];
#endif
};

/* Waits for every product group still running on sum; at 3xTF32 adds sum into acc and
 * clears it. The tensor cores' accumulation truncates, which over a long k drifts far
 * past fp32's rounding (0.00302 against STRICT's 0.000187 at 256×256×4096): 3xTF32's
 * products sum apart for each slice, then join acc through fp32 adds (every second
 * slice, letting the first run on: 50.1 TFLOP/s at 8192³ against 58.4). */
__attribute__((always_inline))
inline void products_join(float acc[BLOCKS_P][ACC], float sum[BLOCKS_P][ACC])
{
#if BLOCKS_P == 2
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;"
                 : ACC_OPERANDS(sum[0]), ACC_OPERANDS(sum[1]) :: "memory");
#else
    asm volatile("// KILN: wgmma.wait_group.sync.aligned 0;" : ACC_OPERANDS(sum[0]) :: "memory");
#endif
#if SPLIT
#pragma unroll
    for (uint i = 0; i < BLOCKS_P; ++i)
#pragma unroll
        for (uint e = 0; e < ACC; ++e) {
            acc[i][e] += sum[i][e];
            sum[i][e] = 0.0f;
        }
#endif
}

/* The products of the slice at base, into sum (acc itself for TF32); join: then
 * products_join, else leave them running while the next slice comes in. */
__attribute__((always_inline))
inline void slice_multiply(float acc[BLOCKS_P][ACC], float sum[BLOCKS_P][ACC],
                           struct fragments *f, const uint base, const int join,
                           const uint tid)
{
#pragma unroll
    for (uint s = 0; s < 2; ++s)
#pragma unroll
        for (uint i = 0; i < BLOCKS_P; ++i) {
            p_fragment(f->hi[s][i], base + PARTS * Q_BYTES, i, s * 8, tid);
#if SPLIT
#pragma unroll
            for (uint e = 0; e < 4; ++e) {
                const float x = as_float(f->hi[s][i][e]);
                f->hi[s][i][e] = tf32(x);
                f->lo[s][i][e] = tf32_lo(x, f->hi[s][i][e]);
            }
#endif
        }
    asm volatile("// KILN: wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (uint s = 0; s < 2; ++s)
#pragma unroll
        for (uint i = 0; i < BLOCKS_P; ++i) {
            const ulong q = descriptor(base + s * 8 * 4);
#if SPLIT
            wgmma(sum[i], f->lo[s][i], q);
            wgmma(sum[i], f->hi[s][i], descriptor(base + Q_BYTES + s * 8 * 4));
#endif
            wgmma(sum[i], f->hi[s][i], q);
        }
    asm volatile("// KILN: wgmma.commit_group.sync.aligned;" ::: "memory");
    if (join) {
        products_join(acc, sum);
        return;
    }
    /* the last slice's products are done, this one's may run on */
#pragma unroll
    for (uint i = 0; i < BLOCKS_P; ++i)
        asm volatile("// KILN: wgmma.wait_group.sync.aligned 1;"
                     : ACC_OPERANDS(sum[i]) :: "memory");
}

/* Slice `slice` of Q and P into the ring slot at base. */
__attribute__((always_inline))
inline void stage_load(const struct share *q_share, const struct share *p_share,
                       const uint base, const ulong slice, const ulong k, const uint tid)
{
    share_load(q_share, base, slice, k, TILE_Q, TILE_K, 0, 64, tid);
    share_load(p_share, base + PARTS * Q_BYTES, slice, k, P_ROWS, P_MN ? TILE_P : TILE_K, P_MN,
               P_ROW * 4, tid);
}

/* Waits for slice `slice` in the ring, starts the load of the one STAGES - 2 on and
 * multiplies it. */
__attribute__((always_inline))
inline void slice_step(float acc[BLOCKS_P][ACC], float sum[BLOCKS_P][ACC], struct fragments *f,
                       const int join, const uint ring, const ulong slice, const ulong slices,
                       const struct share *q_share, const struct share *p_share, const ulong k,
                       const uint tid)
{
    const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
    asm volatile(WAIT_PENDING ::: "memory");
#if SPLIT
    q_split(q_share, base);
#endif
    /* local writes went through the generic proxy; wgmma reads through the async one */
    asm volatile("// KILN: fence.proxy.async.shared::cta;" ::: "memory");
    /* this slice is in for every warp, and the products of the one two back are done */
    barrier(CLK_LOCAL_MEM_FENCE);
    const ulong next = slice + STAGES - 2;
    if (next < slices)
        stage_load(q_share, p_share, ring + (uint)(next % STAGES) * STAGE_BYTES, next, k, tid);
    asm volatile("cp.async.commit_group;");
    slice_multiply(acc, sum, f, base, join, tid);
}

#include "tc_epilogue.h" /* block_origin, BLOCKS, c_store_pair */

/* One TILE_M×TILE_N block of C at (row0, col0). */
__attribute__((always_inline))
inline void block_multiply(const ulong m, const ulong n, const ulong k, const float alpha,
                           __global const float *a, const ulong lda,
                           __global const float *b, const ulong ldb, const float beta,
                           __global ELEM(C_TYPE) *c, const ulong ldc, __global const float *bias,
                           const int has_bias, const ulong row0, const ulong col0,
                           const uint ring)
{
    const uint tid = get_local_id(0);
    float acc[BLOCKS_P][ACC], part[BLOCKS_P][ACC]; /* part: 3xTF32's sum of a slice */
#pragma unroll
    for (uint i = 0; i < BLOCKS_P; ++i)
#pragma unroll
        for (uint e = 0; e < ACC; ++e)
            acc[i][e] = part[i][e] = 0.0f;

#if SWAP /* Q = A (m×k), P = Bᵀ: B's k×n rows */
    const struct share q_share = share_of(a, lda, m, k, row0, 0, TILE_K, 0, 64, 1, tid);
    const struct share p_share =
        share_of(b, ldb, k, n, 0, col0, TILE_P, 1, P_ROW * 4, 0, tid);
#else /* Q = op(B) = Bᵀ as stored (n×k), P = op(A) */
    const struct share q_share = share_of(b, ldb, n, k, col0, 0, TILE_K, 0, 64, 1, tid);
#if TRANS_A
    const struct share p_share =
        share_of(a, lda, k, m, 0, row0, TILE_P, 1, P_ROW * 4, 0, tid);
#else
    const struct share p_share =
        share_of(a, lda, m, k, row0, 0, TILE_K, 0, P_ROW * 4, 0, tid);
#endif
#endif
    const ulong slices = (k + TILE_K - 1) / TILE_K;
    for (uint s = 0; s < STAGES - 2; ++s) {
        if (s < slices)
            stage_load(&q_share, &p_share, ring + s * STAGE_BYTES, s, k, tid);
        asm volatile("cp.async.commit_group;");
    }
    float(*sum)[ACC] = SPLIT ? part : acc; /* where the products go (products_join) */
    struct fragments even, odd;
    for (ulong slice = 0; slice < slices; slice += 2) {
        slice_step(acc, sum, &even, SPLIT, ring, slice, slices, &q_share, &p_share, k, tid);
        if (slice + 1 < slices)
            slice_step(acc, sum, &odd, SPLIT, ring, slice + 1, slices, &q_share, &p_share, k,
                       tid);
    }
    products_join(acc, sum);
    asm volatile("cp.async.wait_group 0;" ::: "memory");
    barrier(CLK_LOCAL_MEM_FENCE); /* the ring is free for the next block */

    /* Accumulators 4j + 2·half + odd of an m64 block: P row 16·warp + lane/4 + 8·half,
     * Q column 8j + 2·(lane % 4) + odd. */
    const uint lane = tid % 32, warp = tid / 32 % 4, group = tid / 128;
    const ulong p0 = SWAP ? col0 : row0, q0 = SWAP ? row0 : col0;
    /* unrolled, so that the accumulators stay in registers */
#pragma unroll
    for (uint i = 0; i < BLOCKS_P; ++i)
#pragma unroll
        for (uint half_rows = 0; half_rows < 2; ++half_rows) {
            const ulong p = p0 + (group * BLOCKS_P + i) * 64 + warp * 16 + lane / 4 +
                            half_rows * 8;
            if (p >= (SWAP ? n : m))
                continue;
#pragma unroll
            for (uint j = 0; j < TILE_Q / 8; ++j) {
                const ulong q = q0 + j * 8 + 2 * (lane % 4);
                const float2 v = (float2)(acc[i][4 * j + 2 * half_rows],
                                          acc[i][4 * j + 2 * half_rows + 1]);
#if SWAP /* v is C's column p at rows q and q + 1 */
                for (uint odd = 0; odd < 2 && q + odd < m; ++odd)
                    c_store(c + (q + odd) * ldc + p, odd ? v.y : v.x, alpha, beta,
                            has_bias ? bias[q + odd] : 0.0f);
#else
                if (q < n)
                    c_store_pair(c, ldc, n, p, q, v, alpha, beta, has_bias ? bias[p] : 0.0f);
#endif
            }
        }
}

#define KERNEL gemm_wgmma_tf32
#include "tc_kernel.h" /* the kernel: block_multiply over the blocks and the batch */
