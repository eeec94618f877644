/* The implicit-GEMM family of kiln_conv2d (cl/conv2d_implicit.cl): a tile forced by
 * $KILN_CONV2D_TILE, a split count forced by $KILN_CONV2D_SPLIT, the kernel's options
 * and its launch, and split-K's sum of the partial products (cl/conv2d_split.cl).
 * Which convolutions it runs, with which tile and how many splits, is ops/conv2d.c's
 * plan. */
#include "../internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

bool conv2d_implicit_tile_forced(struct gemm_config *tile)
{
    const char *value = getenv("KILN_CONV2D_TILE");
    if (value == NULL || *value == '\0')
        return false;
    struct gemm_config read;
    char end;
    if (sscanf(value, "%ux%ux%u:%ux%u%c", &read.tile_m, &read.tile_n, &read.tile_k,
               &read.wpt_m, &read.wpt_n, &end) != 5) {
        fprintf(stderr, "kiln: ignoring KILN_CONV2D_TILE=%s: expected "
                        "TILE_MxTILE_NxTILE_K:WPT_MxWPT_N, as 128x128x8:8x8\n", value);
        return false;
    }
    *tile = read;
    return true;
}

size_t conv2d_implicit_split_forced(void)
{
    const char *value = getenv("KILN_CONV2D_SPLIT");
    if (value == NULL || *value == '\0')
        return 0;
    char *end;
    errno = 0;
    unsigned long long read = strtoull(value, &end, 10);
    if (*value == '-' || *end != '\0' || errno != 0 || read < 1 || read > SIZE_MAX) {
        fprintf(stderr, "kiln: ignoring KILN_CONV2D_SPLIT=%s: expected a count of k "
                        "ranges, 1 or more\n", value);
        return 0;
    }
    return (size_t)read;
}

/* Every offset into x, w and y (the workspace's `splits` planes of C, split), every input
 * coordinate and the tiles' overhang fit 31 bits with room to add (the sizes are
 * already known to fit size_t). */
static bool implicit_narrow(const struct conv2d_shape *s, size_t splits)
{
    const double bound = (double)INT_MAX / 8;
    double reach_h = (double)s->height + 3.0 * s->pad_h + (double)s->dilation_h * s->kernel_h,
           reach_w = (double)s->width + 3.0 * s->pad_w + (double)s->dilation_w * s->kernel_w,
           columns = (double)s->batch * s->pixels + GEMM_PARAM_MAX;
    return (double)s->batch * s->image <= bound && (double)s->filters * s->taps <= bound &&
           columns * s->filters * (double)splits <= bound && reach_h * reach_w <= bound &&
           (double)s->taps + GEMM_PARAM_MAX <= bound;
}

/* The kernel of the tile: split, one that stores C's raw partial sums (no activation). */
static kiln_status implicit_kernel(kiln_ctx *ctx, const struct conv2d_shape *s,
                                   const struct gemm_config *tile, kiln_act act, size_t splits,
                                   struct kernel **kernel)
{
    char options[208];
    const bool narrow = implicit_narrow(s, splits), split = splits > 1;
    snprintf(options, sizeof(options),
             "-DTILE_M=%u -DTILE_N=%u -DTILE_K=%u -DWPT_M=%u -DWPT_N=%u -DKERNEL_H=%zu "
             "-DKERNEL_W=%zu -DACT=%d -DINDEX=%s -DUINDEX=%s%s",
             tile->tile_m, tile->tile_n, tile->tile_k, tile->wpt_m, tile->wpt_n, s->kernel_h,
             s->kernel_w, split ? 0 : (int)act, narrow ? "int" : "long",
             narrow ? "uint" : "ulong", split ? " -DSPLIT=1" : "");
    return kernel_get(ctx, "conv2d_implicit", options, "conv2d_implicit", kernel);
}

/* The kernel for the tile, or for the next smaller tile of the table while the built
 * kernel allows fewer work-items than its tile has (registers); *tile gets the one used. */
static kiln_status implicit_kernel_fitting(kiln_ctx *ctx, const struct conv2d_shape *s,
                                           kiln_act act, size_t splits,
                                           struct gemm_config *tile, struct kernel **kernel)
{
    for (;;) {
        CHECK(implicit_kernel(ctx, s, tile, act, splits, kernel));
        size_t threads = gemm_config_threads(tile);
        if ((*kernel)->limits.work_group_size >= threads)
            return KILN_OK;
        const struct gemm_config *smaller = plan_conv2d_implicit_config(
            &ctx->limits, threads - 1, s->filters, s->batch * s->pixels);
        if (smaller == NULL)
            return fail(ctx, KILN_ERR_CL, "the implicit convolution kernel of tile %ux%ux%u "
                        "allows %zu work-items, fewer than its %zu, and no smaller tile fits",
                        tile->tile_m, tile->tile_n, tile->tile_k,
                        (*kernel)->limits.work_group_size, threads);
        *tile = *smaller;
    }
}

/* y = act(the sum of the workspace's `splits` planes of C + bias) in NCHW order. */
static kiln_status split_sum_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                     const kiln_buf *partial, size_t splits,
                                     const kiln_buf *bias, kiln_buf *y, kiln_act act)
{
    size_t rows = s->batch * s->filters, columns = s->batch * s->pixels,
           bound = (size_t)INT_MAX / 2;
    bool narrow = rows <= bound / s->pixels && splits * s->filters <= bound / columns;
    char options[48];
    snprintf(options, sizeof(options), "-DACT=%d -DINDEX=%s", (int)act,
             narrow ? "int" : "long");
    struct kernel *kernel;
    CHECK(kernel_get(ctx, "conv2d_split", options, "conv2d_split_sum", &kernel));
    struct launch plan = plan_bias_act(&ctx->limits, &kernel->limits, rows, s->pixels);
    const kiln_buf *shift = bias != NULL ? bias : y; /* never read without a bias */
    cl_int has_bias = bias != NULL;
    cl_ulong row_count = rows, pixels = s->pixels, filters = s->filters,
             column_count = columns, split_count = splits,
             partial_offset = buf_elements_offset(partial),
             bias_offset = buf_elements_offset(shift), y_offset = buf_elements_offset(y);
    const struct kernel_arg args[] = {
        KERNEL_ARG(row_count),      KERNEL_ARG(pixels),       KERNEL_ARG(filters),
        KERNEL_ARG(column_count),   KERNEL_ARG(split_count),  KERNEL_ARG_BUF(partial),
        KERNEL_ARG(partial_offset), KERNEL_ARG_BUF(shift),    KERNEL_ARG(bias_offset),
        KERNEL_ARG(has_bias),       KERNEL_ARG_BUF(y),        KERNEL_ARG(y_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

kiln_status conv2d_implicit_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                    const struct gemm_config *planned, size_t splits,
                                    const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                    kiln_buf *y, kiln_act act, kiln_buf *workspace)
{
    struct gemm_config tile = *planned;
    struct kernel *kernel;
    size_t split_taps = s->taps;
    if (splits > 1)
        splits = plan_conv2d_split(s->taps, tile.tile_k, splits, &split_taps);
    const bool split = splits > 1;
    /* A smaller tile (registers) may slice k otherwise: the ranges are cut again from its
     * slices, no more than the workspace holds (one even: the split kernel and the sum
     * run all the same). */
    CHECK(implicit_kernel_fitting(ctx, s, act, splits, &tile, &kernel));
    if (split)
        splits = plan_conv2d_split(s->taps, tile.tile_k, splits, &split_taps);
    struct launch plan = plan_gemm(&tile, s->filters, s->batch * s->pixels, splits);
    /* Without a bias (or split, where the sum adds it) the kernel never reads it; y
     * stands in as a valid cl_mem. Split, C goes to the workspace. */
    const kiln_buf *shift = bias != NULL ? bias : y;
    kiln_buf *c = split ? workspace : y;
    cl_int has_bias = bias != NULL && !split;
    cl_ulong filters = s->filters, columns = s->batch * s->pixels, taps = s->taps,
             x_offset = buf_elements_offset(x), image = s->image,
             w_offset = buf_elements_offset(w), bias_offset = buf_elements_offset(shift),
             c_offset = buf_elements_offset(c), height = s->height, width = s->width,
             out_w = s->out_w, pixels = s->pixels, stride_h = s->stride_h,
             stride_w = s->stride_w, pad_h = s->pad_h, pad_w = s->pad_w,
             dilation_h = s->dilation_h, dilation_w = s->dilation_w, range = split_taps;
    const struct kernel_arg args[] = {
        KERNEL_ARG(filters),    KERNEL_ARG(columns),     KERNEL_ARG(taps),
        KERNEL_ARG_BUF(x),      KERNEL_ARG(x_offset),    KERNEL_ARG(image),
        KERNEL_ARG_BUF(w),      KERNEL_ARG(w_offset),    KERNEL_ARG_BUF(shift),
        KERNEL_ARG(bias_offset), KERNEL_ARG(has_bias),   KERNEL_ARG_BUF(c),
        KERNEL_ARG(c_offset),   KERNEL_ARG(height),      KERNEL_ARG(width),
        KERNEL_ARG(out_w),      KERNEL_ARG(pixels),      KERNEL_ARG(stride_h),
        KERNEL_ARG(stride_w),   KERNEL_ARG(pad_h),       KERNEL_ARG(pad_w),
        KERNEL_ARG(dilation_h), KERNEL_ARG(dilation_w),  KERNEL_ARG(range), /* split only */
    };
    const size_t count = sizeof(args) / sizeof(args[0]) - !split;
    CHECK(kernel_launch(ctx, kernel, &plan, args, count));
    return split ? split_sum_enqueue(ctx, s, workspace, splits, bias, y, act) : KILN_OK;
}
