/* kiln_geam: C = α·op(A) + β·op(B). */
#include "common.h"

#include <math.h>

/* (m, n, unused k): ones, primes around work-group sizes, square and not. */
static const size_t shapes[][3] = {{1, 1, 0},     {7, 7, 0},     {17, 17, 0},
                                   {255, 1, 0},   {1, 1023, 0},  {7, 1025, 0},
                                   {1025, 17, 0}, {255, 255, 0}, {1023, 1025, 0}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

/* g with A, B and C each padded by its own entry of pads (floats of ld beyond the row). */
static void check_geam_padded(kiln_ctx *ctx, matrix_case g, const size_t pads[3])
{
    size_t mark = scratch_mark();
    operand a = input_make(ctx, g.ta, g.m, g.n, pads[0], g.offset, g.fill_a, 1);
    operand b = input_make(ctx, g.tb, g.m, g.n, pads[1], g.offset + 1, g.fill_b, 2);
    operand c = output_make(ctx, g.m, g.n, pads[2], g.offset + 2, FILL_CANARY, 3);
    assert_ok(ctx, kiln_geam(ctx, g.ta, g.tb, g.m, g.n, g.alpha, a.view, a.ld, g.beta,
                             b.view, b.ld, c.view, c.ld));
    reference r = reference_geam(g.ta, g.tb, g.m, g.n, g.alpha, operand_data(&a), a.ld,
                                 g.beta, operand_data(&b), b.ld);
    assert_operand_near(&c, &r);
    scratch_release_to(mark);
}

static void check_geam(kiln_ctx *ctx, matrix_case g)
{
    const size_t pads[3] = {g.pad, g.pad, g.pad};
    check_geam_padded(ctx, g, pads);
}

static void geam_adds_every_transpose_combination_and_shape(void **state)
{
    matrix_case g = {.alpha = 1.5f, .beta = -0.75f};
    for_each_shape(*state, g, shapes, SHAPE_COUNT, check_geam);
}

static void geam_honours_leading_dimensions_beyond_the_row_and_offsets(void **state)
{
    matrix_case g = {.alpha = 0.5f, .beta = 2.0f, .pad = 3, .offset = 5};
    for_each_shape(*state, g, shapes, SHAPE_COUNT, check_geam);
}

/* Without transposes and with the other two tight, C is not one vector: the padded
 * matrix must still be read or written by its rows. */
static void geam_honours_the_leading_dimension_of_the_one_padded_matrix(void **state)
{
    matrix_case g = {.m = 7, .n = 9, .alpha = 0.5f, .beta = -2.0f};
    for (size_t padded = 0; padded < 3; padded++) {
        size_t pads[3] = {0, 0, 0};
        pads[padded] = 3;
        check_geam_padded(*state, g, pads);
    }
}

static void geam_with_alpha_zero_does_not_read_a(void **state)
{
    matrix_case g = {.m = 17, .n = 1025, .alpha = 0.0f, .beta = 3.0f, .pad = 1};
    g.fill_a = FILL_NAN;
    for_each_transpose(*state, g, check_geam);
}

static void geam_with_beta_zero_does_not_read_b(void **state)
{
    matrix_case g = {.m = 255, .n = 7, .alpha = -1.0f, .beta = 0.0f, .offset = 3};
    g.fill_b = FILL_NAN;
    for_each_transpose(*state, g, check_geam);
}

static void geam_with_alpha_and_beta_zero_reads_neither_input(void **state)
{
    matrix_case g = {.m = 7, .n = 17, .pad = 2, .fill_a = FILL_NAN, .fill_b = FILL_NAN};
    for_each_transpose(*state, g, check_geam);
}

static void geam_scales_by_any_alpha_and_beta(void **state)
{
    const float scalars[][2] = {{0, 0}, {1, 0}, {0, 1}, {1, 1}, {-2, 0.25f}, {1e-3f, 1e3f}};
    matrix_case g = {.m = 7, .n = 17};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        g.alpha = scalars[i][0], g.beta = scalars[i][1];
        check_geam(*state, g);
    }
}

static void geam_into_an_untransposed_input_gives_the_sum(void **state)
{
    kiln_ctx *ctx = *state;
    enum { m = 255, n = 17 };
    operand a = input_make(ctx, KILN_NO_TRANS, m, n, 2, 1, FILL_RANDOM, 4);
    operand b = input_make(ctx, KILN_TRANS, m, n, 0, 0, FILL_RANDOM, 5);
    reference r = reference_geam(KILN_NO_TRANS, KILN_TRANS, m, n, 2.0f, operand_data(&a),
                                 a.ld, -1.0f, operand_data(&b), b.ld);
    assert_ok(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_TRANS, m, n, 2.0f, a.view, a.ld,
                             -1.0f, b.view, b.ld, a.view, a.ld));
    assert_operand_near(&a, &r);
}

static void geam_rejects_output_over_a_transposed_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 7, FILL_RANDOM, 6);
    operand b = tight_make(ctx, 7, 7, FILL_RANDOM, 7);
    assert_arg_error(ctx, kiln_geam(ctx, KILN_TRANS, KILN_NO_TRANS, 7, 7, 1.0f, a.view, 7,
                                    1.0f, b.view, 7, a.view, 7));
    assert_arg_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_TRANS, 7, 7, 1.0f, a.view, 7,
                                    1.0f, b.view, 7, b.view, 7));
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&b);
}

static void geam_rejects_an_output_partly_over_an_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 7, FILL_RANDOM, 8);
    kiln_buf *shifted = scratch_view(a.buffer, sizeof(float), 49 * sizeof(float));
    assert_arg_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 7, 7, 1.0f, a.view,
                                    7, 1.0f, a.view, 7, shifted, 7));
    assert_operand_unchanged(&a);
}

/* Shapes whose leading dimensions are each below what their matrix needs, over
 * buffers large enough: ld >= max(1, stored columns) is checked even when m or n is 0.
 * Columns: ta, tb, m, n, lda, ldb, ldc, the culprit (0 lda, 1 ldb, 2 ldc). */
static const size_t bad_lds[][8] = {
    {0, 0, 7, 9, 8, 9, 9, 0}, /* lda < n */
    {0, 0, 7, 9, 9, 8, 9, 1}, /* ldb < n */
    {0, 0, 7, 9, 9, 9, 8, 2}, /* ldc < n */
    {1, 0, 7, 9, 6, 9, 9, 0}, /* lda < m, A transposed */
    {0, 1, 7, 9, 9, 6, 9, 1}, /* ldb < m, B transposed */
    {0, 0, 0, 9, 8, 9, 9, 0}, /* lda < n with m = 0 */
    {1, 0, 9, 0, 8, 1, 1, 0}, /* lda < m, A transposed, n = 0 */
    {0, 0, 7, 0, 0, 1, 1, 0}, /* lda < 1 with n = 0 */
    {0, 0, 7, 0, 1, 1, 0, 2}, /* ldc < 1 with n = 0 */
};

static void geam_rejects_ld_below_the_row_even_for_empty_matrices(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *in = scratch_buffer(ctx, 4096 * sizeof(float));
    operand c = vector_make(ctx, 4096, 0, 0, FILL_CANARY, 0);
    for (size_t i = 0; i < sizeof bad_lds / sizeof bad_lds[0]; i++) {
        const size_t *l = bad_lds[i];
        kiln_status status = kiln_geam(ctx, (kiln_trans)l[0], (kiln_trans)l[1], l[2], l[3],
                                       1.0f, in, l[4], 1.0f, in, l[5], c.view, l[6]);
        assert_ld_rejected(ctx, status, i, l[7]);
    }
    assert_operand_unchanged(&c);
}

/* The culprit of each case is a stored matrix of 2 rows and 3 columns (k unused). */
static const wrapping_case wrapping_cases[] = {
    {0, 0, 2, 3, 0, 3, 3, 3, 0}, {0, 0, 2, 3, 0, 3, 3, 3, 1}, {0, 0, 2, 3, 0, 3, 3, 3, 2},
    {1, 0, 3, 2, 0, 3, 2, 2, 0}, {0, 1, 3, 2, 0, 2, 3, 2, 1},
};

static kiln_status geam_with_lds(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                 kiln_buf *in, kiln_buf *out)
{
    return kiln_geam(ctx, (kiln_trans)c[0], (kiln_trans)c[1], c[2], c[3], 1.0f, in, ld[0],
                     1.0f, in, ld[1], out, ld[2]);
}

static void geam_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_cases,
                                sizeof wrapping_cases / sizeof wrapping_cases[0], geam_with_lds);
}

static void geam_rejects_matrices_too_large_for_their_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 9, FILL_RANDOM, 9);
    operand c = tight_make(ctx, 7, 9, FILL_CANARY, 0);
    kiln_buf *small = scratch_view(a.buffer, 0, 62 * sizeof(float));
    assert_size_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 7, 9, 1.0f, small,
                                     9, 1.0f, a.view, 9, c.view, 9));
    assert_mentions_floats(kiln_last_error(ctx), 62);
    assert_size_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 7, 9, 1.0f, a.view,
                                     9, 1.0f, a.view, 10, c.view, 9));
    assert_size_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 8, 9, 1.0f, a.view,
                                     9, 1.0f, a.view, 9, c.view, 9));
    assert_size_error(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, SIZE_MAX / 2, 9,
                                     1.0f, a.view, 9, 1.0f, a.view, 9, c.view, 9));
    assert_operand_unchanged(&c);
}

static void geam_of_an_empty_matrix_leaves_c(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 9, FILL_RANDOM, 10);
    operand c = tight_make(ctx, 7, 9, FILL_CANARY, 0);
    assert_ok(ctx, kiln_geam(ctx, KILN_NO_TRANS, KILN_NO_TRANS, 0, 9, 1.0f, a.view, 9, 1.0f,
                             a.view, 9, c.view, 9));
    assert_ok(ctx, kiln_geam(ctx, KILN_TRANS, KILN_NO_TRANS, 7, 0, 1.0f, a.view, 7, 1.0f,
                             a.view, 1, c.view, 1));
    assert_operand_unchanged(&c);
}

static void geam_rejects_null_arguments_and_bad_transposes(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 3, 3, FILL_RANDOM, 11);
    operand c = tight_make(ctx, 3, 3, FILL_CANARY, 0);
    const kiln_trans no = KILN_NO_TRANS, bad = (kiln_trans)7;
    kiln_buf *av = a.view, *cv = c.view;
    assert_arg_error(NULL, kiln_geam(NULL, no, no, 3, 3, 1, av, 3, 1, av, 3, cv, 3));
    assert_arg_error(ctx, kiln_geam(ctx, no, no, 3, 3, 1, NULL, 3, 1, av, 3, cv, 3));
    assert_arg_error(ctx, kiln_geam(ctx, no, no, 3, 3, 1, av, 3, 1, NULL, 3, cv, 3));
    assert_arg_error(ctx, kiln_geam(ctx, no, no, 3, 3, 1, av, 3, 1, av, 3, NULL, 3));
    assert_arg_error(ctx, kiln_geam(ctx, no, no, 0, 0, 1, av, 3, 1, av, 3, NULL, 3));
    assert_arg_error(ctx, kiln_geam(ctx, bad, no, 3, 3, 1, av, 3, 1, av, 3, cv, 3));
    assert_arg_error(ctx, kiln_geam(ctx, no, bad, 3, 3, 1, av, 3, 1, av, 3, cv, 3));
    assert_operand_unchanged(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(geam_adds_every_transpose_combination_and_shape),
        KILN_TEST(geam_honours_leading_dimensions_beyond_the_row_and_offsets),
        KILN_TEST(geam_honours_the_leading_dimension_of_the_one_padded_matrix),
        KILN_TEST(geam_with_alpha_zero_does_not_read_a),
        KILN_TEST(geam_with_beta_zero_does_not_read_b),
        KILN_TEST(geam_with_alpha_and_beta_zero_reads_neither_input),
        KILN_TEST(geam_scales_by_any_alpha_and_beta),
        KILN_TEST(geam_into_an_untransposed_input_gives_the_sum),
        KILN_TEST(geam_rejects_output_over_a_transposed_input),
        KILN_TEST(geam_rejects_an_output_partly_over_an_input),
        KILN_TEST(geam_rejects_ld_below_the_row_even_for_empty_matrices),
        KILN_TEST(geam_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(geam_rejects_matrices_too_large_for_their_buffers),
        KILN_TEST(geam_of_an_empty_matrix_leaves_c),
        KILN_TEST(geam_rejects_null_arguments_and_bad_transposes),
    };
    return RUN_KILN_TESTS(tests);
}
