/* kiln_conv2d as one implicit GEMM: y = act(W · B + bias) with M = filters, N =
 * batch·out_h·out_w (every image's output pixels in one index space, so no image leaves
 * a ragged tile of its own) and K = channels·KERNEL_H·KERNEL_W. W is the KCRS weights as
 * they are, a row of K floats per filter. B is never stored: its element (k, n), k = (c,
 * r, s) and n = (image, oy, ox), is gathered from x as a slice of it is staged,
 * x[image][c][oy·stride_h - pad_h + r·dilation_h][ox·stride_w - pad_w + s·dilation_w],
 * 0 outside the image; and C goes straight to y in NCHW order, column n to pixel
 * n % pixels of image n / pixels.
 *
 * The tiling is cl/gemm_block.cl's (cl/gemm_tile.h, cl/gemm_pipeline.h): a TILE_M×TILE_N
 * block of C per work-group, WPT_M×WPT_N per work-item in float4 pieces, TILE_K-deep
 * k-major slices double-buffered in local memory, the next slice's loads held in
 * registers while the current one is multiplied, one barrier per slice. Unlike
 * gemm_block, C's edges need no whole blocks: a block's rows past the filters stage the
 * last filter again and its columns past N the last column (valid reads; their products
 * are never stored), and only k past K is zeroed, in both operands (a 0 times an Inf
 * of x or w would make NaN).
 *
 * The gather's index math stays out of the multiply: each work-item stages one column
 * of every B slice (THREADS is a multiple of TILE_N), so its image and the input pixel
 * of tap (0, 0) are found once; per slice it splits its TILE_K / B_STEP k's into (c, r,
 * s) by the compile-time KERNEL_H and KERNEL_W (a multiply and a shift each, nothing for
 * a 1×1 kernel) and checks the tap against the image's bounds. In clang-15's PTX at
 * 128×128×8 with 8×8 and a 3×3 kernel that is about 29 instructions per float of B, 4
 * per work-item per slice: the k loop is 716 instructions with its 512 FMAs, gemm_block's
 * 571. W is staged A_LOADS neighbouring k's of one filter per work-item from one pointer:
 * through ptxas (sm_90) the kernel then takes 128 registers, no spills, as gemm_block
 * (two work-groups per SM); scattering W by element and zeroing the edges took 140 (one
 * work-group per SM).
 *
 * SPLIT 1 builds the split-K variant: work-group (i, j, s) covers only the k's from
 * s·split_taps to (s + 1)·split_taps (split_taps a multiple of TILE_K, the last split
 * ending at K) and stores its raw partial sums, no bias and no activation, to y as a
 * workspace laid out split-major, [split][filter][column], a row of C after another, so
 * neighbouring work-items store neighbouring floats; cl/conv2d_split.cl adds the splits
 * up. SPLIT 0 is the kernel as it was without it.
 *
 * INDEX is int (UINDEX uint) when every offset into x, w and y and every coordinate fits
 * 31 bits. */
#ifndef TILE_M
#define TILE_M 128
#endif
#ifndef TILE_N
#define TILE_N 128
#endif
#ifndef TILE_K
#define TILE_K 8
#endif
#ifndef WPT_M
#define WPT_M 8
#endif
#ifndef WPT_N
#define WPT_N 8
#endif
#ifndef KERNEL_H
#define KERNEL_H 3
#endif
#ifndef KERNEL_W
#define KERNEL_W 3
#endif
#ifndef INDEX
#define INDEX long
#endif
#ifndef UINDEX
#define UINDEX ulong /* INDEX's unsigned twin */
#endif
#ifndef SPLIT
#define SPLIT 0 /* 1: a k range per group of dimension 2, partial sums to the workspace */
#endif

#include "gemm_tile.h"  /* LX, LY, THREADS, tile_position, READ_STEP, TILE_ROW, TILE_COL */
#include "activation.h" /* ACT, ACTIVATE */

#define TAPS (KERNEL_H * KERNEL_W)
#define A_LOADS (TILE_M * TILE_K / THREADS) /* floats of W per work-item per slice */
#define B_STEP (THREADS / TILE_N)           /* k's between a work-item's floats of B */
#define B_LOADS (TILE_K / B_STEP)

#if THREADS % TILE_N != 0 || TILE_K % B_STEP != 0 || (TILE_M * TILE_K) % THREADS != 0 || \
    TILE_K % A_LOADS != 0
#error "a tile's work-items must stage whole columns of B and whole shares of W"
#endif

/* This work-item's floats of the W slice from k0 on: A_LOADS neighbouring k's, from w_k
 * on, of filter w_row (its neighbours take the rest of the row, then the next rows),
 * read from w_first, their first. */
#define W_SPLIT (TILE_K / A_LOADS) /* work-items a row of the slice is split over */
#define LOAD_W(regs, k0)                                                                  \
    for (uint j = 0; j < A_LOADS; ++j) {                                                  \
        const INDEX k = (k0) + w_k + j;                                                   \
        regs[j] = k < K_STOP ? w_first[(k0) + j] : 0.0f;                                \
    }

#define STORE_W(tile, regs)                                                               \
    for (uint j = 0; j < A_LOADS; ++j)                                                    \
        (tile)[(w_k + j) * TILE_M + tid / W_SPLIT] = regs[j];

/* This work-item's floats of its column of the B slice from k0 on: k's k0 + first +
 * j·B_STEP, x at row iy and column ix of channel c of the column's image, 0 outside the
 * image (k split by constants, unsigned: a multiply and a shift each). */
#define GATHER_B(regs, k0)                                                                \
    for (uint j = 0; j < B_LOADS; ++j) {                                                  \
        const UINDEX k = (UINDEX)((k0) + first) + j * B_STEP, c = k / TAPS, tap = k % TAPS; \
        const INDEX iy = iy0 + (INDEX)(tap / KERNEL_W) * (INDEX)dilation_h;               \
        const INDEX ix = ix0 + (INDEX)(tap % KERNEL_W) * (INDEX)dilation_w;               \
        const bool inside = k < (UINDEX)K_STOP && (UINDEX)iy < (UINDEX)in_h &&             \
                            (UINDEX)ix < (UINDEX)in_w;                                    \
        regs[j] = inside ? x_image[((INDEX)c * in_h + iy) * in_w + ix] : 0.0f;            \
    }

#define STORE_B(tile, regs)                                                               \
    for (uint j = 0; j < B_LOADS; ++j)                                                    \
        (tile)[(first + j * B_STEP) * TILE_N + tid % TILE_N] = regs[j];

/* The k's a work-group multiplies: all of them, or its split's. */
#if SPLIT
#define K_START k_start
#define K_STOP k_stop
#define DEPTH (k_stop - k_start)
#else
#define K_START 0
#define K_STOP taps
#define DEPTH taps
#endif

/* cl/gemm_pipeline.h's steps: the floats of W and B from k K_START + k0 on into a_next
 * and b_next, and from there into local slot `slot`. */
#define LOAD_NEXT(k0)                                                                     \
    do {                                                                                  \
        LOAD_W(a_next, K_START + (k0));                                                   \
        GATHER_B(b_next, K_START + (k0));                                                 \
    } while (0)
#define STORE_NEXT(slot)                                                                  \
    do {                                                                                  \
        STORE_W((__local float *)a_store[slot], a_next);                                  \
        STORE_B((__local float *)b_store[slot], b_next);                                  \
    } while (0)
#define DEPTH_TYPE INDEX

/* i, or count - 1 where i is past it. */
__attribute__((always_inline))
inline INDEX last_below(const INDEX i, const INDEX count)
{
    return i < count ? i : count - 1;
}

/* Work-group (i, j) computes filters j·TILE_M.. for columns i·TILE_N..; the grid covers
 * every block (the host refuses a grid beyond the device's cap). Split, group (i, j, s)
 * does so over split s's k's, into y's plane s of filters × columns floats. */
__kernel __attribute__((reqd_work_group_size(LX, LY, 1)))
void conv2d_implicit(const ulong filter_count, const ulong column_count, const ulong tap_count,
                     __global const float *x, const ulong x_offset, const ulong image,
                     __global const float *w, const ulong w_offset,
                     __global const float *bias, const ulong bias_offset, const int has_bias,
                     __global float *y, const ulong y_offset, const ulong height,
                     const ulong width, const ulong out_w, const ulong pixel_count,
                     const ulong stride_h, const ulong stride_w, const ulong pad_h,
                     const ulong pad_w, const ulong dilation_h, const ulong dilation_w
#if SPLIT
                     , const ulong split_taps
#endif
                     )
{
    __local float4 a_store[2][TILE_K * TILE_M / 4];
    __local float4 b_store[2][TILE_K * TILE_N / 4];
    x += x_offset;
    w += w_offset;
    bias += bias_offset;
    y += y_offset;
    const INDEX filters = (INDEX)filter_count, columns = (INDEX)column_count,
                taps = (INDEX)tap_count, pixels = (INDEX)pixel_count, in_h = (INDEX)height,
                in_w = (INDEX)width, plane = in_h * in_w;
    const uint tid = get_local_id(1) * LX + get_local_id(0); /* numbers the loads */
    uint tx, ty;
    tile_position(tid, &tx, &ty);
    const INDEX row0 = (INDEX)get_group_id(1) * TILE_M, col0 = (INDEX)get_group_id(0) * TILE_N;
#if SPLIT
    const INDEX k_start = (INDEX)get_group_id(2) * (INDEX)split_taps;
    const INDEX k_stop = min(k_start + (INDEX)split_taps, taps);
    y += (INDEX)get_group_id(2) * filters * columns;
#endif

    /* The filter and first k this work-item stages of W (past the filters: the last). */
    const INDEX w_row = last_below(row0 + (INDEX)(tid / W_SPLIT), filters);
    const INDEX w_k = (INDEX)(tid % W_SPLIT * A_LOADS);
    __global const float *const w_first = w + (w_row * taps + w_k);

    /* The column this work-item stages of B (past N: the last), its first k, its image
     * and the input pixel of tap (0, 0). */
    const INDEX n = last_below(col0 + (INDEX)(tid % TILE_N), columns);
    const INDEX first = (INDEX)(tid / TILE_N), pixel = n % pixels;
    const INDEX iy0 = (pixel / (INDEX)out_w) * (INDEX)stride_h - (INDEX)pad_h;
    const INDEX ix0 = (pixel % (INDEX)out_w) * (INDEX)stride_w - (INDEX)pad_w;
    __global const float *const x_image = x + n / pixels * (INDEX)image;

    float a_next[A_LOADS], b_next[B_LOADS];
#include "gemm_pipeline.h"

#if SPLIT
    /* The split's plane as C is, row by row: the sums alone, for cl/conv2d_split.cl. */
#pragma unroll
    for (uint r = 0; r < WPT_M; ++r) {
        const INDEX row = row0 + (INDEX)TILE_ROW(r);
        if (row >= filters)
            break;
#pragma unroll
        for (uint s = 0; s < WPT_N; ++s) {
            const INDEX column = col0 + (INDEX)TILE_COL(s);
            if (column < columns)
                y[row * columns + column] = acc[r][s];
        }
    }
#else
    /* Column n of C is pixel n % pixels of image n / pixels: y[image][filter][pixel]. */
    INDEX at[WPT_N];
#pragma unroll
    for (uint s = 0; s < WPT_N; ++s) {
        const INDEX column = col0 + (INDEX)TILE_COL(s);
        at[s] = column < columns ? column / pixels * filters * pixels + column % pixels : -1;
    }
#pragma unroll
    for (uint r = 0; r < WPT_M; ++r) {
        const INDEX row = row0 + (INDEX)TILE_ROW(r);
        if (row >= filters)
            break;
        const float shift = has_bias ? bias[row] : 0.0f;
#pragma unroll
        for (uint s = 0; s < WPT_N; ++s)
            if (at[s] >= 0)
                y[at[s] + row * pixels] = ACTIVATE(acc[r][s] + shift);
    }
#endif
}
