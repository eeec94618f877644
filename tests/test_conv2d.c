/* kiln_conv2d and kiln_conv2d_workspace: a table of kernel, stride, padding and dilation
 * cases against a double reference through both paths ($KILN_CONV2D forces implicit GEMM
 * or im2col), the implicit kernel's tile edges and every tile of its tables, the
 * workspace's chunks, the context's math level, and every bad argument named. Includes
 * lib/internal.h on purpose, for the implicit kernel's tile tables. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */

#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const paths[] = {"implicit", "im2col"};
#define PATH_COUNT (sizeof paths / sizeof paths[0])

/* Makes kiln_conv2d and kiln_conv2d_workspace take `path` where it applies. */
static void use_path(const char *path)
{
    setenv("KILN_CONV2D", path, 1);
}

static const kiln_act activations[] = {KILN_ACT_NONE, KILN_ACT_SIGMOID, KILN_ACT_RELU,
                                       KILN_ACT_TANH};
#define ACT_COUNT (sizeof activations / sizeof activations[0])

/* One convolution: its descriptor's fields (stride and dilation 0 mean 1), the bias and
 * activation, and the floats before each tensor in its buffer. */
typedef struct {
    size_t batch, channels, height, width, filters, kernel_h, kernel_w;
    size_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    bool bias;
    kiln_act act;
    size_t offset;
} conv_case;

static kiln_conv2d_desc desc_of(const conv_case *c)
{
    return (kiln_conv2d_desc){sizeof(kiln_conv2d_desc), c->batch, c->channels, c->height,
                              c->width, c->filters, c->kernel_h, c->kernel_w, c->stride_h,
                              c->stride_w, c->pad_h, c->pad_w, c->dilation_h, c->dilation_w};
}

static size_t or_one(size_t v)
{
    return v > 0 ? v : 1;
}

/* (in + 2·pad - dilation·(kernel - 1) - 1) / stride + 1 */
static size_t out_length(size_t in, size_t pad, size_t kernel, size_t stride, size_t dilation)
{
    return (in + 2 * pad - or_one(dilation) * (kernel - 1) - 1) / or_one(stride) + 1;
}

static size_t out_h(const conv_case *c)
{
    return out_length(c->height, c->pad_h, c->kernel_h, c->stride_h, c->dilation_h);
}

static size_t out_w(const conv_case *c)
{
    return out_length(c->width, c->pad_w, c->kernel_w, c->stride_w, c->dilation_w);
}

/* The input float a tap of an output pixel reads, 0 in the padding. */
static double input_at(const conv_case *c, const float *x, size_t n, size_t ch, size_t oy,
                       size_t ox, size_t r, size_t s)
{
    long iy = (long)(oy * or_one(c->stride_h) + r * or_one(c->dilation_h)) - (long)c->pad_h;
    long ix = (long)(ox * or_one(c->stride_w) + s * or_one(c->dilation_w)) - (long)c->pad_w;
    if (iy < 0 || ix < 0 || iy >= (long)c->height || ix >= (long)c->width)
        return 0;
    return x[((n * c->channels + ch) * c->height + (size_t)iy) * c->width + (size_t)ix];
}

/* y as (batch·filters)×(out_h·out_w), in double, with each element's Σ|w·x| + |bias|. */
static reference reference_conv2d(const conv_case *c, const float *x, const float *w,
                                  const float *bias, kiln_math math)
{
    size_t oh = out_h(c), ow = out_w(c), taps = c->channels * c->kernel_h * c->kernel_w;
    bool smooth = c->act == KILN_ACT_SIGMOID || c->act == KILN_ACT_TANH;
    reference ref = reference_blank(c->batch * c->filters, oh * ow, taps, smooth ? 1e-6 : 0);
    reference_allow(&ref, KILN_DTYPE_F32, math, KILN_DTYPE_F32);
    for (size_t n = 0; n < c->batch; n++)
        for (size_t f = 0; f < c->filters; f++)
            for (size_t p = 0; p < oh * ow; p++) {
                double sum = bias != NULL ? bias[f] : 0, scale = fabs(sum);
                for (size_t t = 0; t < taps; t++) {
                    size_t ch = t / (c->kernel_h * c->kernel_w), r = t / c->kernel_w % c->kernel_h;
                    double product = w[f * taps + t] *
                                     input_at(c, x, n, ch, p / ow, p % ow, r, t % c->kernel_w);
                    sum += product;
                    scale += fabs(product);
                }
                size_t at = (n * c->filters + f) * oh * ow + p;
                ref.value[at] = activation_exact(c->act, sum);
                ref.scale[at] = scale;
            }
    return ref;
}

/* Runs c with `workspace` (may be NULL) and checks y against the reference, its guard
 * zones and the inputs intact. */
static void check_conv2d_in(kiln_ctx *ctx, conv_case c, kiln_buf *workspace)
{
    size_t mark = scratch_mark();
    kiln_conv2d_desc desc = desc_of(&c);
    size_t oh = out_h(&c), ow = out_w(&c), taps = c.channels * c.kernel_h * c.kernel_w;
    operand x = vector_make(ctx, c.batch * c.channels * c.height * c.width, c.offset, 2,
                            FILL_RANDOM, (uint32_t)(c.height * 7 + c.width));
    operand w = vector_make(ctx, c.filters * taps, c.offset + 1, 2, FILL_RANDOM,
                            (uint32_t)(taps + c.filters));
    operand bias = vector_make(ctx, c.filters, c.offset + 2, 2, FILL_RANDOM, 3);
    operand y = output_make(ctx, c.batch * c.filters, oh * ow, 0, c.offset + 3, FILL_NAN, 0);
    assert_ok(ctx, kiln_conv2d(ctx, &desc, x.view, w.view, c.bias ? bias.view : NULL, y.view,
                               c.act, workspace));
    reference r = reference_conv2d(&c, operand_data(&x), operand_data(&w),
                                   c.bias ? operand_data(&bias) : NULL, kiln_ctx_math(ctx));
    assert_operand_near(&y, &r);
    assert_operand_unchanged(&x);
    assert_operand_unchanged(&w);
    scratch_release_to(mark);
}

/* Runs c with a workspace of `images` images' columns (0: what kiln_conv2d_workspace
 * reports) and checks it as check_conv2d_in. */
static void check_conv2d_with(kiln_ctx *ctx, conv_case c, size_t images)
{
    size_t mark = scratch_mark();
    /* a batch of `images` gets a workspace of that many images' columns */
    kiln_conv2d_desc chunk = desc_of(&c);
    chunk.batch = images > 0 ? images : c.batch;
    size_t bytes;
    assert_ok(ctx, kiln_conv2d_workspace(ctx, &chunk, &bytes));
    check_conv2d_in(ctx, c, bytes > 0 ? scratch_buffer(ctx, bytes) : NULL);
    scratch_release_to(mark);
}

static void check_conv2d(kiln_ctx *ctx, conv_case c)
{
    check_conv2d_with(ctx, c, 0);
}

/* batch, channels, height, width, filters, kernel_h, kernel_w, stride_h, stride_w, pad_h,
 * pad_w, dilation_h, dilation_w, bias, act, offset. Single images take two activations
 * only, as each activation is a GEMM build of its own (seconds on PoCL, cold); the
 * batches take all four, and so does the test of every activation. */
static const conv_case cases[] = {
    /* 1×1: read in place (no workspace), then unfolded for a stride or padding */
    {3, 17, 5, 7, 4, 1, 1, 0, 0, 0, 0, 0, 0, true, KILN_ACT_RELU, 0},
    {1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, false, KILN_ACT_NONE, 1},
    {2, 3, 9, 8, 5, 1, 1, 2, 2, 0, 0, 0, 0, true, KILN_ACT_NONE, 0},
    {1, 3, 6, 5, 2, 1, 1, 0, 0, 1, 1, 0, 0, false, KILN_ACT_RELU, 2},
    /* 3×3: "same", valid, strided */
    {3, 3, 8, 8, 8, 3, 3, 1, 1, 1, 1, 1, 1, true, KILN_ACT_RELU, 0},
    {1, 17, 9, 11, 7, 3, 3, 0, 0, 0, 0, 0, 0, false, KILN_ACT_NONE, 3},
    {3, 3, 13, 10, 6, 3, 3, 2, 2, 1, 1, 0, 0, true, KILN_ACT_TANH, 0},
    /* 5×5: "same", strided on a non-square image */
    {1, 1, 12, 9, 3, 5, 5, 0, 0, 2, 2, 0, 0, true, KILN_ACT_NONE, 0},
    {2, 3, 15, 11, 4, 5, 5, 2, 2, 0, 0, 0, 0, false, KILN_ACT_RELU, 1},
    /* 1×7 and 7×1 with their "same" padding */
    {1, 3, 5, 16, 4, 1, 7, 0, 0, 0, 3, 0, 0, true, KILN_ACT_RELU, 0},
    {2, 1, 16, 5, 2, 7, 1, 0, 0, 3, 0, 0, 0, false, KILN_ACT_NONE, 0},
    /* dilation 2: "same" (pad 2), valid, and mixed with strides and uneven padding */
    {3, 3, 10, 9, 5, 3, 3, 0, 0, 2, 2, 2, 2, true, KILN_ACT_RELU, 0},
    {1, 17, 11, 13, 3, 3, 3, 1, 1, 0, 0, 2, 2, true, KILN_ACT_RELU, 1},
    {1, 3, 13, 17, 4, 3, 3, 2, 1, 1, 2, 2, 3, false, KILN_ACT_NONE, 0},
    /* a kernel wider than the image, a stride beyond the kernel, a 1×1 output */
    {1, 1, 3, 3, 2, 5, 5, 0, 0, 2, 2, 0, 0, true, KILN_ACT_NONE, 0},
    {1, 3, 10, 10, 2, 2, 2, 3, 3, 0, 0, 0, 0, true, KILN_ACT_RELU, 0},
    {2, 3, 5, 5, 4, 5, 5, 0, 0, 0, 0, 0, 0, true, KILN_ACT_SIGMOID, 0},
    /* one filter of one output pixel (the GEMV shapes), one filter of many */
    {3, 5, 4, 4, 1, 4, 4, 0, 0, 0, 0, 0, 0, true, KILN_ACT_RELU, 0},
    {2, 3, 7, 9, 1, 3, 3, 0, 0, 1, 1, 0, 0, true, KILN_ACT_NONE, 0},
    /* a larger layer: k = 153 */
    {3, 17, 20, 19, 33, 3, 3, 1, 1, 1, 1, 1, 1, true, KILN_ACT_RELU, 0},
};
#define CASE_COUNT (sizeof cases / sizeof cases[0])

static void check_table(kiln_ctx *ctx, const conv_case *table, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        print_message("case %zu\n", i);
        check_conv2d(ctx, table[i]);
    }
}

static void conv2d_matches_the_reference_over_the_table_through_implicit_gemm(void **state)
{
    use_path("implicit");
    check_table(*state, cases, CASE_COUNT);
}

static void conv2d_matches_the_reference_over_the_table_through_im2col(void **state)
{
    use_path("im2col");
    check_table(*state, cases, CASE_COUNT);
}

/* Each activation, with and without a bias, on cases[picks[0..count)]. */
static void check_every_activation(kiln_ctx *ctx, const size_t *picks, size_t count)
{
    for (size_t p = 0; p < count; p++)
        for (size_t a = 0; a < ACT_COUNT; a++)
            for (int with_bias = 0; with_bias < 2; with_bias++) {
                conv_case c = cases[picks[p]];
                c.act = activations[a], c.bias = with_bias;
                check_conv2d(ctx, c);
            }
}

static void conv2d_applies_every_activation_with_and_without_bias(void **state)
{
    const size_t picks[] = {0, 11}; /* direct 1×1, dilated 3×3 */
    for (size_t path = 0; path < PATH_COUNT; path++) {
        use_path(paths[path]);
        check_every_activation(*state, picks, sizeof picks / sizeof picks[0]);
    }
}

/* Shapes at the implicit kernel's tile edges: output pixels of the batch not a multiple
 * of any tile's columns, taps of 1 and below one slice, 3 channels of 7×7, 1, 7 and 17
 * filters, and more filters and pixels than one block holds. */
static const conv_case edge_cases[] = {
    {2, 1, 9, 13, 7, 1, 1, 0, 0, 0, 0, 0, 0, true, KILN_ACT_NONE, 0},    /* k = 1 */
    {3, 3, 14, 13, 17, 7, 7, 2, 2, 3, 3, 0, 0, true, KILN_ACT_RELU, 1},  /* k = 147 */
    {2, 3, 11, 12, 1, 7, 7, 1, 1, 3, 3, 0, 0, false, KILN_ACT_NONE, 0},  /* 1 filter */
    {5, 2, 7, 5, 7, 1, 1, 0, 0, 0, 0, 0, 0, true, KILN_ACT_RELU, 0},     /* 175 columns */
    {2, 5, 12, 12, 70, 3, 3, 0, 0, 1, 1, 0, 0, true, KILN_ACT_RELU, 2},  /* 2 row blocks */
    {3, 16, 13, 11, 129, 3, 3, 0, 0, 1, 1, 0, 0, true, KILN_ACT_NONE, 0}, /* k = 144 */
};
#define EDGE_COUNT (sizeof edge_cases / sizeof edge_cases[0])

static void conv2d_implicit_gemm_handles_tile_edges(void **state)
{
    use_path("implicit");
    check_table(*state, edge_cases, EDGE_COUNT);
}

/* Every tile of every family's table, forced through $KILN_CONV2D_TILE, on an edge case
 * of more filters and pixels than a block and k not a whole number of slices (each tile
 * is a PoCL build of its own: the GPU rows, then the AMD rows they lack). */
static void conv2d_implicit_gemm_runs_every_tile_of_its_tables(void **state)
{
    use_path("implicit");
    const struct device_limits families[] = {{.family = FAMILY_GPU}, {.family = FAMILY_AMD}};
    char done[16][64];
    size_t count = 0;
    for (size_t f = 0; f < sizeof families / sizeof families[0]; f++) {
        struct gemm_table table = conv2d_implicit_table(&families[f]);
        for (size_t i = 0; i < table.count; i++) {
            const struct gemm_config *t = &table.configs[i];
            char tile[64];
            snprintf(tile, sizeof tile, "%ux%ux%u:%ux%u", t->tile_m, t->tile_n, t->tile_k,
                     t->wpt_m, t->wpt_n);
            bool seen = false;
            for (size_t d = 0; d < count; d++)
                seen = seen || strcmp(done[d], tile) == 0;
            if (seen || count == sizeof done / sizeof done[0])
                continue;
            snprintf(done[count++], sizeof done[0], "%s", tile);
            print_message("%s tile %s\n", table.family, tile);
            setenv("KILN_CONV2D_TILE", tile, 1);
            check_conv2d(*state, edge_cases[5]);
        }
    }
    unsetenv("KILN_CONV2D_TILE");
}

/* What kiln_conv2d_workspace reports for desc. */
static size_t workspace_for(kiln_ctx *ctx, const kiln_conv2d_desc *desc)
{
    size_t bytes = 1;
    assert_ok(ctx, kiln_conv2d_workspace(ctx, desc, &bytes));
    return bytes;
}

static void conv2d_implicit_gemm_needs_no_workspace(void **state)
{
    kiln_ctx *ctx = *state;
    use_path("implicit");
    kiln_conv2d_desc desc = desc_of(&cases[4]);
    assert_int_equal(workspace_for(ctx, &desc), 0);
    check_conv2d(ctx, cases[4]); /* with the NULL workspace that 0 asks for */
}

static void conv2d_runs_a_batch_in_chunks_of_the_workspace_it_gets(void **state)
{
    use_path("im2col");
    conv_case c = cases[6]; /* batch 3 of 7×5 pixels: one GEMM over a chunk's columns */
    c.act = KILN_ACT_RELU;  /* single-image chunks: a GEMM build the table made */
    check_conv2d_with(*state, c, 1);
    check_conv2d_with(*state, c, 2);
    c.batch = 5;
    check_conv2d_with(*state, c, 2);
    check_conv2d_with(*state, cases[4], 2); /* 8×8 pixels: a batched GEMM per chunk */
}

static void conv2d_follows_the_contexts_math_level(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    const kiln_math maths[] = {KILN_MATH_TF32X3, KILN_MATH_TF32, KILN_MATH_FAST};
    for (size_t path = 0; path < PATH_COUNT; path++) {
        use_path(paths[path]);
        for (size_t level = 0; level < sizeof maths / sizeof maths[0]; level++) {
            assert_ok(ctx, kiln_ctx_set_math(ctx, maths[level]));
            check_conv2d(ctx, cases[CASE_COUNT - 1]);
        }
    }
}

static void conv2d_workspace_is_none_in_place_and_bounded_otherwise(void **state)
{
    kiln_ctx *ctx = *state;
    use_path("im2col");
    kiln_conv2d_desc desc = desc_of(&cases[0]);
    assert_int_equal(workspace_for(ctx, &desc), 0);
    desc = desc_of(&cases[4]); /* 3 images of 27 taps × 64 pixels */
    assert_int_equal(workspace_for(ctx, &desc), 3 * 27 * 64 * sizeof(float));
    desc.batch = 0;
    assert_int_equal(workspace_for(ctx, &desc), 0);
    /* 256 images of 576 taps × 56·56 pixels: a few images' columns, not the batch's */
    desc = (kiln_conv2d_desc){sizeof desc, 256, 64, 56, 56, 64, 3, 3, 1, 1, 1, 1, 1, 1};
    const size_t image = 576 * 56 * 56 * sizeof(float), bytes = workspace_for(ctx, &desc);
    assert_true(bytes >= image && bytes <= ((size_t)64 << 20) && bytes % image == 0);
    /* one image beyond the target still gets its own columns */
    desc = (kiln_conv2d_desc){sizeof desc, 4, 1024, 64, 64, 1, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(workspace_for(ctx, &desc), (size_t)9 * 1024 * 64 * 64 * sizeof(float));
    /* 2 images of 7×7 pixels side by side, 98 columns padded to 128, with 27 taps and
     * the 8 filters' outputs in each */
    desc = (kiln_conv2d_desc){sizeof desc, 2, 3, 7, 7, 8, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(workspace_for(ctx, &desc), (27 + 8) * 128 * sizeof(float));
}

/* Unforced, the plan (seen through the workspace it asks for) unfolds on CPUs and on
 * tensor-core GPUs below STRICT math where the filters fill their tiles, and is one
 * implicit GEMM on other GPUs (whose
 * compute units its blocks fill: the next test). The device facts are set on a context
 * of its own; nothing runs. */
static void conv2d_unfolds_on_cpus_and_for_tensor_cores(void **state)
{
    (void)state;
    unsetenv("KILN_CONV2D");
    kiln_ctx *ctx = scratch_context(NULL);
    const kiln_conv2d_desc desc = desc_of(&cases[4]);
    const size_t unfolded = 3 * 27 * 64 * sizeof(float);
    ctx->limits.family = FAMILY_CPU;
    assert_int_equal(workspace_for(ctx, &desc), unfolded);
    ctx->limits.family = FAMILY_GPU;
    ctx->limits.nv_compute_capability = 90;
    ctx->limits.compute_units = 1; /* the blocks fill it, whatever this device has */
    assert_int_equal(workspace_for(ctx, &desc), 0);
    assert_ok(ctx, kiln_ctx_set_math(ctx, KILN_MATH_TF32));
    assert_int_equal(workspace_for(ctx, &desc), 0); /* 8 filters: too few to pay */
    kiln_conv2d_desc wide = desc;
    wide.filters = 128;
    assert_true(workspace_for(ctx, &wide) >= unfolded);
    ctx->limits.nv_compute_capability = 0; /* no tensor cores: fp32 all the same */
    assert_int_equal(workspace_for(ctx, &wide), 0);
}

/* On a GPU at STRICT math the plan is one implicit GEMM while its blocks give every
 * compute unit one, and unfolds below that: kiln_conv2d_workspace asks for bytes exactly
 * when kiln_conv2d refuses to run without them, and with what it asks for each plan
 * matches the reference. The GPU's facts are set on a PoCL context of its own. */
static void conv2d_unfolds_on_gpus_whose_compute_units_outnumber_the_implicit_blocks(
    void **state)
{
    (void)state;
    unsetenv("KILN_CONV2D");
    kiln_ctx *ctx = scratch_context(NULL);
    ctx->limits.family = FAMILY_GPU;
    const conv_case c = cases[4]; /* 8 filters by 3 images of 8×8 pixels */
    const kiln_conv2d_desc desc = desc_of(&c);
    const size_t pixels = out_h(&c) * out_w(&c), taps = c.channels * c.kernel_h * c.kernel_w;
    const size_t filters = c.filters, columns = c.batch * pixels;
    const size_t image = c.channels * c.height * c.width;
    const struct gemm_config *tile =
        plan_conv2d_implicit_config(&ctx->limits, ctx->limits.max_work_group_size, filters,
                                    columns);
    assert_non_null(tile);
    /* the least padded tile, whatever the compute units: every other wastes too much */
    const size_t blocks = ((filters + tile->tile_m - 1) / tile->tile_m) *
                          ((columns + tile->tile_n - 1) / tile->tile_n);
    const size_t units[] = {1, blocks, blocks + 1, 132};
    for (size_t u = 0; u < sizeof units / sizeof units[0]; u++) {
        ctx->limits.compute_units = units[u];
        print_message("%zu compute units, %zu blocks\n", units[u], blocks);
        size_t bytes = workspace_for(ctx, &desc);
        assert_int_equal(bytes > 0, units[u] > blocks);
        size_t mark = scratch_mark();
        kiln_buf *x = scratch_buffer(ctx, c.batch * image * sizeof(float));
        kiln_buf *w = scratch_buffer(ctx, filters * taps * sizeof(float));
        kiln_buf *y = scratch_buffer(ctx, columns * filters * sizeof(float));
        kiln_status status = kiln_conv2d(ctx, &desc, x, w, NULL, y, KILN_ACT_NONE, NULL);
        if (bytes > 0) {
            assert_arg_error(ctx, status);
            assert_contains(kiln_last_error(ctx), "fewer than the compute units");
        } else {
            assert_ok(ctx, status);
        }
        assert_ok(ctx, kiln_finish(ctx));
        scratch_release_to(mark);
        check_conv2d(ctx, c);
    }
}

static void conv2d_of_no_images_writes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    operand t = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 5);
    operand y = vector_make(ctx, 64, 0, 0, FILL_CANARY, 0);
    kiln_conv2d_desc desc = {sizeof desc, 0, 2, 3, 3, 2, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_ok(ctx, kiln_conv2d(ctx, &desc, t.view, t.view, NULL, y.view, KILN_ACT_RELU, NULL));
    assert_operand_unchanged(&y);
}

/* Fails unless conv2d with desc refuses with status and a message holding `words`. */
static void assert_refused(kiln_ctx *ctx, const kiln_conv2d_desc *desc, const kiln_buf *x,
                           const kiln_buf *w, const kiln_buf *bias, kiln_buf *y,
                           kiln_buf *workspace, kiln_status status, const char *words)
{
    assert_status(ctx, kiln_conv2d(ctx, desc, x, w, bias, y, KILN_ACT_NONE, workspace), status);
    assert_contains(kiln_last_error(ctx), words);
}

static void check_descriptor_refusals(kiln_ctx *ctx)
{
    operand t = vector_make(ctx, 4096, 0, 0, FILL_RANDOM, 6);
    operand y = vector_make(ctx, 4096, 0, 0, FILL_CANARY, 0);
    kiln_buf *ws = scratch_buffer(ctx, 4096 * sizeof(float));
    const kiln_conv2d_desc good = {sizeof good, 1, 2, 5, 5, 2, 3, 3, 1, 1, 0, 0, 1, 1};
    kiln_conv2d_desc d = good;
    const kiln_status arg = KILN_ERR_ARG;
    assert_refused(ctx, NULL, t.view, t.view, NULL, y.view, ws, arg, "desc is NULL");
    d.size = sizeof d - 1;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, ws, arg,
                   "set it to sizeof(kiln_conv2d_desc)");
    d.size = sizeof d + 8;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, ws, arg, "larger than the");
    struct {
        size_t *field;
        const char *name;
    } zeros[] = {{&d.channels, "desc->channels is 0"}, {&d.height, "desc->height is 0"},
                 {&d.width, "desc->width is 0"},       {&d.filters, "desc->filters is 0"},
                 {&d.kernel_h, "desc->kernel_h is 0"}, {&d.kernel_w, "desc->kernel_w is 0"}};
    for (size_t i = 0; i < sizeof zeros / sizeof zeros[0]; i++) {
        d = good;
        *zeros[i].field = 0;
        assert_refused(ctx, &d, t.view, t.view, NULL, y.view, ws, arg, zeros[i].name);
    }
    d = good, d.kernel_h = 7; /* 5 + 2·0 rows, a kernel of 7 */
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, ws, arg,
                   "desc->height 5 with 2·pad 0 gives an output height below 1");
    d = good, d.dilation_w = 3; /* the kernel spans 3·2 + 1 = 7 columns */
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, ws, arg,
                   "desc->width 5 with 2·pad 0 gives an output width below 1");
    d = good, d.pad_w = 1, d.dilation_w = 3; /* 7 columns of 7: one output column */
    assert_ok(ctx, kiln_conv2d(ctx, &d, t.view, t.view, NULL, y.view, KILN_ACT_NONE, ws));
    d = good;
    assert_arg_error(ctx, kiln_conv2d(ctx, &d, t.view, t.view, NULL, y.view, (kiln_act)4, ws));
    assert_contains(kiln_last_error(ctx), "act is 4, not a kiln_act");
    assert_arg_error(NULL, kiln_conv2d(NULL, &d, t.view, t.view, NULL, y.view,
                                       KILN_ACT_NONE, ws));
    assert_arg_error(ctx, kiln_conv2d_workspace(ctx, &d, NULL));
    assert_contains(kiln_last_error(ctx), "bytes is NULL");
    size_t bytes = 7;
    d.filters = 0;
    assert_arg_error(ctx, kiln_conv2d_workspace(ctx, &d, &bytes));
    assert_contains(kiln_last_error(ctx), "desc->filters is 0");
    assert_int_equal(bytes, 7);
    assert_operand_unchanged(&t);
}

/* The descriptor is checked before a path is chosen: the same refusals on both. */
static void conv2d_rejects_a_bad_descriptor_naming_the_field(void **state)
{
    for (size_t path = 0; path < PATH_COUNT; path++) {
        use_path(paths[path]);
        check_descriptor_refusals(*state);
    }
}

static void conv2d_rejects_sizes_that_overflow(void **state)
{
    kiln_ctx *ctx = *state;
    operand t = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 7);
    operand y = vector_make(ctx, 64, 0, 0, FILL_CANARY, 0);
    const kiln_conv2d_desc good = {sizeof good, 1, 1, 3, 3, 1, 1, 1, 1, 1, 0, 0, 1, 1};
    const kiln_status size = KILN_ERR_SIZE;
    kiln_conv2d_desc d = good;
    d.pad_h = SIZE_MAX / 2 + 1;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, NULL, size, "overflows size_t");
    d = good, d.kernel_w = 3, d.dilation_w = SIZE_MAX / 2 + 1;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, NULL, size, "overflows size_t");
    d = good, d.batch = SIZE_MAX / 4;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, NULL, size, "overflows size_t");
    d = good, d.channels = SIZE_MAX / 2, d.kernel_h = 3, d.pad_h = 1;
    assert_refused(ctx, &d, t.view, t.view, NULL, y.view, NULL, size, "overflows size_t");
    assert_operand_unchanged(&y);
}

static void conv2d_rejects_bad_buffers_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    use_path("im2col"); /* its workspace is checked too */
    /* 2 images of 2×5×5 (100 floats), 3 filters of 2×3×3 (54), y 2×3×3×3 (54), one
     * image's workspace: 18 taps and 3 outputs by 9 pixels padded to 64 (1344 floats) */
    const kiln_conv2d_desc d = {sizeof d, 2, 2, 5, 5, 3, 3, 3, 2, 2, 1, 1, 1, 1};
    operand x = vector_make(ctx, 100, 0, 0, FILL_RANDOM, 8);
    operand w = vector_make(ctx, 54, 0, 0, FILL_RANDOM, 9);
    operand bias = vector_make(ctx, 3, 0, 0, FILL_RANDOM, 10);
    operand y = vector_make(ctx, 54, 0, 0, FILL_CANARY, 0);
    operand ws = vector_make(ctx, 1344, 0, 0, FILL_CANARY, 0);
    kiln_buf *xv = x.view, *wv = w.view, *bv = bias.view, *yv = y.view, *sv = ws.view;
    const kiln_status arg = KILN_ERR_ARG, size = KILN_ERR_SIZE;
    assert_refused(ctx, &d, NULL, wv, bv, yv, sv, arg, "x is NULL");
    assert_refused(ctx, &d, xv, NULL, bv, yv, sv, arg, "w is NULL");
    assert_refused(ctx, &d, xv, wv, bv, NULL, sv, arg, "y is NULL");
    kiln_ctx *other = scratch_context(NULL);
    kiln_buf *foreign = scratch_buffer(other, 64 * sizeof(float));
    assert_refused(ctx, &d, xv, wv, foreign, yv, sv, arg, "bias belongs to another context");
    kiln_buf *odd = scratch_view(ws.buffer, 2, 64);
    assert_refused(ctx, &d, xv, wv, bv, yv, odd, arg, "workspace starts at byte 2");
    assert_refused(ctx, &d, scratch_view(x.buffer, 0, 99 * sizeof(float)), wv, bv, yv, sv,
                   size, "x needs 100 floats");
    assert_refused(ctx, &d, xv, scratch_view(w.buffer, 0, 53 * sizeof(float)), bv, yv, sv,
                   size, "w needs 54 floats");
    assert_refused(ctx, &d, xv, wv, scratch_view(bias.buffer, 0, 2 * sizeof(float)), yv, sv,
                   size, "bias needs 3 floats");
    assert_refused(ctx, &d, xv, wv, bv, scratch_view(y.buffer, 0, 53 * sizeof(float)), sv,
                   size, "y needs 54 floats");
    assert_refused(ctx, &d, xv, wv, bv, yv, NULL, arg, "workspace is NULL");
    assert_contains(kiln_last_error(ctx), "5376 bytes");
    assert_refused(ctx, &d, xv, wv, bv, yv, scratch_view(ws.buffer, 0, 1343 * sizeof(float)),
                   size, "workspace holds 5372 bytes but one image's columns need 5376");
    operand shared = vector_make(ctx, 1400, 0, 0, FILL_RANDOM, 11);
    kiln_buf *front = scratch_view(shared.buffer, 0, 100 * sizeof(float));
    kiln_buf *back = scratch_view(shared.buffer, 50 * sizeof(float), 1350 * sizeof(float));
    assert_refused(ctx, &d, front, wv, bv, back, sv, arg, "y shares memory with the input x");
    assert_refused(ctx, &d, xv, front, bv, back, sv, arg, "y shares memory with the input w");
    assert_refused(ctx, &d, xv, wv, front, back, sv, arg,
                   "y shares memory with the input bias");
    assert_refused(ctx, &d, front, wv, bv, yv, back, arg,
                   "workspace shares memory with the input x");
    assert_refused(ctx, &d, xv, wv, bv, front, back, arg,
                   "workspace shares memory with the output y");
    assert_operand_unchanged(&y);
    assert_operand_unchanged(&ws);
}

/* ---- split-K: the implicit GEMM's k in ranges, their partial sums in the workspace */

static const size_t split_counts[] = {2, 3, 8};
#define SPLIT_COUNT (sizeof split_counts / sizeof split_counts[0])

/* Makes kiln_conv2d take the implicit path with its k in `splits` ranges (0: unforced). */
static void use_splits(size_t splits)
{
    use_path("implicit");
    char value[32];
    snprintf(value, sizeof value, "%zu", splits);
    if (splits > 0)
        setenv("KILN_CONV2D_SPLIT", value, 1);
    else
        unsetenv("KILN_CONV2D_SPLIT");
}

/* The C of c as the implicit GEMM sees it: filters × the batch's output pixels. */
static size_t columns_of(const conv_case *c)
{
    return c->batch * out_h(c) * out_w(c);
}

/* The ranges c's k falls into when `splits` are asked, with the tile ctx plans for it. */
static size_t ranges_for(kiln_ctx *ctx, const conv_case *c, size_t splits)
{
    const struct gemm_config *tile = plan_conv2d_implicit_config(
        &ctx->limits, ctx->limits.max_work_group_size, c->filters, columns_of(c));
    assert_non_null(tile);
    size_t split_taps;
    return plan_conv2d_split(c->channels * c->kernel_h * c->kernel_w, tile->tile_k, splits,
                             &split_taps);
}

static void conv2d_split_k_matches_the_reference_over_the_table(void **state)
{
    for (size_t i = 0; i < SPLIT_COUNT; i++) {
        print_message("%zu splits\n", split_counts[i]);
        use_splits(split_counts[i]);
        check_table(*state, cases, CASE_COUNT);
    }
    use_splits(0);
}

/* The split GEMM leaves the activation and bias to the sum: each of them, with and without
 * a bias, on a dilated 3×3 (k = 27) and the largest layer (k = 153). */
static void conv2d_split_k_applies_every_activation_with_and_without_bias(void **state)
{
    const size_t picks[] = {11, CASE_COUNT - 1};
    for (size_t i = 0; i < SPLIT_COUNT; i++) {
        use_splits(split_counts[i]);
        check_every_activation(*state, picks, sizeof picks / sizeof picks[0]);
    }
    use_splits(0);
}

/* The tile edges again, split: k of 1, 144 and 147 (not a multiple of the splits' slices),
 * filters and pixels beyond a block. */
static void conv2d_split_k_handles_tile_edges(void **state)
{
    for (size_t i = 0; i < SPLIT_COUNT; i++) {
        use_splits(split_counts[i]);
        check_table(*state, edge_cases, EDGE_COUNT);
    }
    use_splits(0);
}

/* More splits than k has slices make one range per slice, none empty; the workspace holds
 * as many planes of C as there are ranges, none where there is one. */
static void conv2d_split_k_clamps_a_count_beyond_the_slices_of_k(void **state)
{
    kiln_ctx *ctx = *state;
    const conv_case picks[] = {cases[4], cases[CASE_COUNT - 1], edge_cases[0]}; /* k 27, 153, 1 */
    const size_t asked[] = {8, 64, 1000};
    for (size_t p = 0; p < sizeof picks / sizeof picks[0]; p++)
        for (size_t a = 0; a < sizeof asked / sizeof asked[0]; a++) {
            const conv_case *c = &picks[p];
            use_splits(asked[a]);
            const size_t ranges = ranges_for(ctx, c, asked[a]);
            const size_t taps = c->channels * c->kernel_h * c->kernel_w;
            print_message("k %zu, %zu splits asked: %zu ranges\n", taps, asked[a], ranges);
            assert_true(ranges >= 1 && ranges <= asked[a] && ranges <= (taps + 7) / 8);
            const kiln_conv2d_desc desc = desc_of(c);
            assert_int_equal(workspace_for(ctx, &desc),
                             ranges > 1 ? ranges * c->filters * columns_of(c) * sizeof(float)
                                        : 0);
            check_conv2d(ctx, *c);
        }
    use_splits(0);
}

/* A workspace of fewer planes than the splits runs as many splits as it holds: none with
 * NULL or one plane (the workspace untouched), two with two planes and a float (the float
 * untouched); results match the reference every time. Each workspace is a view at the
 * start of a buffer of three planes, so splits run past its end would show. */
static void conv2d_split_k_runs_as_many_splits_as_the_workspace_holds(void **state)
{
    kiln_ctx *ctx = *state;
    use_splits(3);
    const conv_case c = cases[CASE_COUNT - 1]; /* k 153 */
    const size_t plane = c.filters * columns_of(&c);
    const kiln_conv2d_desc desc = desc_of(&c);
    assert_int_equal(workspace_for(ctx, &desc), 3 * plane * sizeof(float));
    check_conv2d_in(ctx, c, NULL);
    operand one = vector_make(ctx, 3 * plane, 0, 0, FILL_CANARY, 0);
    check_conv2d_in(ctx, c, scratch_view(one.buffer, 0, plane * sizeof(float)));
    assert_operand_unchanged(&one);
    operand two = vector_make(ctx, 3 * plane, 0, 0, FILL_CANARY, 0);
    check_conv2d_in(ctx, c, scratch_view(two.buffer, 0, (2 * plane + 1) * sizeof(float)));
    const float *written = operand_download(&two);
    assert_true(memcmp(written, two.host, plane * sizeof(float)) != 0);
    assert_true(memcmp(written + plane, two.host + plane, plane * sizeof(float)) != 0);
    assert_memory_equal(written + 2 * plane, two.host + 2 * plane, plane * sizeof(float));
    use_splits(0);
}

/* The split workspace is checked as im2col's: no sharing with x, w, bias or y (nor when it
 * is too small to be used). */
static void conv2d_split_k_rejects_a_workspace_sharing_a_tensor(void **state)
{
    kiln_ctx *ctx = *state;
    use_splits(2);
    const conv_case c = cases[CASE_COUNT - 1];
    const kiln_conv2d_desc desc = desc_of(&c);
    const size_t taps = c.channels * c.kernel_h * c.kernel_w, plane = c.filters * columns_of(&c);
    const size_t x_floats = c.batch * c.channels * c.height * c.width;
    operand x = vector_make(ctx, x_floats + 2 * plane, 0, 0, FILL_RANDOM, 12);
    operand w = vector_make(ctx, c.filters * taps, 0, 0, FILL_RANDOM, 13);
    operand bias = vector_make(ctx, c.filters, 0, 0, FILL_RANDOM, 14);
    operand y = vector_make(ctx, plane + 2 * plane, 0, 0, FILL_CANARY, 0);
    kiln_buf *xv = scratch_view(x.buffer, 0, x_floats * sizeof(float));
    kiln_buf *yv = scratch_view(y.buffer, 0, plane * sizeof(float));
    kiln_buf *past_x = scratch_view(x.buffer, x_floats * sizeof(float), 2 * plane * sizeof(float));
    kiln_buf *past_y = scratch_view(y.buffer, plane * sizeof(float), 2 * plane * sizeof(float));
    kiln_buf *over_x = scratch_view(x.buffer, 0, 2 * plane * sizeof(float));
    kiln_buf *over_y = scratch_view(y.buffer, 0, 2 * plane * sizeof(float));
    const kiln_status arg = KILN_ERR_ARG;
    assert_refused(ctx, &desc, xv, w.view, bias.view, yv, over_x, arg,
                   "workspace shares memory with the input x");
    assert_refused(ctx, &desc, xv, w.view, bias.view, yv, w.view, arg,
                   "workspace shares memory with the input w");
    assert_refused(ctx, &desc, xv, w.view, bias.view, yv, bias.view, arg,
                   "workspace shares memory with the input bias");
    assert_refused(ctx, &desc, xv, w.view, bias.view, yv, over_y, arg,
                   "workspace shares memory with the output y");
    assert_refused(ctx, &desc, xv, w.view, bias.view, yv, yv, arg, /* one plane: unused */
                   "workspace shares memory with the output y");
    /* beside them in the same buffers: fine */
    assert_ok(ctx, kiln_conv2d(ctx, &desc, xv, w.view, bias.view, yv, KILN_ACT_NONE, past_x));
    assert_ok(ctx, kiln_conv2d(ctx, &desc, xv, w.view, bias.view, yv, KILN_ACT_NONE, past_y));
    assert_ok(ctx, kiln_finish(ctx));
    use_splits(0);
}

/* Unforced, a GPU whose compute units outnumber half the implicit blocks splits k (of 256
 * or more per range) and kiln_conv2d_workspace reports the splits' partial sums: the
 * H200's 512→512 at 7×7 in 3 (not im2col's columns), 256→256 at 14×14 in 2; a layer of 8
 * filters and k 576 runs split in 2 on PoCL, as planned, against the reference. A CPU
 * keeps im2col. The GPU's facts are set on a PoCL context of its own. */
static void conv2d_workspace_holds_the_planned_splits_partial_sums(void **state)
{
    (void)state;
    unsetenv("KILN_CONV2D");
    unsetenv("KILN_CONV2D_SPLIT");
    kiln_ctx *ctx = scratch_context(NULL);
    ctx->limits.family = FAMILY_GPU;
    ctx->limits.compute_units = 132;
    kiln_conv2d_desc layer = {sizeof layer, 32, 512, 7, 7, 512, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(workspace_for(ctx, &layer), (size_t)3 * 512 * 32 * 49 * sizeof(float));
    layer = (kiln_conv2d_desc){sizeof layer, 32, 256, 14, 14, 256, 3, 3, 1, 1, 1, 1, 1, 1};
    assert_int_equal(workspace_for(ctx, &layer), (size_t)2 * 256 * 32 * 196 * sizeof(float));
    layer.channels = 16; /* k 144: too short to split; 196 blocks fill 132 units */
    assert_int_equal(workspace_for(ctx, &layer), 0);

    conv_case c = cases[4]; /* 8 filters by 3 images of 8×8 pixels, with 64 channels */
    c.channels = 64;
    const struct gemm_config *tile = plan_conv2d_implicit_config(
        &ctx->limits, ctx->limits.max_work_group_size, c.filters, columns_of(&c));
    assert_non_null(tile);
    ctx->limits.compute_units = ((c.filters + tile->tile_m - 1) / tile->tile_m) *
                                ((columns_of(&c) + tile->tile_n - 1) / tile->tile_n);
    const kiln_conv2d_desc desc = desc_of(&c);
    assert_int_equal(workspace_for(ctx, &desc), 2 * c.filters * columns_of(&c) * sizeof(float));
    check_conv2d(ctx, c);
    ctx->limits.family = FAMILY_CPU;
    assert_int_equal(workspace_for(ctx, &desc), 3 * 576 * 64 * sizeof(float));
}

int main(int argc, char **argv)
{
    const struct CMUnitTest splits[] = {
        KILN_TEST(conv2d_split_k_matches_the_reference_over_the_table),
        KILN_TEST(conv2d_split_k_applies_every_activation_with_and_without_bias),
        KILN_TEST(conv2d_split_k_handles_tile_edges),
        KILN_TEST(conv2d_split_k_clamps_a_count_beyond_the_slices_of_k),
        KILN_TEST(conv2d_split_k_runs_as_many_splits_as_the_workspace_holds),
        KILN_TEST(conv2d_split_k_rejects_a_workspace_sharing_a_tensor),
        KILN_TEST(conv2d_workspace_holds_the_planned_splits_partial_sums),
    };
    if (argc > 1 && strcmp(argv[1], "split") == 0)
        return RUN_KILN_TESTS(splits);
    const struct CMUnitTest tests[] = {
        KILN_TEST(conv2d_matches_the_reference_over_the_table_through_implicit_gemm),
        KILN_TEST(conv2d_matches_the_reference_over_the_table_through_im2col),
        KILN_TEST(conv2d_applies_every_activation_with_and_without_bias),
        KILN_TEST(conv2d_implicit_gemm_handles_tile_edges),
        KILN_TEST(conv2d_implicit_gemm_runs_every_tile_of_its_tables),
        KILN_TEST(conv2d_implicit_gemm_needs_no_workspace),
        KILN_TEST(conv2d_runs_a_batch_in_chunks_of_the_workspace_it_gets),
        KILN_TEST(conv2d_follows_the_contexts_math_level),
        KILN_TEST(conv2d_workspace_is_none_in_place_and_bounded_otherwise),
        KILN_TEST(conv2d_unfolds_on_cpus_and_for_tensor_cores),
        KILN_TEST(conv2d_unfolds_on_gpus_whose_compute_units_outnumber_the_implicit_blocks),
        KILN_TEST(conv2d_of_no_images_writes_nothing),
        KILN_TEST(conv2d_rejects_a_bad_descriptor_naming_the_field),
        KILN_TEST(conv2d_rejects_sizes_that_overflow),
        KILN_TEST(conv2d_rejects_bad_buffers_naming_them),
    };
    return RUN_KILN_TESTS(tests);
}
