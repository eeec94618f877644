/* kiln_sigmoid and kiln_sigmoid_host: y = 1 / (1 + exp(-x)) within 1e-6. */
#include "common.h"

#include <float.h>
#include <math.h>

/* y = sigmoid(x) for x in [-8, 8], x `offset` and y `offset + step` floats into their
 * buffers, and canaries after each. */
static void check_sigmoid_stepped(kiln_ctx *ctx, size_t n, size_t offset, size_t step)
{
    size_t mark = scratch_mark();
    operand x = vector_make(ctx, n, offset, 3, FILL_RANDOM, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        x.host[x.offset + i] *= 8;
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
    operand y = vector_make(ctx, n, offset + step, 5, FILL_CANARY, 0);
    assert_ok(ctx, kiln_sigmoid(ctx, x.view, y.view, n));
    reference r = reference_sigmoid(operand_data(&x), n);
    assert_operand_near(&y, &r);
    assert_operand_unchanged(&x);
    scratch_release_to(mark);
}

/* Offsets apart: never both on a float4, so the scalar loop does everything. */
static void check_sigmoid(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_sigmoid_stepped(ctx, n, offset, 1);
}

/* The same offset for both: on a float4 when it is a multiple of 4 (the vector loop). */
static void check_sigmoid_together(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_sigmoid_stepped(ctx, n, offset, 0);
}

static void sigmoid_maps_vectors_of_every_edge_size(void **state)
{
    for_each_edge_size(*state, 0, check_sigmoid);
}

static void sigmoid_maps_views_at_odd_element_offsets(void **state)
{
    for_each_edge_size(*state, 3, check_sigmoid);
}

static void sigmoid_of_float4_aligned_views_writes_nothing_past_n(void **state)
{
    for_each_edge_size(*state, 0, check_sigmoid_together);
    for_each_edge_size(*state, 4, check_sigmoid_together);
}

static void sigmoid_handles_n_beyond_one_workgroup(void **state)
{
    check_sigmoid(*state, (1u << 20) + 3, 1);
}

static void sigmoid_is_exact_at_extremes_and_keeps_nan(void **state)
{
    kiln_ctx *ctx = *state;
    const float x[] = {0.0f,    -0.0f,    100.0f,   -100.0f,   1e30f,
                       -1e30f,  88.0f,    -88.0f,   -104.0f,   1e-30f,
                       FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN};
    enum { n = sizeof x / sizeof x[0] };
    kiln_buf *in = scratch_upload(ctx, x, n);
    kiln_buf *out = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_sigmoid(ctx, in, out, n));
    reference r = reference_sigmoid(x, n);
    assert_matrix_near(scratch_download(out, n), n, &r);
}

static void sigmoid_is_within_1e6_across_its_range(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 120001 };
    float *x = scratch_floats(n);
    for (size_t i = 0; i < n; i++)
        x[i] = -30.0f + 60.0f * (float)i / (float)(n - 1);
    kiln_buf *buf = scratch_upload(ctx, x, n);
    assert_ok(ctx, kiln_sigmoid(ctx, buf, buf, n));
    reference r = reference_sigmoid(x, n);
    assert_matrix_near(scratch_download(buf, n), n, &r);
}

static void sigmoid_in_place_maps_the_input(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1025 };
    operand x = vector_make(ctx, n, 5, 3, FILL_RANDOM, 30);
    reference r = reference_sigmoid(operand_data(&x), n);
    assert_ok(ctx, kiln_sigmoid(ctx, x.view, x.view, n));
    assert_operand_near(&x, &r);
}

static void sigmoid_rejects_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 31);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_sigmoid(NULL, x.view, y.view, 8));
    assert_arg_error(ctx, kiln_sigmoid(ctx, NULL, y.view, 8));
    assert_arg_error(ctx, kiln_sigmoid(ctx, x.view, NULL, 8));
    assert_arg_error(ctx, kiln_sigmoid(ctx, NULL, y.view, 0));
    assert_operand_unchanged(&y);
}

static void sigmoid_rejects_n_beyond_a_buffer_naming_both_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    operand small = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 32);
    operand y = vector_make(ctx, 100, 0, 0, FILL_CANARY, 0);
    assert_size_error(ctx, kiln_sigmoid(ctx, small.view, y.view, 100));
    assert_mentions_floats(kiln_last_error(ctx), 64);
    assert_mentions_floats(kiln_last_error(ctx), 100);
    assert_size_error(ctx, kiln_sigmoid(ctx, y.view, small.view, 100));
    assert_size_error(ctx, kiln_sigmoid(ctx, y.view, y.view, SIZE_MAX / 4 + 1));
    assert_operand_unchanged(&y);
}

static void sigmoid_rejects_an_output_partly_over_its_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 64, 0, 1, FILL_RANDOM, 33);
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), 64 * sizeof(float));
    assert_arg_error(ctx, kiln_sigmoid(ctx, x.view, shifted, 64));
    assert_arg_error(ctx, kiln_sigmoid(ctx, shifted, x.view, 64));
    assert_operand_unchanged(&x);
}

static void sigmoid_host_maps_arrays(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1023 };
    float *x = scratch_random(n, 34), *y = scratch_filled(n, CANARY);
    assert_ok(ctx, kiln_sigmoid_host(ctx, x, y, n));
    reference r = reference_sigmoid(x, n);
    assert_matrix_near(y, n, &r);
}

static void sigmoid_host_of_nothing_leaves_the_output(void **state)
{
    kiln_ctx *ctx = *state;
    float x = 1, y = CANARY;
    assert_ok(ctx, kiln_sigmoid_host(ctx, &x, &y, 0));
    assert_true(y == CANARY);
}

static void sigmoid_host_rejects_null_pointers(void **state)
{
    kiln_ctx *ctx = *state;
    float x[4] = {0}, y[4] = {CANARY, CANARY, CANARY, CANARY};
    assert_arg_error(NULL, kiln_sigmoid_host(NULL, x, y, 4));
    assert_arg_error(ctx, kiln_sigmoid_host(ctx, NULL, y, 4));
    assert_arg_error(ctx, kiln_sigmoid_host(ctx, x, NULL, 4));
    assert_true(y[0] == CANARY && y[3] == CANARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(sigmoid_maps_vectors_of_every_edge_size),
        KILN_TEST(sigmoid_maps_views_at_odd_element_offsets),
        KILN_TEST(sigmoid_of_float4_aligned_views_writes_nothing_past_n),
        KILN_TEST(sigmoid_handles_n_beyond_one_workgroup),
        KILN_TEST(sigmoid_is_exact_at_extremes_and_keeps_nan),
        KILN_TEST(sigmoid_is_within_1e6_across_its_range),
        KILN_TEST(sigmoid_in_place_maps_the_input),
        KILN_TEST(sigmoid_rejects_null_context_and_buffers),
        KILN_TEST(sigmoid_rejects_n_beyond_a_buffer_naming_both_sizes),
        KILN_TEST(sigmoid_rejects_an_output_partly_over_its_input),
        KILN_TEST(sigmoid_host_maps_arrays),
        KILN_TEST(sigmoid_host_of_nothing_leaves_the_output),
        KILN_TEST(sigmoid_host_rejects_null_pointers),
    };
    return RUN_KILN_TESTS(tests);
}
