/* kiln_map and kiln_map_reduce: the language's grammar, precedence and errors (each
 * with its column), every binding kind, aliasing and size checks, an Adam step and
 * reductions against C references in double, and kernels shared by expressions that
 * parse alike. Kernels build into a private cache folder, so the cache counters tell
 * builds apart from reuse. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- helpers */

static kiln_binding array(const char *name, kiln_buf *buf)
{
    return (kiln_binding){name, KILN_BIND_ARRAY, buf, 0.0f};
}

static kiln_binding scalar(const char *name, float value)
{
    return (kiln_binding){name, KILN_BIND_SCALAR, NULL, value};
}

static kiln_binding row(const char *name, kiln_buf *buf)
{
    return (kiln_binding){name, KILN_BIND_ROW, buf, 0.0f};
}

static kiln_binding col(const char *name, kiln_buf *buf)
{
    return (kiln_binding){name, KILN_BIND_COL, buf, 0.0f};
}

/* Fails unless kiln_map(expr) is KILN_ERR_ARG with a message holding `message`. */
static void assert_map_error(kiln_ctx *ctx, const char *expr, const char *message)
{
    kiln_buf *y = scratch_buffer(ctx, 64);
    kiln_buf *a = scratch_buffer(ctx, 64);
    const kiln_binding binds[] = {array("y", y), array("a", a), array("b", a),
                                  scalar("s", 1)};
    assert_arg_error(ctx, kiln_map(ctx, expr, 1, 4, binds, 4));
    assert_contains(kiln_last_error(ctx), message);
}

static void assert_reduce_error(kiln_ctx *ctx, const char *expr, const char *message)
{
    kiln_buf *a = scratch_buffer(ctx, 64), *result = scratch_buffer(ctx, 4);
    const kiln_binding binds[] = {array("a", a), array("b", a)};
    assert_arg_error(ctx, kiln_map_reduce(ctx, expr, 1, 4, binds, 2, result));
    assert_contains(kiln_last_error(ctx), message);
}

static unsigned long long cache_misses(void)
{
    kiln_cache_stats stats = {.struct_size = sizeof(stats)};
    assert_int_equal(kiln_cache_stats_get(&stats), KILN_OK);
    return stats.misses;
}

/* values in a view `shift` bytes into a larger buffer: 0 or 16 keeps cl/map.cl's float4
 * path, 4 makes the whole call scalar. */
static kiln_buf *shifted_upload(kiln_ctx *ctx, const float *values, size_t n, size_t shift)
{
    kiln_buf *view = scratch_view(scratch_buffer(ctx, 4 * n + shift), shift, 4 * n);
    assert_ok(ctx, kiln_buf_write(view, 0, values, 4 * n));
    return view;
}

/* The float that kiln computed into the first float of buf. */
static float first_float(const kiln_buf *buf)
{
    return scratch_download(buf, 1)[0];
}

/* ---------------------------------------------------------------- the language */

/* Rows of a table evaluated as one kernel: statement i writes view i. */
typedef struct {
    const char *expr;
    double expected;
} value_case;

/* Each case over 5 elements (a float4 and the tail), at `shift` bytes from a 32-byte
 * slot: every element must hold the expected value. */
static void assert_cases_at(kiln_ctx *ctx, const value_case *cases, size_t count,
                            size_t shift)
{
    enum { ELEMENTS = 5, SLOT = 32 };
    kiln_buf *out = scratch_buffer(ctx, count * SLOT);
    kiln_binding binds[32];
    char names[32][8], text[2048] = "";
    size_t used = 0;
    for (size_t i = 0; i < count; ++i) {
        snprintf(names[i], sizeof(names[i]), "y%zu", i);
        binds[i] = array(names[i], scratch_view(out, i * SLOT + shift, ELEMENTS * sizeof(float)));
        used += (size_t)snprintf(text + used, sizeof(text) - used, "%s = %s;\n", names[i],
                                 cases[i].expr);
    }
    binds[count] = scalar("a", 2);
    binds[count + 1] = scalar("b", 3);
    binds[count + 2] = scalar("c", 4);
    assert_ok(ctx, kiln_map(ctx, text, 1, ELEMENTS, binds, count + 3));
    float *got = scratch_download(out, count * SLOT / sizeof(float));
    for (size_t i = 0; i < count; ++i)
        for (size_t e = 0; e < ELEMENTS; ++e) {
            float value = got[(i * SLOT + shift) / sizeof(float) + e];
            if (fabs(value - cases[i].expected) > 1e-6 * fmax(1, fabs(cases[i].expected)))
                fail_msg("%s gave %.9g at element %zu (shift %zu), expected %.9g",
                         cases[i].expr, value, e, shift, cases[i].expected);
        }
}

/* Through cl/map.cl's float4 path and its scalar one. */
static void assert_cases(kiln_ctx *ctx, const value_case *cases, size_t count)
{
    assert_cases_at(ctx, cases, count, 0);
    assert_cases_at(ctx, cases, count, 4);
}

static void map_follows_the_precedence_table(void **state)
{
    static const value_case cases[] = {
        {"a + b * c", 14},
        {"(a + b) * c", 20},
        {"a - b - c", -5},
        {"a / b / c", 2.0 / 3.0 / 4.0},
        {"-a^2", -4},
        {"-a ^ b", -8},
        {"a^b^2", 512},
        {"a ^ -b", 0.125},
        {"a * -b", -6},
        {"1 - -a", 3},
        {"a + b < c", 0},
        {"a < b ? c : b", 4},
        {"a > b ? 1 : c > b ? 2 : 3", 2},
        {"a ? b ? 5 : 6 : 7", 5},
        {"(a < b) + (b < a) + (a <= 2) + (a >= 3)", 2},
        {"(a == 2) * 10 + (a != 2)", 10},
        {"0 ? 1 : 2", 2},
        {"-b < -a", 1},
        {"2 * a ^ 2", 8},
        {"c - b * a / c", 2.5},
    };
    assert_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void map_reads_every_form_of_literal_and_white_space(void **state)
{
    static const value_case cases[] = {
        {"1", 1},       {"0.5", 0.5},    {".5", 0.5},       {"5.", 5},
        {"1e-8", 1e-8}, {"1E5", 1e5},    {"1e+5", 1e5},     {"2.5e-1", 0.25},
        {"\ta\r\n+\tb ", 5}, {"007", 7}, {"1e-50", 0},     {"3.4e38", 3.4e38},
    };
    assert_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void map_computes_every_function(void **state)
{
    static const value_case cases[] = {
        {"exp(a)", 7.38905609893065},   {"log(c)", 1.38629436111989},
        {"sqrt(c)", 2},                 {"rsqrt(c)", 0.5},
        {"tanh(a - b)", -0.761594155955765}, {"sigmoid(a)", 0.880797077977882},
        {"relu(a - b)", 0},             {"relu(b - a)", 1},
        {"abs(a - b)", 1},              {"min(a, b)", 2},
        {"max(a, b)", 3},               {"pow(a, 0.5)", 1.4142135623731},
        {"erf(a - b)", -0.842700792949715},
        {"0.5 * a * (1 + erf(a / sqrt(2)))", 1.95449973610364}, /* GELU */
    };
    assert_cases(*state, cases, sizeof(cases) / sizeof(cases[0]));
}

static void min_and_max_functions_propagate_nan(void **state)
{
    kiln_ctx *ctx = *state;
    const float x[5] = {NAN, 0, NAN, 0, NAN}; /* per lane of a float4, and the tail */
    for (size_t shift = 0; shift <= 4; shift += 4) {
        kiln_buf *y = scratch_buffer(ctx, 20), *xb = shifted_upload(ctx, x, 5, shift);
        const kiln_binding binds[] = {array("y", y), array("n", xb), scalar("a", 1)};
        assert_ok(ctx, kiln_map(ctx, "y = max(n, a) + min(a, n)", 1, 5, binds, 3));
        float *got = scratch_download(y, 5);
        for (int i = 0; i < 5; ++i)
            if (isnan(x[i]))
                assert_true(isnan(got[i]));
            else
                assert_float_equal(got[i], 1, 0);
    }
}

static void statements_run_in_order_and_an_output_may_be_assigned_twice(void **state)
{
    kiln_ctx *ctx = *state;
    float x[5] = {1, 2, 3, 4, 5};
    kiln_buf *in = scratch_upload(ctx, x, 5), *y = scratch_buffer(ctx, 20),
             *z = scratch_buffer(ctx, 20);
    const kiln_binding binds[] = {array("x", in), array("y", y), array("z", z),
                                  array("Y", in)};
    assert_ok(ctx, kiln_map(ctx, "y = x * 2; z = y + 1; y = y * 10;", 1, 5, binds, 4));
    float *got_y = scratch_download(y, 5), *got_z = scratch_download(z, 5);
    for (int i = 0; i < 5; ++i) {
        assert_float_equal(got_y[i], 20 * x[i], 0);
        assert_float_equal(got_z[i], 2 * x[i] + 1, 0);
    }
}

static void whole_literal_exponents_multiply_and_others_call_pow(void **state)
{
    kiln_ctx *ctx = *state;
    enum { N = 257 };
    float *x = scratch_random(N, 7);
    kiln_buf *in = scratch_upload(ctx, x, N), *p16 = scratch_buffer(ctx, 4 * N),
             *p0 = scratch_buffer(ctx, 4 * N), *half = scratch_buffer(ctx, 4 * N),
             *square = scratch_buffer(ctx, 4 * N);
    const kiln_binding binds[] = {array("x", in), array("p", p16), array("q", p0),
                                  array("h", half), array("s", square)};
    assert_ok(ctx, kiln_map(ctx, "p = x^16; q = (x - 1)^0; h = (x - 2)^2.5; s = (x - 2)^2",
                            1, N, binds, 5));
    float *got16 = scratch_download(p16, N), *got0 = scratch_download(p0, N),
          *got_half = scratch_download(half, N), *got_square = scratch_download(square, N);
    for (int i = 0; i < N; ++i) {
        float product = x[i];
        for (int k = 1; k < 16; ++k)
            product = product * x[i]; /* the exact repeated multiplication, as C rounds it */
        assert_memory_equal(&got16[i], &product, sizeof(float));
        assert_float_equal(got0[i], 1, 0);
        assert_true(isnan(got_half[i])); /* pow of a negative base */
        float base = x[i] - 2;
        assert_float_equal(got_square[i], base * base, 0);
    }
}

static void map_rejects_each_bad_expression_naming_column_and_token(void **state)
{
    static const struct {
        const char *expr, *message;
    } cases[] = {
        {"y = a + d", "unknown name 'd' at column 9"},
        {"y = a +", "the expression ends too early at column 8"},
        {"y = a < b < s", "comparison '<' follows another: comparisons do not chain (add "
                          "parentheses) at column 11"},
        {"y = 1f", "malformed number '1f' at column 5"},
        {"y = 0x10", "malformed number '0x10' at column 5"},
        {"y = 1.5.2", "malformed number '1.5.2' at column 5"},
        {"y = 1e", "malformed number '1e' at column 5"},
        {"y = 1e39", "number '1e39' is beyond float's range at column 5"},
        {"y = a # b", "unexpected character '#' at column 7"},
        {"y = exp", "expected '(' but found the end at column 8"},
        {"y = max(a)", "'max' takes 2 arguments but has 1 at column 5"},
        {"y = exp(a, b)", "'exp' takes 1 argument but has 2 at column 5"},
        {"y = max(a b)", "expected ',' but found 'b' at column 11"},
        {"exp = a", "cannot assign to 'exp', a function's name at column 1"},
        {"s = a", "'s' is assigned but bound as SCALAR: outputs must be ARRAY at column 1"},
        {"y = a b", "expected ';' or the end but found 'b' at column 7"},
        {"", "expected a statement 'name = ...' but found the end at column 1"},
        {"y = a;;", "expected a statement 'name = ...' but found ';' at column 7"},
        {"y = (a", "expected ')' but found the end at column 7"},
        {"y = a ? b", "expected ':' but found the end at column 10"},
        {"y a", "expected '=' but found 'a' at column 3"},
        {"y = sum(a)", "reduction 'sum' inside an expression"},
        {"y = a\n  + d", "unknown name 'd' at line 2, column 5"},
        {"y = )", "unexpected ')' at column 5"},
        {"y = a !", "unexpected character '!' at column 7"},
        {"y = \x01", "unexpected byte 0x01 at column 5"},
        {"Y = a", "unknown name 'Y' at column 1"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i)
        assert_map_error(*state, cases[i].expr, cases[i].message);
}

static void map_rejects_names_longer_than_64_characters(void **state)
{
    char expr[128] = "y = ";
    memset(expr + 4, 'n', 65);
    assert_map_error(*state, expr, "is longer than 64 characters at column 5");
}

/* "y = " and `depth` levels of ( around a. */
static char *nested_expression(size_t depth)
{
    char *expr = malloc(2 * depth + 8);
    assert_non_null(expr);
    size_t at = (size_t)sprintf(expr, "y = ");
    memset(expr + at, '(', depth);
    expr[at + depth] = 'a';
    memset(expr + at + depth + 1, ')', depth);
    expr[at + 2 * depth + 1] = '\0';
    return expr;
}

static void map_allows_nesting_256_and_rejects_257(void **state)
{
    kiln_ctx *ctx = *state;
    float one = 1;
    kiln_buf *a = scratch_upload(ctx, &one, 1), *y = scratch_buffer(ctx, 4);
    const kiln_binding binds[] = {array("y", y), array("a", a)};
    char *ok = nested_expression(256), *deep = nested_expression(257);
    kiln_status fine = kiln_map(ctx, ok, 1, 1, binds, 2);
    kiln_status refused = kiln_map(ctx, deep, 1, 1, binds, 2);
    free(ok);
    free(deep);
    assert_ok(ctx, fine);
    assert_arg_error(ctx, refused);
    assert_contains(kiln_last_error(ctx), "'(' nests deeper than 256 levels at column 261");
    /* unary minus, ^ and ?: count too */
    char minus[300] = "y = ";
    memset(minus + 4, '-', 257);
    minus[261] = 'a';
    assert_map_error(ctx, minus, "'-' nests deeper than 256 levels at column 261");
}

static void map_rejects_text_beyond_64_kib_and_walks_long_chains(void **state)
{
    kiln_ctx *ctx = *state;
    enum { LENGTH = 64 * 1024 };
    char *text = malloc(LENGTH + 2);
    assert_non_null(text);
    /* y = a+a+...+a+d: 32 K operators deep, without recursion, to the unknown name */
    size_t at = (size_t)sprintf(text, "y = a");
    while (at + 2 < LENGTH - 2) {
        memcpy(text + at, "+a", 2);
        at += 2;
    }
    memcpy(text + at, "+d", 3);
    char column[64];
    snprintf(column, sizeof(column), "unknown name 'd' at column %zu", at + 2);
    assert_map_error(ctx, text, column);
    memset(text, ' ', LENGTH + 1);
    text[LENGTH + 1] = '\0';
    assert_map_error(ctx, text, "expr is longer than 65536 bytes");
    free(text);
}

static void map_reduce_rejects_anything_but_one_whole_reduction(void **state)
{
    kiln_ctx *ctx = *state;
    assert_reduce_error(ctx, "sum(a) + 1", "expected the end (the reduction must be the "
                                           "whole expression) but found '+' at column 8");
    assert_reduce_error(ctx, "a + 1", "expected sum(...), max(...) or min(...) but found "
                                      "'a' at column 1");
    assert_reduce_error(ctx, "max(a, b)", "the reduction max takes one expression at column 6");
    assert_reduce_error(ctx, "sum(sum(a))", "inside an expression: kiln_map_reduce takes it around the whole expression only at column 5");
    assert_reduce_error(ctx, "y = a", "found 'y' at column 1");
    assert_reduce_error(ctx, "min(a + z)", "unknown name 'z' at column 9");
}

/* ---------------------------------------------------------------- bindings */

static void map_reads_arrays_scalars_rows_and_columns(void **state)
{
    kiln_ctx *ctx = *state;
    enum { ROWS = 3, COLS = 1029 };
    float *a = scratch_random(ROWS * COLS, 1), *r = scratch_random(COLS, 2),
          *c = scratch_random(ROWS, 3);
    kiln_buf *ab = scratch_upload(ctx, a, ROWS * COLS), *rb = scratch_upload(ctx, r, COLS),
             *cb = scratch_upload(ctx, c, ROWS), *y = scratch_buffer(ctx, 4 * ROWS * COLS);
    const kiln_binding binds[] = {array("y", y), array("a", ab), row("r", rb), col("c", cb),
                                  scalar("s", 0.25f), scalar("unused", 9)};
    assert_ok(ctx, kiln_map(ctx, "y = a + r * 10 + c * 100 + s", ROWS, COLS, binds, 6));
    float *got = scratch_download(y, ROWS * COLS);
    for (size_t i = 0; i < ROWS; ++i)
        for (size_t j = 0; j < COLS; ++j) {
            float want = a[i * COLS + j] + r[j] * 10.0f + c[i] * 100.0f + 0.25f;
            assert_float_equal(got[i * COLS + j], want, 0);
        }
}

/* Rows and columns per element on both paths, with quads across rows (cols % 4 != 0,
 * cols below 4) and within them. */
static void map_places_rows_and_columns_for_every_width(void **state)
{
    kiln_ctx *ctx = *state;
    static const size_t shapes[][2] = {{7, 1}, {5, 2}, {3, 3}, {3, 4}, {2, 5}, {3, 8}, {4, 13}};
    for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); ++s)
        for (size_t shift = 0; shift <= 16; shift += 4) {
            size_t rows = shapes[s][0], cols = shapes[s][1], n = rows * cols;
            float *a = scratch_random(n, 41), *r = scratch_random(cols, 42),
                  *c = scratch_random(rows, 43);
            kiln_buf *y = shifted_upload(ctx, a, n, shift), *ab = shifted_upload(ctx, a, n, shift);
            const kiln_binding binds[] = {array("y", y), array("a", ab),
                                          row("r", scratch_upload(ctx, r, cols)),
                                          col("c", scratch_upload(ctx, c, rows))};
            assert_ok(ctx, kiln_map(ctx, "y = a + r * 10 + c * 100", rows, cols, binds, 4));
            float *got = scratch_download(y, n);
            for (size_t i = 0; i < n; ++i)
                assert_float_equal(got[i], a[i] + r[i % cols] * 10.0f + c[i / cols] * 100.0f, 0);
        }
}

/* Every length around the float4s' tail, views on and off 16-byte boundaries, and the
 * output in place of an input. */
static void map_matches_c_for_every_length_and_alignment(void **state)
{
    kiln_ctx *ctx = *state;
    static const size_t lengths[] = {1, 2, 3, 4, 5, 7, 8, 1023, 1029};
    for (size_t l = 0; l < sizeof(lengths) / sizeof(lengths[0]); ++l)
        for (size_t shift = 0; shift <= 16; shift += 4) {
            size_t n = lengths[l];
            float *a = scratch_random(n, 51), *b = scratch_random(n, 52),
                  *c = scratch_random(n, 53);
            kiln_buf *ab = shifted_upload(ctx, a, n, shift), *bb = shifted_upload(ctx, b, n, shift),
                     *cb = shifted_upload(ctx, c, n, shift);
            const kiln_binding binds[] = {array("a", ab), array("b", bb), array("c", cb)};
            assert_ok(ctx, kiln_map(ctx, "a = sigmoid(a + b) * c", 1, n, binds, 3));
            float *got = scratch_download(ab, n);
            for (size_t i = 0; i < n; ++i) {
                double want = 1.0 / (1.0 + exp(-(double)(a[i] + b[i]))) * c[i];
                if (fabs(got[i] - want) > 1e-6)
                    fail_msg("n %zu, shift %zu, element %zu: %.9g, expected %.9g", n, shift, i,
                             got[i], want);
            }
        }
}

static void map_computes_sigmoid_of_a_plus_b_times_c_on_views(void **state)
{
    kiln_ctx *ctx = *state;
    enum { N = 4097 };
    float *a = scratch_random(N, 4), *b = scratch_random(N, 5), *c = scratch_random(N, 6);
    kiln_buf *big = scratch_buffer(ctx, 4 * (N + 3));
    kiln_buf *av = scratch_view(big, 12, 4 * N); /* not on a 16-byte boundary */
    assert_ok(ctx, kiln_buf_write(av, 0, a, 4 * N));
    kiln_buf *bb = scratch_upload(ctx, b, N), *cb = scratch_upload(ctx, c, N),
             *y = scratch_buffer(ctx, 4 * N);
    const kiln_binding binds[] = {array("y", y), array("a", av), array("b", bb),
                                  array("c", cb)};
    assert_ok(ctx, kiln_map(ctx, "y = sigmoid(a + b) * c", 1, N, binds, 4));
    float *got = scratch_download(y, N);
    for (int i = 0; i < N; ++i) {
        double want = 1.0 / (1.0 + exp(-(double)(a[i] + b[i]))) * c[i];
        assert_true(fabs(got[i] - want) <= 1e-6);
    }
}

static void map_works_in_place_and_on_another_binding_of_the_same_range(void **state)
{
    kiln_ctx *ctx = *state;
    float x[4] = {1, 2, 3, 4};
    kiln_buf *buf = scratch_upload(ctx, x, 4);
    const kiln_binding same[] = {array("x", buf)};
    assert_ok(ctx, kiln_map(ctx, "x = x * 2", 1, 4, same, 1));
    const kiln_binding twice[] = {array("out", buf), array("in", buf)};
    assert_ok(ctx, kiln_map(ctx, "out = in + 1", 1, 4, twice, 2));
    float *got = scratch_download(buf, 4);
    for (int i = 0; i < 4; ++i)
        assert_float_equal(got[i], 2 * x[i] + 1, 0);
}

static void map_rejects_outputs_sharing_memory_or_overlapping_inputs(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = scratch_buffer(ctx, 64);
    kiln_buf *low = scratch_view(buf, 0, 32), *high = scratch_view(buf, 16, 32);
    const kiln_binding outputs[] = {array("y", buf), array("z", buf), scalar("s", 1)};
    assert_arg_error(ctx, kiln_map(ctx, "y = s; z = s", 1, 4, outputs, 3));
    assert_contains(kiln_last_error(ctx), "the outputs");
    const kiln_binding partly[] = {array("y", low), array("a", high)};
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, partly, 2));
    assert_contains(kiln_last_error(ctx), "y partly overlaps the input a");
    const kiln_binding across[] = {array("y", low), row("r", low)};
    assert_arg_error(ctx, kiln_map(ctx, "y = r", 1, 4, across, 2));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input r");
}

static void map_rejects_bad_bindings_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *y = scratch_buffer(ctx, 16);
    kiln_binding binds[] = {array("y", y), scalar("a", 1)};
    assert_arg_error(ctx, kiln_map(NULL, "y = a", 1, 4, binds, 2));
    assert_arg_error(ctx, kiln_map(ctx, NULL, 1, 4, binds, 2));
    assert_contains(kiln_last_error(ctx), "expr is NULL");
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, NULL, 2));
    binds[1].name = NULL;
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, binds, 2));
    assert_contains(kiln_last_error(ctx), "bindings[1].name is NULL");
    binds[1].name = "a b";
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, binds, 2));
    assert_contains(kiln_last_error(ctx), "bindings[1].name \"a b\" is not a name");
    binds[1].name = "y";
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, binds, 2));
    assert_contains(kiln_last_error(ctx), "bindings[0] and [1] are both named 'y'");
    binds[1] = scalar("a", 1);
    binds[1].kind = (kiln_bind_kind)7;
    assert_arg_error(ctx, kiln_map(ctx, "y = a", 1, 4, binds, 2));
    assert_contains(kiln_last_error(ctx), "bindings[1].kind is 7, not a kiln_bind_kind");
    binds[1] = array("a", NULL);
    assert_arg_error(ctx, kiln_map(ctx, "y = 1", 1, 4, binds, 2)); /* unused, still checked */
    assert_contains(kiln_last_error(ctx), "a is NULL");
}

static void map_takes_32_bindings_and_rejects_33(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_binding binds[33];
    char names[33][8], expr[512] = "y = 0";
    kiln_buf *y = scratch_buffer(ctx, 4);
    binds[0] = array("y", y);
    for (int i = 1; i < 33; ++i) {
        snprintf(names[i], sizeof(names[i]), "s%d", i);
        binds[i] = scalar(names[i], (float)i);
        if (i < 32)
            strcat(strcat(expr, " + "), names[i]);
    }
    assert_ok(ctx, kiln_map(ctx, expr, 1, 1, binds, 32));
    assert_float_equal(first_float(y), 31 * 32 / 2, 0);
    assert_arg_error(ctx, kiln_map(ctx, expr, 1, 1, binds, 33));
    assert_contains(kiln_last_error(ctx), "count is 33: at most 32 bindings");
}

static void map_rejects_buffers_too_small_for_their_kind(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *small = scratch_buffer(ctx, 4 * 5), *big = scratch_buffer(ctx, 4 * 6);
    const kiln_binding arrays[] = {array("y", big), array("a", small)};
    assert_size_error(ctx, kiln_map(ctx, "y = a", 2, 3, arrays, 2));
    assert_contains(kiln_last_error(ctx), "a needs 6 floats");
    const kiln_binding rows[] = {array("y", big), row("r", scratch_buffer(ctx, 8))};
    assert_size_error(ctx, kiln_map(ctx, "y = r", 2, 3, rows, 2));
    assert_contains(kiln_last_error(ctx), "r needs 3 floats");
    const kiln_binding cols[] = {array("y", big), col("c", scratch_buffer(ctx, 4))};
    assert_size_error(ctx, kiln_map(ctx, "y = c", 2, 3, cols, 2));
    assert_contains(kiln_last_error(ctx), "c needs 2 floats");
    assert_size_error(ctx, kiln_map(ctx, "y = a", SIZE_MAX, 2, arrays, 2));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
}

static void map_of_no_rows_or_columns_writes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    float canary = CANARY;
    kiln_buf *y = scratch_upload(ctx, &canary, 1);
    const kiln_binding binds[] = {array("y", y)};
    assert_ok(ctx, kiln_map(ctx, "y = 1", 0, 5, binds, 1));
    assert_ok(ctx, kiln_map(ctx, "y = 1", 5, 0, binds, 1));
    assert_float_equal(first_float(y), CANARY, 0);
    assert_arg_error(ctx, kiln_map(ctx, "y = q", 0, 0, binds, 1)); /* checks come first */
}

/* ---------------------------------------------------------------- Adam */

static void adam_step_as_one_map_matches_c(void **state)
{
    kiln_ctx *ctx = *state;
    enum { N = 10007 };
    const float b1 = 0.9f, b2 = 0.999f, lr = 1e-3f, eps = 1e-8f;
    float *w = scratch_random(N, 11), *g = scratch_random(N, 12), *m = scratch_random(N, 13),
          *v = scratch_random(N, 14);
    for (int i = 0; i < N; ++i)
        v[i] = fabsf(v[i]);
    kiln_buf *wb = scratch_upload(ctx, w, N), *gb = scratch_upload(ctx, g, N),
             *mb = scratch_upload(ctx, m, N), *vb = scratch_upload(ctx, v, N);
    const kiln_binding binds[] = {array("w", wb),      array("g", gb),   array("m", mb),
                                  array("v", vb),      scalar("b1", b1), scalar("b2", b2),
                                  scalar("lr", lr),    scalar("eps", eps)};
    assert_ok(ctx, kiln_map(ctx, "m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g; "
                                 "w = w - lr*m/(sqrt(v)+eps)", 1, N, binds, 8));
    float *got_w = scratch_download(wb, N), *got_m = scratch_download(mb, N),
          *got_v = scratch_download(vb, N);
    for (int i = 0; i < N; ++i) {
        double mm = (double)b1 * m[i] + (1 - (double)b1) * g[i];
        double vv = (double)b2 * v[i] + (1 - (double)b2) * g[i] * g[i];
        double ww = w[i] - (double)lr * mm / (sqrt(vv) + eps);
        assert_true(fabs(got_m[i] - mm) <= 4 * FLT_EPSILON * (fabs(m[i]) + fabs(g[i])));
        assert_true(fabs(got_v[i] - vv) <= 4 * FLT_EPSILON * (fabs(v[i]) + g[i] * g[i]));
        /* lr·m/√v is at most lr·|m|/√v; its relative error a few roundings */
        double step = (double)lr * fabs(mm) / (sqrt(vv) + eps);
        assert_true(fabs(got_w[i] - ww) <= 4 * FLT_EPSILON * (fabs(w[i]) + step) + 16 * FLT_EPSILON * step);
    }
}

/* ---------------------------------------------------------------- map_reduce */

/* sum((a - b)^2), max(a + r) and min(a + r) over rows×cols at `shift` bytes. */
static void assert_reductions(kiln_ctx *ctx, size_t rows, size_t cols, size_t shift)
{
    size_t n = rows * cols;
    float *a = scratch_random(n, 21), *b = scratch_random(n, 22), *r = scratch_random(cols, 23);
    kiln_buf *result = scratch_buffer(ctx, 4);
    const kiln_binding binds[] = {array("a", shifted_upload(ctx, a, n, shift)),
                                  array("b", shifted_upload(ctx, b, n, shift)),
                                  row("r", scratch_upload(ctx, r, cols))};
    double sum = 0, max = -INFINITY, min = INFINITY;
    for (size_t i = 0; i < n; ++i) {
        float d = a[i] - b[i];
        sum += d * d;
        float shifted = a[i] + r[i % cols];
        max = fmax(max, shifted);
        min = fmin(min, shifted);
    }
    assert_ok(ctx, kiln_map_reduce(ctx, "sum((a - b)^2)", rows, cols, binds, 3, result));
    double allowed = (4 * fmax(1, log2((double)n)) + 2) * ldexp(1, -24) * sum;
    if (fabs(first_float(result) - sum) > allowed)
        fail_msg("sum over %zux%zu (shift %zu): %.9g, expected %.9g within %.3g", rows, cols,
                 shift, first_float(result), sum, allowed);
    assert_ok(ctx, kiln_map_reduce(ctx, "max(a + r)", rows, cols, binds, 3, result));
    assert_float_equal(first_float(result), max, 0);
    assert_ok(ctx, kiln_map_reduce(ctx, "min(a + r)", rows, cols, binds, 3, result));
    assert_float_equal(first_float(result), min, 0);
}

/* On the float4 path (shift 0, 16) and the scalar one (4), quads across rows too. */
static void map_reduce_sums_maxes_and_mins_against_double(void **state)
{
    static const size_t sizes[][2] = {{1, 1}, {1, 7}, {5, 3}, {1, 1000003}, {37, 129}};
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); ++s)
        for (size_t shift = 0; shift <= 16; shift += 4)
            if (shift != 8 && shift != 12)
                assert_reductions(*state, sizes[s][0], sizes[s][1], shift);
}

static void map_reduce_propagates_nan_and_gives_identities_for_empty_ranges(void **state)
{
    kiln_ctx *ctx = *state;
    float x[1000];
    floats_random(x, 1000, 31);
    x[617] = NAN;
    kiln_buf *xb = scratch_upload(ctx, x, 1000), *result = scratch_buffer(ctx, 4);
    const kiln_binding binds[] = {array("x", xb)};
    static const char *const reductions[] = {"sum(x)", "max(x)", "min(x)"};
    static const float empty[] = {0.0f, -INFINITY, INFINITY};
    for (int i = 0; i < 3; ++i) {
        assert_ok(ctx, kiln_map_reduce(ctx, reductions[i], 1, 1000, binds, 1, result));
        assert_true(isnan(first_float(result)));
        assert_ok(ctx, kiln_map_reduce(ctx, reductions[i], 0, 1000, binds, 1, result));
        assert_float_equal(first_float(result), empty[i], 0);
        assert_true(signbit(first_float(result)) == signbit(empty[i]));
    }
}

static void map_reduce_rejects_a_result_overlapping_an_input(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *x = scratch_buffer(ctx, 64);
    const kiln_binding binds[] = {array("x", x)};
    assert_arg_error(ctx, kiln_map_reduce(ctx, "sum(x)", 1, 4, binds, 1, x));
    assert_contains(kiln_last_error(ctx), "result shares memory with the input x");
    assert_arg_error(ctx, kiln_map_reduce(ctx, "sum(x)", 1, 4, binds, 1, NULL));
}

/* ---------------------------------------------------------------- the kernel cache */

static void expressions_that_parse_alike_share_one_kernel(void **state)
{
    kiln_ctx *ctx = *state;
    float one[3] = {1, 2, 3};
    kiln_buf *a = scratch_upload(ctx, one, 3), *b = scratch_upload(ctx, one, 3),
             *y = scratch_buffer(ctx, 12);
    const kiln_binding binds[] = {array("y", y), array("a", a), array("b", b)};
    const kiln_binding renamed[] = {array("out", y), array("p", a), array("q", b)};
    unsigned long long before = cache_misses();
    assert_ok(ctx, kiln_map(ctx, "y=a+b*0.5", 1, 3, binds, 3));
    assert_true(cache_misses() == before + 1);
    assert_ok(ctx, kiln_map(ctx, "y = (a) + (b * 0.5);\n", 1, 3, binds, 3));
    assert_ok(ctx, kiln_map(ctx, "out = p + q * 0.5", 1, 3, renamed, 3));
    assert_true(cache_misses() == before + 1);
    /* another literal, another operator: other kernels, other results */
    assert_ok(ctx, kiln_map(ctx, "y = a + b * 0.25", 1, 3, binds, 3));
    assert_float_equal(first_float(y), 1.25f, 0);
    assert_ok(ctx, kiln_map(ctx, "y = a - b * 0.5", 1, 3, binds, 3));
    assert_float_equal(first_float(y), 0.5f, 0);
    assert_true(cache_misses() == before + 3);
    /* a new context finds the kernel on disk */
    kiln_ctx *other = scratch_context(NULL);
    kiln_buf *y2 = scratch_buffer(other, 12), *a2 = scratch_upload(other, one, 3);
    const kiln_binding again[] = {array("y", y2), array("a", a2), array("b", a2)};
    assert_ok(other, kiln_map(other, "y = a + b * 0.5", 1, 3, again, 3));
    assert_float_equal(first_float(y2), 1.5f, 0);
    assert_true(cache_misses() == before + 3);
}

int main(void)
{
    /* a private cache folder, so the counters see this program's builds only */
    char folder[] = "/tmp/kiln-test-map-XXXXXX";
    if (mkdtemp(folder) == NULL || setenv("KILN_CACHE_DIR", folder, 1) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        KILN_TEST(map_follows_the_precedence_table),
        KILN_TEST(map_reads_every_form_of_literal_and_white_space),
        KILN_TEST(map_computes_every_function),
        KILN_TEST(min_and_max_functions_propagate_nan),
        KILN_TEST(statements_run_in_order_and_an_output_may_be_assigned_twice),
        KILN_TEST(whole_literal_exponents_multiply_and_others_call_pow),
        KILN_TEST(map_rejects_each_bad_expression_naming_column_and_token),
        KILN_TEST(map_rejects_names_longer_than_64_characters),
        KILN_TEST(map_allows_nesting_256_and_rejects_257),
        KILN_TEST(map_rejects_text_beyond_64_kib_and_walks_long_chains),
        KILN_TEST(map_reduce_rejects_anything_but_one_whole_reduction),
        KILN_TEST(map_reads_arrays_scalars_rows_and_columns),
        KILN_TEST(map_places_rows_and_columns_for_every_width),
        KILN_TEST(map_matches_c_for_every_length_and_alignment),
        KILN_TEST(map_computes_sigmoid_of_a_plus_b_times_c_on_views),
        KILN_TEST(map_works_in_place_and_on_another_binding_of_the_same_range),
        KILN_TEST(map_rejects_outputs_sharing_memory_or_overlapping_inputs),
        KILN_TEST(map_rejects_bad_bindings_naming_them),
        KILN_TEST(map_takes_32_bindings_and_rejects_33),
        KILN_TEST(map_rejects_buffers_too_small_for_their_kind),
        KILN_TEST(map_of_no_rows_or_columns_writes_nothing),
        KILN_TEST(adam_step_as_one_map_matches_c),
        KILN_TEST(map_reduce_sums_maxes_and_mins_against_double),
        KILN_TEST(map_reduce_propagates_nan_and_gives_identities_for_empty_ranges),
        KILN_TEST(map_reduce_rejects_a_result_overlapping_an_input),
        KILN_TEST(expressions_that_parse_alike_share_one_kernel),
    };
    int failed = RUN_KILN_TESTS(tests);
    folder_remove(folder);
    return failed;
}
