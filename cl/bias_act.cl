/* kiln_bias_act: y = act(x + bias) over a rows×cols matrix with leading dimension ld
 * (x and y share it). The bias of element (row, col) is bias[row·row_step + col·col_step]:
 * steps (1, 0) add bias[row] to each row (kiln_dense's out×batch layout), (0, 1)
 * bias[col] to each column (a row per sample); arguments rather than a -D, so one build
 * serves both axes for a multiply-add per element. A 2-D grid-stride loop:
 * dimension 0 along the columns (neighbouring work-items read neighbouring floats),
 * dimension 1 along the rows, so any shape runs on the dispatcher's grid. y may be x.
 *
 * INDEX is uint when every index of the matrix, plus a grid's stride, fits 32 bits. */
#ifndef INDEX
#define INDEX ulong
#endif

#include "activation.h" /* ACT, ACTIVATE */

__kernel void bias_act(const ulong rows, const ulong cols, const ulong ld,
                       __global const float *x, const ulong x_offset,
                       __global const float *bias, const ulong bias_offset,
                       const uint row_step, const uint col_step, __global float *y,
                       const ulong y_offset)
{
    x += x_offset;
    bias += bias_offset;
    y += y_offset;
    const INDEX row_count = (INDEX)rows, col_count = (INDEX)cols, stride = (INDEX)ld;
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        const INDEX start = row * stride;
        __global const float *row_bias = bias + row * row_step;
        for (INDEX col = (INDEX)get_global_id(0); col < col_count;
             col += (INDEX)get_global_size(0))
            y[start + col] = ACTIVATE(x[start + col] + row_bias[col * col_step]);
    }
}
