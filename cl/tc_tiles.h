/* Operand tiles of the tensor-core kernels (cl/gemm_mma.cl, cl/gemm_wgmma.cl), included
 * after their parameters (TILE_M, TILE_N, STAGES, TRANS_A, TRANS_B, THREADS, ELEM_BYTES:
 * 2 for f16/bf16 words unless 4 says f32): slices of TILE_K = 64 bytes of
 * elements along k copied global → local memory with cp.async, 16 bytes a copy and
 * zero-filled past the matrix's edge (ragged shapes need no padding), through a ring of
 * STAGES slices, in the 64-byte swizzle layouts that wgmma reads and that put the eight
 * rows of one ldmatrix on eight bank groups:
 * - a K-major operand (A as stored, B transposed): rows of TILE_K elements, chunk c of row
 *   r at c ^ ((r >> 1) & 3);
 * - an MN-major one (B as stored, A transposed; 16-bit elements only): atoms of 8 k-rows
 *   × 32 elements, 512 bytes, along MN first, chunk c of a row at (c % 4) ^ ((r % 8) >> 1)
 *   in its atom.
 * Rows must start on 16 bytes: lda, ldb and the element offsets multiples of CHUNK.
 * The block order and C epilogue are cl/tc_epilogue.h's (included here). */
#ifndef ELEM_BYTES
#define ELEM_BYTES 2
#endif
#if ELEM_BYTES == 4
#define OPERAND float
#else
#define OPERAND ushort
#endif
#define CHUNK (16 / ELEM_BYTES) /* elements a 16-byte copy moves */
#define TILE_K (4 * CHUNK)                 /* a 64-byte row */
#define A_BYTES (TILE_M * 64)
#define B_BYTES (TILE_N * 64)
#ifndef PARTS
#define PARTS 1 /* operand pairs a slice holds: 2 for 3xTF32's hi and lo parts */
#endif
#define PART_BYTES (A_BYTES + B_BYTES)
#define STAGE_BYTES (PARTS * PART_BYTES)

#if STAGES == 2
#define WAIT_PENDING "cp.async.wait_group 0;"
#elif STAGES == 3
#define WAIT_PENDING "cp.async.wait_group 1;"
#elif STAGES == 4
#define WAIT_PENDING "cp.async.wait_group 2;"
#elif STAGES == 5
#define WAIT_PENDING "cp.async.wait_group 3;"
#elif STAGES == 6
#define WAIT_PENDING "cp.async.wait_group 4;"
#else
#error "STAGES must be 2 to 6"
#endif

/* Byte offset of 16-byte chunk c of row r of a K-major tile (rows of TILE_K elements). */
__attribute__((always_inline))
inline uint k_major_offset(const uint r, const uint c)
{
    return r * 64 + ((c ^ ((r >> 1) & 3)) << 4);
}

/* Byte offset of chunk c (8 elements along MN) of k-row r of an MN-major tile `width`
 * elements wide: atoms of 8 k-rows × 32 elements, 512 bytes, along MN first. */
__attribute__((always_inline))
inline uint mn_major_offset(const uint r, const uint c, const uint width)
{
    const uint atom = (r / 8) * (width / 32) + c / 4;
    return atom * 512 + (r % 8) * 64 + (((c % 4) ^ ((r % 8) >> 1)) << 4);
}

/* A work-item's part of one operand's slices. Chunk q of a slice is 16-byte column c of
 * row r0 + q·ROW_STEP of the stored tile, ROW_STEP = THREADS / (chunks in a row): a
 * multiple of 8, so every chunk keeps chunk 0's column and swizzle and lies q·ROW_STEP
 * rows further on, in local memory as in the matrix. */
struct share {
    __global const OPERAND *source; /* chunk 0 at slice 0 (maybe past the edge: not read) */
    ulong ld;
    ulong k0;         /* chunk 0's first k at slice 0 */
    ulong edge;       /* K-major: matrix rows from chunk 0's on; MN-major: columns from its */
    uint target;      /* chunk 0's byte offset in the tile */
};

/* The share of a `rows`×`cols` stored tile at (row0, col0) of a matrix `height`×`width`. */
__attribute__((always_inline))
inline struct share share_of(__global const OPERAND *matrix, const ulong ld, const ulong height,
                             const ulong width, const ulong row0, const ulong col0,
                             const uint cols, const int mn, const uint tid)
{
    const uint r = tid / (cols / CHUNK), c = tid % (cols / CHUNK);
    const ulong row = row0 + r, col = col0 + c * CHUNK;
    struct share share;
    share.source = matrix + row * ld + col;
    share.ld = ld;
    share.k0 = mn ? row : col;
    share.edge = mn ? (col < width ? width - col : 0) : (row < height ? height - row : 0);
    share.target = mn ? mn_major_offset(r, c, cols) : k_major_offset(r, c);
    return share;
}

/* Issues the work-item's copies of slice `slice` of a share into the tile at base: rows of
 * `cols` elements, MN-major (the slice runs down the rows) or K-major (along them). */
__attribute__((always_inline))
inline void share_load(const struct share *share, const uint base, const ulong slice,
                       const ulong k, const uint rows, const uint cols, const int mn,
                       const uint tid)
{
    const uint row_step = THREADS / (cols / CHUNK);
    const ulong k_first = share->k0 + slice * TILE_K;
#pragma unroll
    for (uint q = 0; q < rows / row_step; ++q) {
        const ulong kq = mn ? k_first + q * row_step : k_first;
        const ulong inside = mn ? share->edge : (q * row_step < share->edge ? CHUNK : 0);
        const ulong left = kq < k ? (mn ? inside : min(inside, k - kq)) : 0;
        const uint bytes = left >= CHUNK ? 16 : (uint)left * ELEM_BYTES;
        __global const OPERAND *source =
            share->source + (mn ? (slice * TILE_K + q * row_step) * share->ld
                                : q * row_step * share->ld + slice * TILE_K);
        const uint target = base + share->target + q * row_step * cols * ELEM_BYTES;
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;"
                     :: "r"(target), "l"(source), "r"(bytes));
    }
}

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
#if (THREADS / (A_COLS / CHUNK)) % 8 != 0 || (THREADS / (B_COLS / CHUNK)) % 8 != 0
#error "an MN-major tile wider than the work-group's items"
#endif

/* Slice `slice` of the k loop into its ring position: each part's A, then its B. */
__attribute__((always_inline))
inline void stage_load(const uint ring, const ulong slice, const struct share a[PARTS],
                       const struct share b[PARTS], const ulong k, const uint tid)
{
    const uint base = ring + (uint)(slice % STAGES) * STAGE_BYTES;
#pragma unroll
    for (uint part = 0; part < PARTS; ++part) {
        share_load(&a[part], base + part * PART_BYTES, slice, k, A_ROWS, A_COLS, TRANS_A, tid);
        share_load(&b[part], base + part * PART_BYTES + A_BYTES, slice, k, B_ROWS, B_COLS,
                   !TRANS_B, tid);
    }
}

/* The work-item's shares of op(A)'s block at row0 and op(B)'s at col0. */
#if TRANS_A
#define A_SHARE(a, lda, m, k, row0, tid) share_of(a, lda, k, m, 0, row0, A_COLS, 1, tid)
#else
#define A_SHARE(a, lda, m, k, row0, tid) share_of(a, lda, m, k, row0, 0, A_COLS, 0, tid)
#endif
#if TRANS_B
#define B_SHARE(b, ldb, n, k, col0, tid) share_of(b, ldb, n, k, col0, 0, B_COLS, 0, tid)
#else
#define B_SHARE(b, ldb, n, k, col0, tid) share_of(b, ldb, k, n, 0, col0, B_COLS, 1, tid)
#endif

#include "tc_epilogue.h" /* block_origin, BLOCKS, c_store_pair */
