/* The implicit-GEMM family of kiln_conv2d (cl/conv2d_implicit.cl): a tile forced by
 * $KILN_CONV2D_TILE, the kernel's options and its launch. Which convolutions it runs,
 * and with which tile, is ops/conv2d.c's plan. */
#include "../internal.h"

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

/* Every offset into x, w and y, every input coordinate and the tiles' overhang fit 31
 * bits with room to add (the sizes are already known to fit size_t). */
static bool implicit_narrow(const struct conv2d_shape *s)
{
    const double bound = (double)INT_MAX / 8;
    double reach_h = (double)s->height + 3.0 * s->pad_h + (double)s->dilation_h * s->kernel_h,
           reach_w = (double)s->width + 3.0 * s->pad_w + (double)s->dilation_w * s->kernel_w,
           columns = (double)s->batch * s->pixels + GEMM_PARAM_MAX;
    return (double)s->batch * s->image <= bound && (double)s->filters * s->taps <= bound &&
           columns * s->filters <= bound && reach_h * reach_w <= bound &&
           (double)s->taps + GEMM_PARAM_MAX <= bound;
}

static kiln_status implicit_kernel(kiln_ctx *ctx, const struct conv2d_shape *s,
                                   const struct gemm_config *tile, kiln_act act,
                                   struct kernel **kernel)
{
    char options[192];
    const bool narrow = implicit_narrow(s);
    snprintf(options, sizeof(options),
             "-DTILE_M=%u -DTILE_N=%u -DTILE_K=%u -DWPT_M=%u -DWPT_N=%u -DKERNEL_H=%zu "
             "-DKERNEL_W=%zu -DACT=%d -DINDEX=%s -DUINDEX=%s",
             tile->tile_m, tile->tile_n, tile->tile_k, tile->wpt_m, tile->wpt_n, s->kernel_h,
             s->kernel_w, (int)act, narrow ? "int" : "long", narrow ? "uint" : "ulong");
    return kernel_get(ctx, "conv2d_implicit", options, "conv2d_implicit", kernel);
}

/* The kernel for the tile, or for the next smaller tile of the table while the built
 * kernel allows fewer work-items than its tile has (registers); *tile gets the one used. */
static kiln_status implicit_kernel_fitting(kiln_ctx *ctx, const struct conv2d_shape *s,
                                           kiln_act act, struct gemm_config *tile,
                                           struct kernel **kernel)
{
    for (;;) {
        CHECK(implicit_kernel(ctx, s, tile, act, kernel));
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

kiln_status conv2d_implicit_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                    const struct gemm_config *planned, const kiln_buf *x,
                                    const kiln_buf *w, const kiln_buf *bias, kiln_buf *y,
                                    kiln_act act)
{
    struct gemm_config tile = *planned;
    struct kernel *kernel;
    CHECK(implicit_kernel_fitting(ctx, s, act, &tile, &kernel));
    struct launch plan = plan_gemm(&tile, s->filters, s->batch * s->pixels, 1);
    /* Without a bias the kernel never reads it; y stands in as a valid cl_mem. */
    const kiln_buf *shift = bias != NULL ? bias : y;
    cl_int has_bias = bias != NULL;
    cl_ulong filters = s->filters, columns = s->batch * s->pixels, taps = s->taps,
             x_offset = buf_elements_offset(x), image = s->image,
             w_offset = buf_elements_offset(w), bias_offset = buf_elements_offset(shift),
             y_offset = buf_elements_offset(y), height = s->height, width = s->width,
             out_w = s->out_w, pixels = s->pixels, stride_h = s->stride_h,
             stride_w = s->stride_w, pad_h = s->pad_h, pad_w = s->pad_w,
             dilation_h = s->dilation_h, dilation_w = s->dilation_w;
    const struct kernel_arg args[] = {
        KERNEL_ARG(filters),    KERNEL_ARG(columns),     KERNEL_ARG(taps),
        KERNEL_ARG_BUF(x),      KERNEL_ARG(x_offset),    KERNEL_ARG(image),
        KERNEL_ARG_BUF(w),      KERNEL_ARG(w_offset),    KERNEL_ARG_BUF(shift),
        KERNEL_ARG(bias_offset), KERNEL_ARG(has_bias),   KERNEL_ARG_BUF(y),
        KERNEL_ARG(y_offset),   KERNEL_ARG(height),      KERNEL_ARG(width),
        KERNEL_ARG(out_w),      KERNEL_ARG(pixels),      KERNEL_ARG(stride_h),
        KERNEL_ARG(stride_w),   KERNEL_ARG(pad_h),       KERNEL_ARG(pad_w),
        KERNEL_ARG(dilation_h), KERNEL_ARG(dilation_w),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
