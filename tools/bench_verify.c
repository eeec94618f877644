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

bool bench_verify_add(const bench_case *c, char *why, size_t why_len)
{
    const double alpha = c->expect.alpha, beta = c->expect.beta;
    mismatch bad = {0};
    for (size_t i = 0; i < c->out_len; ++i) {
        double a = alpha * c->in[0][i], b = beta * c->in[1][i];
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
