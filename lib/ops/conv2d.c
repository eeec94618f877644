/* kiln_conv2d: a 2-D convolution as GEMMs, on one of two paths that conv2d_plan chooses.
 *
 * Implicit GEMM (cl/conv2d_implicit.cl, ops/conv2d_implicit.c): one GEMM of the filters
 * by every image's output pixels, its B gathered from x as it is staged and its C written
 * to y in NCHW order: no workspace, no unfolded copy written and read back, no ragged
 * tile per image. Where its blocks are too few for a GPU's compute units, its k is split
 * into ranges, each range's C written to the workspace and their sum, with the bias and
 * activation, to y (cl/conv2d_split.cl); with less workspace, fewer ranges, down to none.
 *
 * im2col: images are unfolded into the caller's workspace (cl/conv2d.cl's im2col), a
 * chunk of them at a time, side by side: one row per filter tap, each image's output
 * pixels in turn along it. Where an image's pixels are a whole number of GEMM tiles, the
 * chunk is one batched GEMM, Y_n = W · col_n, that writes y; otherwise (14×14, 7×7) it is
 * one GEMM over all the chunk's columns, W · col, into the workspace, then scattered to
 * y's NCHW order. A product 49 columns wide would leave most of every 64- or 128-wide
 * tile idle, and its rows of 49 floats would keep the whole-block and tensor-core kernels
 * (rows on 16 bytes) away. The bias and activation are in the GEMM's epilogue. A 1×1,
 * stride-1, unpadded convolution needs no unfolding: x itself is the batched GEMM's B.
 * This path reaches every GEMM family (the tensor cores at TF32, the CPU kernel). */
#include "../internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* kiln_conv2d_workspace asks for the columns of as many images as fit here (at least
 * one): enough for GEMMs large enough to fill a GPU, bounded whatever the batch. The
 * implicit GEMM splits its k into no more ranges than their partial sums fit here. */
#define CONV2D_WORKSPACE_TARGET ((size_t)64 << 20)

/* The unfolded rows hold a multiple of this many columns: the GEMM's n is then a whole
 * number of the block kernel's 64-wide tiles (gemm/params.c), and its rows start on 16
 * bytes as float4 loads and the tensor cores want. */
#define CONV2D_COLUMNS_MULTIPLE 64

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
    s->direct = s->kernel_h == 1 && s->kernel_w == 1 && s->stride_h == 1 && s->stride_w == 1 &&
                s->pad_h == 0 && s->pad_w == 0;
    s->wide = !s->direct && s->pixels % CONV2D_COLUMNS_MULTIPLE != 0;
    size_t row = 0;
    CHECK(size_add(ctx, s->taps, s->wide ? s->filters : 0, &s->column,
                   "workspace: taps + filters"));
    CHECK(size_add(ctx, s->pixels, CONV2D_COLUMNS_MULTIPLE - 1, &row, "workspace: a row"));
    row -= row % CONV2D_COLUMNS_MULTIPLE;
    CHECK(size_mul(ctx, s->column, row, &s->cols_bytes, "workspace: one image's columns"));
    CHECK(size_mul(ctx, s->cols_bytes, sizeof(float), &s->cols_bytes, "workspace: bytes"));
    return KILN_OK;
}

/* The columns of a row for `images` images: their pixels, rounded up to the multiple. */
static size_t row_columns(const struct conv2d_shape *s, size_t images)
{
    size_t columns = images * s->pixels + CONV2D_COLUMNS_MULTIPLE - 1;
    return columns - columns % CONV2D_COLUMNS_MULTIPLE;
}

/* How many images' columns `bytes` of workspace hold (row_columns(images)·column floats). */
static size_t images_within(const struct conv2d_shape *s, size_t bytes)
{
    size_t columns = bytes / sizeof(float) / s->column;
    return (columns - columns % CONV2D_COLUMNS_MULTIPLE) / s->pixels;
}

/* The two paths of a convolution: one implicit GEMM, or GEMMs over x as it is (direct)
 * or over its columns unfolded into the workspace (im2col). */
enum conv2d_path { CONV2D_IMPLICIT, CONV2D_DIRECT, CONV2D_IM2COL };

struct conv2d_plan {
    enum conv2d_path path;
    struct gemm_config tile; /* CONV2D_IMPLICIT: cl/conv2d_implicit.cl's tile */
    size_t splits;           /* CONV2D_IMPLICIT: k ranges summed from the workspace; 1: none */
    const char *why;         /* what decided it, a sentence */
};

/* $KILN_CONV2D: the path a test or measurement forces ("implicit" or "im2col"), or -1. */
static int path_forced(void)
{
    const char *value = getenv("KILN_CONV2D");
    if (value == NULL || *value == '\0')
        return -1;
    return strcmp(value, "implicit") == 0 ? CONV2D_IMPLICIT
           : strcmp(value, "im2col") == 0 ? CONV2D_IM2COL
                                          : -1;
}

/* The implicit kernel's tile for the shape: $KILN_CONV2D_TILE's where it fits, else the
 * table's; false when none fits (or C has more blocks than a launch's grid takes). */
static bool implicit_tile(const kiln_ctx *ctx, const struct conv2d_shape *s,
                          struct gemm_config *tile)
{
    size_t limit = ctx->limits.max_work_group_size, columns = s->batch * s->pixels;
    if (conv2d_implicit_tile_forced(tile) &&
        conv2d_implicit_fits(&ctx->limits, limit, tile, s->filters, columns))
        return true;
    const struct gemm_config *table = plan_conv2d_implicit_config(&ctx->limits, limit,
                                                                   s->filters, columns);
    if (table != NULL)
        *tile = *table;
    return table != NULL;
}

/* The implicit GEMM's k splits: $KILN_CONV2D_SPLIT's (no more than k has slices), none
 * on CPUs, else as many as the dispatcher's rule wants for the compute units whose
 * partial sums fit the workspace target. */
static size_t implicit_splits(const kiln_ctx *ctx, const struct conv2d_shape *s,
                              const struct gemm_config *tile)
{
    const size_t forced = conv2d_implicit_split_forced(), columns = s->batch * s->pixels;
    size_t split_taps;
    if (forced > 0)
        return plan_conv2d_split(s->taps, tile->tile_k, forced, &split_taps);
    if (ctx->limits.family == FAMILY_CPU)
        return 1;
    const size_t most = CONV2D_WORKSPACE_TARGET / sizeof(float) / s->filters / columns;
    return conv2d_implicit_splits(&ctx->limits, tile, s->filters, columns, s->taps, most);
}

/* Which path runs the convolution, with which tile, and why; shape-only, so
 * kiln_conv2d_workspace and kiln_conv2d agree. Implicit GEMM is the fp32 path; im2col
 * keeps what only the GEMM families have: the tensor cores when the math allows TF32
 * and the filters fill their tiles (f32 operands rounded there, fp32 FMA in the implicit
 * kernel), on CPUs the packed
 * cl/gemm_cpu.cl kernel, which the GPU-shaped implicit tiles do not match on PoCL, and
 * GEMMs that fill a GPU where the implicit grid leaves compute units idle even with its
 * k split (few filters of few pixels and k too short to split). */
static struct conv2d_plan conv2d_plan(const kiln_ctx *ctx, const struct conv2d_shape *s)
{
    const int forced = path_forced();
    const kiln_math math = (kiln_math)atomic_load(&ctx->math);
    const bool tensor = math != KILN_MATH_STRICT && ctx->limits.nv_compute_capability >= 80;
    struct conv2d_plan plan = {s->direct ? CONV2D_DIRECT : CONV2D_IM2COL, {0}, 1, NULL};
    bool fits = s->batch > 0 && s->pixels <= SIZE_MAX / s->batch &&
                implicit_tile(ctx, s, &plan.tile);
    if (fits)
        plan.splits = implicit_splits(ctx, s, &plan.tile);
    if (forced == CONV2D_IM2COL)
        plan.why = "KILN_CONV2D=im2col";
    else if (!fits)
        plan.why = "no implicit GEMM tile fits the device, or C's blocks exceed a launch";
    else if (forced == CONV2D_IMPLICIT)
        plan.path = CONV2D_IMPLICIT, plan.why = "KILN_CONV2D=implicit";
    else if (tensor && (s->direct || conv2d_unfolding_pays(s->filters)))
        plan.why = "math is not STRICT: im2col's GEMM may run on the tensor cores";
    else if (ctx->limits.family == FAMILY_CPU)
        plan.why = "a CPU: im2col's GEMM is the packed cl/gemm_cpu.cl kernel";
    else if (!conv2d_implicit_fills(&ctx->limits, &plan.tile, s->filters, s->batch * s->pixels,
                                    plan.splits))
        plan.why = "the implicit GEMM's blocks are fewer than the compute units: im2col's "
                   "GEMMs fill them";
    else
        plan.path = CONV2D_IMPLICIT,
        plan.why = tensor ? "too few filters for unfolding the images for the tensor cores to "
                            "pay: one fp32 implicit GEMM over the batch"
                   : plan.splits > 1 ? "fp32: one implicit GEMM over the batch, its k split "
                                       "for its blocks to fill the compute units"
                                     : "fp32: one implicit GEMM over the batch";
    return plan;
}

/* The bytes of one split's partial sums: C, filters × batch·pixels floats. */
static kiln_status split_bytes(const kiln_ctx *ctx, const struct conv2d_shape *s,
                               size_t *bytes)
{
    CHECK(size_mul(ctx, s->batch, s->pixels, bytes, "workspace: batch·out_h·out_w"));
    CHECK(size_mul(ctx, *bytes, s->filters, bytes, "workspace: a split's partial sums"));
    return size_mul(ctx, *bytes, sizeof(float), bytes, "workspace: a split's bytes");
}

/* What kiln_conv2d_workspace reports: none for an empty batch; the planned splits'
 * partial sums where the implicit GEMM splits its k, none where it does not and where x
 * is read in place; else the columns of as many images as fit the target (at most the
 * batch), at least one image's. */
static kiln_status workspace_wanted(const kiln_ctx *ctx, const struct conv2d_shape *s,
                                    size_t *bytes)
{
    *bytes = 0;
    if (s->batch == 0)
        return KILN_OK;
    const struct conv2d_plan plan = conv2d_plan(ctx, s);
    if (plan.path == CONV2D_IMPLICIT && plan.splits > 1) {
        CHECK(split_bytes(ctx, s, bytes));
        return size_mul(ctx, *bytes, plan.splits, bytes, "workspace: splits·filters·columns");
    }
    if (plan.path != CONV2D_IM2COL)
        return KILN_OK;
    size_t images = images_within(s, CONV2D_WORKSPACE_TARGET);
    images = images < 1 ? 1 : images < s->batch ? images : s->batch;
    *bytes = row_columns(s, images) * s->column * sizeof(float);
    return KILN_OK;
}

KILN_API kiln_status kiln_conv2d_workspace(kiln_ctx *ctx, const kiln_conv2d_desc *desc,
                                           size_t *bytes)
{
    CHECK(check_ctx(ctx));
    if (bytes == NULL)
        return fail(ctx, KILN_ERR_ARG, "bytes is NULL");
    struct conv2d_shape s;
    size_t wanted;
    CHECK(shape_read(ctx, desc, &s));
    CHECK(workspace_wanted(ctx, &s, &wanted));
    *bytes = wanted;
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

/* The workspace shares memory with no tensor of the convolution. */
static kiln_status check_workspace_apart(const kiln_ctx *ctx, const kiln_buf *x,
                                         const kiln_buf *w, const kiln_buf *bias,
                                         const kiln_buf *y, const kiln_buf *workspace)
{
    CHECK(check_apart(ctx, workspace, "workspace", x, "x"));
    CHECK(check_apart(ctx, workspace, "workspace", w, "w"));
    CHECK(check_apart(ctx, workspace, "workspace", bias, "bias"));
    if (ranges_overlap(workspace, y))
        return fail(ctx, KILN_ERR_ARG, "workspace shares memory with the output y");
    return KILN_OK;
}

/* The workspace holds one image's columns at least and shares memory with no tensor;
 * *images gets how many images it holds, at most the batch. `why` is the plan's reason
 * for unfolding. */
static kiln_status check_workspace(const kiln_ctx *ctx, const struct conv2d_shape *s,
                                   const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                   const kiln_buf *y, const kiln_buf *workspace,
                                   const char *why, size_t *images)
{
    size_t one = s->cols_bytes;
    if (workspace == NULL)
        return fail(ctx, KILN_ERR_ARG, "workspace is NULL but this convolution unfolds its "
                    "images there (%s): it needs %zu bytes (kiln_conv2d_workspace)", why, one);
    if (workspace->size < one)
        return fail(ctx, KILN_ERR_SIZE, "workspace holds %zu bytes but one image's columns "
                    "need %zu (kiln_conv2d_workspace)", workspace->size, one);
    CHECK(check_workspace_apart(ctx, x, w, bias, y, workspace));
    *images = images_within(s, workspace->size);
    *images = *images < s->batch ? *images : s->batch;
    return KILN_OK;
}

/* How many of the planned k splits the implicit GEMM runs: as many as the workspace holds
 * the partial sums of (1, none, without one), a workspace that shares no memory with a
 * tensor. */
static kiln_status implicit_splits_within(const kiln_ctx *ctx, const struct conv2d_shape *s,
                                          const struct conv2d_plan *plan, const kiln_buf *x,
                                          const kiln_buf *w, const kiln_buf *bias,
                                          const kiln_buf *y, const kiln_buf *workspace,
                                          size_t *splits)
{
    size_t bytes;
    *splits = 1;
    if (plan->splits <= 1 || workspace == NULL)
        return KILN_OK;
    CHECK(check_workspace_apart(ctx, x, w, bias, y, workspace));
    CHECK(split_bytes(ctx, s, &bytes));
    *splits = workspace->size / bytes < plan->splits ? workspace->size / bytes : plan->splits;
    *splits = *splits > 1 ? *splits : 1;
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

/* "-DINDEX=int" where every index of a kernel, plus a grid's stride, fits 31 bits. */
static void index_options(bool narrow, char *options, size_t size)
{
    snprintf(options, size, "-DINDEX=%s", narrow ? "int" : "long");
}

/* Unfolds `images` images of x, from image `first` on, into the workspace's first
 * taps × columns floats, zeros beyond their pixels. */
static kiln_status im2col_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                  const kiln_buf *x, size_t first, size_t images,
                                  size_t columns, kiln_buf *workspace)
{
    size_t bound = (size_t)INT_MAX / 2;
    /* Coordinates stay within the padded image: height + 2·pad_h at most. */
    bool narrow = s->taps <= bound / columns && s->image <= bound / images &&
                  s->height <= bound / 2 && s->pad_h <= bound / 4 && s->width <= bound / 2 &&
                  s->pad_w <= bound / 4;
    char options[32];
    index_options(narrow, options, sizeof(options));
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "conv2d", options, "im2col", &kernel));
    struct launch plan = plan_bias_act(&ctx->limits, &kernel->limits, s->taps, columns);
    cl_ulong rows = s->taps, cols = columns, used = images * s->pixels, pixels = s->pixels,
             x_offset = buf_elements_offset(x) + first * s->image, image = s->image,
             col_offset = buf_elements_offset(workspace), height = s->height,
             width = s->width, out_w = s->out_w, kernel_h = s->kernel_h,
             kernel_w = s->kernel_w, stride_h = s->stride_h, stride_w = s->stride_w,
             pad_h = s->pad_h, pad_w = s->pad_w, dilation_h = s->dilation_h,
             dilation_w = s->dilation_w;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows),       KERNEL_ARG(cols),       KERNEL_ARG(used),
        KERNEL_ARG(pixels),     KERNEL_ARG_BUF(x),      KERNEL_ARG(x_offset),
        KERNEL_ARG(image),      KERNEL_ARG_BUF(workspace), KERNEL_ARG(col_offset),
        KERNEL_ARG(height),     KERNEL_ARG(width),      KERNEL_ARG(out_w),
        KERNEL_ARG(kernel_h),   KERNEL_ARG(kernel_w),   KERNEL_ARG(stride_h),
        KERNEL_ARG(stride_w),   KERNEL_ARG(pad_h),      KERNEL_ARG(pad_w),
        KERNEL_ARG(dilation_h), KERNEL_ARG(dilation_w),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* C = act(W · B + bias), W filters × taps, B taps × n with ldb, C with ldc; a batch of
 * `images` such products, B and C strided by b_stride and c_stride. */
static kiln_status gemm_filters(kiln_ctx *ctx, const struct conv2d_shape *s, const kiln_buf *w,
                                const kiln_buf *b, size_t n, size_t ldb, size_t b_stride,
                                const kiln_buf *bias, kiln_buf *c, size_t ldc,
                                size_t c_stride, size_t images, kiln_act act)
{
    const struct gemm_call call = {KILN_NO_TRANS, KILN_NO_TRANS, s->filters, n, s->taps,
                                   1.0f, w, s->taps, b, ldb, 0.0f, c, ldc, bias, act, images,
                                   0, b_stride, c_stride, KILN_DTYPE_F32, KILN_DTYPE_F32,
                                   (kiln_math)atomic_load(&ctx->math)};
    /* The bias and activation are not CLBlast's: conv2d ignores the GEMM back end. */
    return gemm_enqueue(ctx, &call);
}

/* Y_n = act(W · B_n + bias) for `images` images from image `first` on into y, B_n an
 * image's columns with ldb (or, direct, its input), b_stride floats after the one before. */
static kiln_status gemm_images(kiln_ctx *ctx, const struct conv2d_shape *s, const kiln_buf *w,
                               const kiln_buf *b, size_t ldb, size_t b_stride,
                               const kiln_buf *bias, kiln_buf *y, size_t first, size_t images,
                               kiln_act act)
{
    size_t y_image = s->filters * s->pixels;
    kiln_buf y_part = buf_part(y, first * y_image, images * y_image);
    return gemm_filters(ctx, s, w, b, s->pixels, ldb, b_stride, bias, &y_part, s->pixels,
                        y_image, images, act);
}

/* Copies the wide GEMM's output (filters × columns, the images side by side) to y's
 * images from `first` on, NCHW. */
static kiln_status scatter_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                   const kiln_buf *wide, size_t columns, kiln_buf *y,
                                   size_t first, size_t images)
{
    size_t rows = images * s->filters, bound = (size_t)INT_MAX / 2;
    char options[32];
    index_options(rows <= bound / s->pixels && s->filters <= bound / columns, options,
                  sizeof(options));
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "conv2d", options, "scatter", &kernel));
    struct launch plan = plan_bias_act(&ctx->limits, &kernel->limits, rows, s->pixels);
    cl_ulong row_count = rows, pixels = s->pixels, filters = s->filters, ld = columns,
             wide_offset = buf_elements_offset(wide),
             y_offset = buf_elements_offset(y) + first * s->filters * s->pixels;
    const struct kernel_arg args[] = {
        KERNEL_ARG(row_count), KERNEL_ARG(pixels),  KERNEL_ARG(filters),
        KERNEL_ARG(ld),        KERNEL_ARG_BUF(wide), KERNEL_ARG(wide_offset),
        KERNEL_ARG_BUF(y),     KERNEL_ARG(y_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* One chunk of images, unfolded into the workspace: a batched GEMM into y, or one wide
 * GEMM into the workspace after the columns and a scatter to y. */
static kiln_status chunk_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                 const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                 kiln_buf *y, kiln_act act, kiln_buf *workspace,
                                 size_t first, size_t images)
{
    size_t columns = row_columns(s, images);
    CHECK(im2col_enqueue(ctx, s, x, first, images, columns, workspace));
    if (!s->wide)
        return gemm_images(ctx, s, w, workspace, columns, s->pixels, bias, y, first, images,
                           act);
    kiln_buf cols = buf_part(workspace, 0, s->taps * columns),
             wide = buf_part(workspace, s->taps * columns, s->filters * columns);
    CHECK(gemm_filters(ctx, s, w, &cols, columns, columns, 0, bias, &wide, columns, 0, 1,
                       act));
    return scatter_enqueue(ctx, s, &wide, columns, y, first, images);
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
    const struct conv2d_plan plan = conv2d_plan(ctx, &s);
    if (plan.path == CONV2D_IMPLICIT) {
        size_t splits;
        CHECK(implicit_splits_within(ctx, &s, &plan, x, w, bias, y, workspace, &splits));
        return conv2d_implicit_enqueue(ctx, &s, &plan.tile, splits, x, w, bias, y, act,
                                       workspace);
    }
    if (plan.path == CONV2D_DIRECT)
        return gemm_images(ctx, &s, w, x, s.pixels, s.image, bias, y, 0, s.batch, act);

    size_t chunk = 0;
    CHECK(check_workspace(ctx, &s, x, w, bias, y, workspace, plan.why, &chunk));
    for (size_t first = 0; first < s.batch; first += chunk) {
        size_t images = s.batch - first < chunk ? s.batch - first : chunk;
        CHECK(chunk_enqueue(ctx, &s, x, w, bias, y, act, workspace, first, images));
    }
    return KILN_OK;
}
