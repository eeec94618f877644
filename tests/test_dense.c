/* kiln_dense and kiln_dense_host: y = act(W·x + bias), W out×in, x in×batch. */
#include "common.h"

typedef struct {
    size_t out, in, batch;
    kiln_act act;
    int with_bias;
    size_t offset; /* floats before each matrix in its buffer */
} dense_case;

static const kiln_act activations[] = {KILN_ACT_NONE, KILN_ACT_SIGMOID, KILN_ACT_RELU,
                                       KILN_ACT_TANH};

/* (out, in, batch) from {1, 7, 17, 255, 1023, 1025}. */
static const size_t shapes[][3] = {{1, 1, 1},       {7, 17, 1},    {17, 7, 7},
                                   {255, 1025, 1},  {1023, 17, 7}, {1, 1023, 17},
                                   {1025, 255, 17}, {7, 1, 1025}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static void check_dense(kiln_ctx *ctx, dense_case d)
{
    size_t mark = scratch_mark();
    operand w = input_make(ctx, KILN_NO_TRANS, d.out, d.in, 0, d.offset, FILL_RANDOM, 1);
    operand x =
        input_make(ctx, KILN_NO_TRANS, d.in, d.batch, 0, d.offset + 1, FILL_RANDOM, 2);
    operand bias = vector_make(ctx, d.out, d.offset + 2, 1, FILL_RANDOM, 3);
    operand y = output_make(ctx, d.out, d.batch, 0, d.offset + 3, FILL_NAN, 4);
    assert_ok(ctx, kiln_dense(ctx, w.view, x.view, d.with_bias ? bias.view : NULL, y.view,
                              d.out, d.in, d.batch, d.act));
    reference r = reference_dense(operand_data(&w), operand_data(&x),
                                  d.with_bias ? operand_data(&bias) : NULL, d.out, d.in,
                                  d.batch, d.act);
    assert_operand_near(&y, &r);
    scratch_release_to(mark);
}

/* Every activation, with and without bias, for d's shape. */
static void check_dense_variants(kiln_ctx *ctx, dense_case d)
{
    for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++) {
        d.act = activations[a];
        for (d.with_bias = 0; d.with_bias < 2; d.with_bias++)
            check_dense(ctx, d);
    }
}

static void dense_computes_every_activation_and_shape(void **state)
{
    dense_case d = {0};
    for (size_t s = 0; s < SHAPE_COUNT; s++) {
        d.out = shapes[s][0], d.in = shapes[s][1], d.batch = shapes[s][2];
        check_dense_variants(*state, d);
    }
}

static void dense_reads_views_at_odd_element_offsets(void **state)
{
    dense_case d = {.out = 17, .in = 255, .batch = 7, .offset = 3};
    check_dense_variants(*state, d);
}

static void dense_with_no_inputs_gives_the_activated_bias(void **state)
{
    dense_case d = {.out = 17, .in = 0, .batch = 7};
    check_dense_variants(*state, d);
}

static void dense_accepts_disjoint_views_of_one_buffer(void **state)
{
    kiln_ctx *ctx = *state;
    enum { out = 7, in = 17, batch = 3 };
    const size_t at_x = out * in, at_bias = at_x + in * batch, at_y = at_bias + out;
    operand whole = vector_make(ctx, at_y + out * batch, 0, 0, FILL_RANDOM, 15);
    kiln_buf *w = scratch_view(whole.buffer, 0, at_x * sizeof(float));
    kiln_buf *x =
        scratch_view(whole.buffer, at_x * sizeof(float), in * batch * sizeof(float));
    kiln_buf *bias =
        scratch_view(whole.buffer, at_bias * sizeof(float), out * sizeof(float));
    kiln_buf *y =
        scratch_view(whole.buffer, at_y * sizeof(float), out * batch * sizeof(float));
    const float *host = operand_data(&whole);
    reference r =
        reference_dense(host, host + at_x, host + at_bias, out, in, batch, KILN_ACT_RELU);
    assert_ok(ctx, kiln_dense(ctx, w, x, bias, y, out, in, batch, KILN_ACT_RELU));
    assert_matrix_near(scratch_download(y, out * batch), batch, &r);
}

static void dense_of_an_empty_output_leaves_y(void **state)
{
    kiln_ctx *ctx = *state;
    operand w = tight_make(ctx, 7, 7, FILL_NAN, 5);
    operand y = tight_make(ctx, 7, 7, FILL_RANDOM, 6);
    assert_ok(ctx,
              kiln_dense(ctx, w.view, w.view, NULL, y.view, 0, 7, 7, KILN_ACT_SIGMOID));
    assert_ok(ctx, kiln_dense(ctx, w.view, w.view, w.view, y.view, 7, 7, 0, KILN_ACT_RELU));
    assert_operand_unchanged(&y);
}

static void dense_host_computes_from_arrays(void **state)
{
    kiln_ctx *ctx = *state;
    enum { out = 17, in = 255, batch = 3 };
    float *w = scratch_random(out * in, 7), *x = scratch_random(in * batch, 8);
    float *bias = scratch_random(out, 9), *y = scratch_filled(out * batch, CANARY);
    assert_ok(ctx, kiln_dense_host(ctx, w, x, bias, y, out, in, batch, KILN_ACT_SIGMOID));
    reference r = reference_dense(w, x, bias, out, in, batch, KILN_ACT_SIGMOID);
    assert_matrix_near(y, batch, &r);
    assert_ok(ctx, kiln_dense_host(ctx, w, x, NULL, y, out, in, batch, KILN_ACT_RELU));
    reference relu = reference_dense(w, x, NULL, out, in, batch, KILN_ACT_RELU);
    assert_matrix_near(y, batch, &relu);
}

static void dense_host_rejects_null_pointers(void **state)
{
    kiln_ctx *ctx = *state;
    float w[4] = {1, 2, 3, 4}, y[4] = {CANARY, CANARY, CANARY, CANARY};
    const kiln_act none = KILN_ACT_NONE;
    assert_arg_error(NULL, kiln_dense_host(NULL, w, w, NULL, y, 2, 2, 2, none));
    assert_arg_error(ctx, kiln_dense_host(ctx, NULL, w, NULL, y, 2, 2, 2, none));
    assert_arg_error(ctx, kiln_dense_host(ctx, w, NULL, NULL, y, 2, 2, 2, none));
    assert_arg_error(ctx, kiln_dense_host(ctx, w, w, NULL, NULL, 2, 2, 2, none));
    assert_true(y[0] == CANARY && y[3] == CANARY);
}

static void dense_rejects_a_bias_shorter_than_out(void **state)
{
    kiln_ctx *ctx = *state;
    operand w = tight_make(ctx, 7, 7, FILL_RANDOM, 10);
    operand y = tight_make(ctx, 7, 7, FILL_CANARY, 0);
    kiln_buf *bias = scratch_buffer(ctx, 6 * sizeof(float));
    assert_size_error(
        ctx, kiln_dense(ctx, w.view, w.view, bias, y.view, 7, 7, 7, KILN_ACT_NONE));
    assert_mentions_floats(kiln_last_error(ctx), 6);
    assert_mentions_floats(kiln_last_error(ctx), 7);
    assert_size_error(
        ctx, kiln_dense(ctx, w.view, w.view, NULL, y.view, 7, 8, 7, KILN_ACT_NONE));
    assert_size_error(
        ctx, kiln_dense(ctx, w.view, w.view, NULL, y.view, 7, 7, 8, KILN_ACT_NONE));
    assert_status(
        ctx,
        kiln_dense(ctx, w.view, w.view, NULL, y.view, SIZE_MAX / 2, 7, 7, KILN_ACT_NONE),
        KILN_ERR_SIZE);
    assert_operand_unchanged(&y);
}

static void dense_rejects_an_output_sharing_memory_with_an_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand w = tight_make(ctx, 7, 7, FILL_RANDOM, 11);
    operand x = tight_make(ctx, 7, 7, FILL_RANDOM, 12);
    operand bias = vector_make(ctx, 7, 0, 0, FILL_RANDOM, 13);
    kiln_buf *over_x = scratch_view(x.buffer, 3 * sizeof(float), 7 * sizeof(float));
    const kiln_act none = KILN_ACT_NONE;
    assert_arg_error(ctx, kiln_dense(ctx, w.view, x.view, NULL, x.view, 7, 7, 7, none));
    assert_arg_error(ctx, kiln_dense(ctx, w.view, x.view, NULL, w.view, 7, 7, 7, none));
    assert_arg_error(ctx,
                     kiln_dense(ctx, w.view, x.view, bias.view, bias.view, 7, 7, 1, none));
    assert_arg_error(ctx, kiln_dense(ctx, w.view, x.view, NULL, over_x, 7, 7, 1, none));
    assert_operand_unchanged(&x);
    assert_operand_unchanged(&w);
}

static void dense_rejects_null_buffers_and_bad_activations(void **state)
{
    kiln_ctx *ctx = *state;
    operand w = tight_make(ctx, 3, 3, FILL_RANDOM, 14);
    operand y = tight_make(ctx, 3, 3, FILL_CANARY, 0);
    const kiln_act none = KILN_ACT_NONE;
    kiln_buf *wv = w.view, *yv = y.view;
    assert_arg_error(NULL, kiln_dense(NULL, wv, wv, NULL, yv, 3, 3, 3, none));
    assert_arg_error(ctx, kiln_dense(ctx, NULL, wv, NULL, yv, 3, 3, 3, none));
    assert_arg_error(ctx, kiln_dense(ctx, wv, NULL, NULL, yv, 3, 3, 3, none));
    assert_arg_error(ctx, kiln_dense(ctx, wv, wv, NULL, NULL, 3, 3, 3, none));
    assert_arg_error(ctx, kiln_dense(ctx, wv, wv, NULL, NULL, 0, 0, 0, none));
    assert_arg_error(ctx, kiln_dense(ctx, wv, wv, NULL, yv, 3, 3, 3, (kiln_act)42));
    assert_arg_error(ctx, kiln_dense(ctx, wv, wv, NULL, yv, 3, 3, 3, (kiln_act)-1));
    assert_arg_error(ctx, kiln_dense(ctx, wv, wv, NULL, yv, 3, 3, 3, (kiln_act)4));
    assert_contains(kiln_last_error(ctx), "act is 4, not a kiln_act");
    assert_operand_unchanged(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(dense_computes_every_activation_and_shape),
        KILN_TEST(dense_reads_views_at_odd_element_offsets),
        KILN_TEST(dense_with_no_inputs_gives_the_activated_bias),
        KILN_TEST(dense_accepts_disjoint_views_of_one_buffer),
        KILN_TEST(dense_of_an_empty_output_leaves_y),
        KILN_TEST(dense_host_computes_from_arrays),
        KILN_TEST(dense_host_rejects_null_pointers),
        KILN_TEST(dense_rejects_a_bias_shorter_than_out),
        KILN_TEST(dense_rejects_an_output_sharing_memory_with_an_input),
        KILN_TEST(dense_rejects_null_buffers_and_bad_activations),
    };
    return RUN_KILN_TESTS(tests);
}
