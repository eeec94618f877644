/* kiln_bias_act: y = act(x + bias), a bias per row or per column, against a double
 * reference. */
#include "common.h"

#include <math.h>
#include <stdbool.h>

static const kiln_act activations[] = {KILN_ACT_NONE, KILN_ACT_SIGMOID, KILN_ACT_RELU,
                                       KILN_ACT_TANH};
#define ACT_COUNT (sizeof activations / sizeof activations[0])

/* act(x + bias) of a rows×cols x with leading dimension ld, as a tight reference. */
static reference reference_bias_act(const float *x, size_t ld, const float *bias,
                                    size_t rows, size_t cols, kiln_axis axis, kiln_act act)
{
    bool smooth = act == KILN_ACT_SIGMOID || act == KILN_ACT_TANH;
    reference r = reference_blank(rows, cols, 0, smooth ? 1e-6 : 0);
    for (size_t i = 0; i < rows; i++)
        for (size_t j = 0; j < cols; j++) {
            double b = bias[axis == KILN_PER_ROW ? i : j], v = x[i * ld + j];
            r.value[i * cols + j] = activation_exact(act, v + b);
            r.scale[i * cols + j] = fabs(v) + fabs(b);
        }
    return r;
}

typedef struct {
    size_t rows, cols, pad, offset;
} shape;

/* (rows, cols, ld - cols, offset): 1×1, 1×n, n×1, ragged, ld > cols, beyond a group. */
static const shape shapes[] = {{1, 1, 0, 0},    {1, 1025, 0, 1},  {1025, 1, 0, 2},
                               {7, 13, 3, 3},   {17, 255, 1, 0},  {3, 4097, 5, 4},
                               {300, 70, 2, 1}, {65, 64, 0, 4}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

/* y starts y_shift floats after x's offset in its own buffer: 4 puts it on x's 16-byte
 * phase (the float4 path), 2 off it. */
static void check_bias_act_at(kiln_ctx *ctx, shape s, kiln_axis axis, kiln_act act,
                              bool in_place, size_t y_shift)
{
    size_t mark = scratch_mark();
    operand x = input_make(ctx, KILN_NO_TRANS, s.rows, s.cols, s.pad, s.offset, FILL_RANDOM,
                           (uint32_t)(s.rows * 31 + s.cols));
    size_t count = axis == KILN_PER_ROW ? s.rows : s.cols;
    operand bias = vector_make(ctx, count, s.offset + 1, 2, FILL_RANDOM, (uint32_t)count);
    operand y = output_make(ctx, s.rows, s.cols, s.pad, s.offset + y_shift, FILL_NAN, 0);
    operand *out = in_place ? &x : &y;
    reference r = reference_bias_act(operand_data(&x), x.ld, operand_data(&bias), s.rows,
                                     s.cols, axis, act);
    assert_ok(ctx, kiln_bias_act(ctx, x.view, bias.view, out->view, s.rows, s.cols, x.ld,
                                 axis, act));
    assert_operand_near(out, &r);
    assert_operand_unchanged(&bias);
    if (!in_place)
        assert_operand_unchanged(&x);
    scratch_release_to(mark);
}

static void check_bias_act(kiln_ctx *ctx, shape s, kiln_axis axis, kiln_act act, bool in_place)
{
    check_bias_act_at(ctx, s, axis, act, in_place, 2);
}

static void bias_act_matches_the_reference_for_every_shape_axis_and_activation(void **state)
{
    for (size_t i = 0; i < SHAPE_COUNT; i++)
        for (size_t a = 0; a < ACT_COUNT; a++) {
            check_bias_act(*state, shapes[i], KILN_PER_ROW, activations[a], false);
            check_bias_act(*state, shapes[i], KILN_PER_COL, activations[a], false);
        }
}

static void bias_act_moves_float4s_where_x_and_y_share_a_phase(void **state)
{
    for (size_t i = 0; i < SHAPE_COUNT; i++) {
        check_bias_act_at(*state, shapes[i], KILN_PER_ROW, KILN_ACT_SIGMOID, false, 4);
        check_bias_act_at(*state, shapes[i], KILN_PER_COL, KILN_ACT_RELU, false, 4);
    }
}

static void bias_act_in_place_maps_x(void **state)
{
    for (size_t i = 0; i < SHAPE_COUNT; i += 2) {
        check_bias_act(*state, shapes[i], KILN_PER_ROW, KILN_ACT_TANH, true);
        check_bias_act(*state, shapes[i], KILN_PER_COL, KILN_ACT_SIGMOID, true);
    }
}

static void bias_act_handles_a_matrix_beyond_one_grid(void **state)
{
    check_bias_act(*state, (shape){1500, 1100, 1, 3}, KILN_PER_COL, KILN_ACT_RELU, false);
}

static void bias_act_of_no_rows_or_columns_writes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = tight_make(ctx, 4, 4, FILL_RANDOM, 40);
    operand y = tight_make(ctx, 4, 4, FILL_CANARY, 0);
    assert_ok(ctx, kiln_bias_act(ctx, x.view, x.view, y.view, 0, 4, 4, KILN_PER_COL,
                                 KILN_ACT_NONE));
    assert_ok(ctx, kiln_bias_act(ctx, x.view, x.view, y.view, 4, 0, 4, KILN_PER_ROW,
                                 KILN_ACT_NONE));
    assert_operand_unchanged(&y);
}

static void bias_act_rejects_bad_arguments_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = input_make(ctx, KILN_NO_TRANS, 4, 6, 2, 0, FILL_RANDOM, 41);
    operand bias = vector_make(ctx, 6, 0, 0, FILL_RANDOM, 42);
    operand y = input_make(ctx, KILN_NO_TRANS, 4, 6, 2, 0, FILL_CANARY, 0);
    kiln_buf *xv = x.view, *bv = bias.view, *yv = y.view;
    const kiln_axis col = KILN_PER_COL;
    const kiln_act act = KILN_ACT_TANH;
    assert_arg_error(NULL, kiln_bias_act(NULL, xv, bv, yv, 4, 6, 8, col, act));
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 4, 6, 8, (kiln_axis)2, act));
    assert_contains(kiln_last_error(ctx), "axis is 2, neither KILN_PER_ROW nor KILN_PER_COL");
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 4, 6, 8, col, (kiln_act)7));
    assert_contains(kiln_last_error(ctx), "act is 7, not a kiln_act");
    assert_arg_error(ctx, kiln_bias_act(ctx, NULL, bv, yv, 4, 6, 8, col, act));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, NULL, yv, 0, 0, 1, col, act));
    assert_contains(kiln_last_error(ctx), "bias is NULL");
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, NULL, 4, 6, 8, col, act));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 0, 6, 5, col, act));
    assert_contains(kiln_last_error(ctx), "ld is 5, below the row length 6 of x (0x6)");
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 1, 0, 0, col, act));
    assert_size_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 5, 6, 8, col, act));
    assert_contains(kiln_last_error(ctx), "x (5x6 stored, ld 8) needs 38 floats");
    kiln_buf *short_bias = scratch_view(bias.buffer, 0, 3 * sizeof(float));
    assert_size_error(ctx, kiln_bias_act(ctx, xv, short_bias, yv, 4, 6, 8, KILN_PER_ROW, act));
    assert_contains(kiln_last_error(ctx), "bias needs 4 floats");
    assert_size_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 4, 7, 8, col, act));
    assert_contains(kiln_last_error(ctx), "bias needs 7 floats");
    kiln_buf *short_y = scratch_view(y.buffer, 0, 29 * sizeof(float));
    assert_size_error(ctx, kiln_bias_act(ctx, xv, bv, short_y, 4, 6, 8, col, act));
    assert_contains(kiln_last_error(ctx), "y (4x6 stored, ld 8) needs 30 floats");
    assert_size_error(ctx, kiln_bias_act(ctx, xv, bv, yv, 2, 6, SIZE_MAX - 2, col, act));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), 30 * sizeof(float));
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, shifted, 4, 6, 8, col, act));
    assert_contains(kiln_last_error(ctx), "y partly overlaps the input x");
    kiln_buf *over_bias = scratch_view(bias.buffer, 0, 6 * sizeof(float));
    assert_arg_error(ctx, kiln_bias_act(ctx, xv, bv, over_bias, 1, 6, 6, col, act));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input bias");
    assert_operand_unchanged(&y);
    assert_operand_unchanged(&bias);
}

/* x of 2 rows and 3 columns whose ld (the culprit) wraps (rows - 1)·ld + cols past SIZE_MAX. */
static const wrapping_case wrapping_rows[] = {{0, 0, 2, 3, 0, 3, 0, 0, 0}};

static kiln_status bias_act_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                    kiln_buf *in, kiln_buf *out)
{
    /* x and y share ld: y is the matrix both name; the bias is in */
    return kiln_bias_act(ctx, out, in, out, c[2], c[3], ld[0], KILN_PER_ROW, KILN_ACT_NONE);
}

static void bias_act_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, bias_act_with_ld);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(bias_act_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(bias_act_matches_the_reference_for_every_shape_axis_and_activation),
        KILN_TEST(bias_act_moves_float4s_where_x_and_y_share_a_phase),
        KILN_TEST(bias_act_in_place_maps_x),
        KILN_TEST(bias_act_handles_a_matrix_beyond_one_grid),
        KILN_TEST(bias_act_of_no_rows_or_columns_writes_nothing),
        KILN_TEST(bias_act_rejects_bad_arguments_naming_them),
    };
    return RUN_KILN_TESTS(tests);
}
