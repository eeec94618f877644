#define _XOPEN_SOURCE 700 /* nftw */
#include "common.h"

#include <float.h>
#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- fixture */

int context_open(void **state)
{
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, NULL);
    if (status != KILN_OK) {
        fprintf(stderr, "kiln_ctx_create: %s: %s\n", kiln_status_str(status),
                kiln_last_error(NULL));
        return -1;
    }
    *state = ctx;
    return 0;
}

int context_close(void **state)
{
    kiln_ctx_destroy(*state);
    return 0;
}

/* ---------------------------------------------------------------- scratch objects */

typedef enum { SCRATCH_HOST, SCRATCH_BUFFER, SCRATCH_CONTEXT } scratch_kind;

#define SCRATCH_MAX 4096

static struct {
    scratch_kind kind;
    void *object;
} scratch[SCRATCH_MAX];
static size_t scratch_count;

static void *scratch_keep(scratch_kind kind, void *object)
{
    assert_non_null(object);
    if (scratch_count == SCRATCH_MAX)
        fail_msg("more than %d scratch objects in one test", SCRATCH_MAX);
    scratch[scratch_count].kind = kind;
    scratch[scratch_count].object = object;
    scratch_count++;
    return object;
}

size_t scratch_mark(void)
{
    return scratch_count;
}

int scratch_release(void **state)
{
    (void)state;
    scratch_release_to(0);
    return 0;
}

void scratch_release_to(size_t mark)
{
    while (scratch_count > mark) {
        scratch_count--;
        void *object = scratch[scratch_count].object;
        switch (scratch[scratch_count].kind) {
        case SCRATCH_HOST: free(object); break;
        case SCRATCH_BUFFER: kiln_buf_destroy(object); break;
        case SCRATCH_CONTEXT: kiln_ctx_destroy(object); break;
        }
    }
}

kiln_ctx *scratch_context(const char *device)
{
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_ctx_create(&ctx, device));
    return scratch_keep(SCRATCH_CONTEXT, ctx);
}

kiln_buf *scratch_buffer(kiln_ctx *ctx, size_t bytes)
{
    kiln_buf *buf = NULL;
    assert_ok(ctx, kiln_buf_create(ctx, bytes, &buf));
    return scratch_keep(SCRATCH_BUFFER, buf);
}

kiln_buf *scratch_view(kiln_buf *parent, size_t offset, size_t bytes)
{
    kiln_buf *view = NULL;
    assert_ok(NULL, kiln_buf_view(parent, offset, bytes, &view));
    return scratch_keep(SCRATCH_BUFFER, view);
}

kiln_buf *scratch_wrap(kiln_ctx *ctx, cl_mem mem)
{
    kiln_buf *buf = NULL;
    assert_ok(ctx, kiln_buf_wrap(ctx, mem, &buf));
    return scratch_keep(SCRATCH_BUFFER, buf);
}

float *scratch_floats(size_t n)
{
    return scratch_keep(SCRATCH_HOST, calloc(n > 0 ? n : 1, sizeof(float)));
}

kiln_buf *scratch_upload(kiln_ctx *ctx, const float *values, size_t n)
{
    kiln_buf *buf = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_buf_write(buf, 0, values, n * sizeof(float)));
    return buf;
}

float *scratch_download(const kiln_buf *buf, size_t n)
{
    float *values = scratch_floats(n);
    assert_ok(NULL, kiln_buf_read(buf, 0, values, n * sizeof(float)));
    return values;
}

static const size_t edge_sizes[] = {0, 1, 7, 17, 255, 1023, 1025, 4096, 4097};

void for_each_edge_size(kiln_ctx *ctx, size_t offset,
                        void (*check)(kiln_ctx *ctx, size_t n, size_t offset))
{
    for (size_t i = 0; i < sizeof edge_sizes / sizeof edge_sizes[0]; i++)
        check(ctx, edge_sizes[i], offset);
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

int folder_remove(const char *path)
{
    return nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---------------------------------------------------------------- host data */

void floats_random(float *x, size_t n, uint32_t seed)
{
    uint64_t state = 0x9e3779b97f4a7c15ull * (seed + 1u);
    for (size_t i = 0; i < n; i++) {
        /* splitmix64; 24 random bits give floats in [-1, 1] exactly representable */
        uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        x[i] = (float)((double)(z >> 40) / 8388608.0 - 1.0);
    }
}

void floats_set(float *x, size_t n, float value)
{
    for (size_t i = 0; i < n; i++)
        x[i] = value;
}

float *scratch_random(size_t n, uint32_t seed)
{
    float *x = scratch_floats(n);
    floats_random(x, n, seed);
    return x;
}

float *scratch_filled(size_t n, float value)
{
    float *x = scratch_floats(n);
    floats_set(x, n, value);
    return x;
}

static uint32_t float_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* q = x >> shift rounded to nearest, ties to even (0 < shift < 32). */
static uint32_t shift_rounded(uint32_t x, unsigned shift)
{
    uint32_t q = x >> shift, rest = x & ((1u << shift) - 1), half = 1u << (shift - 1);
    return q + (rest > half || (rest == half && (q & 1)));
}

float f16_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exponent = (h >> 10) & 0x1f,
             mantissa = h & 0x3ff;
    if (exponent == 0x1f) /* Inf, or NaN made quiet */
        return bits_float(sign | 0x7f800000u | (mantissa << 13) | (mantissa ? 0x400000u : 0));
    double magnitude = exponent == 0 ? ldexp(mantissa, -24)
                                     : ldexp(mantissa | 0x400, (int)exponent - 25);
    return sign ? -(float)magnitude : (float)magnitude;
}

uint16_t f16_from_float(float f)
{
    uint32_t u = float_bits(f), magnitude = u & 0x7fffffffu;
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    if (magnitude > 0x7f800000u) /* NaN: quiet, top payload kept */
        return (uint16_t)(sign | 0x7e00 | ((magnitude >> 13) & 0x3ff));
    if (magnitude >= 0x477ff000u) /* 65520 and above (Inf too) round to Inf */
        return sign | 0x7c00;
    if (magnitude <= 0x33000000u) /* 2^-25 and below round to 0 (2^-25 is a tie) */
        return sign;
    int exponent = (int)(magnitude >> 23) - 127; /* from -25: f16's range, normal floats */
    uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
    if (exponent >= -14) /* normal: a carry into bit 10 steps the exponent, as it should */
        return (uint16_t)(sign + ((uint32_t)(exponent + 14) << 10) +
                          shift_rounded(significand, 13));
    return (uint16_t)(sign + shift_rounded(significand, (unsigned)(13 - 14 - exponent)));
}

float bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        u |= 0x400000u;
    return bits_float(u);
}

uint16_t bf16_from_float(float f)
{
    uint32_t u = float_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((u >> 16) | 0x40);
    uint32_t sign = u & 0x80000000u;
    return (uint16_t)((sign | shift_rounded(u & 0x7fffffffu, 16) << 16) >> 16);
}

float dtype_round(kiln_dtype type, float x)
{
    switch (type) {
    case KILN_DTYPE_F16: return f16_to_float(f16_from_float(x));
    case KILN_DTYPE_BF16: return bf16_to_float(bf16_from_float(x));
    default: return x;
    }
}

size_t dtype_bytes(kiln_dtype type)
{
    return type == KILN_DTYPE_F32 ? sizeof(float) : sizeof(uint16_t);
}

/* ---------------------------------------------------------------- operands */

static size_t matrix_span(size_t rows, size_t cols, size_t ld)
{
    return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

static int operand_holds(const operand *o, size_t index)
{
    if (index < o->offset || o->cols == 0)
        return 0;
    size_t at = index - o->offset;
    return at / o->ld < o->rows && at % o->ld < o->cols;
}

static void operand_fill(operand *o, fill_kind fill, uint32_t seed)
{
    float *values = scratch_floats(o->total);
    floats_random(values, o->total, seed);
    for (size_t i = 0; i < o->total; i++) {
        if (!operand_holds(o, i) || fill == FILL_CANARY)
            o->host[i] = CANARY;
        else
            o->host[i] = fill == FILL_NAN ? NAN : values[i];
    }
}

operand operand_make(kiln_ctx *ctx, size_t rows, size_t cols, size_t ld, size_t offset,
                     size_t padding, fill_kind fill, uint32_t seed)
{
    operand o = {rows, cols, ld, offset, padding, 0, NULL, NULL, NULL, KILN_DTYPE_F32};
    o.total = offset + matrix_span(rows, cols, ld) + padding;
    assert_true(o.total > 0);
    o.host = scratch_floats(o.total);
    operand_fill(&o, fill, seed);
    o.buffer = scratch_upload(ctx, o.host, o.total);
    o.view = offset == 0 ? o.buffer
                         : scratch_view(o.buffer, offset * sizeof(float),
                                        (o.total - offset) * sizeof(float));
    return o;
}

operand vector_make(kiln_ctx *ctx, size_t n, size_t offset, size_t padding, fill_kind fill,
                    uint32_t seed)
{
    return operand_make(ctx, 1, n, n > 0 ? n : 1, offset, padding, fill, seed);
}

/* operand_make for a buffer of elements of type: host holds the values rounded to it. */
static operand typed_operand_make(kiln_ctx *ctx, kiln_dtype type, size_t rows, size_t cols,
                                  size_t ld, size_t offset, size_t padding, fill_kind fill,
                                  uint32_t seed)
{
    if (type == KILN_DTYPE_F32)
        return operand_make(ctx, rows, cols, ld, offset, padding, fill, seed);
    operand o = {rows, cols, ld, offset, padding, 0, NULL, NULL, NULL, type};
    o.total = offset + matrix_span(rows, cols, ld) + padding;
    o.host = scratch_floats(o.total);
    operand_fill(&o, fill, seed);
    uint16_t *words = scratch_keep(SCRATCH_HOST, calloc(o.total, sizeof(uint16_t)));
    for (size_t i = 0; i < o.total; i++) {
        words[i] = type == KILN_DTYPE_F16 ? f16_from_float(o.host[i])
                                          : bf16_from_float(o.host[i]);
        o.host[i] = type == KILN_DTYPE_F16 ? f16_to_float(words[i]) : bf16_to_float(words[i]);
    }
    o.buffer = scratch_buffer(ctx, o.total * sizeof(uint16_t));
    assert_ok(ctx, kiln_buf_write(o.buffer, 0, words, o.total * sizeof(uint16_t)));
    o.view = offset == 0 ? o.buffer
                         : scratch_view(o.buffer, offset * sizeof(uint16_t),
                                        (o.total - offset) * sizeof(uint16_t));
    return o;
}

operand typed_input_make(kiln_ctx *ctx, kiln_dtype type, kiln_trans t, size_t rows,
                         size_t cols, size_t pad, size_t offset, fill_kind fill,
                         uint32_t seed)
{
    size_t stored_rows = t == KILN_TRANS ? cols : rows;
    size_t stored_cols = t == KILN_TRANS ? rows : cols;
    size_t ld = (stored_cols > 0 ? stored_cols : 1) + pad;
    return typed_operand_make(ctx, type, stored_rows, stored_cols, ld, offset, 2, fill, seed);
}

operand typed_output_make(kiln_ctx *ctx, kiln_dtype type, size_t rows, size_t cols,
                          size_t pad, size_t offset, fill_kind fill, uint32_t seed)
{
    size_t ld = (cols > 0 ? cols : 1) + pad;
    return typed_operand_make(ctx, type, rows, cols, ld, offset, ld + 2, fill, seed);
}

operand input_make(kiln_ctx *ctx, kiln_trans t, size_t rows, size_t cols, size_t pad,
                   size_t offset, fill_kind fill, uint32_t seed)
{
    return typed_input_make(ctx, KILN_DTYPE_F32, t, rows, cols, pad, offset, fill, seed);
}

operand output_make(kiln_ctx *ctx, size_t rows, size_t cols, size_t pad, size_t offset,
                    fill_kind fill, uint32_t seed)
{
    return typed_output_make(ctx, KILN_DTYPE_F32, rows, cols, pad, offset, fill, seed);
}

operand tight_make(kiln_ctx *ctx, size_t rows, size_t cols, fill_kind fill, uint32_t seed)
{
    return input_make(ctx, KILN_NO_TRANS, rows, cols, 0, 0, fill, seed);
}

const float *operand_data(const operand *o)
{
    return o->host + o->offset;
}

float *operand_download(const operand *o)
{
    if (o->type == KILN_DTYPE_F32)
        return scratch_download(o->buffer, o->total);
    uint16_t *words = scratch_keep(SCRATCH_HOST, calloc(o->total, sizeof(uint16_t)));
    assert_ok(NULL, kiln_buf_read(o->buffer, 0, words, o->total * sizeof(uint16_t)));
    float *values = scratch_floats(o->total);
    for (size_t i = 0; i < o->total; i++)
        values[i] = o->type == KILN_DTYPE_F16 ? f16_to_float(words[i])
                                              : bf16_to_float(words[i]);
    return values;
}

void assert_operand_unchanged(const operand *o)
{
    const float *now = operand_download(o);
    for (size_t i = 0; i < o->total; i++) {
        if (memcmp(&now[i], &o->host[i], sizeof(float)) != 0)
            fail_msg("float %zu of the buffer changed from %.9g to %.9g", i,
                     (double)o->host[i], (double)now[i]);
    }
}

void assert_canaries_intact(const operand *o, const float *downloaded)
{
    for (size_t i = 0; i < o->total; i++) {
        if (!operand_holds(o, i) && downloaded[i] != dtype_round(o->type, CANARY))
            fail_msg("float %zu of the buffer, outside the %zux%zu matrix (ld %zu, "
                     "offset %zu), was written: %.9g",
                     i, o->rows, o->cols, o->ld, o->offset, (double)downloaded[i]);
    }
}

/* ---------------------------------------------------------------- matrix cases */

void for_each_transpose(kiln_ctx *ctx, matrix_case c, matrix_check check)
{
    static const kiln_trans pairs[4][2] = {{KILN_NO_TRANS, KILN_NO_TRANS},
                                           {KILN_NO_TRANS, KILN_TRANS},
                                           {KILN_TRANS, KILN_NO_TRANS},
                                           {KILN_TRANS, KILN_TRANS}};
    for (size_t t = 0; t < 4; t++) {
        c.ta = pairs[t][0], c.tb = pairs[t][1];
        check(ctx, c);
    }
}

void for_each_shape(kiln_ctx *ctx, matrix_case c, const size_t (*shapes)[3], size_t count,
                    matrix_check check)
{
    for (size_t s = 0; s < count; s++) {
        c.m = shapes[s][0], c.n = shapes[s][1], c.k = shapes[s][2];
        for_each_transpose(ctx, c, check);
    }
}

/* ---------------------------------------------------------------- references */

static reference reference_new(size_t rows, size_t cols, size_t terms, double absolute)
{
    reference r = {rows, cols, terms, absolute, NULL, NULL, 0, 0};
    size_t n = rows * cols > 0 ? rows * cols : 1;
    r.value = scratch_keep(SCRATCH_HOST, calloc(n, sizeof(double)));
    r.scale = scratch_keep(SCRATCH_HOST, calloc(n, sizeof(double)));
    return r;
}

/* op(X) of a rows×cols result as a tight double matrix: X or its transpose. */
static double *op_tight(kiln_trans t, size_t rows, size_t cols, const float *x, size_t ld)
{
    double *tight = scratch_keep(SCRATCH_HOST, calloc(rows * cols + 1, sizeof(double)));
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++)
            tight[i * cols + j] = t == KILN_TRANS ? x[j * ld + i] : x[i * ld + j];
    return tight;
}

/* value += α·Σ a_ip·b_pj with scale += |α|·Σ|a_ip·b_pj|; b_t is op(B) transposed. */
static void add_products(reference *r, size_t k, double alpha, const double *a,
                         const double *b_t)
{
    for (size_t i = 0; i < r->rows; i++) {
        for (size_t j = 0; j < r->cols; j++) {
            const double *row = a + i * k, *col = b_t + j * k;
            double sum = 0, magnitude = 0;
            for (size_t p = 0; p < k; p++) {
                sum += row[p] * col[p];
                magnitude += fabs(row[p] * col[p]);
            }
            r->value[i * r->cols + j] += alpha * sum;
            r->scale[i * r->cols + j] += fabs(alpha) * magnitude;
        }
    }
}

/* value += β·X, with X rows×cols (already in result orientation). */
static void add_scaled(reference *r, double beta, const double *x)
{
    for (size_t i = 0; i < r->rows * r->cols; i++) {
        r->value[i] += beta * x[i];
        r->scale[i] += fabs(beta * x[i]);
    }
}

reference reference_sgemm(kiln_trans ta, kiln_trans tb, size_t m, size_t n, size_t k,
                          float alpha, const float *a, size_t lda, const float *b,
                          size_t ldb, float beta, const float *c, size_t ldc)
{
    reference r = reference_new(m, n, k, 0);
    if (alpha != 0 && k > 0) {
        /* op(B) transposed is n×k: B itself read with the opposite transpose */
        kiln_trans tb_t = tb == KILN_TRANS ? KILN_NO_TRANS : KILN_TRANS;
        add_products(&r, k, alpha, op_tight(ta, m, k, a, lda),
                     op_tight(tb_t, n, k, b, ldb));
    }
    if (beta != 0)
        add_scaled(&r, beta, op_tight(KILN_NO_TRANS, m, n, c, ldc));
    return r;
}

reference reference_geam(kiln_trans ta, kiln_trans tb, size_t m, size_t n, float alpha,
                         const float *a, size_t lda, float beta, const float *b, size_t ldb)
{
    reference r = reference_new(m, n, 1, 0);
    if (alpha != 0)
        add_scaled(&r, alpha, op_tight(ta, m, n, a, lda));
    if (beta != 0)
        add_scaled(&r, beta, op_tight(tb, m, n, b, ldb));
    return r;
}

static double sigmoid_exact(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

double activation_exact(kiln_act act, double x)
{
    switch (act) {
    case KILN_ACT_SIGMOID: return sigmoid_exact(x);
    case KILN_ACT_RELU: return x > 0 ? x : 0;
    case KILN_ACT_TANH: return tanh(x);
    default: return x;
    }
}

reference reference_dense(const float *w, const float *x, const float *bias, size_t out,
                          size_t in, size_t batch, kiln_act act)
{
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, out, batch, in, 1.0f, w,
                                  in > 0 ? in : 1, x, batch > 0 ? batch : 1, 0.0f, NULL, 1);
    r.absolute = act == KILN_ACT_SIGMOID || act == KILN_ACT_TANH ? 1e-6 : 0;
    for (size_t i = 0; i < out * batch; i++) {
        double added = bias != NULL ? bias[i / batch] : 0;
        r.value[i] = activation_exact(act, r.value[i] + added);
        r.scale[i] += fabs(added);
    }
    return r;
}

reference reference_sigmoid(const float *x, size_t n)
{
    reference r = reference_new(1, n, 0, 1e-6);
    for (size_t i = 0; i < n; i++)
        r.value[i] = sigmoid_exact(x[i]);
    return r;
}

reference reference_vadd(const float *a, const float *b, size_t n)
{
    reference r = reference_new(1, n, 0, 0);
    for (size_t i = 0; i < n; i++) {
        r.value[i] = (double)a[i] + b[i];
        r.scale[i] = fabs((double)a[i]) + fabs((double)b[i]);
    }
    return r;
}

reference reference_blank(size_t rows, size_t cols, size_t terms, double absolute)
{
    return reference_new(rows, cols, terms, absolute);
}

void reference_allow(reference *r, kiln_dtype inputs, kiln_math math, kiln_dtype result)
{
    bool f32 = inputs == KILN_DTYPE_F32;
    /* tf32 keeps 10 mantissa bits of each operand (truncated: 2^-10 each); 3xTF32 drops
     * lo·lo and rounds each lo, 2^-22 of the product apiece */
    r->inputs = !f32 || math == KILN_MATH_STRICT ? 0
                : math == KILN_MATH_TF32X3       ? 3 * ldexp(1, -22)
                                                 : ldexp(1, -9);
    r->relative = result == KILN_DTYPE_F16    ? ldexp(1, -11)
                  : result == KILN_DTYPE_BF16 ? ldexp(1, -8)
                                              : 0;
    if (result == KILN_DTYPE_F16)
        r->absolute += ldexp(1, -25);
}

/* The fp32 computation's bound (with the inputs' own rounding), then the result's
 * rounding of a value that large. */
static double tolerance(const reference *r, double scale, double value)
{
    double computed = ((double)(r->terms + 2) * 2.0 * FLT_EPSILON + r->inputs) * scale +
                      r->absolute + 1e-30;
    return computed + r->relative * (fabs(value) + computed);
}

static int near(float got, double expected, double allowed)
{
    if (isnan(expected))
        return isnan(got);
    return !isnan(got) && fabs((double)got - expected) <= allowed;
}

void assert_matrix_near(const float *got, size_t ld, const reference *r)
{
    for (size_t i = 0; i < r->rows; i++) {
        for (size_t j = 0; j < r->cols; j++) {
            size_t at = i * r->cols + j;
            double allowed = tolerance(r, r->scale[at], r->value[at]);
            if (!near(got[i * ld + j], r->value[at], allowed))
                fail_msg("element (%zu, %zu) of %zux%zu: got %.9g, expected %.9g "
                         "(allowed error %.3g)",
                         i, j, r->rows, r->cols, (double)got[i * ld + j], r->value[at],
                         allowed);
        }
    }
}

void assert_operand_near(const operand *o, const reference *r)
{
    const float *got = operand_download(o);
    assert_matrix_near(got + o->offset, o->ld, r);
    assert_canaries_intact(o, got);
}

void assert_vadd_works(kiln_ctx *ctx)
{
    enum { n = 100 };
    operand a = vector_make(ctx, n, 0, 0, FILL_RANDOM, 1);
    operand b = vector_make(ctx, n, 1, 0, FILL_RANDOM, 2);
    operand c = vector_make(ctx, n, 0, 1, FILL_CANARY, 0);
    assert_ok(ctx, kiln_vadd(ctx, a.view, b.view, c.view, n));
    reference r = reference_vadd(operand_data(&a), operand_data(&b), n);
    assert_operand_near(&c, &r);
}

void assert_sgemm_works(kiln_ctx *ctx)
{
    enum { m = 9, n = 7, k = 5 };
    operand a = input_make(ctx, KILN_TRANS, m, k, 1, 1, FILL_RANDOM, 1);
    operand b = input_make(ctx, KILN_NO_TRANS, k, n, 0, 0, FILL_RANDOM, 2);
    operand c = input_make(ctx, KILN_NO_TRANS, m, n, 2, 1, FILL_NAN, 3);
    assert_ok(ctx, kiln_sgemm(ctx, KILN_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, a.view, a.ld,
                              b.view, b.ld, 0.0f, c.view, c.ld));
    reference r = reference_sgemm(KILN_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, operand_data(&a),
                                  a.ld, operand_data(&b), b.ld, 0.0f, NULL, c.ld);
    assert_operand_near(&c, &r);
}

/* ---------------------------------------------------------------- errors */

void check_status(const kiln_ctx *ctx, kiln_status got, kiln_status expected,
                  const char *call, long case_index, const char *file, int line)
{
    if (got == expected)
        return;
    if (case_index >= 0)
        fprintf(stderr, "case %ld of the table:\n", case_index);
    fprintf(stderr, "%s:%d: %s\n  returned %s\n  expected %s\n  last error: %s\n", file,
            line, call, kiln_status_str(got), kiln_status_str(expected),
            kiln_last_error(ctx));
    fail_msg("unexpected status at %s:%d", file, line);
}

void assert_contains(const char *text, const char *needle)
{
    assert_non_null(text);
    if (strstr(text, needle) == NULL)
        fail_msg("\"%s\" does not contain \"%s\"", text, needle);
}

static void assert_contains_either(const char *text, const char *needle, const char *other)
{
    assert_non_null(text);
    if (strstr(text, needle) == NULL && strstr(text, other) == NULL)
        fail_msg("\"%s\" contains neither \"%s\" nor \"%s\"", text, needle, other);
}

void assert_ld_rejected(const kiln_ctx *ctx, kiln_status status, size_t index, size_t which)
{
    static const char *const names[][2] = {
        {"lda", "ld of a"}, {"ldb", "ld of b"}, {"ldc", "ld of c"}};
    assert_true(which < 3);
    assert_status_of_case(ctx, status, KILN_ERR_ARG, index);
    assert_contains_either(kiln_last_error(ctx), names[which][0], names[which][1]);
}

size_t ld_wrapping(size_t cols, size_t which)
{
    const size_t lds[WRAPPING_LDS] = {SIZE_MAX - cols + 1, SIZE_MAX - 1, SIZE_MAX};
    assert_true(cols >= 2 && which < WRAPPING_LDS);
    return lds[which];
}

void assert_wrapping_lds_refused(kiln_ctx *ctx, const wrapping_case *cases, size_t count,
                                 wrapping_call call)
{
    kiln_buf *in = scratch_buffer(ctx, 4096 * sizeof(float));
    operand out = vector_make(ctx, 4096, 0, 0, FILL_CANARY, 0);
    for (size_t i = 0; i < count * WRAPPING_LDS; i++) { /* each case with each wrapping ld */
        const size_t *c = cases[i / WRAPPING_LDS], culprit = c[8];
        size_t ld[3] = {c[5], c[6], c[7]};
        ld[culprit] = ld_wrapping(ld[culprit], i % WRAPPING_LDS);
        assert_status_of_case(ctx, call(ctx, c, ld, in, out.view), KILN_ERR_SIZE,
                              i / WRAPPING_LDS);
    }
    assert_operand_unchanged(&out);
}

void assert_mentions_floats(const char *text, size_t elements)
{
    char count[32], bytes[32];
    snprintf(count, sizeof count, "%zu", elements);
    snprintf(bytes, sizeof bytes, "%zu", elements * sizeof(float));
    assert_non_null(text);
    if (strstr(text, count) == NULL && strstr(text, bytes) == NULL)
        fail_msg("\"%s\" names neither %s floats nor %s bytes", text, count, bytes);
}

/* ---------------------------------------------------------------- row-wise results */

void assert_each_near(const float *got, const double *expected, const double *allowed,
                      size_t n, const char *what)
{
    for (size_t i = 0; i < n; i++) {
        bool ok = isinf(expected[i]) ? (double)got[i] == expected[i]
                                     : near(got[i], expected[i], allowed[i]);
        if (!ok)
            fail_msg("%s %zu: got %.9g, expected %.9g (allowed error %.3g)", what, i,
                     (double)got[i], expected[i], allowed[i]);
    }
}

void assert_rows_near(const operand *y, const double *expected, const double *allowed)
{
    const float *got = operand_download(y);
    for (size_t r = 0; r < y->rows; r++) {
        char what[64];
        snprintf(what, sizeof what, "row %zu of %zu, column", r, y->rows);
        assert_each_near(got + y->offset + r * y->ld, expected + r * y->cols,
                         allowed + r * y->cols, y->cols, what);
    }
    assert_canaries_intact(y, got);
}
