/* kiln_reduce and kiln_sum against a double reference: sums within the bound kiln.h
 * states (4·max(1, log2 n)·u·Σ|x|), MAX, MIN and ARGMAX exact. */
#include "common.h"

#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { OPS = 6 };
static const kiln_reduce_op all_ops[OPS] = {KILN_REDUCE_SUM,  KILN_REDUCE_MAX,
                                            KILN_REDUCE_MIN,  KILN_REDUCE_MEAN,
                                            KILN_REDUCE_SUMSQ, KILN_REDUCE_ARGMAX};

/* The bound kiln.h states for a sum of n terms whose magnitudes add to magnitude. */
static double sum_bound(size_t n, double magnitude)
{
    return 4.0 * fmax(1.0, log2((double)n)) * ldexp(1, -24) * magnitude;
}

/* a comes before b for MAX and ARGMAX: NaN first, then the larger. */
static bool above(double a, double b)
{
    return isnan(b) ? false : isnan(a) || a > b;
}

/* op over the n elements x[0], x[stride], ...: the value (ARGMAX: the index) and the
 * error allowed. */
static void reduce_one(kiln_reduce_op op, const float *x, size_t n, size_t stride,
                       double *value, double *allowed)
{
    double sum = 0, magnitude = 0, best = op == KILN_REDUCE_MIN ? INFINITY : -INFINITY;
    size_t index = 0;
    for (size_t i = 0; i < n; i++) {
        double v = x[i * stride];
        if (op == KILN_REDUCE_SUMSQ)
            v *= v;
        sum += v;
        magnitude += fabs(v);
        bool better = op == KILN_REDUCE_MIN ? above(-v, -best) : above(v, best);
        if (better || (i == 0 && op == KILN_REDUCE_ARGMAX)) {
            best = v;
            index = i;
        }
    }
    *allowed = sum_bound(n, magnitude);
    switch (op) {
    case KILN_REDUCE_MAX:
    case KILN_REDUCE_MIN: *value = best, *allowed = 0; break;
    case KILN_REDUCE_ARGMAX: *value = (double)index, *allowed = 0; break;
    case KILN_REDUCE_MEAN:
        *value = sum / (double)n;
        *allowed = *allowed / (double)n + ldexp(fabs(*value), -24);
        break;
    default: *value = sum;
    }
}

/* Runs op over x (rows×cols, ld = cols + pad, offset floats in) into a y `offset + 1`
 * floats into its buffer, and checks y, the canaries after it, and that x is unchanged. */
static void check_reduce_on(kiln_ctx *ctx, kiln_reduce_op op, kiln_axis axis, operand *x)
{
    size_t rows = x->rows, cols = x->cols;
    size_t results = axis == KILN_PER_ROW ? rows : cols;
    size_t length = axis == KILN_PER_ROW ? cols : rows;
    operand y = vector_make(ctx, results, x->offset + 1, 3, FILL_CANARY, 0);
    assert_ok(ctx, kiln_reduce(ctx, op, axis, x->view, y.view, rows, cols, x->ld));

    double *expected = calloc(results + 1, sizeof(double));
    double *allowed = calloc(results + 1, sizeof(double));
    float *got = calloc(results + 1, sizeof(float));
    const float *data = operand_data(x);
    for (size_t i = 0; i < results; i++)
        reduce_one(op, axis == KILN_PER_ROW ? data + i * x->ld : data + i, length,
                   axis == KILN_PER_ROW ? 1 : x->ld, &expected[i], &allowed[i]);
    const float *downloaded = operand_download(&y);
    assert_canaries_intact(&y, downloaded);
    memcpy(got, downloaded + y.offset, results * sizeof(float));
    if (op == KILN_REDUCE_ARGMAX) { /* uint32 indices: compare them as numbers */
        for (size_t i = 0; i < results; i++) {
            uint32_t index;
            memcpy(&index, &got[i], sizeof index);
            got[i] = (float)index;
        }
    }
    assert_each_near(got, expected, allowed, results, axis == KILN_PER_ROW ? "row" : "column");
    free(expected);
    free(allowed);
    free(got);
    assert_operand_unchanged(x);
}

static void check_reduce(kiln_ctx *ctx, kiln_reduce_op op, kiln_axis axis, size_t rows,
                         size_t cols, size_t pad, size_t offset)
{
    size_t mark = scratch_mark();
    operand x = operand_make(ctx, rows, cols, cols + pad, offset, 2, FILL_RANDOM,
                             (uint32_t)(rows * 31 + cols));
    check_reduce_on(ctx, op, axis, &x);
    scratch_release_to(mark);
}

/* rows, cols, pad (ld - cols), offset */
static const size_t shapes[][4] = {
    {1, 1, 0, 0},     {1, 1000, 0, 0}, {1000, 1, 0, 1}, {7, 13, 3, 3},  {33, 257, 0, 4},
    {5, 1025, 7, 1},  {2, 4096, 4, 4}, {300, 40, 1, 2}, {64, 3, 0, 0},  {9, 8, 1, 0},
};

static void reduce_matches_the_reference_for_every_op_axis_and_shape(void **state)
{
    for (size_t op = 0; op < OPS; op++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
            check_reduce(*state, all_ops[op], KILN_PER_ROW, shapes[s][0], shapes[s][1],
                         shapes[s][2], shapes[s][3]);
            check_reduce(*state, all_ops[op], KILN_PER_COL, shapes[s][0], shapes[s][1],
                         shapes[s][2], shapes[s][3]);
        }
}

static void reduce_handles_a_row_and_a_column_of_100000(void **state)
{
    for (size_t op = 0; op < OPS; op++) {
        check_reduce(*state, all_ops[op], KILN_PER_ROW, 1, 100000, 0, 1);
        check_reduce(*state, all_ops[op], KILN_PER_COL, 100000, 1, 2, 0);
    }
}

static void reduce_handles_many_rows_beyond_one_group_each(void **state)
{
    check_reduce(*state, KILN_REDUCE_SUM, KILN_PER_ROW, 5000, 2, 1, 0);
    check_reduce(*state, KILN_REDUCE_ARGMAX, KILN_PER_COL, 3, 5000, 0, 3);
}

/* On PoCL (2 compute units) these take the two-pass paths: a few long rows shared
 * among groups, and columns whose rows are split into chunks (aligned float4s or not). */
static void reduce_splits_few_long_rows_and_tall_columns_across_groups(void **state)
{
    /* axis, rows, cols, pad, offset */
    static const size_t split_shapes[][5] = {
        {KILN_PER_ROW, 1, 100000, 0, 1}, {KILN_PER_ROW, 3, 50001, 5, 2},
        {KILN_PER_ROW, 2, 16384, 0, 0},  {KILN_PER_COL, 1000, 37, 3, 1},
        {KILN_PER_COL, 1000, 64, 0, 0},  {KILN_PER_COL, 4001, 5, 0, 2},
        {KILN_PER_COL, 5000, 1, 0, 0},
    };
    for (size_t op = 0; op < OPS; op++)
        for (size_t s = 0; s < sizeof split_shapes / sizeof split_shapes[0]; s++) {
            const size_t *c = split_shapes[s];
            check_reduce(*state, all_ops[op], (kiln_axis)c[0], c[1], c[2], c[3], c[4]);
        }
}

/* Columns over every pair of 1, 7, 17, 255, 1023 and 1025 rows and columns: under the GPU's
 * table (meson test columns-gpu-table) groups one float4 wide to a group of 256 items and
 * one lane (1023 and 1025 columns), in one pass or chunks of the rows; SUM and ARGMAX
 * everywhere, every op on a few wide shapes, some off a float4 boundary. */
static void reduce_columns_of_every_width_match_the_reference(void **state)
{
    static const size_t lengths[] = {1, 7, 17, 255, 1023, 1025};
    enum { LENGTHS = sizeof lengths / sizeof lengths[0] };
    for (size_t r = 0; r < LENGTHS; r++)
        for (size_t c = 0; c < LENGTHS; c++) {
            size_t pad = (r + c) % 3, offset = (r * 2 + c) % 4;
            check_reduce(*state, KILN_REDUCE_SUM, KILN_PER_COL, lengths[r], lengths[c], pad,
                         offset);
            check_reduce(*state, KILN_REDUCE_ARGMAX, KILN_PER_COL, lengths[r], lengths[c], 0,
                         0);
        }
    /* rows, cols, pad, offset */
    static const size_t wide[][4] = {{1025, 1023, 0, 0}, {7, 1025, 3, 1}, {255, 1025, 0, 0}};
    for (size_t op = 0; op < OPS; op++)
        for (size_t w = 0; w < sizeof wide / sizeof wide[0]; w++)
            check_reduce(*state, all_ops[op], KILN_PER_COL, wide[w][0], wide[w][1], wide[w][2],
                         wide[w][3]);
}

/* Sets element (r, c) of x's host copy; write_back uploads it. */
static void set_element(operand *x, size_t r, size_t c, float value)
{
    x->host[x->offset + r * x->ld + c] = value;
}

static void write_back(kiln_ctx *ctx, operand *x)
{
    assert_ok(ctx, kiln_buf_write(x->buffer, 0, x->host, x->total * sizeof(float)));
}

/* Each set is a row (rows: true) or a column of x, holding: only ones (every element ties),
 * equal maxima in two pieces or chunks (the scalar head among them), NaN in two, only
 * -Inf, and +Inf with -Inf. */
static void fill_specials_across_groups(operand *x, bool rows, size_t length)
{
    for (size_t i = 0; i < length; i++) {
        const float set[5] = {1.0f, (float)(i % 7), i == length / 3 ? NAN : 0.5f, -INFINITY,
                              0.25f};
        for (size_t k = 0; k < 5; k++)
            set_element(x, rows ? k : i, rows ? i : k, set[k]);
    }
    const size_t at[][2] = {{1, 1}, {1, length - 10}, {2, length - 3}, {4, 2}, {4, length / 2}};
    const float value[] = {9.0f, 9.0f, NAN, INFINITY, -INFINITY};
    for (size_t k = 0; k < 5; k++)
        set_element(x, rows ? at[k][0] : at[k][1], rows ? at[k][1] : at[k][0], value[k]);
}

static void reduce_across_groups_propagates_nan_and_keeps_the_first_maximum(void **state)
{
    kiln_ctx *ctx = *state;
    enum { long_length = 100000, tall_length = 1000 };
    for (size_t op = 0; op < OPS; op++) {
        size_t mark = scratch_mark();
        operand rows = operand_make(ctx, 5, long_length, long_length + 1, 1, 1, FILL_RANDOM, 6);
        fill_specials_across_groups(&rows, true, long_length);
        write_back(ctx, &rows);
        check_reduce_on(ctx, all_ops[op], KILN_PER_ROW, &rows);
        operand columns = operand_make(ctx, tall_length, 5, 7, 1, 1, FILL_RANDOM, 7);
        fill_specials_across_groups(&columns, false, tall_length);
        write_back(ctx, &columns);
        check_reduce_on(ctx, all_ops[op], KILN_PER_COL, &columns);
        scratch_release_to(mark);
    }
}

/* Rows of special values: NaN first and later, infinities of both signs, ties. */
static void reduce_propagates_nan_and_inf_and_takes_the_first_of_equal_maxima(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 6, cols = 5 };
    const float values[rows][cols] = {
        {1, NAN, 3, NAN, -1},           {INFINITY, 2, -INFINITY, 0, 1},
        {INFINITY, 2, 5, 0, 1},         {-INFINITY, -INFINITY, -INFINITY, -INFINITY, -INFINITY},
        {2, 7, 7, -3, 7},               {-0.0f, 0.0f, -0.0f, 0.0f, -1},
    };
    for (size_t op = 0; op < OPS; op++) {
        for (size_t axis = 0; axis < 2; axis++) {
            size_t mark = scratch_mark();
            operand x = operand_make(ctx, rows, cols, cols + 1, 1, 1, FILL_RANDOM, 5);
            for (size_t r = 0; r < rows; r++)
                memcpy(&x.host[x.offset + r * x.ld], values[r], sizeof values[r]);
            assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
            check_reduce_on(ctx, all_ops[op], (kiln_axis)axis, &x);
            scratch_release_to(mark);
        }
    }
}

/* Each of n floats is value: the same infinity or zero, or any NaN for NaN. */
static void assert_same_floats(const float *got, float value, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (isnan(value))
            assert_true(isnan(got[i]));
        else
            assert_true(got[i] == value);
    }
}

static void reduce_of_empty_sets_gives_the_identities(void **state)
{
    kiln_ctx *ctx = *state;
    const float expected[5] = {0, -INFINITY, INFINITY, NAN, 0}; /* SUM .. SUMSQ */
    kiln_buf *x = scratch_buffer(ctx, 4 * sizeof(float));
    for (size_t op = 0; op < 5; op++) {
        operand y = vector_make(ctx, 3, 1, 2, FILL_CANARY, 0);
        assert_ok(ctx, kiln_reduce(ctx, all_ops[op], KILN_PER_ROW, x, y.view, 3, 0, 1));
        const float *got = operand_download(&y);
        assert_canaries_intact(&y, got);
        assert_same_floats(got + y.offset, expected[op], 3);
        assert_ok(ctx, kiln_reduce(ctx, all_ops[op], KILN_PER_COL, x, y.view, 0, 3, 4));
        assert_same_floats(operand_download(&y) + y.offset, expected[op], 3);
    }
}

static void reduce_with_no_output_writes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 7);
    operand y = vector_make(ctx, 4, 0, 0, FILL_CANARY, 0);
    for (size_t op = 0; op < OPS; op++) {
        assert_ok(ctx, kiln_reduce(ctx, all_ops[op], KILN_PER_ROW, x.view, y.view, 0, 8, 8));
        assert_ok(ctx, kiln_reduce(ctx, all_ops[op], KILN_PER_COL, x.view, y.view, 8, 0, 1));
        assert_ok(ctx, kiln_reduce(ctx, all_ops[op], KILN_PER_ROW, x.view, y.view, 0, 0, 1));
    }
    assert_operand_unchanged(&y);
}

static void reduce_rejects_argmax_of_an_empty_set_or_beyond_uint32(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 8);
    operand y = vector_make(ctx, 4, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_ARGMAX, KILN_PER_ROW, x.view, y.view,
                                      3, 0, 1));
    assert_contains(kiln_last_error(ctx), "ARGMAX of an empty set: cols is 0");
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_ARGMAX, KILN_PER_COL, x.view, y.view,
                                      0, 3, 3));
    assert_contains(kiln_last_error(ctx), "rows is 0");
    size_t huge = (size_t)UINT32_MAX;
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_ARGMAX, KILN_PER_ROW, x.view, y.view,
                                      1, huge, huge));
    assert_contains(kiln_last_error(ctx), "cols = 4294967295 elements");
    assert_operand_unchanged(&y);
}

static void reduce_rejects_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 9);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_reduce(NULL, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, y.view,
                                       2, 4, 4));
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, NULL, y.view, 2,
                                      4, 4));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, NULL, 0,
                                      4, 4));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_operand_unchanged(&y);
}

static void reduce_rejects_an_op_or_axis_outside_its_enum(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 10);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_reduce(ctx, (kiln_reduce_op)6, KILN_PER_ROW, x.view, y.view,
                                      2, 4, 4));
    assert_contains(kiln_last_error(ctx), "op is 6, not a kiln_reduce_op");
    assert_arg_error(ctx, kiln_reduce(ctx, (kiln_reduce_op)-1, KILN_PER_ROW, x.view, y.view,
                                      2, 4, 4));
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_MAX, (kiln_axis)2, x.view, y.view, 2,
                                      4, 4));
    assert_contains(kiln_last_error(ctx), "axis is 2, neither KILN_PER_ROW nor KILN_PER_COL");
    assert_operand_unchanged(&y);
}

static void reduce_rejects_ld_below_cols_even_for_no_rows(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 11);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, y.view, 2,
                                      3, 2));
    assert_contains(kiln_last_error(ctx), "ld is 2, below the row length 3 of x (2x3)");
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_COL, x.view, y.view, 0,
                                      3, 2));
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, y.view, 2,
                                      0, 0));
    assert_contains(kiln_last_error(ctx), "ld is 0, below the row length 1");
    assert_operand_unchanged(&y);
}

static void reduce_rejects_buffers_too_small_naming_their_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 12, 0, 0, FILL_RANDOM, 12);
    operand y = vector_make(ctx, 3, 0, 0, FILL_CANARY, 0);
    /* x: 4×4 needs 16 floats of its 12 */
    assert_size_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, y.view, 4,
                                       3, 4));
    assert_contains(kiln_last_error(ctx), "x (4x3 stored, ld 4) needs 15 floats");
    /* y: 4 results in 3 floats */
    assert_size_error(ctx, kiln_reduce(ctx, KILN_REDUCE_MAX, KILN_PER_COL, x.view, y.view, 3,
                                       4, 4));
    assert_contains(kiln_last_error(ctx), "y needs 4 floats (16 bytes) but its buffer holds 12");
    assert_operand_unchanged(&y);
}

static void reduce_rejects_sizes_that_overflow(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 16, 0, 0, FILL_RANDOM, 13);
    operand y = vector_make(ctx, 4, 0, 0, FILL_CANARY, 0);
    for (size_t which = 0; which < WRAPPING_LDS; which++) {
        size_t ld = ld_wrapping(3, which);
        assert_size_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view,
                                           y.view, 2, 3, ld));
        assert_contains(kiln_last_error(ctx), "overflows size_t");
    }
    assert_size_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_COL, x.view, y.view,
                                       1, SIZE_MAX / 2, SIZE_MAX / 2));
    assert_operand_unchanged(&y);
}

static void reduce_rejects_y_overlapping_x(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 16, 0, 0, FILL_RANDOM, 14);
    kiln_buf *inside = scratch_view(x.buffer, 12 * sizeof(float), 4 * sizeof(float));
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, inside, 4,
                                      4, 4));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input x");
    assert_arg_error(ctx, kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, x.view, x.view, 4,
                                      4, 4));
    assert_operand_unchanged(&x);
}

/* ---------------------------------------------------------------- kiln_sum */

static void check_sum(kiln_ctx *ctx, size_t n, size_t offset)
{
    size_t mark = scratch_mark();
    operand x = vector_make(ctx, n, offset, 3, FILL_RANDOM, (uint32_t)n + 1);
    operand y = vector_make(ctx, 1, offset + 2, 2, FILL_CANARY, 0);
    assert_ok(ctx, kiln_sum(ctx, x.view, y.view, n));
    double expected, allowed;
    reduce_one(KILN_REDUCE_SUM, operand_data(&x), n, 1, &expected, &allowed);
    const float *got = operand_download(&y);
    assert_canaries_intact(&y, got);
    assert_each_near(got + y.offset, &expected, &allowed, 1, "sum of n");
    scratch_release_to(mark);
}

static void sum_is_within_the_bound_for_every_edge_size(void **state)
{
    for_each_edge_size(*state, 0, check_sum);
    for_each_edge_size(*state, 3, check_sum);
    check_sum(*state, 100000, 1);
    check_sum(*state, (1u << 20) + 3, 2);
}

static void sum_of_nothing_is_zero(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *x = scratch_buffer(ctx, sizeof(float));
    operand y = vector_make(ctx, 1, 1, 1, FILL_CANARY, 0);
    assert_ok(ctx, kiln_sum(ctx, x, y.view, 0));
    const float *got = operand_download(&y);
    assert_canaries_intact(&y, got);
    assert_true(got[y.offset] == 0.0f);
}

/* Where a serial float loop is off by percents: 2^20 copies of 0.1. */
static void sum_of_a_million_tenths_is_within_the_bound(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1 << 20 };
    kiln_buf *x = scratch_upload(ctx, scratch_filled(n, 0.1f), n);
    kiln_buf *y = scratch_buffer(ctx, sizeof(float));
    assert_ok(ctx, kiln_sum(ctx, x, y, n));
    double expected = (double)n * 0.1f, allowed = sum_bound(n, expected);
    assert_each_near(scratch_download(y, 1), &expected, &allowed, 1, "sum");
}

static void sum_propagates_nan_and_inf(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 5000 };
    float *values = scratch_random(n, 15);
    kiln_buf *y = scratch_buffer(ctx, sizeof(float));
    const float specials[3][2] = {{INFINITY, 1}, {INFINITY, -INFINITY}, {NAN, 0}};
    const float expected[3] = {INFINITY, NAN, NAN};
    for (size_t s = 0; s < 3; s++) {
        values[17] = specials[s][0];
        values[n - 2] = specials[s][1];
        kiln_buf *x = scratch_upload(ctx, values, n);
        assert_ok(ctx, kiln_sum(ctx, x, y, n));
        assert_same_floats(scratch_download(y, 1), expected[s], 1);
    }
}

struct sum_job {
    kiln_ctx *ctx;
    kiln_buf *x, *y;
    size_t n;
    kiln_status status;
};

static void *sum_repeatedly(void *arg)
{
    struct sum_job *job = arg;
    for (int i = 0; i < 20 && job->status == KILN_OK; i++)
        job->status = kiln_sum(job->ctx, job->x, job->y, job->n);
    if (job->status == KILN_OK)
        job->status = kiln_finish(job->ctx);
    return NULL;
}

/* Two threads share the context's partials: each sum must still be its own. */
static void sums_from_two_threads_keep_their_partials_apart(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 300000 };
    struct sum_job jobs[2];
    pthread_t threads[2];
    for (size_t t = 0; t < 2; t++) {
        jobs[t] = (struct sum_job){ctx, scratch_upload(ctx, scratch_filled(n, (float)(t + 1)), n),
                                   scratch_buffer(ctx, sizeof(float)), n, KILN_OK};
        assert_int_equal(pthread_create(&threads[t], NULL, sum_repeatedly, &jobs[t]), 0);
    }
    for (size_t t = 0; t < 2; t++) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
        assert_ok(ctx, jobs[t].status);
        assert_true(*scratch_download(jobs[t].y, 1) == (float)((t + 1) * n));
    }
}

static void sum_rejects_bad_arguments_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 16);
    operand y = vector_make(ctx, 1, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_sum(NULL, x.view, y.view, 8));
    assert_arg_error(ctx, kiln_sum(ctx, NULL, y.view, 8));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_sum(ctx, x.view, NULL, 8));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_size_error(ctx, kiln_sum(ctx, x.view, y.view, 9));
    assert_contains(kiln_last_error(ctx), "x needs 9 floats (36 bytes) but its buffer holds 32");
    assert_size_error(ctx, kiln_sum(ctx, x.view, y.view, SIZE_MAX / 2));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    kiln_buf *tiny = scratch_view(x.buffer, 0, 2);
    assert_size_error(ctx, kiln_sum(ctx, x.view, tiny, 0));
    assert_contains(kiln_last_error(ctx), "y needs 1 floats (4 bytes) but its buffer holds 2");
    kiln_buf *last = scratch_view(x.buffer, 7 * sizeof(float), sizeof(float));
    assert_arg_error(ctx, kiln_sum(ctx, x.view, last, 8));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input x");
    kiln_buf *odd = scratch_view(x.buffer, 2, 8);
    assert_arg_error(ctx, kiln_sum(ctx, x.view, odd, 1));
    assert_contains(kiln_last_error(ctx), "y starts at byte 2, not on a float boundary");
    assert_operand_unchanged(&y);
}

/* x of 2 rows and 3 columns whose ld (the culprit) wraps (rows - 1)·ld + cols past SIZE_MAX. */
static const wrapping_case wrapping_rows[] = {{0, 0, 2, 3, 0, 3, 0, 0, 0}};

static kiln_status reduce_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                  kiln_buf *in, kiln_buf *out)
{
    return kiln_reduce(ctx, KILN_REDUCE_SUM, KILN_PER_ROW, in, out, c[2], c[3], ld[0]);
}

static void reduce_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, reduce_with_ld);
}

/* ---------------------------------------------------------------- 2^28 floats */

enum { HUGE_N = 1 << 28 };

/* Terms in [0, 1]: no cancellation, so a serial float loop would drift far past the
 * bound; the maximum is placed near the end, where the last group reads. */
static void sum_and_max_of_2_pow_28_floats_match_the_reference(void **state)
{
    kiln_ctx *ctx = *state;
    float *values = scratch_random(HUGE_N, 28);
    for (size_t i = 0; i < HUGE_N; i++)
        values[i] = fabsf(values[i]);
    values[HUGE_N - 5] = 2.0f;
    kiln_buf *x = scratch_upload(ctx, values, HUGE_N);
    kiln_buf *y = scratch_buffer(ctx, 2 * sizeof(float));
    kiln_buf *sum = scratch_view(y, 0, sizeof(float)), *max = scratch_view(y, sizeof(float),
                                                                           sizeof(float));
    assert_ok(ctx, kiln_sum(ctx, x, sum, HUGE_N));
    assert_ok(ctx, kiln_reduce(ctx, KILN_REDUCE_MAX, KILN_PER_ROW, x, max, 1, HUGE_N, HUGE_N));
    double expected[2], allowed[2];
    reduce_one(KILN_REDUCE_SUM, values, HUGE_N, 1, &expected[0], &allowed[0]);
    reduce_one(KILN_REDUCE_MAX, values, HUGE_N, 1, &expected[1], &allowed[1]);
    assert_each_near(scratch_download(y, 2), expected, allowed, 2, "sum and max of 2^28");
}

/* 0 when the default device can hold the 1 GiB input and the host a copy besides; 77
 * (skip) and why when not. */
static int huge_availability(void)
{
    size_t index;
    kiln_device_info info = {.struct_size = sizeof(info)};
    if (kiln_device_find(NULL, &index) != KILN_OK || kiln_device_get(index, &info) != KILN_OK) {
        fprintf(stderr, "no device: %s\n", kiln_last_error(NULL));
        return 1;
    }
    const unsigned long long input = (unsigned long long)HUGE_N * sizeof(float);
    const double host = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE);
    if (info.max_alloc_bytes < input || info.global_mem_bytes < 2 * input) {
        printf("skipped: %s allocates at most %llu bytes of %llu, not 1 GiB\n", info.name,
               info.max_alloc_bytes, info.global_mem_bytes);
        return 77;
    }
    if (host < 4.0 * (double)input) {
        printf("skipped: the host has %.0f bytes, under 4 GiB\n", host);
        return 77;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "huge") == 0) {
        const struct CMUnitTest huge[] = {
            KILN_TEST(sum_and_max_of_2_pow_28_floats_match_the_reference),
        };
        int availability = huge_availability();
        return availability != 0 ? availability : RUN_KILN_TESTS(huge);
    }
    const struct CMUnitTest sums[] = {
        KILN_TEST(sum_is_within_the_bound_for_every_edge_size),
        KILN_TEST(sum_of_a_million_tenths_is_within_the_bound),
        KILN_TEST(sum_propagates_nan_and_inf),
    };
    const struct CMUnitTest columns[] = {
        KILN_TEST(reduce_matches_the_reference_for_every_op_axis_and_shape),
        KILN_TEST(reduce_splits_few_long_rows_and_tall_columns_across_groups),
        KILN_TEST(reduce_across_groups_propagates_nan_and_keeps_the_first_maximum),
        KILN_TEST(reduce_columns_of_every_width_match_the_reference),
    };
    if (argc > 1 && strcmp(argv[1], "sum") == 0)
        return RUN_KILN_TESTS(sums);
    if (argc > 1 && strcmp(argv[1], "columns") == 0)
        return RUN_KILN_TESTS(columns);
    const struct CMUnitTest tests[] = {
        KILN_TEST(reduce_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(reduce_matches_the_reference_for_every_op_axis_and_shape),
        KILN_TEST(reduce_handles_a_row_and_a_column_of_100000),
        KILN_TEST(reduce_handles_many_rows_beyond_one_group_each),
        KILN_TEST(reduce_propagates_nan_and_inf_and_takes_the_first_of_equal_maxima),
        KILN_TEST(reduce_splits_few_long_rows_and_tall_columns_across_groups),
        KILN_TEST(reduce_across_groups_propagates_nan_and_keeps_the_first_maximum),
        KILN_TEST(reduce_columns_of_every_width_match_the_reference),
        KILN_TEST(reduce_of_empty_sets_gives_the_identities),
        KILN_TEST(reduce_with_no_output_writes_nothing),
        KILN_TEST(reduce_rejects_argmax_of_an_empty_set_or_beyond_uint32),
        KILN_TEST(reduce_rejects_null_context_and_buffers),
        KILN_TEST(reduce_rejects_an_op_or_axis_outside_its_enum),
        KILN_TEST(reduce_rejects_ld_below_cols_even_for_no_rows),
        KILN_TEST(reduce_rejects_buffers_too_small_naming_their_sizes),
        KILN_TEST(reduce_rejects_sizes_that_overflow),
        KILN_TEST(reduce_rejects_y_overlapping_x),
        KILN_TEST(sum_is_within_the_bound_for_every_edge_size),
        KILN_TEST(sum_of_nothing_is_zero),
        KILN_TEST(sum_of_a_million_tenths_is_within_the_bound),
        KILN_TEST(sum_propagates_nan_and_inf),
        KILN_TEST(sums_from_two_threads_keep_their_partials_apart),
        KILN_TEST(sum_rejects_bad_arguments_naming_them),
    };
    return RUN_KILN_TESTS(tests);
}
