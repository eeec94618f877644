/* kiln_vadd and kiln_vadd_host: c = a + b. */
#include "common.h"

/* c = a + b with a `offset`, b `offset + step` and c `offset + 2·step` floats into their
 * buffers, and canaries after each. */
static void check_vadd_stepped(kiln_ctx *ctx, size_t n, size_t offset, size_t step)
{
    size_t mark = scratch_mark();
    operand a = vector_make(ctx, n, offset, 3, FILL_RANDOM, (uint32_t)n);
    operand b = vector_make(ctx, n, offset + step, 5, FILL_RANDOM, (uint32_t)n + 1);
    operand c = vector_make(ctx, n, offset + 2 * step, 7, FILL_CANARY, 0);
    assert_ok(ctx, kiln_vadd(ctx, a.view, b.view, c.view, n));
    reference r = reference_vadd(operand_data(&a), operand_data(&b), n);
    assert_operand_near(&c, &r);
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&b);
    scratch_release_to(mark);
}

/* Offsets apart: never all on a float4, so the scalar loop does everything. */
static void check_vadd(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_vadd_stepped(ctx, n, offset, 1);
}

/* The same offset for all: on a float4 when it is a multiple of 4 (the vector loop). */
static void check_vadd_together(kiln_ctx *ctx, size_t n, size_t offset)
{
    check_vadd_stepped(ctx, n, offset, 0);
}

static void vadd_adds_vectors_of_every_edge_size(void **state)
{
    for_each_edge_size(*state, 0, check_vadd);
}

static void vadd_adds_views_at_odd_element_offsets(void **state)
{
    for_each_edge_size(*state, 3, check_vadd);
}

static void vadd_of_float4_aligned_views_writes_nothing_past_n(void **state)
{
    for_each_edge_size(*state, 0, check_vadd_together);
    for_each_edge_size(*state, 4, check_vadd_together);
}

static void vadd_handles_n_beyond_one_workgroup(void **state)
{
    check_vadd(*state, (1u << 20) + 3, 1);
}

static void vadd_into_an_input_gives_the_sum(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1025 };
    operand a = vector_make(ctx, n, 1, 2, FILL_RANDOM, 20);
    operand b = vector_make(ctx, n, 0, 2, FILL_RANDOM, 21);
    reference r = reference_vadd(operand_data(&a), operand_data(&b), n);
    assert_ok(ctx, kiln_vadd(ctx, a.view, b.view, a.view, n));
    assert_matrix_near(operand_download(&a) + a.offset, n, &r);
    assert_ok(ctx, kiln_vadd(ctx, a.view, b.view, b.view, n));
    reference twice = reference_vadd(operand_download(&a) + a.offset, operand_data(&b), n);
    assert_matrix_near(operand_download(&b), n, &twice);
    const float *sum = operand_download(&b);
    reference doubled = reference_vadd(sum, sum, n);
    assert_ok(ctx, kiln_vadd(ctx, b.view, b.view, b.view, n));
    assert_matrix_near(operand_download(&b), n, &doubled);
}

static void vadd_into_the_same_range_through_another_view_gives_the_sum(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 255 };
    operand a = vector_make(ctx, n, 4, 3, FILL_RANDOM, 40);
    operand b = vector_make(ctx, n, 0, 0, FILL_RANDOM, 41);
    kiln_buf *same = scratch_view(a.buffer, 4 * sizeof(float), n * sizeof(float));
    reference r = reference_vadd(operand_data(&a), operand_data(&b), n);
    assert_ok(ctx, kiln_vadd(ctx, a.view, b.view, same, n));
    assert_operand_near(&a, &r);
}

static void vadd_leaves_its_result_when_the_inputs_are_destroyed_at_once(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 100000 };
    float *a = scratch_random(n, 42), *b = scratch_random(n, 43);
    kiln_buf *da = NULL, *db = NULL;
    assert_ok(ctx, kiln_buf_create(ctx, n * sizeof(float), &da));
    assert_ok(ctx, kiln_buf_create(ctx, n * sizeof(float), &db));
    kiln_buf *c = scratch_buffer(ctx, n * sizeof(float));
    kiln_status written = kiln_buf_write(da, 0, a, n * sizeof(float));
    written |= kiln_buf_write(db, 0, b, n * sizeof(float));
    kiln_status added = kiln_vadd(ctx, da, db, c, n);
    kiln_buf_destroy(da);
    kiln_buf_destroy(db);
    assert_ok(ctx, written);
    assert_ok(ctx, added);
    reference r = reference_vadd(a, b, n);
    assert_matrix_near(scratch_download(c, n), n, &r);
}

static void vadd_rejects_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 22);
    operand c = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_vadd(NULL, a.view, a.view, c.view, 8));
    assert_arg_error(ctx, kiln_vadd(ctx, NULL, a.view, c.view, 8));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, NULL, c.view, 8));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, a.view, NULL, 8));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, a.view, NULL, 0));
    assert_operand_unchanged(&c);
}

static void vadd_rejects_n_beyond_a_buffer_naming_both_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    operand small = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 23);
    operand big = vector_make(ctx, 100, 0, 0, FILL_RANDOM, 24);
    operand c = vector_make(ctx, 100, 0, 0, FILL_CANARY, 0);
    assert_size_error(ctx, kiln_vadd(ctx, small.view, big.view, c.view, 100));
    assert_mentions_floats(kiln_last_error(ctx), 64);
    assert_mentions_floats(kiln_last_error(ctx), 100);
    assert_size_error(ctx, kiln_vadd(ctx, big.view, big.view, small.view, 100));
    assert_size_error(ctx, kiln_vadd(ctx, big.view, big.view, c.view, 101));
    assert_size_error(ctx, kiln_vadd(ctx, big.view, big.view, c.view, SIZE_MAX / 4 + 1));
    assert_operand_unchanged(&c);
}

static void vadd_rejects_an_output_partly_over_an_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = vector_make(ctx, 64, 0, 1, FILL_RANDOM, 25);
    kiln_buf *shifted = scratch_view(a.buffer, sizeof(float), 64 * sizeof(float));
    operand b = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 26);
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, b.view, shifted, 64));
    assert_arg_error(ctx, kiln_vadd(ctx, b.view, a.view, shifted, 64));
    assert_arg_error(ctx, kiln_vadd(ctx, shifted, b.view, a.view, 64));
    assert_operand_unchanged(&a);
}

static void vadd_rejects_views_that_do_not_start_on_a_float(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = vector_make(ctx, 16, 0, 1, FILL_RANDOM, 44);
    kiln_buf *odd = scratch_view(a.buffer, 2, 15 * sizeof(float));
    operand c = vector_make(ctx, 16, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_vadd(ctx, odd, a.view, c.view, 15));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, odd, c.view, 15));
    assert_arg_error(ctx, kiln_vadd(ctx, c.view, c.view, odd, 15));
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&c);
}

static void vadd_host_adds_arrays(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1025 };
    float *a = scratch_random(n, 27), *b = scratch_random(n, 28);
    float *c = scratch_filled(n, CANARY);
    assert_ok(ctx, kiln_vadd_host(ctx, a, b, c, n));
    reference r = reference_vadd(a, b, n);
    assert_matrix_near(c, n, &r);
}

static void vadd_host_of_nothing_leaves_the_output(void **state)
{
    kiln_ctx *ctx = *state;
    float a = 1, b = 2, c = CANARY;
    assert_ok(ctx, kiln_vadd_host(ctx, &a, &b, &c, 0));
    assert_true(c == CANARY);
}

static void vadd_host_rejects_null_pointers(void **state)
{
    kiln_ctx *ctx = *state;
    float a[4] = {0}, c[4] = {CANARY, CANARY, CANARY, CANARY};
    assert_arg_error(NULL, kiln_vadd_host(NULL, a, a, c, 4));
    assert_arg_error(ctx, kiln_vadd_host(ctx, NULL, a, c, 4));
    assert_arg_error(ctx, kiln_vadd_host(ctx, a, NULL, c, 4));
    assert_arg_error(ctx, kiln_vadd_host(ctx, a, a, NULL, 4));
    assert_true(c[0] == CANARY && c[3] == CANARY);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(vadd_adds_vectors_of_every_edge_size),
        KILN_TEST(vadd_adds_views_at_odd_element_offsets),
        KILN_TEST(vadd_of_float4_aligned_views_writes_nothing_past_n),
        KILN_TEST(vadd_handles_n_beyond_one_workgroup),
        KILN_TEST(vadd_into_an_input_gives_the_sum),
        KILN_TEST(vadd_into_the_same_range_through_another_view_gives_the_sum),
        KILN_TEST(vadd_leaves_its_result_when_the_inputs_are_destroyed_at_once),
        KILN_TEST(vadd_rejects_null_context_and_buffers),
        KILN_TEST(vadd_rejects_n_beyond_a_buffer_naming_both_sizes),
        KILN_TEST(vadd_rejects_an_output_partly_over_an_input),
        KILN_TEST(vadd_rejects_views_that_do_not_start_on_a_float),
        KILN_TEST(vadd_host_adds_arrays),
        KILN_TEST(vadd_host_of_nothing_leaves_the_output),
        KILN_TEST(vadd_host_rejects_null_pointers),
    };
    return RUN_KILN_TESTS(tests);
}
