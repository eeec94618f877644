/*
 * Properties: for each operation, CASES random valid calls (shapes up to MAX_SIDE,
 * transposes, leading dimensions beyond the row, offsets, α and β of 0) agree with the
 * double reference and leave every float around the output matrix untouched.
 */
#include "op_case.h"

#include <stdio.h>

enum { CASES = 200, MAX_SIDE = 130 };

static void check_random_cases(kiln_ctx *ctx, case_op op)
{
    for (uint32_t seed = 0; seed < CASES; seed++) {
        op_case c = op_case_random(op, seed, MAX_SIDE);
        char text[256];
        op_case_describe(&c, text, sizeof text);
        assert_true(op_case_valid(&c));
        kiln_status status = op_case_run(ctx, &c);
        if (status != KILN_OK)
            fail_msg("case %u: %s: %s: %s", seed, text, kiln_status_str(status),
                     kiln_last_error(ctx));
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
        KILN_TEST(dense_agrees_with_the_reference_on_random_cases),
    };
    return RUN_KILN_TESTS(tests);
}
