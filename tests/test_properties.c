/*
 * Properties: for each operation, CASES random valid calls (shapes up to MAX_SIDE,
 * transposes, leading dimensions beyond the row, offsets, α and β of 0) agree with the
 * double reference and leave every float around the output matrix untouched.
 */
#include "op_case.h"

#include <stdio.h>

enum { CASES = 200, MAX_SIDE = 130, LARGE_SIDE = 1100, LARGE_MAX_K = 24 };

/* Runs one valid case, failing with its description. */
static void check_case(kiln_ctx *ctx, uint32_t seed, const op_case *c)
{
    char text[256];
    op_case_describe(c, text, sizeof text);
    assert_true(op_case_valid(c));
    kiln_status status = op_case_run(ctx, c);
    if (status != KILN_OK)
        fail_msg("case %u: %s: %s: %s", seed, text, kiln_status_str(status),
                 kiln_last_error(ctx));
}

static void check_random_cases(kiln_ctx *ctx, case_op op)
{
    for (uint32_t seed = 0; seed < CASES; seed++) {
        op_case c = op_case_random(op, seed, MAX_SIDE);
        check_case(ctx, seed, &c);
    }
}

/* m and n up to 1100 on whatever kernel the dispatcher picks; k kept small so the
 * double reference stays quick (leading dimensions follow k, so the case stays valid). */
static void sgemm_agrees_with_the_reference_on_random_shapes_up_to_1100(void **state)
{
    for (uint32_t seed = 0; seed < CASES; seed++) {
        op_case c = op_case_random(CASE_SGEMM, 1000 + seed, LARGE_SIDE);
        c.k = 1 + c.k % LARGE_MAX_K;
        check_case(*state, seed, &c);
    }
}

static void vadd_agrees_with_the_reference_on_random_cases(void **state)
{
    check_random_cases(*state, CASE_VADD);
}

static void sigmoid_agrees_with_the_reference_on_random_cases(void **state)
{
    check_random_cases(*state, CASE_SIGMOID);
}

static void geam_agrees_with_the_reference_on_random_cases(void **state)
{
    check_random_cases(*state, CASE_GEAM);
}

static void sgemm_agrees_with_the_reference_on_random_cases(void **state)
{
    check_random_cases(*state, CASE_SGEMM);
}

static void dense_agrees_with_the_reference_on_random_cases(void **state)
{
    check_random_cases(*state, CASE_DENSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(vadd_agrees_with_the_reference_on_random_cases),
        KILN_TEST(sigmoid_agrees_with_the_reference_on_random_cases),
        KILN_TEST(geam_agrees_with_the_reference_on_random_cases),
        KILN_TEST(sgemm_agrees_with_the_reference_on_random_cases),
        KILN_TEST(sgemm_agrees_with_the_reference_on_random_shapes_up_to_1100),
        KILN_TEST(dense_agrees_with_the_reference_on_random_cases),
    };
    return RUN_KILN_TESTS(tests);
}
