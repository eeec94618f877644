/* The CLBlast GEMM back end (kiln_ctx_set_gemm_backend, $KILN_GEMM): kiln's portable
 * kernels against CLBlast as a second reference, matmul and dense under the switch, and
 * the switch's errors. kiln_sgemm's own cases (shapes, transposes, leading dimensions,
 * alpha and beta) run through CLBlast in the sgemm-clblast run of test_sgemm.c. Skips
 * (77) when kiln was built without CLBlast. */
#include "common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The test context, switched to CLBlast. */
static int clblast_context_open(void **state)
{
    if (context_open(state) != 0)
        return -1;
    kiln_status status = kiln_ctx_set_gemm_backend(*state, KILN_GEMM_CLBLAST);
    if (status == KILN_OK)
        return 0;
    fprintf(stderr, "kiln_ctx_set_gemm_backend: %s\n", kiln_last_error(*state));
    context_close(state);
    return -1;
}

/* The three operands of g, C filled as g says. */
typedef struct {
    operand a, b, c;
} gemm_operands;

static gemm_operands operands_make(kiln_ctx *ctx, matrix_case g)
{
    gemm_operands o;
    o.a = input_make(ctx, g.ta, g.m, g.k, g.pad, g.offset, g.fill_a, 1);
    o.b = input_make(ctx, g.tb, g.k, g.n, g.pad, g.offset + 1, g.fill_b, 2);
    o.c = input_make(ctx, KILN_NO_TRANS, g.m, g.n, g.pad, g.offset + 2, g.fill_c, 3);
    return o;
}

static kiln_status sgemm_of(kiln_ctx *ctx, matrix_case g, const gemm_operands *o)
{
    return kiln_sgemm(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, o->a.view, o->a.ld,
                      o->b.view, o->b.ld, g.beta, o->c.view, o->c.ld);
}

static reference reference_of(matrix_case g, const gemm_operands *o)
{
    return reference_sgemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, operand_data(&o->a),
                           o->a.ld, operand_data(&o->b), o->b.ld, g.beta,
                           operand_data(&o->c), o->c.ld);
}

/* CLBlast as the second reference: the portable result must be within the sum of both
 * results' rounding bounds of CLBlast's, (k + 2) each, so 2k + 4 in all. */
static void check_portable_against_clblast(kiln_ctx *ctx, matrix_case g)
{
    size_t mark = scratch_mark();
    gemm_operands o = operands_make(ctx, g);
    operand portable_c = input_make(ctx, KILN_NO_TRANS, g.m, g.n, g.pad, g.offset + 2,
                                    g.fill_c, 3);
    assert_ok(ctx, sgemm_of(ctx, g, &o));
    assert_ok(ctx, kiln_ctx_set_gemm_backend(ctx, KILN_GEMM_PORTABLE));
    gemm_operands portable = {o.a, o.b, portable_c};
    kiln_status status = sgemm_of(ctx, g, &portable);
    assert_ok(ctx, kiln_ctx_set_gemm_backend(ctx, KILN_GEMM_CLBLAST));
    assert_ok(ctx, status);

    reference r = reference_of(g, &o);
    const float *clblast = operand_download(&o.c) + o.c.offset;
    for (size_t i = 0; i < g.m; i++)
        for (size_t j = 0; j < g.n; j++)
            r.value[i * g.n + j] = clblast[i * o.c.ld + j];
    r.terms = 2 * g.k + 2;
    assert_operand_near(&portable_c, &r);
    scratch_release_to(mark);
}

static void portable_sgemm_agrees_with_clblast(void **state)
{
    static const size_t agreement_shapes[][3] = {
        {1, 1, 1}, {17, 17, 17}, {255, 7, 1023}, {33, 1025, 17}, {128, 128, 128}};
    matrix_case g = {.alpha = 1.5f, .beta = -0.5f, .pad = 2, .offset = 1};
    for_each_shape(*state, g, agreement_shapes,
                   sizeof agreement_shapes / sizeof agreement_shapes[0],
                   check_portable_against_clblast);
}

static void clblast_matmul_multiplies_tight_matrices(void **state)
{
    kiln_ctx *ctx = *state;
    enum { m = 255, n = 17, k = 1023 };
    operand a = tight_make(ctx, m, k, FILL_RANDOM, 6);
    operand b = tight_make(ctx, k, n, FILL_RANDOM, 7);
    operand c = tight_make(ctx, m, n, FILL_NAN, 8);
    assert_ok(ctx, kiln_matmul(ctx, m, n, k, a.view, b.view, c.view));
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1.0f,
                                  operand_data(&a), k, operand_data(&b), n, 0.0f, NULL, n);
    assert_operand_near(&c, &r);
}

/* Bias and activation are not CLBlast's: dense keeps kiln's kernels under any back end. */
static void dense_still_applies_bias_and_activation(void **state)
{
    kiln_ctx *ctx = *state;
    enum { out = 17, in = 255, batch = 7 };
    operand w = tight_make(ctx, out, in, FILL_RANDOM, 9);
    operand x = tight_make(ctx, in, batch, FILL_RANDOM, 10);
    operand bias = vector_make(ctx, out, 0, 1, FILL_RANDOM, 11);
    operand y = tight_make(ctx, out, batch, FILL_NAN, 12);
    assert_ok(ctx, kiln_dense(ctx, w.view, x.view, bias.view, y.view, out, in, batch,
                              KILN_ACT_SIGMOID));
    reference r = reference_dense(operand_data(&w), operand_data(&x), operand_data(&bias),
                                  out, in, batch, KILN_ACT_SIGMOID);
    assert_operand_near(&y, &r);
}

static void set_gemm_backend_rejects_unknown_values_and_null(void **state)
{
    kiln_ctx *ctx = *state;
    assert_arg_error(ctx, kiln_ctx_set_gemm_backend(ctx, (kiln_gemm_backend)3));
    assert_contains(kiln_last_error(ctx), "backend 3");
    assert_arg_error(ctx, kiln_ctx_set_gemm_backend(ctx, (kiln_gemm_backend)-1));
    assert_int_equal(kiln_ctx_gemm_backend(ctx), KILN_GEMM_CLBLAST);
    assert_arg_error(NULL, kiln_ctx_set_gemm_backend(NULL, KILN_GEMM_CLBLAST));
    assert_int_equal(kiln_ctx_gemm_backend(NULL), KILN_GEMM_AUTO);
}

static void set_gemm_backend_switches_between_every_value(void **state)
{
    kiln_ctx *ctx = *state;
    const kiln_gemm_backend all[] = {KILN_GEMM_AUTO, KILN_GEMM_PORTABLE, KILN_GEMM_CLBLAST};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        assert_ok(ctx, kiln_ctx_set_gemm_backend(ctx, all[i]));
        assert_int_equal(kiln_ctx_gemm_backend(ctx), all[i]);
        assert_sgemm_works(ctx);
    }
}

/* The back end a context made under KILN_GEMM=value starts with. */
static kiln_gemm_backend backend_under_env(const char *value)
{
    setenv("KILN_GEMM", value, 1);
    kiln_ctx *ctx = scratch_context(NULL);
    unsetenv("KILN_GEMM");
    return kiln_ctx_gemm_backend(ctx);
}

static void new_contexts_start_with_the_backend_of_kiln_gemm(void **state)
{
    (void)state;
    assert_int_equal(backend_under_env("clblast"), KILN_GEMM_CLBLAST);
    assert_int_equal(backend_under_env("portable"), KILN_GEMM_PORTABLE);
    assert_int_equal(backend_under_env("auto"), KILN_GEMM_AUTO);
    assert_int_equal(backend_under_env(""), KILN_GEMM_AUTO);
    assert_int_equal(backend_under_env("cuBLAS"), KILN_GEMM_AUTO); /* with a warning */
}

/* 0 when CLBlast can be chosen, 77 (skip) when kiln was built without it, 1 when the
 * question cannot even be asked. */
static int clblast_availability(void)
{
    kiln_ctx *ctx = NULL;
    if (kiln_ctx_create(&ctx, NULL) != KILN_OK) {
        fprintf(stderr, "kiln_ctx_create: %s\n", kiln_last_error(NULL));
        return 1;
    }
    kiln_status status = kiln_ctx_set_gemm_backend(ctx, KILN_GEMM_CLBLAST);
    int verdict = status == KILN_OK ? 0 : 1;
    if (status == KILN_ERR_ARG && strstr(kiln_last_error(ctx), "built without") != NULL) {
        printf("skipped: %s\n", kiln_last_error(ctx));
        verdict = 77;
    } else if (status != KILN_OK) {
        fprintf(stderr, "kiln_ctx_set_gemm_backend: %s\n", kiln_last_error(ctx));
    }
    kiln_ctx_destroy(ctx);
    return verdict;
}

int main(void)
{
    int availability = clblast_availability();
    if (availability != 0)
        return availability;
    const struct CMUnitTest tests[] = {
        KILN_TEST(portable_sgemm_agrees_with_clblast),
        KILN_TEST(clblast_matmul_multiplies_tight_matrices),
        KILN_TEST(dense_still_applies_bias_and_activation),
        KILN_TEST(set_gemm_backend_rejects_unknown_values_and_null),
        KILN_TEST(set_gemm_backend_switches_between_every_value),
        KILN_TEST(new_contexts_start_with_the_backend_of_kiln_gemm),
    };
    return cmocka_run_group_tests(tests, clblast_context_open, context_close);
}
