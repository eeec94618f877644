/* y = act(alpha·M·x + beta·y + bias), M rows×cols: the GEMM's matrix-vector shapes
 * (n == 1: M = op(A), y a column of C; m == 1: M = op(B)^T, y the row of C). Reading M
 * once is the whole cost, so the kernel is laid out for coalesced reads of M:
 *
 * ROW_MAJOR 1, M(i, p) = a[i·ld + p] (rows contiguous): LOCAL_X work-items share a row
 *   and stride along it, LOCAL_Y rows per work-group; partial sums are reduced across x.
 * ROW_MAJOR 0, M(i, p) = a[p·ld + i] (columns contiguous): a work-item owns an output
 *   row, so neighbouring work-items read neighbouring floats of a column; LOCAL_Y
 *   work-items split the depth of each row and are reduced across y.
 *
 * LOCAL_X and LOCAL_Y are powers of two (the tree reduction halves them).
 * VECTOR_ALIGNED 1 (row-major only) when M's rows and x start on 16 bytes and x is
 * contiguous: the body then moves float4s and the cols % 4 tail is done after it.
 * x's elements are incx apart, y's incy, the bias's bias_inc (0: one value for all).
 *
 * BLAS rules: alpha == 0 skips the product (M and x unread); beta == 0 leaves y unread.
 * Work-groups stride over blocks of rows, so a capped grid covers any rows.
 *
 * A_TYPE (M and x) and C_TYPE (y) are cl/dtype.h's element types, as in cl/gemm.cl:
 * widened on load, summed in float, y read in its type and rounded on store. The float4
 * body is for float M and x only.
 */
#ifndef ROW_MAJOR
#define ROW_MAJOR 1
#endif
#ifndef LOCAL_X
#define LOCAL_X 64
#endif
#ifndef LOCAL_Y
#define LOCAL_Y 4
#endif
#ifndef VECTOR_ALIGNED
#define VECTOR_ALIGNED 0
#endif

#include "activation.h" /* ACT, ACTIVATE */
#include "dtype.h"      /* A_TYPE, C_TYPE, a_elem, c_elem, LOAD, STORE */

#if ROW_MAJOR
#define BLOCK_ROWS LOCAL_Y
#define ROW_IN_BLOCK get_local_id(1)
#define LANE get_local_id(0)
#define LANES LOCAL_X
#define BLOCK_ID get_group_id(1)
#define BLOCK_COUNT get_num_groups(1)
#define PARTNER(tx, ty, s) partial[ty][(tx) + (s)]
#else
#define BLOCK_ROWS LOCAL_X
#define ROW_IN_BLOCK get_local_id(0)
#define LANE get_local_id(1)
#define LANES LOCAL_Y
#define BLOCK_ID get_group_id(0)
#define BLOCK_COUNT get_num_groups(0)
#define PARTNER(tx, ty, s) partial[(ty) + (s)][tx]
#endif

#if VECTOR_ALIGNED && (!ROW_MAJOR || A_TYPE != 0)
#error "VECTOR_ALIGNED needs ROW_MAJOR and float M and x"
#endif

/* Helpers are always inlined: PoCL needs a kernel's barriers in its own body, and clang
 * (AMD's compiler) emits no body for a C99 inline function it chooses not to inline. */

/* This work-item's share of M(row, ·)·x: elements lane, lane + LANES, ... */
__attribute__((always_inline))
inline float row_part(__global const a_elem *a, const ulong ld, __global const a_elem *x,
                      const ulong incx, const ulong depth, const ulong row, const ulong lane)
{
    float sum = 0.0f;
#if ROW_MAJOR
    __global const a_elem *r = a + row * ld;
    ulong first = lane;
#if VECTOR_ALIGNED
    __global const float4 *r4 = (__global const float4 *)r;
    __global const float4 *x4 = (__global const float4 *)x;
    float4 sum4 = (float4)(0.0f);
    const ulong quads = depth / 4;
    /* Four independent chains: one would wait on the adder's latency, not on memory. */
    float4 sum4b = (float4)(0.0f), sum4c = (float4)(0.0f), sum4d = (float4)(0.0f);
    ulong q = lane;
    for (; q + 3 * LANES < quads; q += 4 * LANES) {
        sum4 += r4[q] * x4[q];
        sum4b += r4[q + LANES] * x4[q + LANES];
        sum4c += r4[q + 2 * LANES] * x4[q + 2 * LANES];
        sum4d += r4[q + 3 * LANES] * x4[q + 3 * LANES];
    }
    for (; q < quads; q += LANES)
        sum4 += r4[q] * x4[q];
    sum4 = (sum4 + sum4b) + (sum4c + sum4d);
    sum = (sum4.x + sum4.y) + (sum4.z + sum4.w);
    first += quads * 4;
#endif
    for (ulong p = first; p < depth; p += LANES)
        sum += LOAD(A_TYPE, r, p) * LOAD(A_TYPE, x, p * incx);
#else
    for (ulong p = lane; p < depth; p += LANES)
        sum += LOAD(A_TYPE, a, p * ld + row) * LOAD(A_TYPE, x, p * incx);
#endif
    return sum;
}

/* One product of the batch, by this work-group's blocks of rows. */
__attribute__((always_inline))
inline void gemv_one(const ulong rows, const ulong cols, const float alpha,
                     __global const a_elem *a, const ulong ld, __global const a_elem *x,
                     const ulong incx, const float beta, __global c_elem *y, const ulong incy,
                     __global const float *bias, const ulong bias_inc, const int has_bias,
                     __local float partial[LOCAL_Y][LOCAL_X])
{
    const uint tx = get_local_id(0), ty = get_local_id(1);
    const ulong depth = alpha == 0.0f ? 0 : cols;
    for (ulong row0 = (ulong)BLOCK_ID * BLOCK_ROWS; row0 < rows;
         row0 += (ulong)BLOCK_COUNT * BLOCK_ROWS) {
        const ulong row = row0 + ROW_IN_BLOCK;
        partial[ty][tx] = row < rows ? row_part(a, ld, x, incx, depth, row, LANE) : 0.0f;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (uint s = LANES / 2; s > 0; s /= 2) {
            if (LANE < s)
                partial[ty][tx] += PARTNER(tx, ty, s);
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        /* Lane 0 alone reads its slot, which no other work-item writes next time. */
        if (LANE == 0 && row < rows) {
            float v = alpha * partial[ty][tx];
            if (beta != 0.0f)
                v += beta * LOAD(C_TYPE, y, row * incy);
            if (has_bias)
                v += bias[row * bias_inc];
            STORE(C_TYPE, ACTIVATE(v), y, row * incy);
        }
    }
}

/* Work-groups stride over the batch in dimension 2: matrix i of M, x and y starts
 * i·stride elements after the first (the bias is shared). */
__kernel __attribute__((reqd_work_group_size(LOCAL_X, LOCAL_Y, 1)))
void gemv(const ulong rows, const ulong cols, const float alpha,
          __global const a_elem *a, const ulong a_offset, const ulong ld,
          __global const a_elem *x, const ulong x_offset, const ulong incx,
          const float beta, __global c_elem *y, const ulong y_offset, const ulong incy,
          __global const float *bias, const ulong bias_offset, const ulong bias_inc,
          const int has_bias, const ulong batch, const ulong stride_a,
          const ulong stride_x, const ulong stride_y)
{
    __local float partial[LOCAL_Y][LOCAL_X];
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        gemv_one(rows, cols, alpha, a + a_offset + i * stride_a, ld, x + x_offset + i * stride_x,
                 incx, beta, y + y_offset + i * stride_y, incy, bias + bias_offset, bias_inc,
                 has_bias, partial);
}
