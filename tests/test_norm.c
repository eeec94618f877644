/* kiln_layernorm and kiln_rmsnorm against a double reference (two-pass mean and
 * variance), with and without gamma and beta, in place and not. */
#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

static double *scratch_doubles(size_t n)
{
    return (double *)(void *)scratch_floats(2 * (n > 0 ? n : 1));
}

/* What a norm call is given: gamma and beta NULL for absent. */
typedef struct {
    bool rms;
    const float *gamma, *beta; /* rmsnorm has no beta: leave it NULL */
    float eps;
} norm_case;

/* The exact norm of each row and what the kernel may be off by: the normalised value z
 * to 2^-16 of (1 + |z| + |mean|/σ) for layernorm, whose float mean is off by a few
 * roundings of the row's size; rmsnorm to a few roundings of its compensated Σx². */
static void reference_norm(const norm_case *n, const operand *x, double *expected,
                           double *allowed)
{
    const double u = ldexp(1, -24), terms = fmax(1, log2((double)x->cols));
    for (size_t r = 0; r < x->rows; r++) {
        const float *row = operand_data(x) + r * x->ld;
        double mean = 0, squares = 0, deviations = 0;
        for (size_t c = 0; c < x->cols; c++) {
            mean += row[c];
            squares += (double)row[c] * row[c];
        }
        mean /= (double)x->cols;
        for (size_t c = 0; c < x->cols; c++)
            deviations += (row[c] - mean) * (row[c] - mean);
        double rstd = n->rms ? 1 / sqrt(squares / (double)x->cols + n->eps)
                             : 1 / sqrt(deviations / (double)x->cols + n->eps);
        for (size_t c = 0; c < x->cols; c++) {
            double g = n->gamma != NULL ? n->gamma[c] : 1, b = n->beta != NULL ? n->beta[c] : 0;
            double z = n->rms ? row[c] * rstd : (row[c] - mean) * rstd;
            size_t at = r * x->cols + c;
            expected[at] = z * g + b;
            allowed[at] = n->rms ? fabs(z * g) * u * (4 * terms + 16)
                                 : fabs(g) * ldexp(1, -16) * (1 + fabs(z) + fabs(mean) * rstd) +
                                       2 * u * fabs(b);
            if (!isfinite(allowed[at]))
                allowed[at] = 0; /* NaN rows need only NaN */
        }
    }
}

/* Runs the case on x into a y `y_offset` floats into its own buffer (x itself when
 * in_place) and checks y, its canaries, and that x and gamma and beta are unchanged. */
static void check_norm_on(kiln_ctx *ctx, norm_case n, operand *x, size_t y_offset,
                          bool in_place)
{
    size_t mark = scratch_mark();
    size_t rows = x->rows, cols = x->cols;
    kiln_buf *gamma = n.gamma != NULL ? scratch_upload(ctx, n.gamma, cols) : NULL;
    kiln_buf *beta = n.beta != NULL ? scratch_upload(ctx, n.beta, cols) : NULL;
    double *expected = scratch_doubles(rows * cols), *allowed = scratch_doubles(rows * cols);
    reference_norm(&n, x, expected, allowed);
    operand y = in_place ? *x : operand_make(ctx, rows, cols, x->ld, y_offset, 2,
                                             FILL_CANARY, 0);
    assert_ok(ctx, n.rms ? kiln_rmsnorm(ctx, x->view, gamma, y.view, rows, cols, x->ld, n.eps)
                         : kiln_layernorm(ctx, x->view, gamma, beta, y.view, rows, cols,
                                          x->ld, n.eps));
    assert_rows_near(&y, expected, allowed);
    if (!in_place)
        assert_operand_unchanged(x);
    scratch_release_to(mark);
}

/* x of rows×cols (ld cols + pad, `offset` floats in), random values times scale plus
 * shift, under each of rmsnorm and layernorm with gamma and beta present or not. */
static void check_norms(kiln_ctx *ctx, size_t rows, size_t cols, size_t pad, size_t offset,
                        size_t y_offset, float scale, float shift)
{
    size_t mark = scratch_mark();
    operand x = operand_make(ctx, rows, cols, cols + pad, offset, 2, FILL_RANDOM,
                             (uint32_t)(rows * 5 + cols));
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            x.host[x.offset + r * x.ld + c] = x.host[x.offset + r * x.ld + c] * scale + shift;
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
    const float *gamma = scratch_random(cols, 77), *beta = scratch_random(cols, 78);
    for (int variant = 0; variant < 6; variant++) {
        norm_case n = {variant >= 4, variant % 2 ? gamma : NULL,
                       variant % 4 >= 2 ? beta : NULL, 1e-5f};
        check_norm_on(ctx, n, &x, y_offset, false);
    }
    scratch_release_to(mark);
}

/* rows, cols, pad, x offset, y offset */
static const size_t shapes[][5] = {
    {1, 1, 0, 0, 0},   {1, 1000, 0, 1, 5}, {1000, 1, 0, 0, 1}, {7, 13, 3, 3, 7},
    {33, 257, 0, 4, 0}, {5, 1025, 7, 1, 2}, {2, 4096, 4, 4, 8}, {300, 40, 1, 2, 2},
};

static void norms_match_the_reference_over_shapes_with_and_without_gamma_and_beta(void **state)
{
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        check_norms(*state, shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                    shapes[s][4], 3.0f, 0.5f);
}

static void norms_of_shifted_rows_keep_their_variance(void **state)
{
    check_norms(*state, 9, 300, 1, 2, 3, 1.0f, 100.0f);
}

static void norms_handle_a_row_of_100000_and_many_rows(void **state)
{
    check_norms(*state, 1, 100000, 0, 0, 0, 2.0f, 1.0f);
    check_norms(*state, 5000, 3, 0, 1, 1, 2.0f, 1.0f);
}

/* On GPUs (and under KILN_GEMM_TABLE=gpu: meson test norm-gpu-table) a team holds a row
 * of up to 32768 floats in registers, 1024 items of 8 float4s, and streams longer ones;
 * short ragged rows leave most of the items' registers empty. */
static void norms_match_the_reference_for_rows_held_in_registers_and_streamed(void **state)
{
    /* rows, cols, pad, x offset, y offset */
    static const size_t held_shapes[][5] = {
        {2, 32768, 0, 0, 0}, {2, 32772, 0, 0, 0}, {3, 1025, 3, 1, 1}, {16, 130, 2, 3, 3},
    };
    for (size_t s = 0; s < sizeof held_shapes / sizeof held_shapes[0]; s++)
        check_norms(*state, held_shapes[s][0], held_shapes[s][1], held_shapes[s][2],
                    held_shapes[s][3], held_shapes[s][4], 3.0f, 0.5f);
}

static void norms_in_place_match_the_reference(void **state)
{
    kiln_ctx *ctx = *state;
    for (int rms = 0; rms < 2; rms++) {
        size_t mark = scratch_mark();
        operand x = operand_make(ctx, 6, 131, 133, 3, 2, FILL_RANDOM, 40);
        norm_case n = {rms, scratch_random(131, 41), rms ? NULL : scratch_random(131, 42),
                       1e-3f};
        check_norm_on(ctx, n, &x, 0, true);
        scratch_release_to(mark);
    }
}

/* Constant rows have no deviation: layernorm gives exactly beta. */
static void layernorm_of_constant_rows_is_exactly_beta(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 4, cols = 1031 };
    operand x = operand_make(ctx, rows, cols, cols, 0, 0, FILL_RANDOM, 43);
    for (size_t r = 0; r < rows; r++)
        floats_set(x.host + r * cols, cols, (float)r * 37.25f - 50.0f);
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
    const float *beta = scratch_random(cols, 44);
    kiln_buf *beta_buf = scratch_upload(ctx, beta, cols);
    kiln_buf *gamma_buf = scratch_upload(ctx, scratch_random(cols, 45), cols);
    kiln_buf *y = scratch_buffer(ctx, rows * cols * sizeof(float));
    assert_ok(ctx, kiln_layernorm(ctx, x.view, gamma_buf, beta_buf, y, rows, cols, cols, 1e-5f));
    const float *got = scratch_download(y, rows * cols);
    for (size_t r = 0; r < rows; r++)
        assert_memory_equal(got + r * cols, beta, cols * sizeof(float));
    /* rmsnorm of a constant row is its sign, to rounding */
    norm_case n = {true, NULL, NULL, 1e-5f};
    check_norm_on(ctx, n, &x, 1, false);
}

/* eps = 0 leaves a row without deviation (layernorm) or a zero row (rmsnorm) 0/0: NaN. */
static void norms_of_flat_rows_with_eps_zero_are_nan(void **state)
{
    kiln_ctx *ctx = *state;
    enum { cols = 7 };
    kiln_buf *x = scratch_upload(ctx, (const float[cols]){0}, cols);
    kiln_buf *c = scratch_upload(ctx, (const float[cols]){2, 2, 2, 2, 2, 2, 2}, cols);
    kiln_buf *y = scratch_buffer(ctx, cols * sizeof(float));
    assert_ok(ctx, kiln_layernorm(ctx, c, NULL, NULL, y, 1, cols, cols, 0.0f));
    const float *got = scratch_download(y, cols);
    for (size_t j = 0; j < cols; j++)
        assert_true(isnan(got[j]));
    assert_ok(ctx, kiln_rmsnorm(ctx, x, NULL, y, 1, cols, cols, 0.0f));
    got = scratch_download(y, cols);
    for (size_t j = 0; j < cols; j++)
        assert_true(isnan(got[j]));
}

/* layernorm: NaN or ±Inf makes the row NaN. rmsnorm: NaN makes the row NaN, Inf its own
 * element NaN and the rest of the row 0. */
static void norms_propagate_nan_and_inf_as_documented(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 4, cols = 5 };
    const float values[rows][cols] = {
        {1, NAN, 2, 3, 4}, {1, INFINITY, 2, 3, 4}, {-INFINITY, 0, 1, 2, 3}, {1, 2, 3, 4, 5}};
    operand x = operand_make(ctx, rows, cols, cols, 0, 0, FILL_RANDOM, 46);
    memcpy(x.host, values, sizeof values);
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, sizeof values));
    for (int rms = 0; rms < 2; rms++) {
        norm_case n = {rms, NULL, NULL, 1e-5f};
        double expected[rows * cols], allowed[rows * cols];
        reference_norm(&n, &x, expected, allowed);
        assert_true(isnan(expected[1]) && isnan(expected[cols + 1]));
        assert_true(rms ? expected[cols] == 0 : isnan(expected[cols]));
        check_norm_on(ctx, n, &x, 2, false);
    }
}

static void norms_of_no_rows_or_columns_write_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    kiln_buf *x = scratch_buffer(ctx, 8 * sizeof(float));
    assert_ok(ctx, kiln_layernorm(ctx, x, NULL, NULL, y.view, 0, 8, 8, 1e-5f));
    assert_ok(ctx, kiln_rmsnorm(ctx, x, NULL, y.view, 4, 0, 1, 1e-5f));
    assert_operand_unchanged(&y);
}

static void norms_reject_null_context_and_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 47);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    assert_arg_error(NULL, kiln_layernorm(NULL, x.view, NULL, NULL, y.view, 2, 4, 4, 0));
    assert_arg_error(ctx, kiln_layernorm(ctx, NULL, NULL, NULL, y.view, 2, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "x is NULL");
    assert_arg_error(ctx, kiln_rmsnorm(ctx, x.view, NULL, NULL, 0, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "y is NULL");
    assert_operand_unchanged(&y);
}

static void norms_reject_eps_negative_or_not_finite(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 8, 0, 0, FILL_RANDOM, 48);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    const float bad[] = {-1e-5f, NAN, INFINITY};
    for (size_t i = 0; i < 3; i++) {
        assert_arg_error(ctx, kiln_layernorm(ctx, x.view, NULL, NULL, y.view, 2, 4, 4, bad[i]));
        assert_contains(kiln_last_error(ctx), "eps is ");
        assert_contains(kiln_last_error(ctx), ": it must be finite and >= 0");
        assert_arg_error(ctx, kiln_rmsnorm(ctx, x.view, NULL, y.view, 0, 4, 4, bad[i]));
    }
    assert_operand_unchanged(&y);
}

static void norms_reject_ld_below_cols_and_short_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 12, 0, 0, FILL_RANDOM, 49);
    operand y = vector_make(ctx, 8, 0, 0, FILL_CANARY, 0);
    kiln_buf *three = scratch_buffer(ctx, 3 * sizeof(float));
    assert_arg_error(ctx, kiln_layernorm(ctx, x.view, NULL, NULL, y.view, 0, 5, 4, 0));
    assert_contains(kiln_last_error(ctx), "ld is 4, below the row length 5 of x (0x5)");
    assert_size_error(ctx, kiln_rmsnorm(ctx, x.view, NULL, y.view, 4, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "x (4x4 stored, ld 4) needs 16 floats");
    assert_size_error(ctx, kiln_layernorm(ctx, x.view, NULL, NULL, y.view, 3, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "y (3x4 stored, ld 4) needs 12 floats");
    assert_size_error(ctx, kiln_layernorm(ctx, x.view, three, NULL, y.view, 2, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "gamma needs 4 floats (16 bytes) but its buffer holds 12");
    assert_size_error(ctx, kiln_layernorm(ctx, x.view, NULL, three, y.view, 2, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "beta needs 4 floats");
    assert_size_error(ctx, kiln_rmsnorm(ctx, x.view, NULL, y.view, 2, 3, ld_wrapping(3, 0), 0));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    assert_operand_unchanged(&y);
}

static void norms_reject_an_output_over_an_input(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = vector_make(ctx, 16, 0, 4, FILL_RANDOM, 50);
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), 16 * sizeof(float));
    kiln_buf *tail = scratch_view(x.buffer, 16 * sizeof(float), 4 * sizeof(float));
    operand y = vector_make(ctx, 16, 0, 0, FILL_CANARY, 0);
    assert_arg_error(ctx, kiln_layernorm(ctx, x.view, NULL, NULL, shifted, 4, 4, 4, 0));
    assert_contains(kiln_last_error(ctx),
                    "y partly overlaps the input x: in place it must be the very same range");
    assert_arg_error(ctx, kiln_rmsnorm(ctx, shifted, NULL, x.view, 4, 4, 4, 0));
    assert_arg_error(ctx, kiln_layernorm(ctx, y.view, x.view, NULL, x.view, 4, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input gamma");
    assert_arg_error(ctx, kiln_layernorm(ctx, y.view, NULL, tail, x.view, 4, 4, 4, 0));
    assert_contains(kiln_last_error(ctx), "y shares memory with the input beta");
    assert_operand_unchanged(&x);
    assert_operand_unchanged(&y);
}

/* x of 2 rows and 3 columns whose ld (the culprit) wraps (rows - 1)·ld + cols past SIZE_MAX. */
static const wrapping_case wrapping_rows[] = {{0, 0, 2, 3, 0, 3, 0, 0, 0}};

static kiln_status layernorm_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                     kiln_buf *in, kiln_buf *out)
{
    (void)in; /* x and y share ld: y is the matrix both name */
    return kiln_layernorm(ctx, out, NULL, NULL, out, c[2], c[3], ld[0], 1e-5f);
}

static kiln_status rmsnorm_with_ld(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                   kiln_buf *in, kiln_buf *out)
{
    (void)in;
    return kiln_rmsnorm(ctx, out, NULL, out, c[2], c[3], ld[0], 1e-5f);
}

static void norms_reject_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, layernorm_with_ld);
    assert_wrapping_lds_refused(*state, wrapping_rows, 1, rmsnorm_with_ld);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(norms_reject_ld_whose_span_wraps_past_size_max),
        KILN_TEST(norms_match_the_reference_over_shapes_with_and_without_gamma_and_beta),
        KILN_TEST(norms_of_shifted_rows_keep_their_variance),
        KILN_TEST(norms_handle_a_row_of_100000_and_many_rows),
        KILN_TEST(norms_match_the_reference_for_rows_held_in_registers_and_streamed),
        KILN_TEST(norms_in_place_match_the_reference),
        KILN_TEST(layernorm_of_constant_rows_is_exactly_beta),
        KILN_TEST(norms_of_flat_rows_with_eps_zero_are_nan),
        KILN_TEST(norms_propagate_nan_and_inf_as_documented),
        KILN_TEST(norms_of_no_rows_or_columns_write_nothing),
        KILN_TEST(norms_reject_null_context_and_buffers),
        KILN_TEST(norms_reject_eps_negative_or_not_finite),
        KILN_TEST(norms_reject_ld_below_cols_and_short_buffers),
        KILN_TEST(norms_reject_an_output_over_an_input),
    };
    return RUN_KILN_TESTS(tests);
}
