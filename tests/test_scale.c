/* kiln_scale: x *= α, against a double reference. */
#include "common.h"

#include <math.h>

static reference reference_scale(float alpha, const float *x, size_t n)
{
    reference r = reference_blank(1, n, 0, 0);
    for (size_t i = 0; i < n; i++) {
        r.value[i] = alpha != 0.0f ? (double)alpha * x[i] : 0;
        r.scale[i] = fabs(r.value[i]);
    }
    return r;
}

/* x `offset` floats into its buffer (on a float4 when a multiple of 4). */
static void check_scale(kiln_ctx *ctx, size_t n, size_t offset)
{
    size_t mark = scratch_mark();
    operand x = vector_make(ctx, n, offset, 3, FILL_RANDOM, (uint32_t)n + 5);
    reference r = reference_scale(0.375f, operand_data(&x), n);
    assert_ok(ctx, kiln_scale(ctx, 0.375f, x.view, n));
    assert_operand_near(&x, &r);
    scratch_release_to(mark);
}

static void scale_multiplies_vectors_of_every_edge_size(void **state)
{
    for_each_edge_size(*state, 0, check_scale);
    for_each_edge_size(*state, 3, check_scale);
    for_each_edge_size(*state, 4, check_scale);
}

static void scale_handles_n_beyond_one_workgroup(void **state)
{
    check_scale(*state, (1u << 20) + 5, 0);
}

static void scale_by_zero_writes_zeros_over_nan_and_inf(void **state)
{
    kiln_ctx *ctx = *state;
    const float x[] = {NAN, INFINITY, -INFINITY, -0.0f, 3.0f, NAN, 1e30f};
    enum { n = sizeof x / sizeof x[0] };
    kiln_buf *buf = scratch_upload(ctx, x, n);
    assert_ok(ctx, kiln_scale(ctx, 0.0f, buf, n));
    float *got = scratch_download(buf, n);
    for (size_t i = 0; i < n; i++)
        assert_true(got[i] == 0.0f);
}

static void scale_keeps_nan_and_inf_for_other_alphas(void **state)
{
    kiln_ctx *ctx = *state;
    const float x[] = {NAN, INFINITY, -INFINITY, 2.0f, -0.0f};
    enum { n = sizeof x / sizeof x[0] };
    kiln_buf *buf = scratch_upload(ctx, x, n);
    assert_ok(ctx, kiln_scale(ctx, -2.0f, buf, n));
    float *got = scratch_download(buf, n);
    assert_true(isnan(got[0]));
    assert_true(got[1] == -INFINITY && got[2] == INFINITY && got[3] == -4.0f);
    assert_true(got[4] == 0.0f && !signbit(got[4]));
}

static void scale_rejects_null_context_and_short_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 64, 0, 0, FILL_RANDOM, 6);
    assert_arg_error(NULL, kiln_scale(NULL, 2.0f, x.view, 64));
    assert_arg_error(ctx, kiln_scale(ctx, 2.0f, NULL, 0));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_size_error(ctx, kiln_scale(ctx, 2.0f, x.view, 65));
    assert_contains(kiln_last_error(ctx), "x needs 65 floats");
    assert_mentions_floats(kiln_last_error(ctx), 64);
    assert_size_error(ctx, kiln_scale(ctx, 2.0f, x.view, SIZE_MAX / 2));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    assert_operand_unchanged(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(scale_multiplies_vectors_of_every_edge_size),
        KILN_TEST(scale_handles_n_beyond_one_workgroup),
        KILN_TEST(scale_by_zero_writes_zeros_over_nan_and_inf),
        KILN_TEST(scale_keeps_nan_and_inf_for_other_alphas),
        KILN_TEST(scale_rejects_null_context_and_short_buffers),
    };
    return RUN_KILN_TESTS(tests);
}
