/* kiln_bias_act: y = act(x + bias) over a rows×cols matrix with leading dimension ld
 * (x and y share it). AXIS 0 adds bias[row] to each row (kiln_dense's out×batch layout),
 * 1 bias[col] to each column (a row per sample). A 2-D grid-stride loop: dimension 0
 * along a row (neighbouring work-items read neighbouring floats), dimension 1 along the
 * rows, so any shape runs on the dispatcher's grid. y may be x.
 *
 * `vectors` is 1 when x and y start on the same 16-byte phase (they share ld, so then
 * every row does): a row's body moves as float4s, its head and tail as floats
 * (cl/rows.h's row_parts). An argument, not a -D: PoCL builds every variant for a while.
 * INDEX is uint when every index of the matrix, plus a grid's stride, fits 32 bits. */
#ifndef AXIS
#define AXIS 0
#endif

#include "activation.h" /* ACT, ACTIVATE */
#include "rows.h"       /* INDEX, row_parts */

#if AXIS == 0
#define BIAS(col) row_bias
#define BIAS4(col) ((float4)(row_bias))
#else
#define BIAS(col) bias[col]
#define BIAS4(col) vload4(0, bias + (col)) /* bias may sit on any phase */
#endif

__kernel void bias_act(const ulong rows, const ulong cols, const ulong ld,
                       __global const float *x, const ulong x_offset,
                       __global const float *bias, const ulong bias_offset,
                       __global float *y, const ulong y_offset, const uint vectors)
{
    bias += bias_offset;
    const INDEX row_count = (INDEX)rows, col_count = (INDEX)cols, stride = (INDEX)ld;
    const INDEX lane = (INDEX)get_global_id(0), lanes = (INDEX)get_global_size(0);
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        __global const float *in = x + x_offset + row * stride;
        __global float *out = y + y_offset + row * stride;
        INDEX head, quads;
        row_parts(x_offset + row * stride, col_count, vectors, &head, &quads);
#if AXIS == 0
        const float row_bias = bias[row];
#endif
        __global const float4 *in4 = (__global const float4 *)(in + head);
        __global float4 *out4 = (__global float4 *)(out + head);
        for (INDEX q = lane; q < quads; q += lanes)
            out4[q] = ACTIVATE(in4[q] + BIAS4(head + 4 * q));
        FOR_EDGES(i, head, quads, col_count, lane, lanes)
            out[i] = ACTIVATE(in[i] + BIAS(i));
    }
}
