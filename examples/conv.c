/* conv: the forward pass of a small convolutional network on the device, checked against
 * the same network computed in plain C.
 *
 *   x: batch images of 3×size×size, random
 *   conv 3×3, 3 -> 8 channels, "same" padding, relu      (kiln_conv2d)
 *   conv 3×3, 8 -> 16 channels, stride 2, relu           (kiln_conv2d)
 *   the mean of each feature map: 16 features per image  (kiln_reduce)
 *   dense 16 -> 10 classes                               (kiln_sgemm, kiln_bias_act)
 *   softmax                                              (kiln_softmax)
 *
 * Prints the largest difference between the two passes' probabilities and exits 1 when
 * it is above 1e-4, or when a kiln call fails.
 *
 * Usage: conv [-d SPEC] [-b BATCH] [-s SIZE]   (defaults: kiln's device, 8 images, 32) */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <kiln/kiln.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

enum { CHANNELS = 3, HIDDEN = 8, FEATURES = 16, CLASSES = 10 };
#define TOLERANCE 1e-4

typedef struct {
    const char *device; /* NULL: $KILN_DEVICE, else the best GPU, else the CPU */
    size_t batch, size;
} options;

/* A convolution with its weights (filters×channels×3×3) and biases on the host. */
typedef struct {
    kiln_conv2d_desc desc;
    float *w, *b;
} layer;

/* The network's parameters and input on the host. */
typedef struct {
    layer conv1, conv2;
    float *dense_w, *dense_b; /* CLASSES×FEATURES (a row per class), CLASSES */
    float *x;
} network;

/* ---------------------------------------------------------------- host data */

/* Uniform in [-scale, scale], from a xorshift generator: the same data on every run. */
static float *random_floats(size_t n, float scale, uint32_t *state)
{
    float *values = malloc(n * sizeof(float));
    for (size_t i = 0; values != NULL && i < n; i++) {
        *state ^= *state << 13, *state ^= *state >> 17, *state ^= *state << 5;
        values[i] = scale * ((float)(*state >> 8) / (float)(1u << 23) - 1.0f);
    }
    return values;
}

static size_t out_size(size_t in, size_t pad, size_t kernel, size_t stride)
{
    return (in + 2 * pad - kernel) / stride + 1;
}

static size_t input_floats(const kiln_conv2d_desc *d)
{
    return d->batch * d->channels * d->height * d->width;
}

static size_t output_floats(const kiln_conv2d_desc *d)
{
    return d->batch * d->filters * out_size(d->height, d->pad_h, d->kernel_h, d->stride_h) *
           out_size(d->width, d->pad_w, d->kernel_w, d->stride_w);
}

/* A 3×3 convolution of `channels` -> `filters` with weights scaled by its fan-in, so
 * activations stay near 1 through the network. */
static layer layer_make(size_t batch, size_t channels, size_t side, size_t filters,
                        size_t stride, uint32_t *state)
{
    layer l = {{sizeof(kiln_conv2d_desc), batch, channels, side, side, filters, 3, 3, stride,
                stride, 1, 1, 1, 1},
               NULL, NULL};
    float scale = 1.0f / sqrtf((float)(channels * 9));
    l.w = random_floats(filters * channels * 9, scale, state);
    l.b = random_floats(filters, 0.1f, state);
    return l;
}

static int network_make(network *net, const options *o)
{
    uint32_t state = 2024;
    size_t side2 = out_size(o->size, 1, 3, 1);
    net->conv1 = layer_make(o->batch, CHANNELS, o->size, HIDDEN, 1, &state);
    net->conv2 = layer_make(o->batch, HIDDEN, side2, FEATURES, 2, &state);
    net->dense_w = random_floats(CLASSES * FEATURES, 1.0f / sqrtf(FEATURES), &state);
    net->dense_b = random_floats(CLASSES, 0.1f, &state);
    net->x = random_floats(input_floats(&net->conv1.desc), 1.0f, &state);
    return net->conv1.w && net->conv1.b && net->conv2.w && net->conv2.b && net->dense_w &&
           net->dense_b && net->x;
}

static void network_free(network *net)
{
    free(net->conv1.w), free(net->conv1.b), free(net->conv2.w), free(net->conv2.b);
    free(net->dense_w), free(net->dense_b), free(net->x);
}

/* ---------------------------------------------------------------- plain C forward pass */

/* y = relu(conv(x, w) + b), NCHW, summed in double. */
static void conv_relu_reference(const layer *l, const float *x, float *y)
{
    const kiln_conv2d_desc *d = &l->desc;
    size_t oh = out_size(d->height, d->pad_h, 3, d->stride_h);
    size_t ow = out_size(d->width, d->pad_w, 3, d->stride_w);
    for (size_t n = 0; n < d->batch; n++)
        for (size_t f = 0; f < d->filters; f++)
            for (size_t oy = 0; oy < oh; oy++)
                for (size_t ox = 0; ox < ow; ox++) {
                    double sum = l->b[f];
                    for (size_t c = 0; c < d->channels; c++)
                        for (size_t r = 0; r < 3; r++)
                            for (size_t s = 0; s < 3; s++) {
                                long iy = (long)(oy * d->stride_h + r) - (long)d->pad_h;
                                long ix = (long)(ox * d->stride_w + s) - (long)d->pad_w;
                                if (iy < 0 || ix < 0 || iy >= (long)d->height ||
                                    ix >= (long)d->width)
                                    continue;
                                size_t at = ((n * d->channels + c) * d->height + (size_t)iy) *
                                                d->width + (size_t)ix;
                                sum += (double)l->w[((f * d->channels + c) * 3 + r) * 3 + s] *
                                       x[at];
                            }
                    y[((n * d->filters + f) * oh + oy) * ow + ox] = sum > 0 ? (float)sum : 0;
                }
}

/* probabilities[batch×CLASSES] = softmax(dense(mean over each map of h2)). */
static void head_reference(const network *net, const float *h2, size_t batch, size_t map,
                           double *probabilities)
{
    for (size_t n = 0; n < batch; n++) {
        double features[FEATURES], logits[CLASSES], max = -INFINITY, total = 0;
        for (size_t f = 0; f < FEATURES; f++) {
            double sum = 0;
            for (size_t p = 0; p < map; p++)
                sum += h2[(n * FEATURES + f) * map + p];
            features[f] = sum / (double)map;
        }
        for (size_t k = 0; k < CLASSES; k++) {
            logits[k] = net->dense_b[k];
            for (size_t f = 0; f < FEATURES; f++)
                logits[k] += (double)net->dense_w[k * FEATURES + f] * features[f];
            max = logits[k] > max ? logits[k] : max;
        }
        for (size_t k = 0; k < CLASSES; k++)
            total += exp(logits[k] - max);
        for (size_t k = 0; k < CLASSES; k++)
            probabilities[n * CLASSES + k] = exp(logits[k] - max) / total;
    }
}

/* ---------------------------------------------------------------- on the device */

enum { X, W1, B1, H1, W2, B2, H2, POOLED, DENSE_W, DENSE_B, PROBABILITIES, WORKSPACE,
       BUFFERS };

/* A buffer holding the n floats of host (NULL: uninitialised). */
static kiln_status buffer_make(kiln_ctx *ctx, const float *host, size_t n, kiln_buf **out)
{
    kiln_status status = kiln_buf_create(ctx, n * sizeof(float), out);
    if (status == KILN_OK && host != NULL)
        status = kiln_buf_write(*out, 0, host, n * sizeof(float));
    return status;
}

/* The larger of the two convolutions' workspaces: one buffer serves both, in turn. */
static kiln_status workspace_make(kiln_ctx *ctx, const network *net, kiln_buf **out)
{
    size_t first = 0, second = 0;
    kiln_status status = kiln_conv2d_workspace(ctx, &net->conv1.desc, &first);
    if (status == KILN_OK)
        status = kiln_conv2d_workspace(ctx, &net->conv2.desc, &second);
    size_t bytes = first > second ? first : second;
    if (status == KILN_OK && bytes > 0)
        status = kiln_buf_create(ctx, bytes, out);
    return status;
}

/* Stops the forward pass at the first failure, saying which call failed and why. */
#define TRY(call)                                                                        \
    do {                                                                                 \
        status = (call);                                                                 \
        if (status != KILN_OK) {                                                         \
            fprintf(stderr, "conv: %s failed: %s\n  %s\n", #call, kiln_status_str(status), \
                    kiln_last_error(ctx));                                               \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

/* The whole forward pass on the device; probabilities gets batch×CLASSES floats. */
static kiln_status forward(kiln_ctx *ctx, const network *net, size_t map,
                           float *probabilities)
{
    const kiln_conv2d_desc *d1 = &net->conv1.desc, *d2 = &net->conv2.desc;
    size_t batch = d1->batch;
    kiln_buf *b[BUFFERS] = {NULL};
    kiln_status status;
    TRY(buffer_make(ctx, net->x, input_floats(d1), &b[X]));
    TRY(buffer_make(ctx, net->conv1.w, HIDDEN * CHANNELS * 9, &b[W1]));
    TRY(buffer_make(ctx, net->conv1.b, HIDDEN, &b[B1]));
    TRY(buffer_make(ctx, NULL, output_floats(d1), &b[H1]));
    TRY(buffer_make(ctx, net->conv2.w, FEATURES * HIDDEN * 9, &b[W2]));
    TRY(buffer_make(ctx, net->conv2.b, FEATURES, &b[B2]));
    TRY(buffer_make(ctx, NULL, output_floats(d2), &b[H2]));
    TRY(buffer_make(ctx, NULL, batch * FEATURES, &b[POOLED]));
    TRY(buffer_make(ctx, net->dense_w, CLASSES * FEATURES, &b[DENSE_W]));
    TRY(buffer_make(ctx, net->dense_b, CLASSES, &b[DENSE_B]));
    TRY(buffer_make(ctx, NULL, batch * CLASSES, &b[PROBABILITIES]));
    TRY(workspace_make(ctx, net, &b[WORKSPACE]));

    TRY(kiln_conv2d(ctx, d1, b[X], b[W1], b[B1], b[H1], KILN_ACT_RELU, b[WORKSPACE]));
    TRY(kiln_conv2d(ctx, d2, b[H1], b[W2], b[B2], b[H2], KILN_ACT_RELU, b[WORKSPACE]));
    /* Each feature map is a row of out_h·out_w floats: its mean is the pooled feature. */
    TRY(kiln_reduce(ctx, KILN_REDUCE_MEAN, KILN_PER_ROW, b[H2], b[POOLED], batch * FEATURES,
                    map, map));
    /* logits = pooled · dense_wᵀ + dense_b, a row per image, then softmax per row. */
    TRY(kiln_sgemm(ctx, KILN_NO_TRANS, KILN_TRANS, batch, CLASSES, FEATURES, 1.0f, b[POOLED],
                   FEATURES, b[DENSE_W], FEATURES, 0.0f, b[PROBABILITIES], CLASSES));
    TRY(kiln_bias_act(ctx, b[PROBABILITIES], b[DENSE_B], b[PROBABILITIES], batch, CLASSES,
                      CLASSES, KILN_PER_COL, KILN_ACT_NONE));
    TRY(kiln_softmax(ctx, b[PROBABILITIES], b[PROBABILITIES], batch, CLASSES, CLASSES));
    TRY(kiln_buf_read(b[PROBABILITIES], 0, probabilities, batch * CLASSES * sizeof(float)));
done:
    for (size_t i = 0; i < BUFFERS; i++)
        kiln_buf_destroy(b[i]);
    return status;
}

/* ---------------------------------------------------------------- main */

static int parse_size(const char *text, size_t *out)
{
    char *end;
    unsigned long value = strtoul(text, &end, 10);
    *out = value;
    return *end == '\0' && value > 0 && value <= 4096;
}

static int parse_options(int argc, char **argv, options *o)
{
    *o = (options){NULL, 8, 32};
    int option;
    while ((option = getopt(argc, argv, "d:b:s:")) != -1) {
        if (option == 'd')
            o->device = optarg;
        else if (!((option == 'b' && parse_size(optarg, &o->batch)) ||
                   (option == 's' && parse_size(optarg, &o->size))))
            return 0;
    }
    return optind == argc && o->size >= 2;
}

int main(int argc, char **argv)
{
    options o;
    if (!parse_options(argc, argv, &o)) {
        fprintf(stderr, "usage: conv [-d SPEC] [-b BATCH] [-s SIZE]  (1..4096; SIZE >= 2)\n");
        return 2;
    }
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, o.device);
    if (status != KILN_OK) {
        fprintf(stderr, "conv: no context: %s\n  %s\n", kiln_status_str(status),
                kiln_last_error(NULL));
        return 1;
    }
    network net = {0};
    const kiln_conv2d_desc *d2 = &net.conv2.desc;
    int ok = network_make(&net, &o);
    size_t map = out_size(d2->height, 1, 3, 2) * out_size(d2->width, 1, 3, 2);
    float *h1 = ok ? malloc(output_floats(&net.conv1.desc) * sizeof(float)) : NULL;
    float *h2 = ok ? malloc(output_floats(d2) * sizeof(float)) : NULL;
    float *got = malloc(o.batch * CLASSES * sizeof(float));
    double *expected = malloc(o.batch * CLASSES * sizeof(double));
    double worst = INFINITY;
    if (ok && h1 && h2 && got && expected) {
        conv_relu_reference(&net.conv1, net.x, h1);
        conv_relu_reference(&net.conv2, h1, h2);
        head_reference(&net, h2, o.batch, map, expected);
        if (forward(ctx, &net, map, got) == KILN_OK) {
            worst = 0;
            for (size_t i = 0; i < o.batch * CLASSES; i++)
                worst = fmax(worst, fabs(got[i] - expected[i]));
        }
    } else {
        fprintf(stderr, "conv: out of host memory\n");
    }
    printf("%zu images of %dx%zux%zu -> %d classes: max |p - p_ref| = %.3g (allowed %.0e)\n",
           o.batch, CHANNELS, o.size, o.size, CLASSES, worst, TOLERANCE);
    int failed = !(worst <= TOLERANCE);
    printf("%s\n", failed ? "MISMATCH" : "ok");
    free(h1), free(h2), free(got), free(expected);
    network_free(&net);
    kiln_ctx_destroy(ctx);
    return failed;
}
