/* kiln_conv2d: a 2-D convolution as GEMMs. Images are unfolded into the caller's
 * workspace (cl/conv2d.cl's im2col), a chunk of them at a time, and each chunk is one
 * batched GEMM, Y_n = W · col_n, with the bias and activation in its epilogue. A 1×1,
 * stride-1, unpadded convolution needs no unfolding: x itself is the GEMM's B. */
#include "../internal.h"

#include <limits.h>
#include <stdio.h>

/* kiln_conv2d_workspace asks for the columns of as many images as fit here (at least
 * one): enough for GEMMs large enough to fill a GPU, bounded whatever the batch. */
#define CONV2D_WORKSPACE_TARGET ((size_t)64 << 20)

/* A checked convolution: the descriptor's sizes (stride and dilation 0 made 1), the
 * output's, and the GEMM's. */
struct conv2d_shape {
    size_t batch, channels, height, width, filters, kernel_h, kernel_w;
    size_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    size_t out_h, out_w;
    size_t taps;        /* channels·kernel_h·kernel_w: the GEMM's k */
    size_t pixels;      /* out_h·out_w: the GEMM's n */
    size_t image;       /* channels·height·width: floats of one image of x */
    size_t image_cols;  /* taps·pixels: floats of one image's columns */
    size_t cols_bytes;  /* bytes of one image's columns: the least workspace */
    bool direct;        /* 1×1, stride 1, no padding: x is the GEMM's B as it is */
};

static kiln_status check_positive(const kiln_ctx *ctx, size_t value, const char *field,
                                  const char *why)
{
    if (value == 0)
        return fail(ctx, KILN_ERR_ARG, "desc->%s is 0: %s", field, why);
    return KILN_OK;
}

static kiln_status size_add(const kiln_ctx *ctx, size_t a, size_t b, size_t *out,
                            const char *what)
{
    if (a > SIZE_MAX - b)
        return fail(ctx, KILN_ERR_SIZE, "%s: %zu + %zu overflows size_t", what, a, b);
    *out = a + b;
    return KILN_OK;
}

/* The output's length along one axis: (in + 2·pad - dilation·(kernel - 1) - 1) / stride
 * + 1, refused when the dilated kernel does not fit the padded input once. */
static kiln_status output_length(const kiln_ctx *ctx, size_t in, size_t pad, size_t kernel,
                                 size_t stride, size_t dilation, const char *axis,
                                 size_t *out)
{
    size_t padded = 0, span = 0, extent = 0;
    CHECK(size_mul(ctx, pad, 2, &padded, "desc: 2·pad"));
    CHECK(size_add(ctx, in, padded, &padded, "desc: the padded input"));
    CHECK(size_mul(ctx, dilation, kernel - 1, &span, "desc: dilation·(kernel - 1)"));
    CHECK(size_add(ctx, span, 1, &extent, "desc: the dilated kernel"));
    if (padded < extent)
        return fail(ctx, KILN_ERR_ARG,
                    "desc->%s %zu with 2·pad %zu gives an output %s below 1: the dilated "
                    "kernel spans %zu", axis, in, padded - in, axis, extent);
    *out = (padded - extent) / stride + 1;
    return KILN_OK;
}

static kiln_status shape_read(const kiln_ctx *ctx, const kiln_conv2d_desc *desc,
                              struct conv2d_shape *s)
{
    if (desc == NULL)
        return fail(ctx, KILN_ERR_ARG, "desc is NULL");
    if (desc->size < sizeof(*desc))
        return fail(ctx, KILN_ERR_ARG, "desc->size is %zu; set it to sizeof(kiln_conv2d_desc), %zu",
                    desc->size, sizeof(*desc));
    if (desc->size > sizeof(*desc))
        return fail(ctx, KILN_ERR_ARG, "desc->size is %zu, larger than the %zu bytes of this "
                    "kiln's kiln_conv2d_desc: fields of a newer kiln.h are not known here",
                    desc->size, sizeof(*desc));
    CHECK(check_positive(ctx, desc->channels, "channels", "an image has at least one"));
    CHECK(check_positive(ctx, desc->height, "height", "an image has at least one row"));
    CHECK(check_positive(ctx, desc->width, "width", "an image has at least one column"));
    CHECK(check_positive(ctx, desc->filters, "filters", "y needs at least one"));
    CHECK(check_positive(ctx, desc->kernel_h, "kernel_h", "a kernel has at least one row"));
    CHECK(check_positive(ctx, desc->kernel_w, "kernel_w", "a kernel has at least one column"));
    *s = (struct conv2d_shape){
        .batch = desc->batch, .channels = desc->channels, .height = desc->height,
        .width = desc->width, .filters = desc->filters, .kernel_h = desc->kernel_h,
        .kernel_w = desc->kernel_w, .pad_h = desc->pad_h, .pad_w = desc->pad_w,
        .stride_h = desc->stride_h > 0 ? desc->stride_h : 1,
        .stride_w = desc->stride_w > 0 ? desc->stride_w : 1,
        .dilation_h = desc->dilation_h > 0 ? desc->dilation_h : 1,
        .dilation_w = desc->dilation_w > 0 ? desc->dilation_w : 1,
    };
    CHECK(output_length(ctx, s->height, s->pad_h, s->kernel_h, s->stride_h, s->dilation_h,
                        "height", &s->out_h));
    CHECK(output_length(ctx, s->width, s->pad_w, s->kernel_w, s->stride_w, s->dilation_w,
                        "width", &s->out_w));
    CHECK(size_mul(ctx, s->channels, s->kernel_h, &s->taps, "w: channels·kernel_h"));
    CHECK(size_mul(ctx, s->taps, s->kernel_w, &s->taps, "w: channels·kernel_h·kernel_w"));
    CHECK(size_mul(ctx, s->out_h, s->out_w, &s->pixels, "y: out_h·out_w"));
    CHECK(size_mul(ctx, s->channels, s->height, &s->image, "x: channels·height"));
    CHECK(size_mul(ctx, s->image, s->width, &s->image, "x: channels·height·width"));
    CHECK(size_mul(ctx, s->taps, s->pixels, &s->image_cols, "workspace: one image's columns"));
    CHECK(size_mul(ctx, s->image_cols, sizeof(float), &s->cols_bytes, "workspace: bytes"));
    s->direct = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                s->pad_h == 0 && s->pad_w == 0;
    return KILN_OK;
}

/* What kiln_conv2d_workspace reports: none for a direct convolution or an empty batch,
 * else the columns of as many images as fit the target (at most the batch), at least
 * one image's. */
static size_t workspace_wanted(const struct conv2d_shape *s)
{
    if (s->direct || s->batch == 0)
        return 0;
    size_t images = CONV2D_WORKSPACE_TARGET / s->cols_bytes;
    images = images < 1 ? 1 : images < s->batch ? images : s->batch;
    return s->cols_bytes * images;
}

KILN_API kiln_status kiln_conv2d_workspace(kiln_ctx *ctx, const kiln_conv2d_desc *desc,
                                           size_t *bytes)
{
    CHECK(check_ctx(ctx));
    if (bytes == NULL)
        return fail(ctx, KILN_ERR_ARG, "bytes is NULL");
    struct conv2d_shape s;
    CHECK(shape_read(ctx, desc, &s));
    *bytes = workspace_wanted(&s);
    return KILN_OK;
}

/* x, w, bias and y hold the convolution's tensors and y overlaps none of its inputs. */
static kiln_status check_tensors(const kiln_ctx *ctx, const struct conv2d_shape *s,
                                 const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                 const kiln_buf *y)
{
    size_t x_floats, w_floats, y_floats;
    CHECK(size_mul(ctx, s->batch, s->image, &x_floats, "x: batch·channels·height·width"));
    CHECK(size_mul(ctx, s->filters, s->taps, &w_floats, "w: filters·channels·kernel_h·kernel_w"));
    CHECK(size_mul(ctx, s->filters, s->pixels, &y_floats, "y: filters·out_h·out_w"));
    CHECK(size_mul(ctx, s->batch, y_floats, &y_floats, "y: batch·filters·out_h·out_w"));
    CHECK(check_vector(ctx, x, "x", x_floats));
    CHECK(check_vector(ctx, w, "w", w_floats));
    if (bias != NULL)
        CHECK(check_vector(ctx, bias, "bias", s->filters));
    CHECK(check_vector(ctx, y, "y", y_floats));
    CHECK(check_apart(ctx, y, "y", x, "x"));
    CHECK(check_apart(ctx, y, "y", w, "w"));
    return check_apart(ctx, y, "y", bias, "bias");
}

/* The workspace holds one image's columns at least and shares memory with no tensor;
 * *images gets how many images it holds, at most the batch. */
static kiln_status check_workspace(const kiln_ctx *ctx, const struct conv2d_shape *s,
                                   const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                   const kiln_buf *y, const kiln_buf *workspace,
                                   size_t *images)
{
    size_t one = s->cols_bytes;
    if (workspace == NULL)
        return fail(ctx, KILN_ERR_ARG, "workspace is NULL but this convolution unfolds its "
                    "images there: it needs %zu bytes (kiln_conv2d_workspace)", one);
    if (workspace->size < one)
        return fail(ctx, KILN_ERR_SIZE, "workspace holds %zu bytes but one image's columns "
                    "need %zu (kiln_conv2d_workspace)", workspace->size, one);
    CHECK(check_apart(ctx, workspace, "workspace", x, "x"));
    CHECK(check_apart(ctx, workspace, "workspace", w, "w"));
    CHECK(check_apart(ctx, workspace, "workspace", bias, "bias"));
    if (ranges_overlap(workspace, y))
        return fail(ctx, KILN_ERR_ARG, "workspace shares memory with the output y");
    *images = workspace->size / one < s->batch ? workspace->size / one : s->batch;
    return KILN_OK;
}

/* floats floats of buf from element `first` on, as the kernels see a view. */
static kiln_buf buf_part(const kiln_buf *buf, size_t first, size_t floats)
{
    kiln_buf part = *buf;
    part.offset += first * sizeof(float);
    part.root_offset += first * sizeof(float);
    part.size = floats * sizeof(float);
    return part;
}

/* Unfolds `images` images of x, from image `first` on, into the workspace. */
static kiln_status im2col_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                  const kiln_buf *x, size_t first, size_t images,
                                  kiln_buf *workspace)
{
    size_t rows = s->taps * images, cols = s->pixels;
    size_t bound = (size_t)INT_MAX / 2;
    /* Coordinates stay within the padded image: height + 2·pad_h at most. */
    bool narrow = rows <= bound / cols && s->image <= bound / images &&
                  s->height <= bound / 2 && s->pad_h <= bound / 4 && s->width <= bound / 2 &&
                  s->pad_w <= bound / 4;
    char options[32];
    snprintf(options, sizeof(options), "-DINDEX=%s", narrow ? "int" : "long");
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "conv2d", options, "im2col", &kernel));
    struct launch plan = plan_bias_act(&ctx->limits, &kernel->limits, rows, cols);
    cl_ulong row_count = rows, col_count = cols, x_offset = buf_elements_offset(x) +
             first * s->image, col_offset = buf_elements_offset(workspace),
             height = s->height, width = s->width, out_w = s->out_w, kernel_h = s->kernel_h,
             kernel_w = s->kernel_w, stride_h = s->stride_h, stride_w = s->stride_w,
             pad_h = s->pad_h, pad_w = s->pad_w, dilation_h = s->dilation_h,
             dilation_w = s->dilation_w;
    const struct kernel_arg args[] = {
        KERNEL_ARG(row_count),  KERNEL_ARG(col_count),  KERNEL_ARG_BUF(x),
        KERNEL_ARG(x_offset),   KERNEL_ARG_BUF(workspace), KERNEL_ARG(col_offset),
        KERNEL_ARG(height),     KERNEL_ARG(width),      KERNEL_ARG(out_w),
        KERNEL_ARG(kernel_h),   KERNEL_ARG(kernel_w),   KERNEL_ARG(stride_h),
        KERNEL_ARG(stride_w),   KERNEL_ARG(pad_h),      KERNEL_ARG(pad_w),
        KERNEL_ARG(dilation_h), KERNEL_ARG(dilation_w),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* Y_n = act(W · B_n + bias) for `images` images from image `first` on, B_n one image's
 * columns (or, direct, its input) `b_stride` floats after the one before. */
static kiln_status gemm_images(kiln_ctx *ctx, const struct conv2d_shape *s, const kiln_buf *w,
                               const kiln_buf *b, size_t b_stride, const kiln_buf *bias,
                               kiln_buf *y, size_t first, size_t images, kiln_act act)
{
    size_t y_image = s->filters * s->pixels;
    kiln_buf y_part = buf_part(y, first * y_image, images * y_image);
    const struct gemm_call call = {KILN_NO_TRANS, KILN_NO_TRANS, s->filters, s->pixels,
                                   s->taps, 1.0f, w, s->taps, b, s->pixels, 0.0f, &y_part,
                                   s->pixels, bias, act, images, 0, b_stride, y_image,
                                   KILN_DTYPE_F32, KILN_DTYPE_F32,
                                   (kiln_math)atomic_load(&ctx->math)};
    /* The bias and activation are not CLBlast's: conv2d ignores the GEMM back end. */
    return gemm_enqueue(ctx, &call);
}

KILN_API kiln_status kiln_conv2d(kiln_ctx *ctx, const kiln_conv2d_desc *desc, const kiln_buf *x,
                                 const kiln_buf *w, const kiln_buf *bias, kiln_buf *y,
                                 kiln_act act, kiln_buf *workspace)
{
    CHECK(check_ctx(ctx));
    struct conv2d_shape s;
    CHECK(shape_read(ctx, desc, &s));
    CHECK(check_layer_buffers(ctx, act, w, x, bias, y));
    if (workspace != NULL)
        CHECK(check_buf(ctx, workspace, "workspace"));
    CHECK(check_tensors(ctx, &s, x, w, bias, y));
    if (s.batch == 0)
        return KILN_OK;
    if (s.direct)
        return gemm_images(ctx, &s, w, x, s.image, bias, y, 0, s.batch, act);

    size_t chunk = 0;
    CHECK(check_workspace(ctx, &s, x, w, bias, y, workspace, &chunk));
    for (size_t first = 0; first < s.batch; first += chunk) {
        size_t images = s.batch - first < chunk ? s.batch - first : chunk;
        CHECK(im2col_enqueue(ctx, &s, x, first, images, workspace));
        CHECK(gemm_images(ctx, &s, w, workspace, s.image_cols, bias, y, first, images, act));
    }
    return KILN_OK;
}
