/* kiln_conv2d's im2col: unfolds images of x (NCHW) into the columns the convolution's GEMM
 * multiplies the filters by. For each image, a matrix of C·kernel_h·kernel_w rows (the
 * filter's taps, in the order of its KCRS weights) by out_h·out_w columns (the output's
 * pixels); images follow one another. Element (tap, pixel) is x at (channel, oy·stride_h
 * + r·dilation_h - pad_h, ox·stride_w + s·dilation_w - pad_w), 0 in the padding.
 *
 * Row `row` of all images' matrices is tap rs = row % (kernel_h·kernel_w) of the plane
 * row / (kernel_h·kernel_w) of x (image·C + channel), so no channel count is needed. A
 * 2-D grid-stride loop as cl/bias_act.cl's: dimension 0 along a row's pixels (neighbouring
 * work-items write neighbouring floats), dimension 1 along the rows.
 *
 * INDEX is int when every index and coordinate, plus a grid's stride, fits 31 bits. */
#ifndef INDEX
#define INDEX long
#endif

__kernel void im2col(const ulong rows, const ulong cols, __global const float *x,
                     const ulong x_offset, __global float *col, const ulong col_offset,
                     const ulong height, const ulong width, const ulong out_w,
                     const ulong kernel_h, const ulong kernel_w, const ulong stride_h,
                     const ulong stride_w, const ulong pad_h, const ulong pad_w,
                     const ulong dilation_h, const ulong dilation_w)
{
    x += x_offset;
    col += col_offset;
    const INDEX row_count = (INDEX)rows, col_count = (INDEX)cols, in_h = (INDEX)height,
                in_w = (INDEX)width, taps = (INDEX)(kernel_h * kernel_w);
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        const INDEX tap = row % taps;
        __global const float *plane = x + (row / taps) * in_h * in_w;
        /* The input coordinates of output pixel (0, 0) for this tap. */
        const INDEX top = (tap / (INDEX)kernel_w) * (INDEX)dilation_h - (INDEX)pad_h;
        const INDEX left = (tap % (INDEX)kernel_w) * (INDEX)dilation_w - (INDEX)pad_w;
        __global float *out = col + row * col_count;
        for (INDEX pixel = (INDEX)get_global_id(0); pixel < col_count;
             pixel += (INDEX)get_global_size(0)) {
            const INDEX iy = top + (pixel / (INDEX)out_w) * (INDEX)stride_h;
            const INDEX ix = left + (pixel % (INDEX)out_w) * (INDEX)stride_w;
            const bool inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
            out[pixel] = inside ? plane[iy * in_w + ix] : 0.0f;
        }
    }
}
