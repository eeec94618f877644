/* kiln_conv2d's split-K sum: y = act(Σ_s partial[s] + bias) in NCHW order, from the
 * partial sums cl/conv2d_implicit.cl's SPLIT build leaves in the workspace, split-major:
 * `splits` planes of filters × columns floats, column n of a plane being pixel n % pixels
 * of image n / pixels. The splits are added in their order, plane 0 first, so a result
 * does not depend on the launch.
 *
 * A 2-D grid-stride loop as cl/conv2d.cl's scatter: dimension 1 along y's rows (one per
 * image and filter), dimension 0 along a row's pixels, which are neighbouring floats of
 * each plane too, so the reads and the writes are coalesced.
 *
 * INDEX is int when every index, plus a grid's stride, fits 31 bits. */
#ifndef INDEX
#define INDEX long
#endif

#include "activation.h" /* ACT, ACTIVATE */

__kernel void conv2d_split_sum(const ulong rows, const ulong pixels, const ulong filters,
                               const ulong columns, const ulong splits,
                               __global const float *partial, const ulong partial_offset,
                               __global const float *bias, const ulong bias_offset,
                               const int has_bias, __global float *y, const ulong y_offset)
{
    partial += partial_offset;
    bias += bias_offset;
    y += y_offset;
    const INDEX row_count = (INDEX)rows, per_image = (INDEX)pixels,
                plane = (INDEX)filters * (INDEX)columns, split_count = (INDEX)splits;
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        const INDEX image = row / (INDEX)filters, filter = row % (INDEX)filters;
        __global const float *from = partial + filter * (INDEX)columns + image * per_image;
        __global float *to = y + row * per_image;
        const float shift = has_bias ? bias[filter] : 0.0f;
        for (INDEX pixel = (INDEX)get_global_id(0); pixel < per_image;
             pixel += (INDEX)get_global_size(0)) {
            float sum = from[pixel];
            for (INDEX s = 1; s < split_count; ++s)
                sum += from[s * plane + pixel];
            to[pixel] = ACTIVATE(sum + shift);
        }
    }
}
