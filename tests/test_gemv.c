/* The matrix-vector GEMMs (cl/gemv.cl): sgemm with n == 1 (op(A)·x down a column of C)
 * or m == 1 (the row of C), and kiln_dense with batch 1, against the double reference. */
#include "common.h"

/* m and k (or n and k) from the matrix-vector edges: one, below and above a work-group,
 * and a 4099-long row that is not a whole number of float4s. */
static const size_t sizes[] = {1, 7, 17, 255, 1023, 1025, 4096 + 3};
#define SIZE_COUNT (sizeof sizes / sizeof sizes[0])

/* The operands sit offset, 2·offset and 3·offset floats into their buffers: an offset
 * that is a multiple of 4 keeps all three on float4 boundaries, an odd one none. */
static void check_gemv(kiln_ctx *ctx, matrix_case g)
{
    size_t mark = scratch_mark();
    operand a = input_make(ctx, g.ta, g.m, g.k, g.pad, g.offset, g.fill_a, 1);
    operand b = input_make(ctx, g.tb, g.k, g.n, g.pad, 2 * g.offset, g.fill_b, 2);
    operand c = output_make(ctx, g.m, g.n, g.pad, 3 * g.offset, g.fill_c, 3);
    assert_ok(ctx, kiln_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.view, a.ld, b.view,
                              b.ld, g.beta, c.view, c.ld));
    reference r = reference_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, operand_data(&a), a.ld,
                                  operand_data(&b), b.ld, g.beta, operand_data(&c), c.ld);
    assert_operand_near(&c, &r);
    scratch_release_to(mark);
}

/* check for every (rows, k) of sizes², where rows is m when g.n is 1, else n (g.m is
 * 1), under every transpose pair. */
static void for_each_vector_shape(kiln_ctx *ctx, matrix_case g)
{
    size_t *rows = g.n == 1 ? &g.m : &g.n;
    for (size_t i = 0; i < SIZE_COUNT; i++)
        for (size_t j = 0; j < SIZE_COUNT; j++) {
            *rows = sizes[i], g.k = sizes[j];
            /* The 4099² matrix once, not under all four transposes. */
            if (g.m * g.n * g.k > 1000000 && g.ta != g.tb)
                continue;
            for_each_transpose(ctx, g, check_gemv);
        }
}

static void sgemm_with_n_one_multiplies_every_shape_and_transpose(void **state)
{
    matrix_case g = {.n = 1, .alpha = 0.75f, .beta = -1.25f};
    for_each_vector_shape(*state, g);
}

static void sgemm_with_m_one_multiplies_every_shape_and_transpose(void **state)
{
    matrix_case g = {.m = 1, .alpha = 0.75f, .beta = -1.25f};
    for_each_vector_shape(*state, g);
}

/* (m, n, k) with n or m 1: both layouts of the matrix, ragged rows. */
static const size_t vector_shapes[][3] = {{255, 1, 1023}, {1025, 1, 17}, {1, 255, 1023},
                                          {1, 1025, 17},  {7, 1, 4099},  {1, 1, 255}};
#define VECTOR_SHAPE_COUNT (sizeof vector_shapes / sizeof vector_shapes[0])

static void sgemm_vector_honours_odd_offsets_and_leading_dimensions(void **state)
{
    matrix_case g = {.alpha = 1.5f, .beta = 0.5f, .pad = 3, .offset = 5};
    for_each_shape(*state, g, vector_shapes, VECTOR_SHAPE_COUNT, check_gemv);
}

/* A pad of 1 makes ld = 1024 for k = 1023: float4 rows with a ragged tail of 3. */
static void sgemm_vector_reads_float4_rows_at_aligned_offsets(void **state)
{
    matrix_case g = {.alpha = -1.0f, .beta = 2.0f, .pad = 1, .offset = 4};
    for_each_shape(*state, g, vector_shapes, VECTOR_SHAPE_COUNT, check_gemv);
    g.pad = 0, g.m = 1023, g.n = 1, g.k = 4096;
    for_each_transpose(*state, g, check_gemv);
}

/* (m, n, k) one step from a vector: two columns or two rows, which are not matrix-vector
 * products and must not be run as one. */
static const size_t near_vector_shapes[][3] = {{255, 2, 1023}, {2, 255, 17}, {2, 2, 7}};

static void sgemm_with_n_or_m_two_multiplies_as_a_matrix(void **state)
{
    matrix_case g = {.alpha = 0.75f, .beta = -1.25f, .pad = 1};
    for_each_shape(*state, g, near_vector_shapes,
                   sizeof near_vector_shapes / sizeof near_vector_shapes[0], check_gemv);
}

static void sgemm_vector_with_alpha_zero_does_not_read_a_or_b(void **state)
{
    matrix_case g = {.alpha = 0.0f, .beta = 0.5f, .fill_a = FILL_NAN, .fill_b = FILL_NAN};
    for_each_shape(*state, g, vector_shapes, VECTOR_SHAPE_COUNT, check_gemv);
}

static void sgemm_vector_with_k_zero_scales_c_without_reading_a_or_b(void **state)
{
    matrix_case g = {.m = 255, .n = 1, .alpha = 2.0f, .beta = -3.0f};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    for_each_transpose(*state, g, check_gemv);
    g.m = 1, g.n = 1025, g.beta = 0.0f, g.fill_c = FILL_NAN;
    for_each_transpose(*state, g, check_gemv);
}

static void sgemm_vector_with_beta_zero_does_not_read_c(void **state)
{
    matrix_case g = {.alpha = 1.0f, .pad = 2, .offset = 1, .fill_c = FILL_NAN};
    for_each_shape(*state, g, vector_shapes, VECTOR_SHAPE_COUNT, check_gemv);
}

/* ---------------------------------------------------------------- dense */

static const kiln_act activations[] = {KILN_ACT_NONE, KILN_ACT_SIGMOID, KILN_ACT_RELU,
                                       KILN_ACT_TANH};

/* y = act(W·x + bias) with W out×in and x in×batch, each operand `offset` floats
 * further into its buffer than the one before; y starts as NaN (dense never reads it). */
static void check_dense_vector(kiln_ctx *ctx, size_t out, size_t in, size_t batch,
                               size_t offset, kiln_act act, int with_bias)
{
    size_t mark = scratch_mark();
    operand w = input_make(ctx, KILN_NO_TRANS, out, in, 0, offset, FILL_RANDOM, 4);
    operand x = input_make(ctx, KILN_NO_TRANS, in, batch, 0, 2 * offset, FILL_RANDOM, 5);
    operand bias = vector_make(ctx, out, 3 * offset, 1, FILL_RANDOM, 6);
    operand y = output_make(ctx, out, batch, 0, 4 * offset, FILL_NAN, 7);
    const kiln_buf *bias_view = with_bias ? bias.view : NULL;
    assert_ok(ctx, kiln_dense(ctx, w.view, x.view, bias_view, y.view, out, in, batch, act));
    reference r = reference_dense(operand_data(&w), operand_data(&x),
                                  with_bias ? operand_data(&bias) : NULL, out, in, batch, act);
    assert_operand_near(&y, &r);
    scratch_release_to(mark);
}

static void dense_with_batch_one_computes_every_shape(void **state)
{
    for (size_t i = 0; i < SIZE_COUNT; i++)
        for (size_t j = 0; j < SIZE_COUNT; j++)
            check_dense_vector(*state, sizes[i], sizes[j], 1, 0, KILN_ACT_RELU, 1);
}

/* Every activation with and without bias, aligned and at odd offsets; out == 1 with a
 * wide batch is the m == 1 layout, its single bias value added to every element. */
static void dense_with_batch_one_applies_every_epilogue(void **state)
{
    const size_t shapes[][3] = {{1023, 4096, 1}, {255, 1023, 1}, {1, 255, 1025}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (size_t a = 0; a < sizeof activations / sizeof activations[0]; a++)
            for (int with_bias = 0; with_bias < 2; with_bias++)
                for (size_t offset = 3; offset <= 4; offset++)
                    check_dense_vector(*state, shapes[s][0], shapes[s][1], shapes[s][2],
                                       offset, activations[a], with_bias);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(sgemm_with_n_one_multiplies_every_shape_and_transpose),
        KILN_TEST(sgemm_with_m_one_multiplies_every_shape_and_transpose),
        KILN_TEST(sgemm_vector_honours_odd_offsets_and_leading_dimensions),
        KILN_TEST(sgemm_vector_reads_float4_rows_at_aligned_offsets),
        KILN_TEST(sgemm_with_n_or_m_two_multiplies_as_a_matrix),
        KILN_TEST(sgemm_vector_with_alpha_zero_does_not_read_a_or_b),
        KILN_TEST(sgemm_vector_with_k_zero_scales_c_without_reading_a_or_b),
        KILN_TEST(sgemm_vector_with_beta_zero_does_not_read_c),
        KILN_TEST(dense_with_batch_one_computes_every_shape),
        KILN_TEST(dense_with_batch_one_applies_every_epilogue),
    };
    return RUN_KILN_TESTS(tests);
}
