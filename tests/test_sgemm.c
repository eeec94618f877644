/* kiln_sgemm, kiln_matmul and kiln_matmul_host: C = α·op(A)·op(B) + β·C.
 * With the argument "large" it runs only the ~1025³ products (the slow tier). */
#include "common.h"

#include <string.h>

/* (m, n, k) from {1, 7, 17, 255, 1023, 1025}, square and not. */
static const size_t shapes[][3] = {{1, 1, 1},       {7, 7, 7},       {17, 17, 17},
                                   {1025, 7, 255},  {1, 1023, 17},   {17, 1, 1025},
                                   {255, 255, 255}, {1023, 1025, 7}, {7, 1025, 1},
                                   {255, 1, 17},    {1, 1, 1025},    {17, 255, 1}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static void check_sgemm(kiln_ctx *ctx, matrix_case g)
{
    size_t mark = scratch_mark();
    operand a = input_make(ctx, g.ta, g.m, g.k, g.pad, g.offset, g.fill_a, 1);
    operand b = input_make(ctx, g.tb, g.k, g.n, g.pad, g.offset + 1, g.fill_b, 2);
    operand c = output_make(ctx, g.m, g.n, g.pad, g.offset + 2, g.fill_c, 3);
    assert_ok(ctx, kiln_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.view, a.ld, b.view,
                              b.ld, g.beta, c.view, c.ld));
    reference r =
        reference_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, operand_data(&a), a.ld,
                        operand_data(&b), b.ld, g.beta, operand_data(&c), c.ld);
    assert_operand_near(&c, &r);
    scratch_release_to(mark);
}

static void sgemm_multiplies_every_transpose_combination_and_shape(void **state)
{
    matrix_case g = {.alpha = 0.75f, .beta = -1.25f};
    for_each_shape(*state, g, shapes, SHAPE_COUNT, check_sgemm);
}

static void sgemm_honours_leading_dimensions_beyond_the_row_and_offsets(void **state)
{
    matrix_case g = {.alpha = 1.0f, .beta = 0.5f, .pad = 3, .offset = 5};
    for_each_shape(*state, g, shapes, SHAPE_COUNT, check_sgemm);
}

static void sgemm_with_alpha_zero_does_not_read_a_or_b(void **state)
{
    matrix_case g = {.m = 17, .n = 255, .k = 7, .alpha = 0.0f, .beta = 0.5f};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    for_each_transpose(*state, g, check_sgemm);
}

static void sgemm_with_k_zero_scales_c_without_reading_a_or_b(void **state)
{
    matrix_case g = {.m = 255, .n = 17, .k = 0, .alpha = 2.0f, .beta = -3.0f};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    for_each_transpose(*state, g, check_sgemm);
    g.beta = 0.0f, g.fill_c = FILL_NAN;
    for_each_transpose(*state, g, check_sgemm);
}

/* Small and large shapes: CLBlast (the sgemm-clblast run) runs them with different kernels. */
static void sgemm_with_beta_zero_does_not_read_c(void **state)
{
    matrix_case g = {.m = 7, .n = 1025, .k = 17, .alpha = 1.0f, .pad = 1};
    g.fill_c = FILL_NAN;
    for_each_transpose(*state, g, check_sgemm);
    g.m = 255, g.n = 257, g.k = 65, g.offset = 3;
    for_each_transpose(*state, g, check_sgemm);
}

static void sgemm_with_alpha_and_beta_zero_reads_no_input(void **state)
{
    matrix_case g = {.m = 17, .n = 7, .k = 255, .fill_a = FILL_NAN, .fill_b = FILL_NAN};
    g.fill_c = FILL_NAN;
    for_each_transpose(*state, g, check_sgemm);
}

static void sgemm_honours_leading_dimensions_far_beyond_the_row(void **state)
{
    matrix_case g = {.m = 3, .n = 5, .k = 2, .alpha = 1.0f, .beta = 1.0f, .pad = 70001};
    for_each_transpose(*state, g, check_sgemm);
}

static void sgemm_scales_by_any_alpha_and_beta(void **state)
{
    const float scalars[][2] = {{0, 0}, {1, 1}, {-2, 0.25f}, {1e-3f, 1e3f}, {0, 1}};
    matrix_case g = {.m = 17, .n = 7, .k = 255};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; i++) {
        g.alpha = scalars[i][0], g.beta = scalars[i][1];
        check_sgemm(*state, g);
    }
}

static void sgemm_of_an_empty_c_leaves_it(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 7, FILL_NAN, 4);
    operand c = tight_make(ctx, 7, 7, FILL_RANDOM, 5);
    const kiln_trans no = KILN_NO_TRANS;
    assert_ok(ctx, kiln_sgemm(ctx, no, no, 0, 7, 7, 1, a.view, 7, a.view, 7, 0, c.view, 7));
    assert_ok(ctx, kiln_sgemm(ctx, no, no, 7, 0, 7, 1, a.view, 7, a.view, 1, 0, c.view, 1));
    assert_ok(ctx, kiln_sgemm(ctx, no, no, 0, 0, 0, 1, a.view, 1, a.view, 1, 0, c.view, 1));
    assert_operand_unchanged(&c);
}

static void sgemm_accepts_disjoint_views_of_one_buffer_and_a_shared_input(void **state)
{
    kiln_ctx *ctx = *state;
    enum { m = 17, k = 255 };
    /* A (m×k), then C (m×m) right after it in one buffer; C = A·Aᵀ reads A twice */
    operand whole = vector_make(ctx, m * k + m * m, 0, 0, FILL_RANDOM, 16);
    kiln_buf *a = scratch_view(whole.buffer, 0, m * k * sizeof(float));
    kiln_buf *c = scratch_view(whole.buffer, m * k * sizeof(float), m * m * sizeof(float));
    const float *host_a = operand_data(&whole), *host_c = host_a + m * k;
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_TRANS, m, m, k, 1.0f, host_a, k,
                                  host_a, k, 0.5f, host_c, m);
    assert_ok(ctx, kiln_sgemm(ctx, KILN_NO_TRANS, KILN_TRANS, m, m, k, 1.0f, a, k, a, k,
                              0.5f, c, m));
    assert_matrix_near(scratch_download(c, m * m), m, &r);
}

static void matmul_multiplies_tight_matrices(void **state)
{
    kiln_ctx *ctx = *state;
    enum { m = 255, n = 17, k = 1023 };
    operand a = tight_make(ctx, m, k, FILL_RANDOM, 6);
    operand b = input_make(ctx, KILN_NO_TRANS, k, n, 0, 1, FILL_RANDOM, 7);
    operand c = output_make(ctx, m, n, 0, 3, FILL_NAN, 8);
    assert_ok(ctx, kiln_matmul(ctx, m, n, k, a.view, b.view, c.view));
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f,
                                  operand_data(&a), k, operand_data(&b), n, 0.0f, NULL, n);
    assert_operand_near(&c, &r);
}

static void matmul_with_k_zero_zeroes_c(void **state)
{
    kiln_ctx *ctx = *state;
    operand nan = tight_make(ctx, 1, 1, FILL_NAN, 0);
    operand c = tight_make(ctx, 7, 17, FILL_RANDOM, 17);
    assert_ok(ctx, kiln_matmul(ctx, 7, 17, 0, nan.view, nan.view, c.view));
    reference zero = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, 7, 17, 0, 1.0f, NULL, 1,
                                     NULL, 17, 0.0f, NULL, 17);
    assert_operand_near(&c, &zero);
}

static void matmul_of_an_empty_c_leaves_it(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 7, FILL_NAN, 18);
    operand c = tight_make(ctx, 7, 7, FILL_RANDOM, 19);
    float host = CANARY;
    assert_ok(ctx, kiln_matmul(ctx, 0, 7, 7, a.view, a.view, c.view));
    assert_ok(ctx, kiln_matmul(ctx, 7, 0, 7, a.view, a.view, c.view));
    assert_ok(ctx, kiln_matmul_host(ctx, 0, 1, 1, &host, &host, &host));
    assert_operand_unchanged(&c);
    assert_true(host == CANARY);
}

static void matmul_host_multiplies_arrays(void **state)
{
    kiln_ctx *ctx = *state;
    enum { m = 17, n = 1025, k = 7 };
    float *a = scratch_random(m * k, 9), *b = scratch_random(k * n, 10);
    float *c = scratch_filled(m * n, CANARY);
    assert_ok(ctx, kiln_matmul_host(ctx, m, n, k, a, b, c));
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f, a, k, b, n,
                                  0.0f, NULL, n);
    assert_matrix_near(c, n, &r);
}

static void matmul_host_rejects_null_pointers(void **state)
{
    kiln_ctx *ctx = *state;
    float a[4] = {1, 2, 3, 4}, c[4] = {CANARY, CANARY, CANARY, CANARY};
    assert_arg_error(NULL, kiln_matmul_host(NULL, 2, 2, 2, a, a, c));
    assert_arg_error(ctx, kiln_matmul_host(ctx, 2, 2, 2, NULL, a, c));
    assert_arg_error(ctx, kiln_matmul_host(ctx, 2, 2, 2, a, NULL, c));
    assert_arg_error(ctx, kiln_matmul_host(ctx, 2, 2, 2, a, a, NULL));
    assert_true(c[0] == CANARY && c[3] == CANARY);
}

static void sgemm_rejects_c_sharing_memory_with_a_or_b(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 7, FILL_RANDOM, 11);
    operand b = tight_make(ctx, 7, 7, FILL_RANDOM, 12);
    kiln_buf *over_b = scratch_view(b.buffer, 40 * sizeof(float), 9 * sizeof(float));
    kiln_buf *c = scratch_buffer(ctx, 49 * sizeof(float));
    const kiln_trans no = KILN_NO_TRANS;
    assert_arg_error(
        ctx, kiln_sgemm(ctx, no, no, 7, 7, 7, 1, a.view, 7, b.view, 7, 0, a.view, 7));
    assert_arg_error(
        ctx, kiln_sgemm(ctx, no, no, 1, 7, 7, 1, a.view, 7, b.view, 7, 0, over_b, 7));
    assert_arg_error(ctx, kiln_matmul(ctx, 7, 7, 7, a.view, b.view, a.view));
    assert_arg_error(ctx, kiln_matmul(ctx, 1, 7, 7, a.view, b.view, over_b));
    assert_ok(ctx, kiln_sgemm(ctx, no, no, 7, 7, 7, 1, a.view, 7, b.view, 7, 0, c, 7));
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&b);
}

/* Shapes whose leading dimensions are each below what their matrix needs, over
 * buffers large enough: ld >= max(1, stored columns) is checked even when m, n or k is
 * 0. Columns: ta, tb, m, n, k, lda, ldb, ldc, the culprit (0 lda, 1 ldb, 2 ldc). */
static const size_t bad_lds[][9] = {
    {0, 0, 7, 9, 5, 4, 9, 9, 0}, /* lda < k */
    {1, 0, 7, 9, 5, 6, 9, 9, 0}, /* lda < m, A transposed */
    {0, 0, 0, 9, 5, 4, 9, 9, 0}, /* lda < k with m = 0 */
    {1, 0, 0, 9, 5, 0, 9, 9, 0}, /* lda < 1, A transposed, m = 0 */
    {0, 0, 7, 9, 0, 0, 9, 9, 0}, /* lda < 1 with k = 0 */
    {0, 0, 7, 9, 5, 5, 8, 9, 1}, /* ldb < n */
    {0, 1, 7, 9, 5, 5, 4, 9, 1}, /* ldb < k, B transposed */
    {0, 0, 7, 9, 5, 5, 9, 8, 2}, /* ldc < n */
    {0, 0, 7, 0, 5, 5, 0, 1, 1}, /* ldb < 1 with n = 0 */
    {0, 0, 7, 0, 5, 5, 1, 0, 2}, /* ldc < 1 with n = 0 */
};

static void sgemm_rejects_ld_below_its_row_even_for_empty_matrices(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *in = scratch_buffer(ctx, 4096 * sizeof(float));
    operand c = vector_make(ctx, 4096, 0, 0, FILL_CANARY, 0);
    for (size_t i = 0; i < sizeof bad_lds / sizeof bad_lds[0]; i++) {
        const size_t *l = bad_lds[i];
        kiln_status status = kiln_sgemm(ctx, (kiln_trans)l[0], (kiln_trans)l[1], l[2], l[3],
                                        l[4], 1.0f, in, l[5], in, l[6], 0.0f, c.view, l[7]);
        assert_ld_rejected(ctx, status, i, l[8]);
    }
    assert_operand_unchanged(&c);
}

static void sgemm_rejects_buffers_too_small_naming_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 7, 9, FILL_RANDOM, 13);
    operand c = tight_make(ctx, 7, 7, FILL_CANARY, 0);
    kiln_buf *short_a = scratch_view(a.buffer, 0, 62 * sizeof(float));
    const kiln_trans no = KILN_NO_TRANS, yes = KILN_TRANS;
    assert_size_error(
        ctx, kiln_sgemm(ctx, no, yes, 7, 7, 9, 1, short_a, 9, a.view, 9, 0, c.view, 7));
    assert_mentions_floats(kiln_last_error(ctx), 62);
    assert_mentions_floats(kiln_last_error(ctx), 63);
    assert_size_error(
        ctx, kiln_sgemm(ctx, no, yes, 7, 7, 9, 1, a.view, 9, short_a, 9, 0, c.view, 7));
    assert_size_error(
        ctx, kiln_sgemm(ctx, no, yes, 7, 8, 9, 1, a.view, 9, a.view, 9, 0, c.view, 8));
    assert_size_error(
        ctx, kiln_sgemm(ctx, yes, no, 9, 7, 7, 1, a.view, 9, a.view, 9, 0, c.view, 7));
    assert_size_error(ctx, kiln_matmul(ctx, 7, 7, 10, a.view, a.view, c.view));
    assert_operand_unchanged(&c);
}

static void sgemm_rejects_sizes_that_overflow(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 4, 4, FILL_RANDOM, 14);
    operand c = tight_make(ctx, 4, 4, FILL_CANARY, 0);
    const kiln_trans no = KILN_NO_TRANS;
    const size_t huge = SIZE_MAX / 2;
    assert_status(
        ctx, kiln_sgemm(ctx, no, no, huge, 1, 4, 1, a.view, 4, a.view, 1, 0, c.view, 1),
        KILN_ERR_SIZE);
    assert_status(
        ctx, kiln_sgemm(ctx, no, no, 4, 4, huge, 1, a.view, huge, a.view, 4, 0, c.view, 4),
        KILN_ERR_SIZE);
    assert_status(
        ctx, kiln_sgemm(ctx, no, no, 4, 4, 4, 1, a.view, 4, a.view, huge, 0, c.view, 4),
        KILN_ERR_SIZE);
    assert_size_error(ctx, kiln_matmul(ctx, huge, huge, 4, a.view, a.view, c.view));
    assert_operand_unchanged(&c);
}

/* Every stored matrix of each case has 2 rows: A 2×2 and B, C 2×3, or transposed A 2×3
 * and B 2×2. */
static const wrapping_case wrapping_cases[] = {
    {0, 0, 2, 3, 2, 2, 3, 3, 0}, {0, 0, 2, 3, 2, 2, 3, 3, 1}, {0, 0, 2, 3, 2, 2, 3, 3, 2},
    {1, 1, 3, 2, 2, 3, 2, 2, 0}, {1, 1, 3, 2, 2, 3, 2, 2, 1},
};

static kiln_status sgemm_with_lds(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                  kiln_buf *in, kiln_buf *out)
{
    return kiln_sgemm(ctx, (kiln_trans)c[0], (kiln_trans)c[1], c[2], c[3], c[4], 1.0f, in,
                      ld[0], in, ld[1], 0.0f, out, ld[2]);
}

static void sgemm_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_cases,
                                sizeof wrapping_cases / sizeof wrapping_cases[0],
                                sgemm_with_lds);
}

static void sgemm_rejects_null_arguments_and_bad_transposes(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 3, 3, FILL_RANDOM, 15);
    operand c = tight_make(ctx, 3, 3, FILL_CANARY, 0);
    const kiln_trans no = KILN_NO_TRANS, bad = (kiln_trans)2;
    kiln_buf *av = a.view, *cv = c.view;
    assert_arg_error(NULL, kiln_sgemm(NULL, no, no, 3, 3, 3, 1, av, 3, av, 3, 0, cv, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, no, no, 3, 3, 3, 1, NULL, 3, av, 3, 0, cv, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, no, no, 3, 3, 3, 1, av, 3, NULL, 3, 0, cv, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, no, no, 3, 3, 3, 1, av, 3, av, 3, 0, NULL, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, no, no, 0, 0, 0, 1, NULL, 3, av, 3, 0, cv, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, bad, no, 3, 3, 3, 1, av, 3, av, 3, 0, cv, 3));
    assert_arg_error(ctx, kiln_sgemm(ctx, no, bad, 3, 3, 3, 1, av, 3, av, 3, 0, cv, 3));
    assert_arg_error(NULL, kiln_matmul(NULL, 3, 3, 3, av, av, cv));
    assert_arg_error(ctx, kiln_matmul(ctx, 3, 3, 3, NULL, av, cv));
    assert_arg_error(ctx, kiln_matmul(ctx, 3, 3, 3, av, av, NULL));
    assert_operand_unchanged(&c);
}

static void sgemm_multiplies_matrices_of_about_1025_cubed(void **state)
{
    matrix_case g = {.m = 1025, .n = 1025, .k = 1025, .alpha = 0.5f, .beta = 2.0f};
    check_sgemm(*state, g);
    g.ta = KILN_TRANS, g.tb = KILN_TRANS, g.m = 1023, g.pad = 1, g.offset = 3;
    check_sgemm(*state, g);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest large[] = {
        KILN_TEST(sgemm_multiplies_matrices_of_about_1025_cubed),
    };
    const struct CMUnitTest tests[] = {
        KILN_TEST(sgemm_multiplies_every_transpose_combination_and_shape),
        KILN_TEST(sgemm_honours_leading_dimensions_beyond_the_row_and_offsets),
        KILN_TEST(sgemm_with_alpha_zero_does_not_read_a_or_b),
        KILN_TEST(sgemm_with_k_zero_scales_c_without_reading_a_or_b),
        KILN_TEST(sgemm_with_beta_zero_does_not_read_c),
        KILN_TEST(sgemm_with_alpha_and_beta_zero_reads_no_input),
        KILN_TEST(sgemm_honours_leading_dimensions_far_beyond_the_row),
        KILN_TEST(sgemm_scales_by_any_alpha_and_beta),
        KILN_TEST(sgemm_of_an_empty_c_leaves_it),
        KILN_TEST(sgemm_accepts_disjoint_views_of_one_buffer_and_a_shared_input),
        KILN_TEST(matmul_multiplies_tight_matrices),
        KILN_TEST(matmul_with_k_zero_zeroes_c),
        KILN_TEST(matmul_of_an_empty_c_leaves_it),
        KILN_TEST(matmul_host_multiplies_arrays),
        KILN_TEST(matmul_host_rejects_null_pointers),
        KILN_TEST(sgemm_rejects_c_sharing_memory_with_a_or_b),
        KILN_TEST(sgemm_rejects_ld_below_its_row_even_for_empty_matrices),
        KILN_TEST(sgemm_rejects_buffers_too_small_naming_sizes),
        KILN_TEST(sgemm_rejects_sizes_that_overflow),
        KILN_TEST(sgemm_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(sgemm_rejects_null_arguments_and_bad_transposes),
    };
    if (argc > 1 && strcmp(argv[1], "large") == 0)
        return RUN_KILN_TESTS(large);
    return RUN_KILN_TESTS(tests);
}
