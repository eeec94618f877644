/*
 * The operations kiln-bench knows, as a table: for each, what a size means, what one
 * call moves or computes, how its output is verified, and its implementations (the
 * CPU baseline, kiln, kiln with transfers, peers). A new op is a new row.
 */
#include "bench.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef KILN_BENCH_CBLAS
#include <cblas.h>
#endif
#ifdef KILN_BENCH_CLBLAST
#include <clblast_c.h>
#endif

/* ---------------------------------------------------------------- sizes and work */

static size_t elements(bench_shape s)
{
    return s.m * s.n;
}

static double add_bytes(bench_shape s)
{
    return 12.0 * (double)elements(s); /* two reads, one write */
}

static double read_write_bytes(bench_shape s)
{
    return 8.0 * (double)elements(s);
}

/* Reductions count what they read: their outputs are a vector at most. */
static double read_bytes(bench_shape s)
{
    return 4.0 * (double)elements(s);
}

/* kiln_map's sigmoid(a + b) * c: three reads and a write. */
static double fused_bytes(bench_shape s)
{
    return 16.0 * (double)elements(s);
}

/* kiln_map_reduce's sum((a - b)^2): both inputs read. */
static double two_reads_bytes(bench_shape s)
{
    return 8.0 * (double)elements(s);
}

/* The Adam step: w, g, m and v read, w, m and v written. */
static double adam_bytes(bench_shape s)
{
    return 28.0 * (double)elements(s);
}

static double gemm_flops(bench_shape s)
{
    return 2.0 * (double)s.m * (double)s.n * (double)s.k;
}

static void unary_lengths(bench_case *c)
{
    c->in_len[0] = c->out_len = elements(c->shape);
}

static void binary_lengths(bench_case *c)
{
    c->in_len[0] = c->in_len[1] = c->out_len = elements(c->shape);
}

static void gemm_lengths(bench_case *c)
{
    c->in_len[0] = c->shape.m * c->shape.k;
    c->in_len[1] = c->shape.k * c->shape.n;
    c->out_len = c->shape.m * c->shape.n;
}

static void dense_lengths(bench_case *c)
{
    gemm_lengths(c);
    c->in_len[2] = c->shape.m; /* the bias */
}

static void ternary_lengths(bench_case *c)
{
    c->in_len[0] = c->in_len[1] = c->in_len[2] = c->out_len = elements(c->shape);
}

static void map_reduce_lengths(bench_case *c)
{
    c->in_len[0] = c->in_len[1] = elements(c->shape);
    c->out_len = 1;
}

/* in[0] holds w, m and v, n floats each, and out them after the step; in[1] is g. */
static void adam_lengths(bench_case *c)
{
    c->in_len[0] = c->out_len = 3 * elements(c->shape);
    c->in_len[1] = elements(c->shape);
}

/* A result per row or per column; kiln_sum's and a whole vector's (m = 1) is one. */
static void reduce_lengths(bench_case *c)
{
    c->in_len[0] = elements(c->shape);
    c->out_len = c->expect.axis == KILN_PER_ROW ? c->shape.m : c->shape.n;
}

/* x, then gamma and beta: a float per column each. */
static void layernorm_lengths(bench_case *c)
{
    unary_lengths(c);
    c->in_len[1] = c->in_len[2] = c->shape.n;
}

static void rmsnorm_lengths(bench_case *c)
{
    unary_lengths(c);
    c->in_len[1] = c->shape.n;
}

static void bias_act_lengths(bench_case *c)
{
    unary_lengths(c);
    c->in_len[1] = c->expect.axis == KILN_PER_ROW ? c->shape.m : c->shape.n;
}

/* ---------------------------------------------------------------- CPU baselines */

static bool vadd_cpu(bench_case *c)
{
    const float *a = c->in[0], *b = c->in[1];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = a[i] + b[i];
    return true;
}

static bool sigmoid_cpu(bench_case *c)
{
    const float *x = c->in[0];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = 1.0f / (1.0f + expf(-x[i]));
    return true;
}

static bool map_sigmoid_cpu(bench_case *c)
{
    const float *a = c->in[0], *b = c->in[1], *x = c->in[2];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = 1.0f / (1.0f + expf(-(a[i] + b[i]))) * x[i];
    return true;
}

static bool map_sum_cpu(bench_case *c)
{
    const float *a = c->in[0], *b = c->in[1];
    double sum = 0;
    for (size_t i = 0; i < c->in_len[0]; ++i)
        sum += (double)(a[i] - b[i]) * (a[i] - b[i]);
    c->out[0] = (float)sum;
    return true;
}

static bool adam_start_cpu(bench_case *c)
{
    bench_adam_start(c, c->out);
    return true;
}

/* One step over the state in out, in float as a C programmer writes it. */
static bool adam_cpu(bench_case *c)
{
    const size_t n = c->in_len[1];
    const float b1 = bench_adam.beta1, b2 = bench_adam.beta2, *g = c->in[1];
    float *w = c->out, *m = w + n, *v = w + 2 * n;
    for (size_t i = 0; i < n; ++i) {
        m[i] = b1 * m[i] + (1 - b1) * g[i];
        v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
        w[i] = w[i] - bench_adam.lr * m[i] / (sqrtf(v[i]) + bench_adam.eps);
    }
    return true;
}

static bool geam_cpu(bench_case *c)
{
    const float alpha = c->expect.alpha, beta = c->expect.beta;
    const float *a = c->in[0], *b = c->in[1];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = alpha * a[i] + beta * b[i];
    return true;
}

#ifdef KILN_BENCH_CBLAS
const double bench_cpu_max_flops = 1e13;

const char *bench_cpu_gemm_name(void)
{
    static char name[160];
    snprintf(name, sizeof(name), "%s, %d threads", openblas_get_config(),
             openblas_get_num_threads());
    return name;
}

static void cpu_sgemm(bench_shape s, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)s.m, (int)s.n, (int)s.k,
                1.0f, a, (int)s.k, b, (int)s.n, 0.0f, c, (int)s.n);
}
#else
const double bench_cpu_max_flops = 2e10;

const char *bench_cpu_gemm_name(void)
{
    return "blocked C loop, one thread (kiln-bench was built without OpenBLAS)";
}

/* C = A·B in blocks that stay in cache; the inner loop runs along rows of B and C. */
static void cpu_sgemm(bench_shape s, const float *a, const float *b, float *c)
{
    enum { BLOCK = 64 };
    memset(c, 0, s.m * s.n * sizeof(float));
    for (size_t i0 = 0; i0 < s.m; i0 += BLOCK)
        for (size_t p0 = 0; p0 < s.k; p0 += BLOCK)
            for (size_t j0 = 0; j0 < s.n; j0 += BLOCK)
                for (size_t i = i0; i < i0 + BLOCK && i < s.m; ++i)
                    for (size_t p = p0; p < p0 + BLOCK && p < s.k; ++p) {
                        const float aip = a[i * s.k + p];
                        const size_t j_end = j0 + BLOCK < s.n ? j0 + BLOCK : s.n;
                        for (size_t j = j0; j < j_end; ++j)
                            c[i * s.n + j] += aip * b[p * s.n + j];
                    }
}
#endif

static bool sgemm_cpu(bench_case *c)
{
    cpu_sgemm(c->shape, c->in[0], c->in[1], c->out);
    return true;
}

static float activate(kiln_act act, float z)
{
    if (act == KILN_ACT_SIGMOID)
        return 1.0f / (1.0f + expf(-z));
    if (act == KILN_ACT_RELU)
        return z > 0 ? z : 0;
    if (act == KILN_ACT_TANH)
        return tanhf(z);
    return z;
}

static bool dense_cpu(bench_case *c)
{
    cpu_sgemm(c->shape, c->in[0], c->in[1], c->out);
    for (size_t i = 0; i < c->shape.m; ++i) {
        const float bias = c->expect.bias ? c->in[2][i] : 0.0f;
        for (size_t j = 0; j < c->shape.n; ++j)
            c->out[i * c->shape.n + j] = activate(c->expect.act, c->out[i * c->shape.n + j] + bias);
    }
    return true;
}

/* The network ops' baselines below are plain loops too; their sums run in double, as a
 * C programmer keeps a long float sum accurate (at the same speed: the loop waits on
 * each add either way). */

/* The loop the issue sets kiln_sum against. */
static bool sum_cpu(bench_case *c)
{
    double sum = 0;
    for (size_t i = 0; i < c->in_len[0]; ++i)
        sum += c->in[0][i];
    c->out[0] = (float)sum;
    return true;
}

static void store_index(float *out, size_t at, size_t index)
{
    const uint32_t word = (uint32_t)index;
    memcpy(&out[at], &word, sizeof word);
}

static bool is_sum(kiln_reduce_op op)
{
    return op == KILN_REDUCE_SUM || op == KILN_REDUCE_MEAN || op == KILN_REDUCE_SUMSQ;
}

static double fold_cpu(kiln_reduce_op op, double acc, float x)
{
    switch (op) {
    case KILN_REDUCE_MAX:
    case KILN_REDUCE_ARGMAX: return x > acc ? x : acc;
    case KILN_REDUCE_MIN: return x < acc ? x : acc;
    case KILN_REDUCE_SUMSQ: return acc + (double)x * x;
    default: return acc + x; /* SUM and MEAN */
    }
}

static double start_cpu(kiln_reduce_op op)
{
    return is_sum(op) ? 0 : op == KILN_REDUCE_MIN ? INFINITY : -INFINITY;
}

static float finish_cpu(kiln_reduce_op op, double acc, size_t count)
{
    return (float)(op == KILN_REDUCE_MEAN ? acc / (double)count : acc);
}

/* One result per row: a fold along it, or ARGMAX's first maximum. */
static void reduce_rows_cpu(bench_case *c)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const kiln_reduce_op op = c->expect.reduce;
    for (size_t r = 0; r < rows; ++r) {
        const float *row = c->in[0] + r * cols;
        double acc = start_cpu(op);
        size_t index = 0;
        for (size_t j = 0; j < cols; ++j) {
            if (op == KILN_REDUCE_ARGMAX && row[j] > acc)
                index = j;
            acc = fold_cpu(op, acc, row[j]);
        }
        if (op == KILN_REDUCE_ARGMAX)
            store_index(c->out, r, index);
        else
            c->out[r] = finish_cpu(op, acc, cols);
    }
}

/* One result per column, every column's accumulator updated row after row so the reads
 * stay contiguous. */
static bool reduce_columns_cpu(bench_case *c)
{
    const size_t rows = c->shape.m, cols = c->shape.n;
    const kiln_reduce_op op = c->expect.reduce;
    double *acc = malloc(cols * sizeof(double));
    if (!acc) {
        fprintf(stderr, "kiln-bench: out of host memory for the CPU's column results\n");
        return false;
    }
    for (size_t j = 0; j < cols; ++j)
        acc[j] = start_cpu(op);
    for (size_t r = 0; r < rows; ++r) {
        const float *row = c->in[0] + r * cols;
        for (size_t j = 0; j < cols; ++j) {
            if (op == KILN_REDUCE_ARGMAX && row[j] > acc[j])
                store_index(c->out, j, r);
            acc[j] = fold_cpu(op, acc[j], row[j]);
        }
    }
    for (size_t j = 0; j < cols && op != KILN_REDUCE_ARGMAX; ++j)
        c->out[j] = finish_cpu(op, acc[j], rows);
    free(acc);
    return true;
}

static bool reduce_cpu(bench_case *c)
{
    if (c->expect.axis == KILN_PER_COL)
        return reduce_columns_cpu(c);
    reduce_rows_cpu(c);
    return true;
}

static float row_max_cpu(const float *x, size_t cols)
{
    float max = -INFINITY;
    for (size_t j = 0; j < cols; ++j)
        max = x[j] > max ? x[j] : max;
    return max;
}

static bool softmax_rows_cpu(bench_case *c, bool log_output)
{
    const size_t cols = c->shape.n;
    for (size_t r = 0; r < c->shape.m; ++r) {
        const float *x = c->in[0] + r * cols;
        float *y = c->out + r * cols;
        const float max = row_max_cpu(x, cols);
        double sum = 0;
        for (size_t j = 0; j < cols; ++j)
            sum += expf(x[j] - max);
        const float shift = max + logf((float)sum), scale = (float)(1 / sum);
        for (size_t j = 0; j < cols; ++j)
            y[j] = log_output ? x[j] - shift : expf(x[j] - max) * scale;
    }
    return true;
}

static bool softmax_cpu(bench_case *c)
{
    return softmax_rows_cpu(c, false);
}

static bool log_softmax_cpu(bench_case *c)
{
    return softmax_rows_cpu(c, true);
}

/* layernorm with beta (in[2]), rmsnorm without: one pass for the moments, one to write. */
static bool norm_rows_cpu(bench_case *c, bool rms)
{
    const size_t cols = c->shape.n;
    const float *gamma = c->in[1], *beta = rms ? NULL : c->in[2];
    for (size_t r = 0; r < c->shape.m; ++r) {
        const float *x = c->in[0] + r * cols;
        float *y = c->out + r * cols;
        double sum = 0, squares = 0;
        for (size_t j = 0; j < cols; ++j) {
            sum += x[j];
            squares += (double)x[j] * x[j];
        }
        const double mean = rms ? 0 : sum / (double)cols;
        const double variance = squares / (double)cols - mean * mean;
        const float center = (float)mean, rstd = (float)(1 / sqrt(variance + c->expect.eps));
        for (size_t j = 0; j < cols; ++j)
            y[j] = (x[j] - center) * rstd * gamma[j] + (beta ? beta[j] : 0.0f);
    }
    return true;
}

static bool layernorm_cpu(bench_case *c)
{
    return norm_rows_cpu(c, false);
}

static bool rmsnorm_cpu(bench_case *c)
{
    return norm_rows_cpu(c, true);
}

static bool bias_act_cpu(bench_case *c)
{
    const size_t cols = c->shape.n;
    const bool per_row = c->expect.axis == KILN_PER_ROW;
    for (size_t r = 0; r < c->shape.m; ++r)
        for (size_t j = 0; j < cols; ++j)
            c->out[r * cols + j] =
                activate(c->expect.act, c->in[0][r * cols + j] + c->in[1][per_row ? r : j]);
    return true;
}

static bool axpy_cpu(bench_case *c)
{
    const float alpha = c->expect.alpha, *x = c->in[0], *y = c->in[1];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = y[i] + alpha * x[i];
    return true;
}

static bool scale_cpu(bench_case *c)
{
    const float alpha = c->expect.alpha, *x = c->in[0];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = alpha * x[i];
    return true;
}

/* act' through the activation's output y. */
static float slope(kiln_act act, float y)
{
    if (act == KILN_ACT_SIGMOID)
        return y * (1 - y);
    if (act == KILN_ACT_TANH)
        return 1 - y * y;
    if (act == KILN_ACT_RELU)
        return y > 0;
    return 1;
}

static bool act_backward_cpu(bench_case *c)
{
    const float *y = c->in[0], *dy = c->in[1];
    for (size_t i = 0; i < c->out_len; ++i)
        c->out[i] = dy[i] * slope(c->expect.act, y[i]);
    return true;
}

/* ---------------------------------------------------------------- kiln */

static bool kiln_ok(const bench_case *c, kiln_status status, const char *what)
{
    return bench_report(c->ctx, status, what);
}

static bool map_sigmoid_kiln(bench_case *c)
{
    const kiln_binding binds[] = {
        {"y", KILN_BIND_ARRAY, c->dev_out, 0}, {"a", KILN_BIND_ARRAY, c->dev_in[0], 0},
        {"b", KILN_BIND_ARRAY, c->dev_in[1], 0}, {"c", KILN_BIND_ARRAY, c->dev_in[2], 0}};
    return kiln_ok(c, kiln_map(c->ctx, "y = sigmoid(a + b) * c", 1, c->out_len, binds, 4),
                   "kiln_map");
}

static bool map_sum_kiln(bench_case *c)
{
    const kiln_binding binds[] = {{"a", KILN_BIND_ARRAY, c->dev_in[0], 0},
                                  {"b", KILN_BIND_ARRAY, c->dev_in[1], 0}};
    return kiln_ok(c, kiln_map_reduce(c->ctx, "sum((a - b)^2)", 1, c->in_len[0], binds, 2,
                                      c->dev_out),
                   "kiln_map_reduce");
}

/* The state uploaded to dev_out, and w, m and v as views of it. */
static bool adam_start_kiln(bench_case *c)
{
    const size_t bytes = c->in_len[1] * sizeof(float);
    bench_adam_start(c, c->out);
    for (size_t part = 0; part < 3; ++part)
        if (c->dev_parts[part] == NULL &&
            !kiln_ok(c, kiln_buf_view(c->dev_out, part * bytes, bytes, &c->dev_parts[part]),
                     "kiln_buf_view"))
            return false;
    return kiln_ok(c, kiln_buf_write(c->dev_out, 0, c->out, 3 * bytes), "kiln_buf_write");
}

static bool adam_kiln(bench_case *c)
{
    const kiln_binding binds[] = {
        {"w", KILN_BIND_ARRAY, c->dev_parts[0], 0}, {"m", KILN_BIND_ARRAY, c->dev_parts[1], 0},
        {"v", KILN_BIND_ARRAY, c->dev_parts[2], 0}, {"g", KILN_BIND_ARRAY, c->dev_in[1], 0},
        {"b1", KILN_BIND_SCALAR, NULL, bench_adam.beta1},
        {"b2", KILN_BIND_SCALAR, NULL, bench_adam.beta2},
        {"lr", KILN_BIND_SCALAR, NULL, bench_adam.lr},
        {"eps", KILN_BIND_SCALAR, NULL, bench_adam.eps}};
    return kiln_ok(c, kiln_map(c->ctx, "m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; "
                                        "w = w - lr*m/(sqrt(v)+eps)", 1, c->in_len[1], binds, 8),
                   "kiln_map");
}

static bool vadd_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_vadd(c->ctx, c->dev_in[0], c->dev_in[1], c->dev_out, c->out_len),
                   "kiln_vadd");
}

static bool vadd_transfers(bench_case *c)
{
    return kiln_ok(c, kiln_vadd_host(c->ctx, c->in[0], c->in[1], c->out, c->out_len),
                   "kiln_vadd_host");
}

static bool sigmoid_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_sigmoid(c->ctx, c->dev_in[0], c->dev_out, c->out_len),
                   "kiln_sigmoid");
}

static bool sigmoid_transfers(bench_case *c)
{
    return kiln_ok(c, kiln_sigmoid_host(c->ctx, c->in[0], c->out, c->out_len),
                   "kiln_sigmoid_host");
}

static bool geam_kiln(bench_case *c)
{
    const size_t n = c->shape.n;
    return kiln_ok(c, kiln_geam(c->ctx, KILN_NO_TRANS, KILN_NO_TRANS, c->shape.m, n,
                                c->expect.alpha, c->dev_in[0], n, c->expect.beta,
                                c->dev_in[1], n, c->dev_out, n), "kiln_geam");
}

/* geam has no host convenience: write both inputs, run, read the result. */
static bool geam_transfers(bench_case *c)
{
    const size_t bytes = c->out_len * sizeof(float);
    return kiln_ok(c, kiln_buf_write(c->dev_in[0], 0, c->in[0], bytes), "kiln_buf_write") &&
           kiln_ok(c, kiln_buf_write(c->dev_in[1], 0, c->in[1], bytes), "kiln_buf_write") &&
           geam_kiln(c) &&
           kiln_ok(c, kiln_buf_read(c->dev_out, 0, c->out, bytes), "kiln_buf_read");
}

static bool sgemm_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_sgemm(c->ctx, KILN_NO_TRANS, KILN_NO_TRANS, s.m, s.n, s.k, 1.0f,
                                 c->dev_in[0], s.k, c->dev_in[1], s.n, 0.0f, c->dev_out, s.n),
                   "kiln_sgemm");
}

static bool sgemm_transfers(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_matmul_host(c->ctx, s.m, s.n, s.k, c->in[0], c->in[1], c->out),
                   "kiln_matmul_host");
}

static bool dense_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    const kiln_buf *bias = c->expect.bias ? c->dev_in[2] : NULL;
    return kiln_ok(c, kiln_dense(c->ctx, c->dev_in[0], c->dev_in[1], bias, c->dev_out, s.m,
                                 s.k, s.n, c->expect.act), "kiln_dense");
}

/* gemm_ex in f16 or bf16: A and B converted on the device from the f32 inputs (the
 * conversion is not timed), C poisoned with NaN in both 16-bit halves of each word. */
static bool gemm_ex_prepare(bench_case *c)
{
    const kiln_dtype type = c->expect.dtype;
    if (type == KILN_DTYPE_F32)
        return true;
    const size_t lengths[3] = {c->in_len[0], c->in_len[1], c->out_len};
    for (size_t i = 0; i < 3; ++i)
        if (!c->dev_typed[i] &&
            !kiln_ok(c, kiln_buf_create(c->ctx, lengths[i] / 2 * 4 + 4, &c->dev_typed[i]),
                     "kiln_buf_create"))
            return false;
    const uint32_t nan_pair = 0x7fc07fc0u; /* a quiet NaN in f16 and in bf16 */
    float poison;
    memcpy(&poison, &nan_pair, sizeof poison);
    return kiln_ok(c, kiln_convert(c->ctx, c->dev_in[0], KILN_DTYPE_F32, c->dev_typed[0], type,
                                   c->in_len[0]), "kiln_convert") &&
           kiln_ok(c, kiln_convert(c->ctx, c->dev_in[1], KILN_DTYPE_F32, c->dev_typed[1], type,
                                   c->in_len[1]), "kiln_convert") &&
           kiln_ok(c, kiln_buf_fill(c->dev_typed[2], poison), "kiln_buf_fill");
}

/* The CPU baseline of gemm_ex multiplies the f32 inputs in f32. */
static bool gemm_ex_cpu_prepare(bench_case *c)
{
    c->expect.dtype = KILN_DTYPE_F32;
    c->expect.math = KILN_MATH_STRICT;
    return true;
}

/* C = A·B with A, B and C of expect.dtype (f32: the plain buffers) at expect.math. */
static bool gemm_ex_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    const kiln_dtype type = c->expect.dtype;
    const bool f32 = type == KILN_DTYPE_F32;
    return kiln_ok(c, kiln_gemm_ex(c->ctx, KILN_NO_TRANS, KILN_NO_TRANS, s.m, s.n, s.k, 1.0f,
                                   f32 ? c->dev_in[0] : c->dev_typed[0], type, s.k,
                                   f32 ? c->dev_in[1] : c->dev_typed[1], type, s.n, 0.0f,
                                   f32 ? c->dev_out : c->dev_typed[2], type, s.n,
                                   c->expect.math),
                   "kiln_gemm_ex");
}

static bool dense_transfers(bench_case *c)
{
    const bench_shape s = c->shape;
    const float *bias = c->expect.bias ? c->in[2] : NULL;
    return kiln_ok(c, kiln_dense_host(c->ctx, c->in[0], c->in[1], bias, c->out, s.m, s.k,
                                      s.n, c->expect.act), "kiln_dense_host");
}

static bool sum_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_sum(c->ctx, c->dev_in[0], c->dev_out, c->in_len[0]), "kiln_sum");
}

static bool reduce_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_reduce(c->ctx, c->expect.reduce, c->expect.axis, c->dev_in[0],
                                  c->dev_out, s.m, s.n, s.n), "kiln_reduce");
}

static bool softmax_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_softmax(c->ctx, c->dev_in[0], c->dev_out, s.m, s.n, s.n),
                   "kiln_softmax");
}

static bool log_softmax_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_log_softmax(c->ctx, c->dev_in[0], c->dev_out, s.m, s.n, s.n),
                   "kiln_log_softmax");
}

static bool layernorm_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_layernorm(c->ctx, c->dev_in[0], c->dev_in[1], c->dev_in[2],
                                     c->dev_out, s.m, s.n, s.n, c->expect.eps),
                   "kiln_layernorm");
}

static bool rmsnorm_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_rmsnorm(c->ctx, c->dev_in[0], c->dev_in[1], c->dev_out, s.m, s.n,
                                   s.n, c->expect.eps), "kiln_rmsnorm");
}

static bool bias_act_kiln(bench_case *c)
{
    const bench_shape s = c->shape;
    return kiln_ok(c, kiln_bias_act(c->ctx, c->dev_in[0], c->dev_in[1], c->dev_out, s.m, s.n,
                                    s.n, c->expect.axis, c->expect.act), "kiln_bias_act");
}

/* The ops that update their output in place start from an input's copy: each call
 * after the checked one updates it again, which the timing does not mind. */
static bool copy_input(bench_case *c, size_t input)
{
    return kiln_ok(c, kiln_buf_copy(c->dev_out, 0, c->dev_in[input], 0,
                                    c->out_len * sizeof(float)), "kiln_buf_copy");
}

static bool copy_first_input(bench_case *c)
{
    return copy_input(c, 0);
}

static bool copy_second_input(bench_case *c)
{
    return copy_input(c, 1);
}

static bool axpy_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_axpy(c->ctx, c->expect.alpha, c->dev_in[0], c->dev_out, c->out_len),
                   "kiln_axpy");
}

static bool scale_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_scale(c->ctx, c->expect.alpha, c->dev_out, c->out_len), "kiln_scale");
}

static bool act_backward_kiln(bench_case *c)
{
    return kiln_ok(c, kiln_act_backward(c->ctx, c->expect.act, c->dev_in[0], c->dev_in[1],
                                        c->dev_out, c->out_len), "kiln_act_backward");
}

/* ---------------------------------------------------------------- CLBlast */

#ifdef KILN_BENCH_CLBLAST
static bool clblast_ok(CLBlastStatusCode status, const char *what)
{
    if (status != CLBlastSuccess)
        fprintf(stderr, "kiln-bench: %s failed: CLBlast status %d\n", what, (int)status);
    return status == CLBlastSuccess;
}

/* CLBlast takes offsets in elements. */
static size_t element_offset(const kiln_buf *buf)
{
    return kiln_buf_offset(buf) / sizeof(float);
}

/* C = B, then saxpy makes it α·A + C: geam with β = 1 (vadd with α = 1). */
static bool saxpy_prepare(bench_case *c)
{
    c->expect.beta = 1.0f;
    return copy_second_input(c);
}

/* Each call adds α·A again: the result is checked after the first, then only timed. */
static bool saxpy_run(bench_case *c)
{
    cl_command_queue queue = kiln_ctx_queue(c->ctx);
    return clblast_ok(CLBlastSaxpy(c->out_len, c->expect.alpha, kiln_buf_mem(c->dev_in[0]),
                                   element_offset(c->dev_in[0]), 1, kiln_buf_mem(c->dev_out),
                                   element_offset(c->dev_out), 1, &queue, NULL),
                      "CLBlastSaxpy");
}

static bool ssum_run(bench_case *c)
{
    cl_command_queue queue = kiln_ctx_queue(c->ctx);
    return clblast_ok(CLBlastSsum(c->in_len[0], kiln_buf_mem(c->dev_out),
                                  element_offset(c->dev_out), kiln_buf_mem(c->dev_in[0]),
                                  element_offset(c->dev_in[0]), 1, &queue, NULL),
                      "CLBlastSsum");
}

static bool sscal_run(bench_case *c)
{
    cl_command_queue queue = kiln_ctx_queue(c->ctx);
    return clblast_ok(CLBlastSscal(c->out_len, c->expect.alpha, kiln_buf_mem(c->dev_out),
                                   element_offset(c->dev_out), 1, &queue, NULL),
                      "CLBlastSscal");
}

/* A plain GEMM: for dense, the same product without bias and activation. */
static bool clblast_sgemm_prepare(bench_case *c)
{
    c->expect.bias = false;
    c->expect.act = KILN_ACT_NONE;
    return true;
}

static bool clblast_sgemm_run(bench_case *c)
{
    const bench_shape s = c->shape;
    cl_command_queue queue = kiln_ctx_queue(c->ctx);
    return clblast_ok(CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                   CLBlastTransposeNo, s.m, s.n, s.k, 1.0f,
                                   kiln_buf_mem(c->dev_in[0]), element_offset(c->dev_in[0]),
                                   s.k, kiln_buf_mem(c->dev_in[1]),
                                   element_offset(c->dev_in[1]), s.n, 0.0f,
                                   kiln_buf_mem(c->dev_out), element_offset(c->dev_out), s.n,
                                   &queue, NULL),
                      "CLBlastSgemm");
}

enum { MAX_CLBLAST_PARAMS = 32 };

bool bench_clblast_override(kiln_ctx *ctx, const char *list)
{
    char text[1024], *names[MAX_CLBLAST_PARAMS], *save = NULL;
    size_t values[MAX_CLBLAST_PARAMS], count = 0;
    snprintf(text, sizeof(text), "%s", list);
    for (char *item = strtok_r(text, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *equals = strchr(item, '='), *end = NULL;
        if (equals != NULL)
            values[count] = strtoul(equals + 1, &end, 10);
        if (equals == NULL || end == equals + 1 || *end != '\0' || count == MAX_CLBLAST_PARAMS) {
            fprintf(stderr, "kiln-bench: --clblast-params: bad item \"%s\"\n", item);
            return false;
        }
        *equals = '\0';
        names[count++] = item;
    }
    return clblast_ok(CLBlastOverrideParameters(kiln_ctx_device(ctx), "Xgemm",
                                                CLBlastPrecisionSingle, count,
                                                (const char **)names, values),
                      "CLBlastOverrideParameters");
}

#define PEER_SAXPY {"CLBlast saxpy", BENCH_ROLE_PEER, BENCH_ON_QUEUE, true, saxpy_prepare, saxpy_run},
#define PEER_SSUM {"CLBlast ssum", BENCH_ROLE_PEER, BENCH_ON_QUEUE, true, NULL, ssum_run},
#define PEER_SSCAL {"CLBlast sscal", BENCH_ROLE_PEER, BENCH_ON_QUEUE, true, copy_first_input, sscal_run},
#define PEER_SGEMM(name) {name, BENCH_ROLE_PEER, BENCH_ON_QUEUE, true, clblast_sgemm_prepare, clblast_sgemm_run},
#else
bool bench_clblast_override(kiln_ctx *ctx, const char *list)
{
    (void)ctx;
    fprintf(stderr, "kiln-bench: --clblast-params %s: built without CLBlast\n", list);
    return false;
}

#define PEER_SAXPY
#define PEER_SSUM
#define PEER_SSCAL
#define PEER_SGEMM(name)
#endif

/* ---------------------------------------------------------------- the table */

#ifdef KILN_BENCH_CBLAS
#define CPU_GEMM_PREPARED(prepare, run) \
    {"OpenBLAS (cpu)", BENCH_ROLE_CPU, BENCH_ON_HOST, true, prepare, run},
#else
#define CPU_GEMM_PREPARED(prepare, run) \
    {"cpu blocked loop", BENCH_ROLE_CPU, BENCH_ON_HOST, false, prepare, run},
#endif
#define CPU_GEMM(run) CPU_GEMM_PREPARED(NULL, run)
#define CPU_LOOP_PREPARED(prepare, run) \
    {"cpu C loop", BENCH_ROLE_CPU, BENCH_ON_HOST, false, prepare, run},
#define CPU_LOOP(run) CPU_LOOP_PREPARED(NULL, run)
#define KILN(run) {"kiln", BENCH_ROLE_KILN, BENCH_ON_QUEUE, false, NULL, run},
#define KILN_PREPARED(prepare, run) {"kiln", BENCH_ROLE_KILN, BENCH_ON_QUEUE, false, prepare, run},
#define KILN_TRANSFERS(run) {"kiln+transfers", BENCH_ROLE_TRANSFERS, BENCH_WAITS, false, NULL, run},
#define END {NULL, BENCH_ROLE_CPU, BENCH_ON_HOST, false, NULL, NULL}

static const bench_impl vadd_impls[] = {
    CPU_LOOP(vadd_cpu) KILN(vadd_kiln) KILN_TRANSFERS(vadd_transfers) PEER_SAXPY END};
static const bench_impl map_impls[] = {CPU_LOOP(map_sigmoid_cpu) KILN(map_sigmoid_kiln) END};
static const bench_impl adam_impls[] = {
    CPU_LOOP_PREPARED(adam_start_cpu, adam_cpu) KILN_PREPARED(adam_start_kiln, adam_kiln) END};
static const bench_impl map_sum_impls[] = {CPU_LOOP(map_sum_cpu) KILN(map_sum_kiln) END};
static const bench_impl sigmoid_impls[] = {
    CPU_LOOP(sigmoid_cpu) KILN(sigmoid_kiln) KILN_TRANSFERS(sigmoid_transfers) END};
static const bench_impl geam_impls[] = {
    CPU_LOOP(geam_cpu) KILN(geam_kiln) KILN_TRANSFERS(geam_transfers) PEER_SAXPY END};
static const bench_impl sgemm_impls[] = {
    CPU_GEMM(sgemm_cpu) KILN(sgemm_kiln) KILN_TRANSFERS(sgemm_transfers)
    PEER_SGEMM("CLBlast sgemm") END};
static const bench_impl gemm_ex_impls[] = {
    CPU_GEMM_PREPARED(gemm_ex_cpu_prepare, sgemm_cpu)
    {"kiln", BENCH_ROLE_KILN, BENCH_ON_QUEUE, false, gemm_ex_prepare, gemm_ex_kiln}, END};
static const bench_impl dense_impls[] = {
    CPU_GEMM(dense_cpu) KILN(dense_kiln) KILN_TRANSFERS(dense_transfers)
    PEER_SGEMM("CLBlast sgemm only") END};
static const bench_impl sum_impls[] = {CPU_LOOP(sum_cpu) KILN(sum_kiln) PEER_SSUM END};
static const bench_impl reduce_impls[] = {CPU_LOOP(reduce_cpu) KILN(reduce_kiln) END};
static const bench_impl softmax_impls[] = {CPU_LOOP(softmax_cpu) KILN(softmax_kiln) END};
static const bench_impl log_softmax_impls[] = {
    CPU_LOOP(log_softmax_cpu) KILN(log_softmax_kiln) END};
static const bench_impl layernorm_impls[] = {CPU_LOOP(layernorm_cpu) KILN(layernorm_kiln) END};
static const bench_impl rmsnorm_impls[] = {CPU_LOOP(rmsnorm_cpu) KILN(rmsnorm_kiln) END};
static const bench_impl bias_act_impls[] = {CPU_LOOP(bias_act_cpu) KILN(bias_act_kiln) END};
static const bench_impl axpy_impls[] = {
    CPU_LOOP(axpy_cpu) KILN_PREPARED(copy_second_input, axpy_kiln) PEER_SAXPY END};
static const bench_impl scale_impls[] = {
    CPU_LOOP(scale_cpu) KILN_PREPARED(copy_first_input, scale_kiln) PEER_SSCAL END};
static const bench_impl act_backward_impls[] = {
    CPU_LOOP(act_backward_cpu) KILN(act_backward_kiln) END};

#define NO_ACT(a, b) {.alpha = a, .beta = b, .act = KILN_ACT_NONE}

#define VECTOR_SIZES "2^20,2^24,2^28", "2^20,2^22,2^24"
#define ROW_SIZES "65536x1024,8192x8192,4096x32768", "1024x1024,4096x4096"

/* Row-wise ops read and write each element once. */
#define ROW_WISE(name, help, lengths, verify, impls, ...)                                    \
    {name, "mn", help, BENCH_RATE_BYTES, read_write_bytes, lengths, verify, {__VA_ARGS__},  \
     ROW_SIZES, impls, false}
/* Reductions count the bytes they read. */
#define REDUCE(name, reduce_op, reduce_axis, help)                                         \
    {name, "mn", help, BENCH_RATE_BYTES, read_bytes, reduce_lengths, bench_verify_reduce,   \
     {.reduce = reduce_op, .axis = reduce_axis}, ROW_SIZES, reduce_impls, false}
#define REDUCE_ROWS_AND_COLUMNS(op, row_name, column_name)                                  \
    REDUCE(row_name, KILN_REDUCE_##op, KILN_PER_ROW, "RxC, or N for NxN; kiln_reduce " #op " per row"), \
    REDUCE(column_name, KILN_REDUCE_##op, KILN_PER_COL,                                     \
           "RxC, or N for NxN; kiln_reduce " #op " per column")

const bench_op bench_ops[] = {
    {"vadd", "n", "N elements (2^24, 16M, 16777216)", BENCH_RATE_BYTES, add_bytes,
     binary_lengths, bench_verify_add, NO_ACT(1.0f, 1.0f), "2^20,2^24,2^28", "2^20,2^22,2^24",
     vadd_impls, false},
    {"sigmoid", "n", "N elements", BENCH_RATE_BYTES, read_write_bytes, unary_lengths,
     bench_verify_sigmoid, NO_ACT(1.0f, 0.0f), "2^20,2^24,2^28", "2^20,2^22,2^24",
     sigmoid_impls, false},
    {"geam", "mn", "MxN, or N for NxN; C = 1.5*A - 0.75*B", BENCH_RATE_BYTES, add_bytes,
     binary_lengths, bench_verify_add, NO_ACT(1.5f, -0.75f), "1024,4096,16384",
     "1024,2048,4096", geam_impls, false},
    {"sgemm", "mnk", "MxNxK, or N for NxNxN", BENCH_RATE_FLOPS, gemm_flops, gemm_lengths,
     bench_verify_gemm, NO_ACT(1.0f, 0.0f), "512,1024,2048,4096", "256,512,1024",
     sgemm_impls, false},
    {"gemm_ex", "mnk", "MxNxK, or N for NxNxN; C = A*B, all of --dtype, at --math",
     BENCH_RATE_FLOPS, gemm_flops, gemm_lengths, bench_verify_gemm_ex, NO_ACT(1.0f, 0.0f),
     "1024,2048,4096,8192", "256,512", gemm_ex_impls, BENCH_PER_DTYPE_AND_MATH},
    {"group_sgemm", "mnk",
     "MxNxK, or N for NxNxN; C = A*B over --group's members, host arrays in and out",
     BENCH_RATE_FLOPS, gemm_flops, gemm_lengths, bench_verify_gemm, NO_ACT(1.0f, 0.0f),
     "1024,2048,4096", "256,512", bench_group_impls, false},
    {"conv2d", "conv",
     "N:CIN-COUT:HxW:K (H: HxH), stride 1, pad K/2, at --math; 2*N*COUT*HW*CIN*K^2 flops",
     BENCH_RATE_FLOPS, gemm_flops, bench_conv2d_lengths, bench_verify_conv2d,
     NO_ACT(1.0f, 0.0f),
     "32:64-64:56:3,32:256-256:14:3,32:256-1024:14:1,32:512-512:7:3",
     "2:64-64:56:3,2:256-256:14:3,2:256-1024:14:1,2:512-512:7:3", bench_conv2d_impls,
     BENCH_PER_MATH},
    {"dense", "mkn", "OUTxINxBATCH, or N for NxNxN; y = sigmoid(W*x + bias)",
     BENCH_RATE_FLOPS, gemm_flops, dense_lengths, bench_verify_gemm,
     {.alpha = 1.0f, .bias = true, .act = KILN_ACT_SIGMOID},
     "1024x1024x256,4096x4096x1024,8192x8192x4096", "256x256x64,512x512x256,1024x1024x256",
     dense_impls, false},
    {"sum", "n", "N elements; kiln_sum", BENCH_RATE_BYTES, read_bytes, reduce_lengths,
     bench_verify_reduce, {.reduce = KILN_REDUCE_SUM}, VECTOR_SIZES, sum_impls, false},
    {"max", "n", "N elements; kiln_reduce MAX of them as one row", BENCH_RATE_BYTES,
     read_bytes, reduce_lengths, bench_verify_reduce, {.reduce = KILN_REDUCE_MAX},
     VECTOR_SIZES, reduce_impls, false},
    REDUCE_ROWS_AND_COLUMNS(SUM, "row_sum", "col_sum"),
    REDUCE_ROWS_AND_COLUMNS(MAX, "row_max", "col_max"),
    REDUCE_ROWS_AND_COLUMNS(MIN, "row_min", "col_min"),
    REDUCE_ROWS_AND_COLUMNS(MEAN, "row_mean", "col_mean"),
    REDUCE_ROWS_AND_COLUMNS(SUMSQ, "row_sumsq", "col_sumsq"),
    REDUCE_ROWS_AND_COLUMNS(ARGMAX, "row_argmax", "col_argmax"),
    ROW_WISE("softmax", "RxC, or N for NxN; per row", unary_lengths, bench_verify_softmax,
             softmax_impls, .act = KILN_ACT_NONE),
    ROW_WISE("log_softmax", "RxC, or N for NxN; per row", unary_lengths,
             bench_verify_log_softmax, log_softmax_impls, .act = KILN_ACT_NONE),
    ROW_WISE("layernorm", "RxC, or N for NxN; per row, with gamma and beta, eps 1e-5",
             layernorm_lengths, bench_verify_layernorm, layernorm_impls, .eps = 1e-5f),
    ROW_WISE("rmsnorm", "RxC, or N for NxN; per row, with gamma, eps 1e-5", rmsnorm_lengths,
             bench_verify_rmsnorm, rmsnorm_impls, .eps = 1e-5f),
    ROW_WISE("bias_act", "RxC, or N for NxN; y = relu(x + bias), a bias per column",
             bias_act_lengths, bench_verify_bias_act, bias_act_impls, .act = KILN_ACT_RELU,
             .axis = KILN_PER_COL),
    {"axpy", "n", "N elements; y += 1.5*x", BENCH_RATE_BYTES, add_bytes, binary_lengths,
     bench_verify_add, NO_ACT(1.5f, 1.0f), VECTOR_SIZES, axpy_impls, false},
    {"scale", "n", "N elements; x *= -1 in place", BENCH_RATE_BYTES, read_write_bytes,
     unary_lengths, bench_verify_add, NO_ACT(-1.0f, 0.0f), VECTOR_SIZES, scale_impls, false},
    {"map", "n", "N elements; kiln_map y = sigmoid(a + b) * c, 16 bytes an element",
     BENCH_RATE_BYTES, fused_bytes, ternary_lengths, bench_verify_map, {.act = KILN_ACT_NONE},
     "2^20,2^24,2^26", "2^20,2^22,2^24", map_impls, false},
    {"map_sum", "n", "N elements each of a and b; kiln_map_reduce sum((a - b)^2)",
     BENCH_RATE_BYTES, two_reads_bytes, map_reduce_lengths, bench_verify_map_sum, {.act = KILN_ACT_NONE},
     "2^20,2^24,2^28", "2^20,2^22,2^24", map_sum_impls, false},
    {"adam", "n", "N parameters; the Adam step as one kiln_map, 28 bytes a parameter",
     BENCH_RATE_BYTES, adam_bytes, adam_lengths, bench_verify_adam, {.act = KILN_ACT_NONE},
     "2^20,2^24,2^26", "2^20,2^22", adam_impls, false},
    {"act_backward", "n", "N elements; dx = dy*y*(1-y), sigmoid's", BENCH_RATE_BYTES,
     add_bytes, binary_lengths, bench_verify_act_backward, {.act = KILN_ACT_SIGMOID},
     VECTOR_SIZES, act_backward_impls, false},
    {"copy", "n", "N floats host->device and back, pinned and pageable (kiln line: h2d "
     "pinned)", BENCH_RATE_BYTES, read_bytes, unary_lengths, bench_verify_copy, NO_ACT(1.0f, 0.0f), "2^28",
     "2^20,2^24", bench_copy_impls, false},
    {"stream", "n", "N floats of pinned host data; sigmoid a chunk at a time, copies "
     "overlapped (peer: the copies alone)", BENCH_RATE_BYTES, read_write_bytes, unary_lengths,
     bench_verify_stream, NO_ACT(1.0f, 0.0f), "2^31", "2^20,2^24", bench_stream_impls, false},
};

const size_t bench_op_count = sizeof(bench_ops) / sizeof(bench_ops[0]);
