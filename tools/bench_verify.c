/*
 * Verification of every implementation's output before it is timed. Elementwise ops
 * are checked in full against double; GEMM in full while m·n·k is small, otherwise on
 * a random sample of outputs computed in double plus Freivalds' check (C·r against
 * A·(B·r) for a random r), which costs O(mn + nk + mk) instead of O(mnk).
 */
#include "bench.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GEMM_FULL_CHECK_MACS = 1 << 26, GEMM_SAMPLES = 256 };

/* The first wrong output and how many there were. */
typedef struct {
    size_t count, first;
    double got, want, tolerance;
} mismatch;

static void note(mismatch *bad, size_t index, double got, double want, double tolerance)
{
    if (fabs(got - want) <= tolerance) /* false for NaN too */
        return;
    if (bad->count++ == 0) {
        bad->first = index;
        bad->got = got;
        bad->want = want;
        bad->tolerance = tolerance;
    }
}

static bool judge(const mismatch *bad, size_t checked, const char *what, char *why,
                  size_t why_len)
{
    if (bad->count == 0)
        return true;
    snprintf(why, why_len, "%zu of %zu %s wrong, first at %zu: %.9g instead of %.9g "
             "(tolerance %.3g)", bad->count, checked, what, bad->first, bad->got,
             bad->want, bad->tolerance);
    return false;
}

static uint64_t splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1), 24 random bits: exact in float. */
static double random_unit(uint64_t *state)
{
    return (double)(splitmix(state) >> 40) / (double)(1 << 23) - 1.0;
}

void bench_random_fill(float *x, size_t n, unsigned long long seed)
{
    uint64_t state = seed;
    for (size_t i = 0; i < n; ++i)
        x[i] = (float)random_unit(&state);
}

/* α·x + β·y, or α·x alone where there is no second input (scale). */
bool bench_verify_add(const bench_case *c, char *why, size_t why_len)
{
    const double alpha = c->expect.alpha, beta = c->expect.beta;
    const float *second = c->in[1];
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i) {
        double a = alpha * c->in[0][i], b = second ? beta * second[i] : 0.0;
        note(&bad, i, c->out[i], a + b, 2.0 * FLT_EPSILON * (fabs(a) + fabs(b)) + FLT_MIN);
    }
    return judge(&bad, c->out_len, "outputs", why, why_len);
}

/* kiln's contract: within 1e-6 of the exact value. */
bool bench_verify_sigmoid(const bench_case *c, char *why, size_t why_len)
{
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i)
        note(&bad, i, c->out[i], 1.0 / (1.0 + exp(-(double)c->in[0][i])), 1e-6);
    return judge(&bad, c->out_len, "outputs", why, why_len);
}

/* kiln_map's sigmoid(a + b) * c: sigmoid within 1e-6, times |c| <= 1, and a rounding. */
bool bench_verify_map(const bench_case *c, char *why, size_t why_len)
{
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i) {
        double x = (double)c->in[0][i] + c->in[1][i];
        note(&bad, i, c->out[i], 1.0 / (1.0 + exp(-x)) * c->in[2][i], 2e-6);
    }
    return judge(&bad, c->out_len, "outputs", why, why_len);
}

/* ---------------------------------------------------------------- row-wise ops */

static const double unit_roundoff = 0x1p-24;

/* The bound kiln.h states for a compensated-then-pairwise sum of n terms. */
static double sum_bound(size_t n, double magnitude)
{
    return 4.0 * fmax(1.0, log2((double)n)) * unit_roundoff * magnitude;
}

/* One result of a reduction as it is folded: the exact sum and Σ|terms| in double, and
 * the first maximum or minimum and where it is. */
typedef struct {
    double sum, magnitude, best;
    size_t index, count;
} reduction;

static void reduction_fold(reduction *r, kiln_reduce_op op, double x)
{
    const double term = op == KILN_REDUCE_SUMSQ ? x * x : x;
    r->sum += term;
    r->magnitude += fabs(term);
    const bool better = op == KILN_REDUCE_MIN ? x < r->best : x > r->best;
    if (r->count++ == 0 || better) {
        r->best = x;
        r->index = r->count - 1;
    }
}

/* Checks out[at] against r: sums within the bound, MEAN one rounding more, MAX and MIN
 * exact, ARGMAX the index itself (out holds uint32 then). */
static void reduction_note(mismatch *bad, kiln_reduce_op op, const reduction *r,
                           const float *out, size_t at)
{
    const double bound = sum_bound(r->count, r->magnitude);
    switch (op) {
    case KILN_REDUCE_MAX:
    case KILN_REDUCE_MIN: note(bad, at, out[at], r->best, 0); break;
    case KILN_REDUCE_ARGMAX: {
        uint32_t index;
        memcpy(&index, &out[at], sizeof index);
        note(bad, at, index, (double)r->index, 0);
        break;
    }
    case KILN_REDUCE_MEAN: {
        const double mean = r->sum / (double)r->count;
        note(bad, at, out[at], mean, bound / (double)r->count + unit_roundoff * fabs(mean));
        break;
    }
    default: note(bad, at, out[at], r->sum, bound);
    }
}

bool bench_verify_reduce(const bench_case *c, char *why, size_t why_len)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const kiln_reduce_op op = c->expect.reduce;
    const bool per_row = c->expect.axis == KILN_PER_ROW;
    reduction *results = calloc(c->out_len, sizeof(reduction));
    if (!results) {
        snprintf(why, why_len, "out of host memory for the check");
        return false;
    }
    for (size_t r = 0; r < rows; ++r) /* row by row, so the reads are contiguous */
        for (size_t j = 0; j < cols; ++j)
            reduction_fold(&results[per_row ? r : j], op, c->in[0][r * cols + j]);
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i)
        reduction_note(&bad, op, &results[i], c->out, i);
    free(results);
    return judge(&bad, c->out_len, "results", why, why_len);
}

/* kiln_map_reduce's sum((a - b)^2): kiln_sum's bound, plus each term's own roundings. */
bool bench_verify_map_sum(const bench_case *c, char *why, size_t why_len)
{
    double sum = 0;
    for (size_t i = 0; i < c->in_len[0]; ++i) {
        double d = (double)c->in[0][i] - c->in[1][i];
        sum += d * d;
    }
    mismatch bad = {0};
    note(&bad, 0, c->out[0], sum,
         sum_bound(c->in_len[0], sum) + 3 * unit_roundoff * sum);
    return judge(&bad, 1, "results", why, why_len);
}

const bench_adam_params bench_adam = {0.9f, 0.999f, 1e-3f, 1e-8f};

void bench_adam_start(const bench_case *c, float *state)
{
    const size_t n = c->in_len[1];
    memcpy(state, c->in[0], 2 * n * sizeof(float));
    for (size_t i = 2 * n; i < 3 * n; ++i)
        state[i] = fabsf(c->in[0][i]);
}

/* Each of w, m and v within a few roundings of its terms (tests/test_map.c's bounds):
 * lr·m/(sqrt(v) + eps) has a few roundings of its own; w's bound is 8 of its units, as
 * one parameter in 2^26 on the H200 came out 5.4 units of w from the double step. */
bool bench_verify_adam(const bench_case *c, char *why, size_t why_len)
{
    const size_t n = c->in_len[1];
    const double b1 = bench_adam.beta1, b2 = bench_adam.beta2, lr = bench_adam.lr,
                 eps = bench_adam.eps, ulp = FLT_EPSILON;
    const float *g = c->in[1], *w = c->in[0], *m = w + n, *v_in = w + 2 * n;
    mismatch bad = {0};
    for (size_t i = 0; i < n; ++i) {
        const double v = fabs((double)v_in[i]), g2 = (double)g[i] * g[i];
        const double mm = b1 * m[i] + (1 - b1) * g[i], vv = b2 * v + (1 - b2) * g2;
        const double step = lr * mm / (sqrt(vv) + eps);
        note(&bad, i, c->out[i], w[i] - step, 8 * ulp * fabs(w[i]) + 20 * ulp * fabs(step));
        note(&bad, n + i, c->out[n + i], mm, 4 * ulp * (fabs(m[i]) + fabs(g[i])));
        note(&bad, 2 * n + i, c->out[2 * n + i], vv, 4 * ulp * (v + g2));
    }
    return judge(&bad, 3 * n, "of w, m and v", why, why_len);
}

static double row_max(const float *row, size_t cols)
{
    double max = -INFINITY;
    for (size_t j = 0; j < cols; ++j)
        max = fmax(max, row[j]);
    return max;
}

/* Each row's (log_)softmax in double, with the tolerance of kiln's tests: exp's and the
 * division's roundings, and the compensated Σexp's bound. */
static bool check_softmax(const bench_case *c, bool log_output, char *why, size_t why_len)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const double terms = fmax(1.0, log2((double)cols));
    mismatch bad = {0};
    for (size_t r = 0; r < rows; ++r) {
        const float *row = c->in[0] + r * cols;
        const double max = row_max(row, cols);
        double sum = 0;
        for (size_t j = 0; j < cols; ++j)
            sum += exp(row[j] - max);
        for (size_t j = 0; j < cols; ++j) {
            const double shifted = row[j] - max;
            const double want = log_output ? shifted - log(sum) : exp(shifted) / sum;
            const double factor =
                log_output ? 2 * fabs(shifted) + 8 * fabs(log(sum)) + 16 + 4 * terms + 2 * fabs(want)
                           : fabs(want) * (2 * fabs(shifted) + 16 + 4 * terms);
            note(&bad, r * cols + j, c->out[r * cols + j], want, factor * unit_roundoff + 1e-37);
        }
    }
    return judge(&bad, rows * cols, "outputs", why, why_len);
}

bool bench_verify_softmax(const bench_case *c, char *why, size_t why_len)
{
    return check_softmax(c, false, why, why_len);
}

bool bench_verify_log_softmax(const bench_case *c, char *why, size_t why_len)
{
    return check_softmax(c, true, why, why_len);
}

/* Each row normalised in double (gamma in[1], layernorm's beta in[2]), with the
 * tolerance of kiln's tests: layernorm's z to 2^-16 of (1 + |z| + |mean|/σ), its float
 * mean being off by a few roundings of the row's size; rmsnorm's to a few roundings of
 * its compensated Σx². */
static bool check_norm(const bench_case *c, bool rms, char *why, size_t why_len)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const double terms = fmax(1.0, log2((double)cols));
    const float *gamma = c->in[1], *beta = rms ? NULL : c->in[2];
    mismatch bad = {0};
    for (size_t r = 0; r < rows; ++r) {
        const float *row = c->in[0] + r * cols;
        double mean = 0, squares = 0, deviations = 0;
        for (size_t j = 0; j < cols; ++j) {
            mean += row[j];
            squares += (double)row[j] * row[j];
        }
        mean /= (double)cols;
        for (size_t j = 0; j < cols; ++j)
            deviations += (row[j] - mean) * (row[j] - mean);
        const double spread = rms ? squares : deviations;
        const double rstd = 1 / sqrt(spread / (double)cols + c->expect.eps);
        for (size_t j = 0; j < cols; ++j) {
            const double g = gamma[j], b = beta ? beta[j] : 0;
            const double z = rms ? row[j] * rstd : (row[j] - mean) * rstd;
            const double tolerance =
                rms ? fabs(z * g) * unit_roundoff * (4 * terms + 16)
                    : fabs(g) * 0x1p-16 * (1 + fabs(z) + fabs(mean) * rstd) +
                          2 * unit_roundoff * fabs(b);
            note(&bad, r * cols + j, c->out[r * cols + j], z * g + b, tolerance + 1e-37);
        }
    }
    return judge(&bad, rows * cols, "outputs", why, why_len);
}

bool bench_verify_layernorm(const bench_case *c, char *why, size_t why_len)
{
    return check_norm(c, false, why, why_len);
}

bool bench_verify_rmsnorm(const bench_case *c, char *why, size_t why_len)
{
    return check_norm(c, true, why, why_len);
}

/* act(x + bias) with the bias of each row (PER_ROW) or column (PER_COL) in in[1]:
 * the sum's rounding, plus 1e-6 for the smooth activations (kiln's contract). */
bool bench_verify_bias_act(const bench_case *c, char *why, size_t why_len)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const bool per_row = c->expect.axis == KILN_PER_ROW;
    mismatch bad = {0};
    for (size_t r = 0; r < rows; ++r)
        for (size_t j = 0; j < cols; ++j) {
            const double x = c->in[0][r * cols + j], bias = c->in[1][per_row ? r : j];
            const double z = x + bias, rounding = 2 * unit_roundoff * (fabs(x) + fabs(bias));
            const kiln_act act = c->expect.act;
            const double want = act == KILN_ACT_SIGMOID ? 1 / (1 + exp(-z))
                                : act == KILN_ACT_TANH  ? tanh(z)
                                : act == KILN_ACT_RELU  ? fmax(z, 0)
                                                        : z;
            const double smooth = act == KILN_ACT_SIGMOID || act == KILN_ACT_TANH ? 1e-6 : 0;
            note(&bad, r * cols + j, c->out[r * cols + j], want, rounding + smooth + FLT_MIN);
        }
    return judge(&bad, rows * cols, "outputs", why, why_len);
}

/* dx = dy·act' through y (in[0]), dy in[1]: a few roundings of |dy|·(the size of the
 * terms of act'), as kiln's tests allow. */
bool bench_verify_act_backward(const bench_case *c, char *why, size_t why_len)
{
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i) {
        const double y = c->in[0][i], dy = c->in[1][i];
        double slope = 1, size = 1;
        if (c->expect.act == KILN_ACT_SIGMOID)
            slope = y * (1 - y), size = fabs(y) * (1 + fabs(y));
        else if (c->expect.act == KILN_ACT_TANH)
            slope = 1 - y * y, size = 1 + y * y;
        else if (c->expect.act == KILN_ACT_RELU)
            slope = y > 0, size = y > 0;
        note(&bad, i, c->out[i], dy * slope, 4 * unit_roundoff * fabs(dy) * size + FLT_MIN);
    }
    return judge(&bad, c->out_len, "outputs", why, why_len);
}

/* ---------------------------------------------------------------- GEMM */

/* Error of an fp32 dot product of length k, relative to Σ|a·b|: rounding errors of
 * random sign grow like √k; the factor leaves a wide margin for any summation order.
 * gemm_ex adds the rounding of each input (to f16 or bf16, or to tf32 at TF32 and FAST;
 * TF32X3 keeps all but 2^-21 of a product) and of the result to its type. */
double bench_gemm_tolerance(const bench_case *c)
{
    const kiln_dtype type = c->expect.dtype;
    const kiln_math math = c->expect.math;
    const double unit = type == KILN_DTYPE_F16    ? ldexp(1, -11)
                        : type == KILN_DTYPE_BF16 ? ldexp(1, -8)
                                                  : 0;
    const double inputs = type != KILN_DTYPE_F32        ? 2 * unit
                          : math == KILN_MATH_STRICT    ? 0
                          : math == KILN_MATH_TF32X3    ? ldexp(1, -21)
                                                        : ldexp(1, -10);
    return 4.0 * sqrt((double)c->shape.k) * FLT_EPSILON + inputs + unit;
}

/* The absolute part: f16 holds inputs below 2^-14 with an error of up to 2^-25 each,
 * and results near 0 to 2^-25. */
static double gemm_floor(const bench_case *c)
{
    return c->expect.dtype == KILN_DTYPE_F16 ? ((double)c->shape.k + 1) * ldexp(1, -24)
                                             : FLT_MIN;
}

/* The expected output for pre-activation z with Σ|terms| = magnitude, and its
 * tolerance. */
static double activate(const bench_case *c, double z, double magnitude, double *tolerance)
{
    double tol = bench_gemm_tolerance(c) * magnitude + gemm_floor(c);
    switch (c->expect.act) {
    case KILN_ACT_SIGMOID:
        *tolerance = 0.25 * tol + 1e-6; /* sigmoid's slope is at most 1/4 */
        return 1.0 / (1.0 + exp(-z));
    case KILN_ACT_RELU:
        *tolerance = tol;
        return z > 0 ? z : 0;
    case KILN_ACT_TANH:
        *tolerance = tol + 1e-6; /* tanh's slope is at most 1 */
        return tanh(z);
    default:
        *tolerance = tol;
        return z;
    }
}

static double bias_of(const bench_case *c, size_t row)
{
    return c->expect.bias ? c->in[2][row] : 0.0;
}

/* Every output, row by row (i-p-j order keeps B's reads contiguous). */
static bool check_gemm_full(const bench_case *c, char *why, size_t why_len)
{
    const size_t m = c->shape.m, n = c->shape.n, k = c->shape.k;
    double *sum = malloc(2 * n * sizeof(double));
    if (!sum) {
        snprintf(why, why_len, "out of host memory for the check");
        return false;
    }
    double *magnitude = sum + n;
    mismatch bad = {0};
    for (size_t i = 0; i < m; ++i) {
        for (size_t j = 0; j < n; ++j) {
            sum[j] = bias_of(c, i);
            magnitude[j] = fabs(sum[j]);
        }
        for (size_t p = 0; p < k; ++p) {
            const double a = c->in[0][i * k + p];
            const float *b = c->in[1] + p * n;
            for (size_t j = 0; j < n; ++j) {
                sum[j] += a * b[j];
                magnitude[j] += fabs(a * b[j]);
            }
        }
        for (size_t j = 0; j < n; ++j) {
            double tolerance, want = activate(c, sum[j], magnitude[j], &tolerance);
            note(&bad, i * n + j, c->out[i * n + j], want, tolerance);
        }
    }
    free(sum);
    return judge(&bad, m * n, "outputs", why, why_len);
}

static bool check_gemm_sample(const bench_case *c, char *why, size_t why_len)
{
    const size_t m = c->shape.m, n = c->shape.n, k = c->shape.k;
    uint64_t state = 0x6b696c6eULL ^ (m * 31 + n * 17 + k);
    mismatch bad = {0};
    for (int s = 0; s < GEMM_SAMPLES; ++s) {
        size_t i = splitmix(&state) % m, j = splitmix(&state) % n;
        double sum = bias_of(c, i), magnitude = fabs(sum);
        for (size_t p = 0; p < k; ++p) {
            double t = (double)c->in[0][i * k + p] * c->in[1][p * n + j];
            sum += t;
            magnitude += fabs(t);
        }
        double tolerance, want = activate(c, sum, magnitude, &tolerance);
        note(&bad, i * n + j, c->out[i * n + j], want, tolerance);
    }
    return judge(&bad, GEMM_SAMPLES, "sampled outputs", why, why_len);
}

/* Freivalds: (C·r)_i against (A·(B·r))_i + bias_i·Σr. The tolerance of row i bounds
 * the root-sum-square of the element errors: bench_gemm_tolerance · |A_i| · √(Σ_j |B_j|² r_j²),
 * with |A_i|·|B_j| (Cauchy–Schwarz) standing for Σ_p |a_ip·b_pj|. */
static bool check_gemm_freivalds(const bench_case *c, char *why, size_t why_len)
{
    const size_t m = c->shape.m, n = c->shape.n, k = c->shape.k;
    double *r = calloc(2 * n + k, sizeof(double));
    if (!r) {
        snprintf(why, why_len, "out of host memory for the check");
        return false;
    }
    double *column_squares = r + n, *br = r + 2 * n;
    uint64_t state = 0x46726569ULL;
    double r_sum = 0, r_squares = 0, weighted = 0;
    for (size_t j = 0; j < n; ++j) {
        r[j] = random_unit(&state);
        r_sum += r[j];
        r_squares += r[j] * r[j];
    }
    for (size_t p = 0; p < k; ++p)
        for (size_t j = 0; j < n; ++j) {
            double b = c->in[1][p * n + j];
            br[p] += b * r[j];
            column_squares[j] += b * b;
        }
    for (size_t j = 0; j < n; ++j)
        weighted += column_squares[j] * r[j] * r[j];
    mismatch bad = {0};
    for (size_t i = 0; i < m; ++i) {
        double cr = 0, abr = bias_of(c, i) * r_sum, a_squares = 0;
        for (size_t j = 0; j < n; ++j)
            cr += c->out[i * n + j] * r[j];
        for (size_t p = 0; p < k; ++p) {
            double a = c->in[0][i * k + p];
            abr += a * br[p];
            a_squares += a * a;
        }
        double spread = sqrt(a_squares * weighted) + fabs(bias_of(c, i)) * sqrt(r_squares);
        note(&bad, i, cr, abr, bench_gemm_tolerance(c) * spread + gemm_floor(c) * (double)n);
    }
    free(r);
    return judge(&bad, m, "rows of C·r (Freivalds) are", why, why_len);
}

/* A 16-bit word widened to float: exact. */
static float widened(kiln_dtype type, uint16_t h)
{
    if (type == KILN_DTYPE_BF16) {
        uint32_t bits = (uint32_t)h << 16;
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
    double magnitude = exponent == 0x1f ? (mantissa ? NAN : INFINITY)
                       : exponent == 0  ? ldexp(mantissa, -24)
                                        : ldexp(mantissa | 0x400, exponent - 25);
    return (float)((h & 0x8000) ? -magnitude : magnitude);
}

bool bench_verify_gemm_ex(const bench_case *c, char *why, size_t why_len)
{
    if (c->expect.dtype != KILN_DTYPE_F32) {
        uint16_t *words = malloc(c->out_len * sizeof(uint16_t));
        kiln_status status = words ? kiln_buf_read(c->dev_typed[2], 0, words,
                                                   c->out_len * sizeof(uint16_t))
                                   : KILN_ERR_NOMEM;
        if (status != KILN_OK) {
            snprintf(why, why_len, "reading C back failed: %s", kiln_status_str(status));
            free(words);
            return false;
        }
        for (size_t i = 0; i < c->out_len; ++i)
            c->out[i] = widened(c->expect.dtype, words[i]);
        free(words);
    }
    return bench_verify_gemm(c, why, why_len);
}

bool bench_verify_gemm(const bench_case *c, char *why, size_t why_len)
{
    const bench_shape s = c->shape;
    if ((double)s.m * s.n * s.k <= GEMM_FULL_CHECK_MACS)
        return check_gemm_full(c, why, why_len);
    if (!check_gemm_sample(c, why, why_len))
        return false;
    /* Freivalds needs a linear map; with an activation the harness checks a linear run
     * of the same op as well. */
    return c->expect.act != KILN_ACT_NONE || check_gemm_freivalds(c, why, why_len);
}
