/*
 * OpenCL failures come back with the call's name and the error's name. These tests
 * reach lib/error.c's internals on purpose (its objects are linked directly), since a
 * driver cannot be made to fail each way on demand.
 */
#include "internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void opencl_errors_have_their_names(void **state)
{
    (void)state;
    assert_string_equal(cl_error_name(CL_OUT_OF_RESOURCES), "CL_OUT_OF_RESOURCES");
    assert_string_equal(cl_error_name(CL_INVALID_WORK_GROUP_SIZE),
                        "CL_INVALID_WORK_GROUP_SIZE");
    assert_string_equal(cl_error_name(CL_BUILD_PROGRAM_FAILURE), "CL_BUILD_PROGRAM_FAILURE");
    assert_string_equal(cl_error_name(-12345), "an unknown OpenCL error");
}

static void failed_call_names_the_call_and_the_error(void **state)
{
    (void)state;
    assert_int_equal(fail_cl(NULL, "clEnqueueNDRangeKernel", CL_OUT_OF_RESOURCES),
                     KILN_ERR_CL);
    assert_string_equal(kiln_last_error(NULL),
                        "clEnqueueNDRangeKernel failed: CL_OUT_OF_RESOURCES (-5)");
}

static void allocation_failures_are_out_of_memory(void **state)
{
    (void)state;
    assert_int_equal(fail_cl(NULL, "clCreateBuffer", CL_MEM_OBJECT_ALLOCATION_FAILURE),
                     KILN_ERR_NOMEM);
    assert_int_equal(fail_cl(NULL, "clFinish", CL_OUT_OF_HOST_MEMORY), KILN_ERR_NOMEM);
    assert_non_null(strstr(kiln_last_error(NULL), "CL_OUT_OF_HOST_MEMORY"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opencl_errors_have_their_names),
        cmocka_unit_test(failed_call_names_the_call_and_the_error),
        cmocka_unit_test(allocation_failures_are_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
