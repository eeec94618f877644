/* kiln_gemm_ex over every element type of A and B, of C, transposes and math level,
 * and the context's math level (kiln_ctx_set_math) as kiln_sgemm and kiln_dense see it,
 * against the double reference with tolerances from the types, the math and k. */
#include "common.h"

#include <math.h>
#include <string.h>

static const kiln_dtype dtypes[] = {KILN_DTYPE_F32, KILN_DTYPE_F16, KILN_DTYPE_BF16};
static const kiln_math maths[] = {KILN_MATH_STRICT, KILN_MATH_TF32X3, KILN_MATH_TF32,
                                  KILN_MATH_FAST};

/* The types and math of the cases check_gemm_ex runs (for_each_shape's callbacks take a
 * matrix_case only). */
static struct {
    kiln_dtype ab, c;
    kiln_math math;
} run = {KILN_DTYPE_F32, KILN_DTYPE_F32, KILN_MATH_STRICT};

static void check_gemm_ex(kiln_ctx *ctx, matrix_case g)
{
    size_t mark = scratch_mark();
    operand a = typed_input_make(ctx, run.ab, g.ta, g.m, g.k, g.pad, g.offset, g.fill_a, 1);
    operand b = typed_input_make(ctx, run.ab, g.tb, g.k, g.n, g.pad, g.offset + 1, g.fill_b, 2);
    operand c = typed_output_make(ctx, run.c, g.m, g.n, g.pad, g.offset + 2, g.fill_c, 3);
    assert_ok(ctx, kiln_gemm_ex(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.view, run.ab, a.ld,
                                b.view, run.ab, b.ld, g.beta, c.view, run.c, c.ld, run.math));
    reference r = reference_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, operand_data(&a), a.ld,
                                  operand_data(&b), b.ld, g.beta, operand_data(&c), c.ld);
    reference_allow(&r, run.ab, run.math, run.c);
    assert_operand_near(&c, &r);
    assert_operand_unchanged(&a);
    assert_operand_unchanged(&b);
    scratch_release_to(mark);
}

static const kiln_trans transposes[4][2] = {{KILN_NO_TRANS, KILN_NO_TRANS},
                                            {KILN_NO_TRANS, KILN_TRANS},
                                            {KILN_TRANS, KILN_NO_TRANS},
                                            {KILN_TRANS, KILN_TRANS}};

/* Runs g for every type of A and B from dtypes[first] on under every transpose pair,
 * with C's type such that every (A type, C type), (A type, transposes) and (C type,
 * transposes) pair occurs: 12 runs (from f32) rather than the 36 of every triple. Each
 * triple is a kernel of its own, and PoCL takes 2.5 to 4 s to build one, which the 36
 * would spend beyond the 90 s these tests may take; the kernel's types and transposes
 * are independent -D switches. */
static void for_each_covering_case_from(kiln_ctx *ctx, matrix_case g, kiln_math math,
                                        size_t first)
{
    for (size_t ab = first; ab < 3; ab++)
        for (size_t t = 0; t < 4; t++) {
            g.ta = transposes[t][0], g.tb = transposes[t][1];
            run.ab = dtypes[ab], run.c = dtypes[(ab + t) % 3], run.math = math;
            check_gemm_ex(ctx, g);
        }
}

static void for_each_covering_case(kiln_ctx *ctx, matrix_case g, kiln_math math)
{
    for_each_covering_case_from(ctx, g, math, 0);
}

/* Ragged shapes from {7, 17, 255}, square and not: tiles cut at every edge. */
static const size_t shapes[][3] = {{7, 17, 255}, {255, 7, 17}, {17, 17, 17}};

static void gemm_ex_multiplies_every_type_pair_and_transpose_on_ragged_shapes(void **state)
{
    /* odd leading dimensions (pad 3 past an odd row or an even one) and views at odd
     * element offsets: 16-bit operands start on 2-byte, not 4-byte, boundaries */
    matrix_case g = {.alpha = 0.75f, .beta = -1.25f, .pad = 3, .offset = 1};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        g.m = shapes[s][0], g.n = shapes[s][1], g.k = shapes[s][2];
        for_each_covering_case(*state, g, KILN_MATH_STRICT);
    }
}

/* Shapes made of whole tiles run cl/gemm_block.cl on GPUs (the "blocks" run, with the
 * GPU table, takes it on any device) with 16-bit operands, which need no alignment
 * there: odd offsets and leading dimensions. (f32 ones are sgemm's tests' business.) */
static void gemm_ex_multiplies_whole_blocks_of_16_bit_types(void **state)
{
    /* 96x64x24 takes the table's smallest tile, 32x64x8 (the quickest to build), with
     * three blocks and three steps of k */
    matrix_case g = {.m = 96, .n = 64, .k = 24, .alpha = 0.5f, .beta = 2.0f, .pad = 3};
    g.offset = 1;
    for_each_covering_case_from(*state, g, KILN_MATH_STRICT, 1);
}

/* n = 1 and m = 1 run the matrix-vector kernel, reading the matrix by rows or columns
 * by its transpose: each type of A and B both ways, each C type twice. */
static void gemm_ex_multiplies_matrices_by_vectors_of_every_type(void **state)
{
    matrix_case g = {.alpha = -1.5f, .beta = 0.25f, .pad = 1, .offset = 3};
    for (size_t ab = 0; ab < 3; ab++) {
        run.ab = dtypes[ab], run.math = KILN_MATH_STRICT;
        kiln_trans one_way = ab % 2 ? KILN_TRANS : KILN_NO_TRANS;
        kiln_trans other_way = ab % 2 ? KILN_NO_TRANS : KILN_TRANS;
        g.m = 255, g.n = 1, g.k = 17, g.ta = one_way, g.tb = KILN_NO_TRANS;
        run.c = dtypes[(ab + 1) % 3];
        check_gemm_ex(*state, g);
        g.m = 1, g.n = 17, g.k = 255, g.ta = KILN_NO_TRANS, g.tb = other_way;
        run.c = dtypes[(ab + 2) % 3];
        check_gemm_ex(*state, g);
    }
}

static void gemm_ex_multiplies_single_elements(void **state)
{
    matrix_case g = {.m = 1, .n = 1, .k = 1, .alpha = 1.0f, .beta = 1.0f};
    run.ab = KILN_DTYPE_BF16, run.c = KILN_DTYPE_F16, run.math = KILN_MATH_STRICT;
    check_gemm_ex(*state, g);
}

static void gemm_ex_with_k_zero_scales_c_without_reading_a_or_b(void **state)
{
    matrix_case g = {.m = 17, .n = 7, .k = 0, .alpha = 2.0f, .beta = -3.0f, .offset = 1};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    for_each_covering_case(*state, g, KILN_MATH_FAST);
    g.beta = 0.0f, g.fill_c = FILL_NAN;
    for_each_covering_case(*state, g, KILN_MATH_FAST);
}

static void gemm_ex_with_alpha_zero_does_not_read_a_or_b(void **state)
{
    matrix_case g = {.m = 7, .n = 17, .k = 255, .alpha = 0.0f, .beta = 0.5f, .pad = 1};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    for_each_covering_case(*state, g, KILN_MATH_STRICT);
}

static void gemm_ex_with_beta_zero_does_not_read_c(void **state)
{
    matrix_case g = {.m = 17, .n = 255, .k = 7, .alpha = 1.0f, .offset = 3};
    g.fill_c = FILL_NAN;
    for_each_covering_case(*state, g, KILN_MATH_STRICT);
}

/* On devices without tensor cores every level runs the STRICT kernels; where a level
 * gives precision up, the tolerance (reference_allow) says how much. */
static void gemm_ex_runs_at_every_math_level(void **state)
{
    matrix_case g = {.m = 255, .n = 17, .k = 255, .alpha = 1.0f, .beta = 0.5f, .pad = 1};
    for (size_t level = 0; level < 4; level++)
        for (size_t t = 0; t < 3; t++) { /* C of A's type: for_each_covering_case's kernels */
            run.ab = dtypes[t], run.c = dtypes[t], run.math = maths[level];
            check_gemm_ex(*state, g);
        }
}

static void ctx_math_starts_strict_and_keeps_what_is_set(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    assert_int_equal(kiln_ctx_math(ctx), KILN_MATH_STRICT);
    assert_int_equal(kiln_ctx_math(NULL), KILN_MATH_STRICT);
    for (size_t level = 0; level < 4; level++) {
        assert_ok(ctx, kiln_ctx_set_math(ctx, maths[level]));
        assert_int_equal(kiln_ctx_math(ctx), maths[level]);
    }
    assert_arg_error(ctx, kiln_ctx_set_math(ctx, (kiln_math)4));
    assert_contains(kiln_last_error(ctx), "math is 4, not a kiln_math");
    assert_arg_error(ctx, kiln_ctx_set_math(ctx, (kiln_math)-1));
    assert_int_equal(kiln_ctx_math(ctx), KILN_MATH_FAST);
    assert_arg_error(NULL, kiln_ctx_set_math(NULL, KILN_MATH_TF32));
}

/* sgemm and dense run at the context's level: within its tolerance. */
static void sgemm_and_dense_follow_the_context_math(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    enum { m = 255, n = 17, k = 255 };
    for (size_t level = 0; level < 4; level++) {
        size_t mark = scratch_mark();
        assert_ok(ctx, kiln_ctx_set_math(ctx, maths[level]));
        operand a = input_make(ctx, KILN_TRANS, m, k, 1, 1, FILL_RANDOM, 4);
        operand b = input_make(ctx, KILN_NO_TRANS, k, n, 0, 2, FILL_RANDOM, 5);
        operand c = output_make(ctx, m, n, 2, 3, FILL_RANDOM, 6);
        assert_ok(ctx, kiln_sgemm(ctx, KILN_TRANS, KILN_NO_TRANS, m, n, k, 0.5f, a.view, a.ld,
                                  b.view, b.ld, 2.0f, c.view, c.ld));
        reference r = reference_sgemm(KILN_TRANS, KILN_NO_TRANS, m, n, k, 0.5f,
                                      operand_data(&a), a.ld, operand_data(&b), b.ld, 2.0f,
                                      operand_data(&c), c.ld);
        reference_allow(&r, KILN_DTYPE_F32, maths[level], KILN_DTYPE_F32);
        assert_operand_near(&c, &r);

        operand w = tight_make(ctx, m, k, FILL_RANDOM, 7);
        operand x = tight_make(ctx, k, n, FILL_RANDOM, 8);
        operand y = output_make(ctx, m, n, 0, 0, FILL_NAN, 9);
        assert_ok(ctx, kiln_dense(ctx, w.view, x.view, NULL, y.view, m, k, n, KILN_ACT_RELU));
        reference d = reference_dense(operand_data(&w), operand_data(&x), NULL, m, k, n,
                                      KILN_ACT_RELU);
        reference_allow(&d, KILN_DTYPE_F32, maths[level], KILN_DTYPE_F32);
        assert_operand_near(&y, &d);
        scratch_release_to(mark);
    }
}

static void gemm_ex_rejects_unknown_types_mixed_inputs_and_unknown_math(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = tight_make(ctx, 4, 4, FILL_RANDOM, 10);
    operand c = tight_make(ctx, 4, 4, FILL_CANARY, 0);
    const kiln_trans no = KILN_NO_TRANS;
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16, bf16 = KILN_DTYPE_BF16;
    const kiln_math strict = KILN_MATH_STRICT;
    kiln_buf *av = a.view, *cv = c.view;
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, (kiln_dtype)3, 4, av,
                                       (kiln_dtype)3, 4, 0, cv, f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "a_type is 3, not a kiln_dtype");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, f16, 4, av,
                                       (kiln_dtype)-2, 4, 0, cv, f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "b_type is -2, not a kiln_dtype");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, f16, 4, av, f16, 4, 0, cv,
                                       (kiln_dtype)7, 4, strict));
    assert_contains(kiln_last_error(ctx), "c_type is 7, not a kiln_dtype");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, f16, 4, av, bf16, 4, 0, cv,
                                       f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "a_type is f16 but b_type is bf16");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, f32, 4, av, f16, 4, 0, cv,
                                       f32, 4, strict));
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, av, f32, 4, av, f32, 4, 0, cv,
                                       f32, 4, (kiln_math)9));
    assert_contains(kiln_last_error(ctx), "math is 9, not a kiln_math");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, (kiln_trans)2, no, 4, 4, 4, 1, av, f32, 4, av, f32,
                                       4, 0, cv, f32, 4, strict));
    assert_arg_error(NULL, kiln_gemm_ex(NULL, no, no, 4, 4, 4, 1, av, f32, 4, av, f32, 4, 0,
                                        cv, f32, 4, strict));
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, NULL, f32, 4, av, f32, 4, 0,
                                       cv, f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "a is NULL");
    assert_operand_unchanged(&c);
}

static void gemm_ex_rejects_buffers_too_small_in_elements_of_their_type(void **state)
{
    kiln_ctx *ctx = *state;
    const kiln_trans no = KILN_NO_TRANS;
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16, bf16 = KILN_DTYPE_BF16;
    const kiln_math strict = KILN_MATH_STRICT;
    /* 63 f16 elements (7x9) hold in 126 bytes; as floats they would need 252 */
    kiln_buf *a = scratch_buffer(ctx, 63 * 2), *short_a = scratch_buffer(ctx, 62 * 2);
    kiln_buf *b = scratch_buffer(ctx, 63 * 2), *c = scratch_buffer(ctx, 49 * 2);
    assert_ok(ctx, kiln_gemm_ex(ctx, no, KILN_TRANS, 7, 7, 9, 1, a, f16, 9, b, f16, 9, 0, c,
                                bf16, 7, strict));
    assert_size_error(ctx, kiln_gemm_ex(ctx, no, KILN_TRANS, 7, 7, 9, 1, short_a, f16, 9, b,
                                        f16, 9, 0, c, bf16, 7, strict));
    assert_contains(kiln_last_error(ctx), "a (7x9 stored, ld 9) needs 63 f16 elements "
                                          "(126 bytes) but its buffer holds 124 bytes");
    assert_size_error(ctx, kiln_gemm_ex(ctx, no, KILN_TRANS, 7, 7, 9, 1, a, f16, 9, b, f16, 9,
                                        0, c, f32, 7, strict));
    assert_contains(kiln_last_error(ctx), "c (7x7 stored, ld 7) needs 49 floats (196 bytes)");
    assert_size_error(ctx, kiln_gemm_ex(ctx, no, KILN_TRANS, 7, 7, 9, 1, a, f32, 9, b, f32, 9,
                                        0, c, bf16, 7, strict));
    assert_contains(kiln_last_error(ctx), "needs 63 floats");
    assert_size_error(ctx, kiln_gemm_ex(ctx, no, no, 7, 7, SIZE_MAX / 2, 1, a, f16,
                                        SIZE_MAX / 2, b, f16, 7, 0, c, bf16, 7, strict));
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, KILN_TRANS, 7, 7, 9, 1, a, f16, 8, b, f16, 9, 0,
                                       c, bf16, 7, strict));
    assert_contains(kiln_last_error(ctx), "lda is 8, below the row length 9");
}

static void gemm_ex_rejects_misaligned_views_and_c_sharing_memory(void **state)
{
    kiln_ctx *ctx = *state;
    const kiln_trans no = KILN_NO_TRANS;
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16, bf16 = KILN_DTYPE_BF16;
    const kiln_math strict = KILN_MATH_STRICT;
    kiln_buf *whole = scratch_buffer(ctx, 256);
    kiln_buf *odd = scratch_view(whole, 1, 64), *two = scratch_view(whole, 2, 64);
    kiln_buf *c = scratch_buffer(ctx, 64);
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, odd, bf16, 4, two, bf16, 4, 0,
                                       c, f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "a starts at byte 1, not on the 2-byte boundary");
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, c, f32, 4, c, f32, 4, 0, two,
                                       f32, 4, strict));
    assert_contains(kiln_last_error(ctx), "not on a float boundary");
    kiln_buf *low = scratch_view(whole, 0, 128), *high = scratch_view(whole, 128, 128);
    kiln_buf *over = scratch_view(whole, 96, 64);
    assert_arg_error(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, low, f16, 4, c, f16, 4, 0,
                                       over, bf16, 4, strict));
    assert_contains(kiln_last_error(ctx), "c shares memory with the input a");
    assert_ok(ctx, kiln_gemm_ex(ctx, no, no, 4, 4, 4, 1, low, f16, 4, c, f16, 4, 0, high, f16,
                                4, strict));
    assert_ok(ctx, kiln_gemm_ex(ctx, no, no, 0, 4, 4, 1, two, f16, 4, c, f16, 4, 0, high, bf16,
                                4, strict));
}

/* Every stored matrix of each case has 2 rows: A 2×2 and B, C 2×3, or transposed A 2×3
 * and B 2×2; the lds count 16-bit elements. */
static const wrapping_case wrapping_cases[] = {
    {0, 0, 2, 3, 2, 2, 3, 3, 0}, {0, 0, 2, 3, 2, 2, 3, 3, 1}, {0, 0, 2, 3, 2, 2, 3, 3, 2},
    {1, 1, 3, 2, 2, 3, 2, 2, 0},
};

static kiln_status gemm_ex_with_lds(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                    kiln_buf *in, kiln_buf *out)
{
    return kiln_gemm_ex(ctx, (kiln_trans)c[0], (kiln_trans)c[1], c[2], c[3], c[4], 1.0f, in,
                        KILN_DTYPE_BF16, ld[0], in, KILN_DTYPE_BF16, ld[1], 0.0f, out,
                        KILN_DTYPE_F16, ld[2], KILN_MATH_FAST);
}

static void gemm_ex_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    assert_wrapping_lds_refused(*state, wrapping_cases,
                                sizeof wrapping_cases / sizeof wrapping_cases[0],
                                gemm_ex_with_lds);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest blocks[] = {
        KILN_TEST(gemm_ex_multiplies_whole_blocks_of_16_bit_types),
    };
    const struct CMUnitTest tests[] = {
        KILN_TEST(gemm_ex_rejects_ld_whose_span_wraps_past_size_max),
        KILN_TEST(gemm_ex_multiplies_every_type_pair_and_transpose_on_ragged_shapes),
        KILN_TEST(gemm_ex_multiplies_whole_blocks_of_16_bit_types),
        KILN_TEST(gemm_ex_multiplies_matrices_by_vectors_of_every_type),
        KILN_TEST(gemm_ex_multiplies_single_elements),
        KILN_TEST(gemm_ex_with_k_zero_scales_c_without_reading_a_or_b),
        KILN_TEST(gemm_ex_with_alpha_zero_does_not_read_a_or_b),
        KILN_TEST(gemm_ex_with_beta_zero_does_not_read_c),
        KILN_TEST(gemm_ex_runs_at_every_math_level),
        KILN_TEST(ctx_math_starts_strict_and_keeps_what_is_set),
        KILN_TEST(sgemm_and_dense_follow_the_context_math),
        KILN_TEST(gemm_ex_rejects_unknown_types_mixed_inputs_and_unknown_math),
        KILN_TEST(gemm_ex_rejects_buffers_too_small_in_elements_of_their_type),
        KILN_TEST(gemm_ex_rejects_misaligned_views_and_c_sharing_memory),
    };
    if (argc > 1 && strcmp(argv[1], "blocks") == 0)
        return RUN_KILN_TESTS(blocks);
    return RUN_KILN_TESTS(tests);
}
