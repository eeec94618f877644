/* kiln_act_backward: dx = dy·act' through the activation's output y, against a double
 * reference and against finite differences of the activation itself. */
#include "common.h"

#include <math.h>

static const kiln_act activations[] = {KILN_ACT_NONE, KILN_ACT_SIGMOID, KILN_ACT_RELU,
                                       KILN_ACT_TANH};
#define ACT_COUNT (sizeof activations / sizeof activations[0])

/* act(z) as float code computes it: the y a forward pass hands to the backward one. */
static float forward(kiln_act act, float z)
{
    switch (act) {
    case KILN_ACT_SIGMOID: return 1.0f / (1.0f + expf(-z));
    case KILN_ACT_RELU: return z > 0 ? z : 0;
    case KILN_ACT_TANH: return tanhf(z);
    default: return z;
    }
}

/* dy·act' in double, scaled by what float rounding of y(1 - y) or 1 - y² is relative to. */
static reference reference_act_backward(kiln_act act, const float *y, const float *dy,
                                        size_t n)
{
    reference r = reference_blank(1, n, 1, 0);
    for (size_t i = 0; i < n; i++) {
        double v = y[i], slope = 1, size = 1;
        if (act == KILN_ACT_SIGMOID)
            slope = v * (1 - v), size = fabs(v) * (1 + fabs(v));
        else if (act == KILN_ACT_TANH)
            slope = 1 - v * v, size = 1 + v * v;
        else if (act == KILN_ACT_RELU)
            slope = v > 0, size = v > 0;
        r.value[i] = slope != 0 ? dy[i] * slope : 0;
        r.scale[i] = fabs((double)dy[i]) * size;
    }
    return r;
}

/* Replaces the matrix of o by act of 4·(its values) and uploads it: y as a forward pass
 * leaves it. */
static void make_activation_output(kiln_ctx *ctx, operand *o, kiln_act act)
{
    float *m = o->host + o->offset;
    for (size_t i = 0; i < o->cols; i++)
        m[i] = forward(act, 4 * m[i]);
    assert_ok(ctx, kiln_buf_write(o->buffer, 0, o->host, o->total * sizeof(float)));
}

/* dx at `offset` floats (with y and dy `step` and 2·step floats further), for act. */
static void check_act_backward(kiln_ctx *ctx, kiln_act act, size_t n, size_t offset,
                               size_t step)
{
    size_t mark = scratch_mark();
    operand y = vector_make(ctx, n, offset + step, 2, FILL_RANDOM, (uint32_t)n + 3);
    make_activation_output(ctx, &y, act);
    operand dy = vector_make(ctx, n, offset + 2 * step, 3, FILL_RANDOM, (uint32_t)n + 4);
    operand dx = vector_make(ctx, n, offset, 5, FILL_CANARY, 0);
    assert_ok(ctx, kiln_act_backward(ctx, act, y.view, dy.view, dx.view, n));
    reference r = reference_act_backward(act, operand_data(&y), operand_data(&dy), n);
    assert_operand_near(&dx, &r);
    assert_operand_unchanged(&y);
    assert_operand_unchanged(&dy);
    scratch_release_to(mark);
}

static void check_every_act(kiln_ctx *ctx, size_t n, size_t offset)
{
    for (size_t a = 0; a < ACT_COUNT; a++) {
        check_act_backward(ctx, activations[a], n, offset, 1);
        check_act_backward(ctx, activations[a], n, offset, 0);
    }
}

static void act_backward_matches_the_reference_for_every_activation_and_size(void **state)
{
    for_each_edge_size(*state, 0, check_every_act);
    for_each_edge_size(*state, 3, check_every_act);
}

static void act_backward_handles_n_beyond_one_workgroup(void **state)
{
    check_act_backward(*state, KILN_ACT_TANH, (1u << 20) + 1, 4, 0);
    check_act_backward(*state, KILN_ACT_SIGMOID, (1u << 20) + 1, 1, 1);
}

/* The slope kiln applies is the derivative of the activation: dx against dy times a
 * central difference of act at the z that gave y. */
static void act_backward_matches_finite_differences(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 2000 };
    const double h = 1e-4;
    float *z = scratch_random(n, 21), *dy = scratch_random(n, 22), *y = scratch_floats(n);
    for (size_t a = 0; a < ACT_COUNT; a++) {
        kiln_act act = activations[a];
        for (size_t i = 0; i < n; i++) {
            z[i] *= a == 0 ? 1 : 4.0f / 3; /* up to ±4 by the last activation */
            if (fabs(z[i]) < 1e-3)
                z[i] = 0.5f; /* relu has no derivative at 0 */
            y[i] = forward(act, z[i]);
        }
        kiln_buf *yb = scratch_upload(ctx, y, n), *dyb = scratch_upload(ctx, dy, n);
        assert_ok(ctx, kiln_act_backward(ctx, act, yb, dyb, dyb, n));
        float *dx = scratch_download(dyb, n);
        for (size_t i = 0; i < n; i++) {
            double slope =
                (activation_exact(act, z[i] + h) - activation_exact(act, z[i] - h)) / (2 * h);
            double expected = dy[i] * slope;
            if (fabs(dx[i] - expected) > 1e-5 + 1e-5 * fabs(expected))
                fail_msg("act %d, element %zu (z %.9g): dx %.9g, finite difference %.9g",
                         (int)act, i, (double)z[i], (double)dx[i], expected);
        }
    }
}

static void act_backward_in_place_over_dy_or_y(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1031 };
    for (size_t a = 0; a < ACT_COUNT; a++) {
        operand y = vector_make(ctx, n, 1, 2, FILL_RANDOM, 23);
        make_activation_output(ctx, &y, activations[a]);
        operand dy = vector_make(ctx, n, 1, 2, FILL_RANDOM, 24);
        reference r = reference_act_backward(activations[a], operand_data(&y),
                                             operand_data(&dy), n);
        operand y_again = vector_make(ctx, n, 1, 2, FILL_RANDOM, 23);
        make_activation_output(ctx, &y_again, activations[a]);
        assert_ok(ctx, kiln_act_backward(ctx, activations[a], y_again.view, dy.view, y_again.view, n));
        assert_operand_near(&y_again, &r);
        assert_ok(ctx, kiln_act_backward(ctx, activations[a], y.view, dy.view, dy.view, n));
        assert_operand_near(&dy, &r);
    }
}

static void relu_backward_gives_zero_where_y_is_not_positive_even_for_nan_dy(void **state)
{
    kiln_ctx *ctx = *state;
    const float y[] = {0.0f, -0.0f, 2.0f, 0.0f, 1e-30f, 3.0f, 0.0f, 5.0f, 0.0f};
    const float dy[] = {NAN, INFINITY, 1.5f, -2.0f, NAN, -INFINITY, 7.0f, 0.25f, -INFINITY};
    const float expected[] = {0, 0, 1.5f, 0, NAN, -INFINITY, 0, 0.25f, 0};
    enum { n = sizeof y / sizeof y[0] };
    kiln_buf *yb = scratch_upload(ctx, y, n), *dyb = scratch_upload(ctx, dy, n);
    kiln_buf *dxb = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_act_backward(ctx, KILN_ACT_RELU, yb, dyb, dxb, n));
    float *dx = scratch_download(dxb, n);
    for (size_t i = 0; i < n; i++)
        if (!(dx[i] == expected[i] || (isnan(dx[i]) && isnan(expected[i]))))
            fail_msg("element %zu: dx %g, expected %g", i, (double)dx[i], (double)expected[i]);
}

static void none_backward_copies_dy_and_in_place_leaves_it(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 4097 };
    operand y = vector_make(ctx, n, 0, 0, FILL_NAN, 0);
    operand dy = vector_make(ctx, n, 2, 1, FILL_RANDOM, 25);
    operand dx = vector_make(ctx, n, 1, 3, FILL_CANARY, 0);
    reference r = reference_act_backward(KILN_ACT_NONE, operand_data(&y), operand_data(&dy), n);
    assert_ok(ctx, kiln_act_backward(ctx, KILN_ACT_NONE, y.view, dy.view, dx.view, n));
    assert_operand_near(&dx, &r);
    assert_ok(ctx, kiln_act_backward(ctx, KILN_ACT_NONE, y.view, dy.view, dy.view, n));
    assert_operand_unchanged(&dy);
}

static void act_backward_rejects_bad_arguments_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    operand y = vector_make(ctx, 64, 0, 1, FILL_RANDOM, 26);
    operand dy = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 27);
    operand dx = vector_make(ctx, 100, 0, 0, FILL_CANARY, 0);
    const kiln_act tanh_act = KILN_ACT_TANH;
    kiln_buf *yv = y.view, *dyv = dy.view, *dxv = dx.view;
    assert_arg_error(NULL, kiln_act_backward(NULL, tanh_act, yv, dyv, dxv, 64));
    assert_arg_error(ctx, kiln_act_backward(ctx, (kiln_act)4, yv, dyv, dxv, 64));
    assert_contains(kiln_last_error(ctx), "act is 4, not a kiln_act");
    assert_arg_error(ctx, kiln_act_backward(ctx, (kiln_act)-1, yv, dyv, dxv, 0));
    assert_arg_error(ctx, kiln_act_backward(ctx, tanh_act, NULL, dyv, dxv, 64));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_arg_error(ctx, kiln_act_backward(ctx, tanh_act, yv, NULL, dxv, 64));
    assert_contains(kiln_last_error(ctx), "dy is NULL");
    assert_arg_error(ctx, kiln_act_backward(ctx, tanh_act, yv, dyv, NULL, 0));
    assert_contains(kiln_last_error(ctx), "dx is NULL");
    assert_size_error(ctx, kiln_act_backward(ctx, tanh_act, yv, dxv, dxv, 100));
    assert_contains(kiln_last_error(ctx), "y needs 100 floats");
    assert_size_error(ctx, kiln_act_backward(ctx, tanh_act, dxv, dyv, dxv, 100));
    assert_contains(kiln_last_error(ctx), "dy needs 100 floats");
    assert_size_error(ctx, kiln_act_backward(ctx, tanh_act, yv, dyv, dyv, SIZE_MAX / 4 + 1));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    kiln_buf *shifted = scratch_view(y.buffer, sizeof(float), 64 * sizeof(float));
    assert_arg_error(ctx, kiln_act_backward(ctx, tanh_act, yv, dyv, shifted, 64));
    assert_contains(kiln_last_error(ctx), "dx partly overlaps the input y");
    assert_arg_error(ctx, kiln_act_backward(ctx, tanh_act, dyv, yv, shifted, 64));
    assert_contains(kiln_last_error(ctx), "dx partly overlaps the input dy");
    assert_operand_unchanged(&y);
    assert_operand_unchanged(&dx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(act_backward_matches_the_reference_for_every_activation_and_size),
        KILN_TEST(act_backward_handles_n_beyond_one_workgroup),
        KILN_TEST(act_backward_matches_finite_differences),
        KILN_TEST(act_backward_in_place_over_dy_or_y),
        KILN_TEST(relu_backward_gives_zero_where_y_is_not_positive_even_for_nan_dy),
        KILN_TEST(none_backward_copies_dy_and_in_place_leaves_it),
        KILN_TEST(act_backward_rejects_bad_arguments_naming_them),
    };
    return RUN_KILN_TESTS(tests);
}
