/*
 * kiln-bench's conv2d: a layer as issue 12 and torch_reference.py give them (stride 1,
 * padding kernel/2, no bias), its size as N:CIN-COUT:HxW:K, its label as
 * torch_reference.py's ("n32 c64->64 56x56 k3"), kiln_conv2d at the --math asked for
 * with its workspace made once outside the timing, and the check of its output against
 * a double reference.
 */
#include "bench.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Layers with more multiply-adds than this are checked on a sample of outputs: the full
 * double reference of the layers would take the CPU minutes. */
enum { CONV_FULL_CHECK_MACS = 1 << 26, CONV_SAMPLES = 4096 };

static size_t out_side(size_t side, size_t kernel)
{
    return side + 2 * (kernel / 2) - kernel + 1;
}

static kiln_conv2d_desc layer_desc(const bench_conv_layer *l)
{
    return (kiln_conv2d_desc){sizeof(kiln_conv2d_desc), l->batch, l->channels, l->height,
                              l->width, l->filters, l->kernel, l->kernel, 1, 1,
                              l->kernel / 2, l->kernel / 2, 1, 1};
}

/* N:CIN-COUT:HxW:K or N:CIN-COUT:H:K (square); "->" may stand for '-'. */
bool bench_conv2d_parse(const char *token, size_t length, bench_shape *s)
{
    char text[64];
    size_t used = 0;
    for (size_t i = 0; i < length; ++i) {
        if (!strchr("0123456789:->xX", token[i]) || used + 1 == sizeof(text))
            return false;
        if (token[i] != '>' || i == 0 || token[i - 1] != '-')
            text[used++] = token[i] == 'X' ? 'x' : token[i];
    }
    text[used] = '\0';
    bench_conv_layer l;
    int end = -1;
    if (sscanf(text, "%zu:%zu-%zu:%zux%zu:%zu%n", &l.batch, &l.channels, &l.filters,
               &l.height, &l.width, &l.kernel, &end) != 6) {
        end = -1;
        if (sscanf(text, "%zu:%zu-%zu:%zu:%zu%n", &l.batch, &l.channels, &l.filters,
                   &l.height, &l.kernel, &end) == 5)
            l.width = l.height;
    }
    if (end != (int)used || !l.batch || !l.channels || !l.filters || !l.height ||
        !l.width || !l.kernel)
        return false;
    const double taps = (double)l.channels * l.kernel * l.kernel,
                 pixels = (double)l.batch * out_side(l.height, l.kernel) *
                          out_side(l.width, l.kernel),
                 limit = 0x1p40; /* every tensor countable in size_t, with room to spare */
    if ((double)l.batch * l.channels * l.height * l.width > limit ||
        (double)l.filters * taps > limit || (double)l.filters * pixels > limit)
        return false;
    *s = (bench_shape){.m = l.filters, .n = (size_t)pixels, .k = (size_t)taps, .conv = l};
    return true;
}

void bench_conv2d_label(bench_shape s, char *label, size_t length)
{
    const bench_conv_layer *l = &s.conv;
    snprintf(label, length, "n%zu c%zu->%zu %zux%zu k%zu", l->batch, l->channels, l->filters,
             l->height, l->width, l->kernel);
}

void bench_conv2d_lengths(bench_case *c)
{
    const bench_conv_layer *l = &c->shape.conv;
    c->in_len[0] = l->batch * l->channels * l->height * l->width;
    c->in_len[1] = c->shape.m * c->shape.k; /* filters × channels·kernel² */
    c->out_len = c->shape.m * c->shape.n;
}

/* Output `at` (NCHW) in double, with Σ|terms| into *magnitude. */
static double reference_at(const bench_case *c, size_t at, double *magnitude)
{
    const bench_conv_layer *l = &c->shape.conv;
    const size_t out_h = out_side(l->height, l->kernel), out_w = out_side(l->width, l->kernel),
                 pixels = out_h * out_w, pad = l->kernel / 2;
    const size_t image = at / (l->filters * pixels), filter = at / pixels % l->filters,
                 oy = at % pixels / out_w, ox = at % out_w;
    const float *x = c->in[0] + image * l->channels * l->height * l->width,
                *w = c->in[1] + filter * c->shape.k;
    double sum = 0;
    *magnitude = 0;
    for (size_t channel = 0; channel < l->channels; ++channel)
        for (size_t r = 0; r < l->kernel; ++r)
            for (size_t s = 0; s < l->kernel; ++s) {
                const size_t iy = oy + r - pad, ix = ox + s - pad; /* wraps when outside */
                if (iy >= l->height || ix >= l->width)
                    continue;
                const double term = (double)w[(channel * l->kernel + r) * l->kernel + s] *
                                    x[(channel * l->height + iy) * l->width + ix];
                sum += term;
                *magnitude += fabs(term);
            }
    return sum;
}

bool bench_verify_conv2d(const bench_case *c, char *why, size_t why_len)
{
    const bool full = (double)c->out_len * c->shape.k <= CONV_FULL_CHECK_MACS;
    const size_t count = full ? c->out_len : CONV_SAMPLES;
    const double tolerance = bench_gemm_tolerance(c);
    uint64_t state = 0x636f6e76ULL;
    size_t wrong = 0, first = 0;
    double got = 0, want = 0;
    for (size_t i = 0; i < count; ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL; /* Knuth's LCG */
        const size_t at = full ? i : (size_t)(state >> 24) % c->out_len;
        double magnitude, exact = reference_at(c, at, &magnitude);
        if (fabs(c->out[at] - exact) <= tolerance * magnitude + FLT_MIN) /* false for NaN */
            continue;
        if (wrong++ == 0) {
            first = at;
            got = c->out[at];
            want = exact;
        }
    }
    if (wrong > 0)
        snprintf(why, why_len, "%zu of %zu %s wrong, first at %zu: %.9g instead of %.9g",
                 wrong, count, full ? "outputs" : "sampled outputs", first, got, want);
    return wrong == 0;
}

/* Calls call at expect.math, and sets the context's level back after, for the ops that
 * follow; what names the call in a failure. */
static bool at_case_math(bench_case *c, kiln_status (*call)(bench_case *c), const char *what)
{
    const kiln_math before = kiln_ctx_math(c->ctx);
    kiln_status status = kiln_ctx_set_math(c->ctx, c->expect.math);
    if (status == KILN_OK)
        status = call(c);
    const kiln_status restored = kiln_ctx_set_math(c->ctx, before);
    return bench_report(c->ctx, status, what) &&
           bench_report(c->ctx, restored, "kiln_ctx_set_math");
}

/* The workspace kiln_conv2d_workspace asks for (the math, and on GPUs whether the
 * implicit grid fills the compute units, pick the path: im2col needs one, the implicit
 * GEMM none). */
static kiln_status workspace_make(bench_case *c)
{
    const kiln_conv2d_desc desc = layer_desc(&c->shape.conv);
    size_t bytes = 0;
    kiln_status status = kiln_conv2d_workspace(c->ctx, &desc, &bytes);
    return status != KILN_OK || bytes == 0 ? status
                                           : kiln_buf_create(c->ctx, bytes, &c->workspace);
}

static kiln_status conv2d_call(bench_case *c)
{
    const kiln_conv2d_desc desc = layer_desc(&c->shape.conv);
    return kiln_conv2d(c->ctx, &desc, c->dev_in[0], c->dev_in[1], NULL, c->dev_out,
                       KILN_ACT_NONE, c->workspace);
}

/* The workspace, made once at expect.math so no timed call allocates. */
static bool conv2d_prepare(bench_case *c)
{
    return c->workspace != NULL ||
           at_case_math(c, workspace_make, "kiln_conv2d_workspace and kiln_buf_create");
}

static bool conv2d_run(bench_case *c)
{
    return at_case_math(c, conv2d_call, "kiln_conv2d");
}

const bench_impl bench_conv2d_impls[] = {
    {"kiln", BENCH_ROLE_KILN, BENCH_ON_QUEUE, false, conv2d_prepare, conv2d_run},
    {NULL, BENCH_ROLE_CPU, BENCH_ON_HOST, false, NULL, NULL},
};
