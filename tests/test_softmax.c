/* kiln_softmax and kiln_log_softmax against a double reference, with an allowance made
 * of the float roundings of x - max, exp or log and the row's compensated sum. */
#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static double *scratch_doubles(size_t n)
{
    return (double *)(void *)scratch_floats(2 * (n > 0 ? n : 1));
}

/* A max that NaN poisons, as the kernel's. */
static double max_with_nan(double a, double b)
{
    return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
}

/* The exact (log_)softmax of each row of x and what the kernel may be off by. */
static void reference_softmax(bool log_output, const operand *x, double *expected,
                              double *allowed)
{
    const double u = ldexp(1, -24), terms = fmax(1, log2((double)x->cols));
    for (size_t r = 0; r < x->rows; r++) {
        const float *row = operand_data(x) + r * x->ld;
        double max = -INFINITY, sum = 0;
        for (size_t c = 0; c < x->cols; c++)
            max = max_with_nan(max, row[c]);
        for (size_t c = 0; c < x->cols; c++)
            sum += exp(row[c] - max);
        for (size_t c = 0; c < x->cols; c++) {
            double shifted = row[c] - max, *y = &expected[r * x->cols + c];
            *y = log_output ? shifted - log(sum) : exp(shifted) / sum;
            double factor = log_output
                                ? 2 * fabs(shifted) + 8 * fabs(log(sum)) + 16 + 4 * terms + 2 * fabs(*y)
                                : fabs(*y) * (2 * fabs(shifted) + 16 + 4 * terms);
            /* -Inf elements give exactly 0 or -Inf; NaN rows need only NaN */
            allowed[r * x->cols + c] = isfinite(factor) ? factor * u + 1e-37 : 0;
        }
    }
}

/* (log_)softmax of x (rows×cols, ld cols + pad, `offset` floats in, values scaled by
 * `scale`) into y `y_offset` floats into its own buffer, or into x itself when in_place. */
static void check_softmax_scaled(kiln_ctx *ctx, bool log_output, size_t rows, size_t cols,
                                 size_t pad, size_t offset, size_t y_offset, float scale,
                                 bool in_place)
{
    size_t mark = scratch_mark();
    operand x = operand_make(ctx, rows, cols, cols + pad, offset, 2, FILL_RANDOM,
                             (uint32_t)(rows * 7 + cols));
    for (size_t i = 0; i < x.total; i++)
        if (x.host[i] != CANARY)
            x.host[i] *= scale;
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
    double *expected = scratch_doubles(rows * cols), *allowed = scratch_doubles(rows * cols);
    reference_softmax(log_output, &x, expected, allowed);
    operand y = in_place ? x : operand_make(ctx, rows, cols, cols + pad, y_offset, 2,
                                            FILL_CANARY, 0);
    kiln_status status = log_output ? kiln_log_softmax(ctx, x.view, y.view, rows, cols, x.ld)
                                    : kiln_softmax(ctx, x.view, y.view, rows, cols, x.ld);
    assert_ok(ctx, status);
    assert_rows_near(&y, expected, allowed);
    if (!in_place)
        assert_operand_unchanged(&x);
    scratch_release_to(mark);
}

/* rows, cols, pad, x offset, y offset: y on x's 16-byte phase or off it */
static const size_t shapes[][5] = {
    {1, 1, 0, 0, 0},   {1, 1000, 0, 1, 5}, {1000, 1, 0, 0, 1}, {7, 13, 3, 3, 7},
    {33, 257, 0, 4, 0}, {5, 1025, 7, 1, 2}, {2, 4096, 4, 4, 8}, {300, 40, 1, 2, 2},
};

static void softmax_matches_the_reference_over_shapes_and_offsets(void **state)
{
    for (int log_output = 0; log_output < 2; log_output++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_softmax_scaled(*state, log_output, shapes[s][0], shapes[s][1], shapes[s][2],
                                 shapes[s][3], shapes[s][4], 4.0f, false);
}

static void softmax_in_place_matches_the_reference(void **state)
{
    for (int log_output = 0; log_output < 2; log_output++) {
        check_softmax_scaled(*state, log_output, 9, 131, 1, 3, 0, 4.0f, true);
        check_softmax_scaled(*state, log_output, 4, 64, 0, 4, 0, 4.0f, true);
    }
}

static void softmax_of_rows_of_plus_minus_1000_does_not_overflow(void **state)
{
    for (int log_output = 0; log_output < 2; log_output++)
        check_softmax_scaled(*state, log_output, 17, 300, 2, 1, 1, 1000.0f, false);
}

static void softmax_handles_a_row_of_100000_and_many_rows(void **state)
{
    for (int log_output = 0; log_output < 2; log_output++) {
        check_softmax_scaled(*state, log_output, 1, 100000, 0, 0, 0, 10.0f, false);
        check_softmax_scaled(*state, log_output, 5000, 3, 0, 1, 1, 10.0f, false);
    }
}

/* On GPUs (and under KILN_GEMM_TABLE=gpu: meson test softmax-gpu-table) a team holds a
 * row of up to 32768 floats in registers, 1024 items of 8 float4s, and streams longer
 * ones; short ragged rows leave most of the items' registers empty. */
static void softmax_matches_the_reference_for_rows_held_in_registers_and_streamed(void **state)
{
    /* rows, cols, pad, x offset, y offset */
    static const size_t held_shapes[][5] = {
        {2, 32768, 0, 0, 0}, {2, 32772, 0, 0, 0}, {3, 1025, 3, 1, 1}, {16, 130, 2, 3, 3},
    };
    for (int log_output = 0; log_output < 2; log_output++)
        for (size_t s = 0; s < sizeof held_shapes / sizeof held_shapes[0]; s++)
            check_softmax_scaled(*state, log_output, held_shapes[s][0], held_shapes[s][1],
                                 held_shapes[s][2], held_shapes[s][3], held_shapes[s][4],
                                 4.0f, false);
}

/* A row with NaN or +Inf, or only -Inf, is NaN; -Inf elements give 0 (log: -Inf). */
static void softmax_propagates_nan_and_inf_as_documented(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 5, cols = 4 };
    const float values[rows][cols] = {
        {1, NAN, 2, 3},
        {1, INFINITY, 2, 3},
        {-INFINITY, -INFINITY, -INFINITY, -INFINITY},
        {-INFINITY, 0, 1, -INFINITY},
        {5, 5, 5, 5},
    };
    for (int log_output = 0; log_output < 2; log_output++) {
        size_t mark = scratch_mark();
        operand x = operand_make(ctx, rows, cols, cols, 0, 0, FILL_RANDOM, 3);
        memcpy(x.host, values, sizeof values);
        assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, sizeof values));
        operand y = operand_make(ctx, rows, cols, cols, 1, 2, FILL_CANARY, 0);
        double expected[rows * cols], allowed[rows * cols];
        reference_softmax(log_output, &x, expected, allowed);
        for (size_t c = 0; c < cols; c++) {
            assert_true(isnan(expected[c]) && isnan(expected[cols + c]) &&
                        isnan(expected[2 * cols + c]));
        }
        assert_true(log_output ? expected[3 * cols] == -INFINITY : expected[3 * cols] == 0);
        assert_ok(ctx, log_output ? kiln_log_softmax(ctx, x.view, y.view, rows, cols, cols)
                                  : kiln_softmax(ctx, x.view, y.view, rows, cols, cols));
        assert_rows_near(&y, expected, allowed);
        scratch_release_to(mark);
    }
}

static void softmax_of_no_rows_or_columns_writes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    kiln_buf *x = scratch_buffer(ctx, 8 * sizeof(float));
    assert_ok(ctx, kiln_softmax(ctx, x, y.view, 0, 8, 8));
    assert_ok(ctx, kiln_log_softmax(ctx, x, y.view, 4, 0, 1));
    assert_operand_unchanged(&y);
}

static void softmax_rejects_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 4);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_softmax(NULL, x.view, y.view, 2, 4, 4));
    assert_arg_error(ctx, kiln_softmax(ctx, NULL, y.view, 2, 4, 4));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_log_softmax(ctx, x.view, NULL, 0, 4, 4));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_operand_unchanged(&y);
}

static void softmax_rejects_ld_below_cols_and_short_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 12, 0, 0, FILL_RANDOM, 5);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_softmax(ctx, x.view, y.view, 0, 5, 4));
    assert_contains(kiln_last_error(ctx), "ld is 4, below the row length 5 of x (0x5)");
    assert_size_error(ctx, kiln_softmax(ctx, x.view, y.view, 4, 4, 4));
    assert_contains(kiln_last_error(ctx), "x (4x4 stored, ld 4) needs 16 floats");
    assert_size_error(ctx, kiln_log_softmax(ctx, x.view, y.view, 3, 4, 4));
    assert_contains(kiln_last_error(ctx), "y (3x4 stored, ld 4) needs 12 floats");
    assert_size_error(ctx, kiln_softmax(ctx, x.view, y.view, 2, 3, ld_wrapping(3, 1)));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    assert_operand_unchanged(&y);
}

static void softmax_rejects_an_output_partly_over_its_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 16, 0, 1, FILL_RANDOM, 6);
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), 16 * sizeof(float));
    assert_arg_error(ctx, kiln_softmax(ctx, x.view, shifted, 4, 4, 4));
    assert_contains(kiln_last_error(ctx),
                    "y partly overlaps the input x: in place it must be the very same range");
    assert_arg_error(ctx, kiln_log_softmax(ctx, shifted, x.view, 4, 4, 4));
    assert_operand_unchanged(&x);
}

/* x of 2 rows and 3 columns whose ld (the culprit) wraps (rows - 1)·ld + cols past SIZE_MAX. */
static const wrapping_case wrapping_rows[] = {{0, 0, 2, 3, 0, 3, 0, 0, 0}};

static kiln_status softmax_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                   kiln_buf *in, kiln_buf *out)
{
    (void)in; /* x and y share ld: y is the matrix both name */
    return kiln_softmax(ctx, out, out, c[2], c[3], ld[0]);
}

static kiln_status log_softmax_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                       kiln_buf *in, kiln_buf *out)
{
    (void)in;
    return kiln_log_softmax(ctx, out, out, c[2], c[3], ld[0]);
}

static void softmax_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, softmax_with_ld);
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, log_softmax_with_ld);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(softmax_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(softmax_matches_the_reference_over_shapes_and_offsets),
        KILN_TEST(softmax_in_place_matches_the_reference),
        KILN_TEST(softmax_of_rows_of_plus_minus_1000_does_not_overflow),
        KILN_TEST(softmax_handles_a_row_of_100000_and_many_rows),
        KILN_TEST(softmax_matches_the_reference_for_rows_held_in_registers_and_streamed),
        KILN_TEST(softmax_propagates_nan_and_inf_as_documented),
        KILN_TEST(softmax_of_no_rows_or_columns_writes_nothing),
        KILN_TEST(softmax_rejects_null_context_and_buffers),
        KILN_TEST(softmax_rejects_ld_below_cols_and_short_buffers),
        KILN_TEST(softmax_rejects_an_output_partly_over_its_input),
    };
    return RUN_KILN_TESTS(tests);
}
