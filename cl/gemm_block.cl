/* C = act(alpha·op(A)·op(B) + beta·C + bias) for whole blocks: the fast GEMM.
 *
 * Used when m and n are multiples of TILE_M and TILE_N, k of TILE_K, and every f32
 * matrix starts and has its rows on a float4 boundary, so no access needs a bounds check
 * and every global access moves four elements. (Other shapes take cl/gemm.cl.) A_TYPE
 * and C_TYPE are cl/dtype.h's types: f16 and bf16 are widened as they are loaded (four at
 * a time, needing no alignment beyond their own) and C is rounded to nearest even.
 *
 * The register tiling is cl/gemm_tile.h's: a work-group of LX×LY work-items computes a
 * TILE_M×TILE_N block of C in float4 pieces, each run of 32 work-items over a 4×8 patch
 * of the grid (on the H100 47.1 against 46.0 TFLOP/s at 4096 for the 2×16 rows of plain
 * numbering).
 * op(A) and op(B) slices are staged k-major in two local buffers, the next one loaded
 * while the current one is multiplied (cl/gemm_pipeline.h).
 *
 * Stored along k (A not transposed, B transposed), a float4 from global memory spans
 * four k and is scattered into four local rows; stored along m or n it lands as is.
 */
#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef TILE_K
#define TILE_K 16
#endif
#ifndef WPT_M
#define WPT_M 8
#endif
#ifndef WPT_N
#define WPT_N 8
#endif
#ifndef TRANS_A
#define TRANS_A 0
#endif
#ifndef TRANS_B
#define TRANS_B 0
#endif
#ifndef BATCHED
#define BATCHED 0 /* 1: work-groups loop over the batch along the third dimension */
#endif

#define A_SLICE (TILE_M * TILE_K / 4) /* float4s of a slice */
#define B_SLICE (TILE_N * TILE_K / 4)
#define A_LOADS ((A_SLICE + THREADS - 1) / THREADS) /* per work-item per step */
#define B_LOADS ((B_SLICE + THREADS - 1) / THREADS)

#include "gemm_tile.h"  /* LX, LY, THREADS, tile_position, READ_STEP */
#include "activation.h" /* ACT, ACTIVATE */
#include "dtype.h"      /* A_TYPE, C_TYPE, a_elem, c_elem, LOAD4, STORE4 */

/* Helpers are always inlined: PoCL needs a kernel's barriers in its own body, and clang
 * (AMD's compiler) emits no body for a C99 inline function it chooses not to inline. */

/* Where float4 number e of a stored slice lies: along k (four k of one row) or along
 * the other dimension (four rows or columns of one k). */
__attribute__((always_inline))
inline void slice_place(const uint e, const uint along_k, const uint width, uint *outer,
                        uint *kk)
{
    if (along_k) {
        *outer = e / (TILE_K / 4);
        *kk = (e % (TILE_K / 4)) * 4;
    } else {
        *kk = e / (width / 4);
        *outer = (e % (width / 4)) * 4;
    }
}

/* Reads this work-item's float4s of a slice: rows outer0.. (or columns) and k p0.. of a
 * matrix stored along k (along_k) or along its other dimension. */
#define LOAD_SLICE(regs, count, x, ld, along_k, width, outer0, p0, tid)                   \
    for (uint s = 0; s < count; ++s) {                                                    \
        uint outer, kk;                                                                   \
        if (tid + s * THREADS >= width * TILE_K / 4)                                      \
            break; /* a slice smaller than the work-group: the first items load it */     \
        slice_place(tid + s * THREADS, along_k, width, &outer, &kk);                      \
        regs[s] = LOAD4(A_TYPE, along_k ? x + (outer0 + outer) * ld + p0 + kk            \
                                        : x + (p0 + kk) * ld + outer0 + outer);           \
    }

/* Writes them k-major into a local slice of `width` columns. */
#define STORE_SLICE(tile, regs, count, along_k, width, tid)                               \
    for (uint s = 0; s < count; ++s) {                                                    \
        uint outer, kk;                                                                   \
        if (tid + s * THREADS >= width * TILE_K / 4)                                      \
            break;                                                                        \
        slice_place(tid + s * THREADS, along_k, width, &outer, &kk);                      \
        if (along_k) {                                                                    \
            (tile)[(kk + 0) * width + outer] = regs[s].x;                                   \
            (tile)[(kk + 1) * width + outer] = regs[s].y;                                   \
            (tile)[(kk + 2) * width + outer] = regs[s].z;                                   \
            (tile)[(kk + 3) * width + outer] = regs[s].w;                                   \
        } else {                                                                          \
            *(__local float4 *)((tile) + kk * width + outer) = regs[s];                     \
        }                                                                                 \
    }

/* cl/gemm_pipeline.h's steps: float4s of op(A) and op(B) from k k0 on into a_next and
 * b_next, and from there into local slot `slot`. */
#define LOAD_NEXT(k0)                                                                     \
    do {                                                                                  \
        LOAD_SLICE(a_next, A_LOADS, a, lda, !TRANS_A, TILE_M, row0, k0, tid);             \
        LOAD_SLICE(b_next, B_LOADS, b, ldb, TRANS_B, TILE_N, col0, k0, tid);              \
    } while (0)
#define STORE_NEXT(slot)                                                                  \
    do {                                                                                  \
        STORE_SLICE((__local float *)a_store[slot], a_next, A_LOADS, !TRANS_A, TILE_M, tid); \
        STORE_SLICE((__local float *)b_store[slot], b_next, B_LOADS, TRANS_B, TILE_N, tid); \
    } while (0)
#define DEPTH k
#define DEPTH_TYPE ulong

/* This work-group's block of one product: C = act(alpha·op(A)·op(B) + beta·C + bias). */
__attribute__((always_inline))
inline void gemm_block_one(const ulong k, const float alpha, __global const a_elem *a,
                           const ulong lda, __global const a_elem *b, const ulong ldb,
                           const float beta, __global c_elem *c, const ulong ldc,
                           __global const float *bias, const int has_bias,
                           __local float4 a_store[2][TILE_K * TILE_M / 4],
                           __local float4 b_store[2][TILE_K * TILE_N / 4])
{
    const uint tid = get_local_id(1) * LX + get_local_id(0); /* numbers the loads */
    uint tx, ty;
    tile_position(tid, &tx, &ty);
    const ulong row0 = (ulong)get_group_id(1) * TILE_M;
    const ulong col0 = (ulong)get_group_id(0) * TILE_N;

    float4 a_next[A_LOADS], b_next[B_LOADS];
#include "gemm_pipeline.h"

#pragma unroll
    for (uint r = 0; r < WPT_M; ++r) {
        const ulong row = row0 + (r / 4) * LY * 4 + ty * 4 + r % 4;
        const float shift = has_bias ? bias[row] : 0.0f;
#pragma unroll
        for (uint s = 0; s < WPT_N / 4; ++s) {
            const ulong col = col0 + s * LX * 4 + tx * 4;
            __global c_elem *out = c + row * ldc + col;
            /* Built from named elements: taking acc's address would put it on the stack. */
            float4 v = alpha * (float4)(acc[r][s * 4], acc[r][s * 4 + 1], acc[r][s * 4 + 2],
                                        acc[r][s * 4 + 3]);
            if (beta != 0.0f)
                v += beta * LOAD4(C_TYPE, out);
            v += shift;
            STORE4(C_TYPE, (float4)(ACTIVATE(v.x), ACTIVATE(v.y), ACTIVATE(v.z), ACTIVATE(v.w)),
                   out);
        }
    }
}

/* Work-groups stride over the batch in dimension 2: matrix i of A, B and C starts
 * i·stride elements after the first (the bias is shared). The last barrier of a block
 * ends every read of local memory before the next block stores into it. */
__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void gemm_block(const ulong m, const ulong n, const ulong k, const float alpha,
                __global const a_elem *a, const ulong a_offset, const ulong lda,
                __global const a_elem *b, const ulong b_offset, const ulong ldb,
                const float beta, __global c_elem *c, const ulong c_offset, const ulong ldc,
                __global const float *bias, const ulong bias_offset, const int has_bias,
                const ulong batch, const ulong stride_a, const ulong stride_b,
                const ulong stride_c)
{
    /* float4 arrays, so the float views of them are 16-byte aligned */
    __local float4 a_store[2][TILE_K * TILE_M / 4];
    __local float4 b_store[2][TILE_K * TILE_N / 4];
#if BATCHED
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        gemm_block_one(k, alpha, a + a_offset + i * stride_a, lda, b + b_offset + i * stride_b,
                       ldb, beta, c + c_offset + i * stride_c, ldc, bias + bias_offset,
                       has_bias, a_store, b_store);
#else
    gemm_block_one(k, alpha, a + a_offset, lda, b + b_offset, ldb, beta, c + c_offset, ldc,
                   bias + bias_offset, has_bias, a_store, b_store);
#endif
}
