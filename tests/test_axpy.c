/* kiln_axpy: y += α·x, against a double reference. */
#include "common.h"

#include <math.h>

static const float alpha = -1.75f;

/* y + α·x in double; the scale is what float rounding is relative to. */
static reference reference_axpy(float a, const float *x, const float *y, size_t n)
{
    reference r = reference_blank(1, n, 1, 0);
    for (size_t i = 0; i < n; i++) {
        double product = a != 0.0f ? (double)a * x[i] : 0;
        r.value[i] = (double)y[i] + product;
        r.scale[i] = fabs((double)y[i]) + fabs(product);
    }
    return r;
}

/* y `step` floats further into its buffer than x: both on a float4 only when offset is a
 * multiple of 4 and step 0. */
static void check_axpy_stepped(kiln_ctx *ctx, size_t n, size_t offset, size_t step)
{
    size_t mark = scratch_mark();
    operand x = vector_make(ctx, n, offset, 3, FILL_RANDOM, (uint32_t)n + 1);
    operand y = vector_make(ctx, n, offset + step, 5, FILL_RANDOM, (uint32_t)n + 2);
    reference r = reference_axpy(alpha, operand_data(&x), operand_data(&y), n);
    assert_ok(ctx, kiln_axpy(ctx, alpha, x.view, y.view, n));
    assert_operand_near(&y, &r);
    assert_operand_unchanged(&x);
    scratch_release_to(mark);
}

static void check_axpy(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_axpy_stepped(ctx, n, offset, 1);
}

static void check_axpy_together(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_axpy_stepped(ctx, n, offset, 0);
}

static void axpy_adds_vectors_of_every_edge_size(void **state)
{
    for_each_edge_size(*state, 0, check_axpy);
    for_each_edge_size(*state, 3, check_axpy);
}

static void axpy_of_float4_aligned_views_writes_nothing_past_n(void **state)
{
    for_each_edge_size(*state, 0, check_axpy_together);
    for_each_edge_size(*state, 4, check_axpy_together);
}

static void axpy_handles_n_beyond_one_workgroup(void **state)
{
    check_axpy_together(*state, (1u << 20) + 3, 0);
}

static void axpy_in_place_scales_by_one_plus_alpha(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1029 };
    operand y = vector_make(ctx, n, 2, 3, FILL_RANDOM, 7);
    reference r = reference_axpy(alpha, operand_data(&y), operand_data(&y), n);
    assert_ok(ctx, kiln_axpy(ctx, alpha, y.view, y.view, n));
    assert_operand_near(&y, &r);
}

static void axpy_with_alpha_zero_leaves_y_and_ignores_nan_in_x(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 257 };
    operand x = vector_make(ctx, n, 0, 1, FILL_NAN, 0);
    operand y = vector_make(ctx, n, 0, 1, FILL_RANDOM, 8);
    assert_ok(ctx, kiln_axpy(ctx, 0.0f, x.view, y.view, n));
    assert_operand_unchanged(&y);
    assert_ok(ctx, kiln_axpy(ctx, 1.0f, x.view, y.view, n));
    float *got = scratch_download(y.view, n);
    assert_true(isnan(got[0]) && isnan(got[n - 1]));
}

static void axpy_rejects_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 9);
    operand y = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 10);
    assert_arg_error(NULL, kiln_axpy(NULL, alpha, x.view, y.view, 8));
    assert_arg_error(ctx, kiln_axpy(ctx, alpha, NULL, y.view, 8));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_axpy(ctx, alpha, x.view, NULL, 0));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_operand_unchanged(&y);
}

static void axpy_rejects_n_beyond_a_buffer_naming_both_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    operand small = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 11);
    operand y = vector_make(ctx, 100, 0, 0, FILL_RANDOM, 12);
    assert_size_error(ctx, kiln_axpy(ctx, alpha, small.view, y.view, 100));
    assert_contains(kiln_last_error(ctx), "x needs 100 floats");
    assert_mentions_floats(kiln_last_error(ctx), 64);
    assert_size_error(ctx, kiln_axpy(ctx, alpha, y.view, small.view, 100));
    assert_contains(kiln_last_error(ctx), "y needs 100 floats");
    assert_size_error(ctx, kiln_axpy(ctx, alpha, y.view, y.view, SIZE_MAX / 4 + 1));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    assert_operand_unchanged(&y);
}

static void axpy_rejects_y_partly_over_x(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 64, 0, 1, FILL_RANDOM, 13);
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), 64 * sizeof(float));
    assert_arg_error(ctx, kiln_axpy(ctx, alpha, x.view, shifted, 64));
    assert_contains(kiln_last_error(ctx), "y partly overlaps the input x");
    assert_operand_unchanged(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(axpy_adds_vectors_of_every_edge_size),
        KILN_TEST(axpy_of_float4_aligned_views_writes_nothing_past_n),
        KILN_TEST(axpy_handles_n_beyond_one_workgroup),
        KILN_TEST(axpy_in_place_scales_by_one_plus_alpha),
        KILN_TEST(axpy_with_alpha_zero_leaves_y_and_ignores_nan_in_x),
        KILN_TEST(axpy_rejects_null_context_and_buffers),
        KILN_TEST(axpy_rejects_n_beyond_a_buffer_naming_both_sizes),
        KILN_TEST(axpy_rejects_y_partly_over_x),
    };
    return RUN_KILN_TESTS(tests);
}
