/* C = act(alpha·op(A)·op(B) + beta·C + bias) for CPUs (PoCL): the GotoBLAS loops.
 *
 * PoCL runs a work-group on one thread as loops over its work-items, and LLVM vectorizes
 * only innermost loops, so a GPU kernel's k loop inside a work-item loop runs scalar.
 * Here a work-group is one work-item that computes an MC×NC block of C the way a CPU
 * BLAS does: for each KC-deep slice of k it packs op(B)'s slice into NR-wide panels and
 * op(A)'s into MR-high strips (local memory is plain memory on a CPU, and a work-group's
 * own), then runs an MR×NR register tile (explicit VW-wide vectors: A broadcast, B
 * loaded) over each strip and panel. A panel (KC·NR floats) stays in L1 while the
 * strips of A stream past it from L2. Packing pads with zeros, so the microkernel never
 * checks bounds, and it is the only code that knows the transposes; any m, n, k runs.
 *
 * C is updated once per slice: the first applies beta (beta 0 does not read C), the
 * last the bias and activation.
 */
#ifndef MR
#define MR 6 /* rows of the register tile */
#endif
#ifndef NR
#define NR 16 /* columns of the register tile: a multiple of VW */
#endif
#ifndef VW
#define VW 8 /* floats per vector: 8 (AVX2) or 16 (AVX-512) */
#endif
#ifndef MC
#define MC 96 /* rows of a work-group's block: a multiple of MR */
#endif
#ifndef NC
#define NC 256 /* columns of a work-group's block: a multiple of NR */
#endif
#ifndef KC
#define KC 256 /* depth of a packed slice */
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

#if VW == 16
typedef float16 vec;
#define VLOAD vload16
#define VSTORE vstore16
#elif VW == 8
typedef float8 vec;
#define VLOAD vload8
#define VSTORE vstore8
#else
typedef float4 vec;
#define VLOAD vload4
#define VSTORE vstore4
#endif

#define NV (NR / VW) /* vectors per row of the register tile */

#include "activation.h" /* ACT, ACTIVATE */

/* Lines of a matrix (rows of op(A), columns of op(B)) into panels `width` lines wide,
 * each k-major: panel q holds lines q·width.. as deep runs of `width` floats, zero
 * beyond the last line. Line l, element p is at src[l·line_stride + p·step]; one of the
 * two is 1, and the loops run along it so reads are contiguous. */
__attribute__((always_inline))
inline void pack_lines(__local float *dst, __global const float *src, const ulong line_stride,
                       const ulong step, const uint lines, const uint width, const uint deep)
{
    for (uint q = 0; q < (lines + width - 1) / width; ++q) {
        __local float *panel = dst + q * KC * width;
        __global const float *from = src + q * width * line_stride;
        const uint present = min(width, lines - q * width);
        if (step == 1) {
            for (uint l = 0; l < width; ++l)
                for (uint p = 0; p < deep; ++p)
                    panel[p * width + l] = l < present ? from[l * line_stride + p] : 0.0f;
        } else {
            for (uint p = 0; p < deep; ++p)
                for (uint l = 0; l < width; ++l)
                    panel[p * width + l] = l < present ? from[l + p * step] : 0.0f;
        }
    }
}

/* op(B) stored along n (B not transposed): each k's NR columns are a row segment, moved
 * as vectors where the panel is whole. */
__attribute__((always_inline))
inline void pack_rows(__local float *dst, __global const float *b, const ulong ldb,
                      const uint cols, const uint deep)
{
    for (uint q = 0; q < (cols + NR - 1) / NR; ++q) {
        __local float *panel = dst + q * KC * NR;
        const uint width = min((uint)NR, cols - q * NR);
        for (uint p = 0; p < deep; ++p) {
            __global const float *src = b + p * ldb + q * NR;
            if (width == NR) {
                for (uint v = 0; v < NV; ++v)
                    *(__local vec *)(panel + p * NR + v * VW) = VLOAD(v, src);
            } else {
                for (uint c = 0; c < NR; ++c)
                    panel[p * NR + c] = c < width ? src[c] : 0.0f;
            }
        }
    }
}

/* The KC-deep slices at p0 of op(A)'s rows i0.. into MR-high strips and of op(B)'s
 * columns j0.. into NR-wide panels. */
__attribute__((always_inline))
inline void pack_slices(__local float *a_pack, __local float *b_pack, __global const float *a,
                        const ulong lda, __global const float *b, const ulong ldb,
                        const ulong i0, const ulong j0, const ulong p0, const uint rows,
                        const uint cols, const uint deep)
{
#if TRANS_A
    pack_lines(a_pack, a + p0 * lda + i0, 1, lda, rows, MR, deep);
#else
    pack_lines(a_pack, a + i0 * lda + p0, lda, 1, rows, MR, deep);
#endif
#if TRANS_B
    pack_lines(b_pack, b + j0 * ldb + p0, ldb, 1, cols, NR, deep);
#else
    pack_rows(b_pack, b + p0 * ldb + j0, ldb, cols, deep);
#endif
}

/* acc = strip · panel over deep k: the register tile. */
__attribute__((always_inline))
inline void micro_tile(vec acc[MR][NV], __local const float *strip, __local const float *panel,
                       const uint deep)
{
#pragma unroll
    for (uint r = 0; r < MR; ++r)
#pragma unroll
        for (uint v = 0; v < NV; ++v)
            acc[r][v] = (vec)0.0f;
    for (uint p = 0; p < deep; ++p) {
        vec b_reg[NV];
#pragma unroll
        for (uint v = 0; v < NV; ++v)
            b_reg[v] = *(__local const vec *)(panel + p * NR + v * VW);
#pragma unroll
        for (uint r = 0; r < MR; ++r) {
            const vec a_reg = (vec)(strip[p * MR + r]);
#pragma unroll
            for (uint v = 0; v < NV; ++v)
                acc[r][v] = fma(a_reg, b_reg[v], acc[r][v]);
        }
    }
}

/* Adds a register tile into C at (row0, col0), rows×cols of it within the matrix. */
__attribute__((always_inline))
inline void tile_store(vec acc[MR][NV], __global float *c, const ulong ldc, const ulong row0,
                       const ulong col0, const uint rows, const uint cols, const float alpha,
                       const float beta, const bool first, const bool last,
                       __global const float *bias, const int has_bias)
{
#pragma unroll
    for (uint r = 0; r < MR; ++r) {
        if (r >= rows)
            continue;
        __global float *out = c + (row0 + r) * ldc + col0;
        const float shift = last && has_bias ? bias[row0 + r] : 0.0f;
#pragma unroll
        for (uint v = 0; v < NV; ++v) {
            vec x = alpha * acc[r][v];
            if (v * VW + VW <= cols) {
                if (!first)
                    x += VLOAD(v, out);
                else if (beta != 0.0f)
                    x += beta * VLOAD(v, out);
                if (last)
                    x = ACTIVATE(x + shift);
                VSTORE(x, v, out);
            } else {
                float lanes[VW];
                VSTORE(x, 0, lanes);
                for (uint e = 0; e < VW && v * VW + e < cols; ++e) {
                    float y = lanes[e];
                    if (!first)
                        y += out[v * VW + e];
                    else if (beta != 0.0f)
                        y += beta * out[v * VW + e];
                    if (last)
                        y = ACTIVATE(y + shift);
                    out[v * VW + e] = y;
                }
            }
        }
    }
}

/* This work-group's blocks of one product. */
__attribute__((always_inline))
inline void gemm_cpu_one(const ulong m, const ulong n, const ulong k, const float alpha,
                         __global const float *a, const ulong lda, __global const float *b,
                         const ulong ldb, const float beta, __global float *c,
                         const ulong ldc, __global const float *bias, const int has_bias,
                         __local float *a_pack, __local float *b_pack)
{
    for (ulong i0 = get_group_id(1) * (ulong)MC; i0 < m; i0 += get_num_groups(1) * (ulong)MC)
        for (ulong j0 = get_group_id(0) * (ulong)NC; j0 < n; j0 += get_num_groups(0) * (ulong)NC) {
            const uint rows = (uint)min((ulong)MC, m - i0), cols = (uint)min((ulong)NC, n - j0);
            for (ulong p0 = 0; p0 < k; p0 += KC) {
                const uint deep = (uint)min((ulong)KC, k - p0);
                pack_slices(a_pack, b_pack, a, lda, b, ldb, i0, j0, p0, rows, cols, deep);
                for (uint q = 0; q * NR < cols; ++q) {
                    __local const float *panel = b_pack + q * KC * NR;
                    for (uint s = 0; s * MR < rows; ++s) {
                        __local const float *strip = a_pack + s * KC * MR;
                        vec acc[MR][NV];
                        micro_tile(acc, strip, panel, deep);
                        tile_store(acc, c, ldc, i0 + s * MR, j0 + q * NR,
                                   min((uint)MR, rows - s * MR), min((uint)NR, cols - q * NR),
                                   alpha, beta, p0 == 0, p0 + deep == k, bias, has_bias);
                    }
                }
            }
        }
}

/* One work-item per work-group; groups stride over blocks (dimensions 0 and 1) and over
 * the batch (dimension 2): matrix i of A, B and C starts i·stride floats after the
 * first (the bias is shared). */
__kernel __attribute__((reqd_work_group_size(1, 1, 1)))
void gemm_cpu(const ulong m, const ulong n, const ulong k, const float alpha,
              __global const float *a, const ulong a_offset, const ulong lda,
              __global const float *b, const ulong b_offset, const ulong ldb,
              const float beta, __global float *c, const ulong c_offset, const ulong ldc,
              __global const float *bias, const ulong bias_offset, const int has_bias,
              const ulong batch, const ulong stride_a, const ulong stride_b,
              const ulong stride_c)
{
    /* vec arrays, so the float views of them are vector-aligned */
    __local vec a_pack[(MC * KC + VW - 1) / VW];
    __local vec b_pack[(KC * NC + VW - 1) / VW];
#if BATCHED
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        gemm_cpu_one(m, n, k, alpha, a + a_offset + i * stride_a, lda,
                     b + b_offset + i * stride_b, ldb, beta, c + c_offset + i * stride_c, ldc,
                     bias + bias_offset, has_bias, (__local float *)a_pack,
                     (__local float *)b_pack);
#else
    gemm_cpu_one(m, n, k, alpha, a + a_offset, lda, b + b_offset, ldb, beta, c + c_offset,
                 ldc, bias + bias_offset, has_bias, (__local float *)a_pack,
                 (__local float *)b_pack);
#endif
}
