/* kiln_conv2d's im2col: unfolds images of x (NCHW) into the columns the convolution's GEMM
 * multiplies the filters by. One row per filter tap (C·kernel_h·kernel_w rows, in the order
 * of the KCRS weights), `cols` columns: each image's out_h·out_w output pixels in turn,
 * then zeros up to cols (the rows' padding). Element (tap, image·pixels + pixel) is x at
 * (image, channel, oy·stride_h + r·dilation_h - pad_h, ox·stride_w + s·dilation_w - pad_w),
 * 0 in the padding.
 *
 * A 2-D grid-stride loop as cl/bias_act.cl's: dimension 0 along a row's columns
 * (neighbouring work-items write neighbouring floats), dimension 1 along the taps.
 *
 * scatter: copies the output of the GEMM over all columns (filters × ld, the images side
 * by side in each row) to y's images (NCHW), a row of y's (image, filter) planes at a time.
 *
 * INDEX is int when every index and coordinate, plus a grid's stride, fits 31 bits. */
#ifndef INDEX
#define INDEX long
#endif

__kernel void im2col(const ulong rows, const ulong cols, const ulong used, const ulong pixels,
                     __global const float *x, const ulong x_offset, const ulong image,
                     __global float *col, const ulong col_offset, const ulong height,
                     const ulong width, const ulong out_w, const ulong kernel_h,
                     const ulong kernel_w, const ulong stride_h, const ulong stride_w,
                     const ulong pad_h, const ulong pad_w, const ulong dilation_h,
                     const ulong dilation_w)
{
    x += x_offset;
    col += col_offset;
    const INDEX row_count = (INDEX)rows, col_count = (INDEX)cols, used_count = (INDEX)used,
                per_image = (INDEX)pixels, in_h = (INDEX)height, in_w = (INDEX)width,
                taps = (INDEX)(kernel_h * kernel_w);
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        const INDEX tap = row % taps;
        __global const float *plane = x + (row / taps) * in_h * in_w;
        /* The input coordinates of output pixel (0, 0) for this tap. */
        const INDEX top = (tap / (INDEX)kernel_w) * (INDEX)dilation_h - (INDEX)pad_h;
        const INDEX left = (tap % (INDEX)kernel_w) * (INDEX)dilation_w - (INDEX)pad_w;
        __global float *out = col + row * col_count;
        for (INDEX column = (INDEX)get_global_id(0); column < col_count;
             column += (INDEX)get_global_size(0)) {
            const INDEX pixel = column % per_image;
            const INDEX iy = top + (pixel / (INDEX)out_w) * (INDEX)stride_h;
            const INDEX ix = left + (pixel % (INDEX)out_w) * (INDEX)stride_w;
            const bool inside = column < used_count && iy >= 0 && iy < in_h && ix >= 0 &&
                                ix < in_w;
            const INDEX at = (column / per_image) * (INDEX)image + iy * in_w + ix;
            out[column] = inside ? plane[at] : 0.0f;
        }
    }
}

__kernel void scatter(const ulong rows, const ulong pixels, const ulong filters, const ulong ld,
                      __global const float *wide, const ulong wide_offset, __global float *y,
                      const ulong y_offset)
{
    wide += wide_offset;
    y += y_offset;
    const INDEX row_count = (INDEX)rows, per_image = (INDEX)pixels;
    for (INDEX row = (INDEX)get_global_id(1); row < row_count;
         row += (INDEX)get_global_size(1)) {
        const INDEX image = row / (INDEX)filters, filter = row % (INDEX)filters;
        __global const float *from = wide + filter * (INDEX)ld + image * per_image;
        __global float *to = y + row * per_image;
        for (INDEX pixel = (INDEX)get_global_id(0); pixel < per_image;
             pixel += (INDEX)get_global_size(0))
            to[pixel] = from[pixel];
    }
}
