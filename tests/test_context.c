/* Devices and contexts: device specs, device facts, wrapping OpenCL objects. */
#include "common.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kiln_device_info device_info(size_t index)
{
    kiln_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_ok(NULL, kiln_device_get(index, &info));
    return info;
}

static void assert_spec_opens_a_working_context(const char *spec)
{
    kiln_ctx *ctx = scratch_context(spec);
    assert_vadd_works(ctx);
}

static void ctx_create_with_null_opens_the_default_device(void **state)
{
    (void)state;
    assert_spec_opens_a_working_context(NULL);
}

static void ctx_create_accepts_type_index_and_platform_device_specs(void **state)
{
    (void)state;
    kiln_device_info info = device_info(0);
    char platform_device[64];
    snprintf(platform_device, sizeof platform_device, "%zu:%zu", info.platform_index,
             info.device_index);
    assert_spec_opens_a_working_context("0");
    assert_spec_opens_a_working_context(platform_device);
    if (info.type == KILN_DEVICE_CPU)
        assert_spec_opens_a_working_context("cpu");
    if (info.type == KILN_DEVICE_GPU)
        assert_spec_opens_a_working_context("gpu");
}

static void ctx_create_matches_a_name_substring_ignoring_case(void **state)
{
    (void)state;
    kiln_device_info info = device_info(0);
    size_t length = strlen(info.name);
    assert_true(length > 0);
    /* the middle third of the name, with every letter's case flipped */
    char spec[256] = {0};
    size_t start = length / 3, count = length - 2 * (length / 3);
    for (size_t i = 0; i < count; i++) {
        unsigned char ch = (unsigned char)info.name[start + i];
        spec[i] = (char)(isupper(ch) ? tolower(ch) : toupper(ch));
    }
    assert_spec_opens_a_working_context(spec);
}

static void ctx_create_rejects_an_unknown_spec_listing_the_devices(void **state)
{
    (void)state;
    kiln_ctx *untouched = (kiln_ctx *)&untouched;
    assert_status(NULL, kiln_ctx_create(&untouched, "no-such-device-xyzzy"),
                  KILN_ERR_NODEVICE);
    assert_ptr_equal(untouched, (kiln_ctx *)&untouched);
    assert_contains(kiln_last_error(NULL), device_info(0).name);
}

/* Whether any device is of the given type. */
static int some_device_is(kiln_device_type type)
{
    size_t n = 0;
    assert_ok(NULL, kiln_device_count(&n));
    for (size_t i = 0; i < n; i++)
        if (device_info(i).type == type)
            return 1;
    return 0;
}

static void ctx_create_rejects_specs_of_devices_not_there(void **state)
{
    (void)state;
    kiln_ctx *ctx = NULL;
    assert_status(NULL, kiln_ctx_create(&ctx, "0:99"), KILN_ERR_NODEVICE);
    assert_status(NULL, kiln_ctx_create(&ctx, "99:0"), KILN_ERR_NODEVICE);
    assert_status(NULL, kiln_ctx_create(&ctx, "99"), KILN_ERR_NODEVICE);
    if (!some_device_is(KILN_DEVICE_GPU))
        assert_status(NULL, kiln_ctx_create(&ctx, "gpu"), KILN_ERR_NODEVICE);
    if (!some_device_is(KILN_DEVICE_CPU))
        assert_status(NULL, kiln_ctx_create(&ctx, "cpu"), KILN_ERR_NODEVICE);
    assert_null(ctx);
}

static void ctx_create_rejects_a_null_out(void **state)
{
    (void)state;
    assert_arg_error(NULL, kiln_ctx_create(NULL, NULL));
    assert_true(strlen(kiln_last_error(NULL)) > 0);
}

static void device_count_finds_the_test_device(void **state)
{
    (void)state;
    size_t n = 0;
    assert_ok(NULL, kiln_device_count(&n));
    assert_true(n >= 1);
    assert_arg_error(NULL, kiln_device_count(NULL));
}

static void device_get_reports_the_facts_of_every_device(void **state)
{
    (void)state;
    size_t n = 0;
    assert_ok(NULL, kiln_device_count(&n));
    for (size_t i = 0; i < n; i++) {
        kiln_device_info info = device_info(i);
        assert_true(info.max_work_group_size > 0);
        assert_true(strlen(info.name) > 0);
        assert_true(info.max_alloc_bytes > 0);
        assert_true(info.global_mem_bytes >= info.max_alloc_bytes);
        assert_true(info.compute_units > 0);
    }
}

static void device_get_rejects_an_index_out_of_range(void **state)
{
    (void)state;
    size_t n = 0;
    assert_ok(NULL, kiln_device_count(&n));
    kiln_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = sizeof info;
    assert_status(NULL, kiln_device_get(n, &info), KILN_ERR_NODEVICE);
    assert_status(NULL, kiln_device_get((size_t)-1, &info), KILN_ERR_NODEVICE);
}

static void device_get_rejects_a_struct_size_too_small(void **state)
{
    (void)state;
    kiln_device_info info;
    memset(&info, 0, sizeof info);
    info.struct_size = 0;
    assert_arg_error(NULL, kiln_device_get(0, &info));
    info.struct_size = 1;
    assert_arg_error(NULL, kiln_device_get(0, &info));
    info.struct_size = sizeof info - 1;
    assert_arg_error(NULL, kiln_device_get(0, &info));
    assert_arg_error(NULL, kiln_device_get(0, NULL));
}

static void device_find_names_the_device_a_spec_opens(void **state)
{
    kiln_ctx *ctx = *state;
    size_t index = (size_t)-1, again = (size_t)-1;
    assert_ok(NULL, kiln_device_find(NULL, &index));
    kiln_device_info info = device_info(index);
    char name[sizeof info.name];
    assert_int_equal(
        clGetDeviceInfo(kiln_ctx_device(ctx), CL_DEVICE_NAME, sizeof name, name, NULL),
        CL_SUCCESS);
    assert_string_equal(info.name, name);
    assert_ok(NULL, kiln_device_find("0", &again));
    assert_int_equal(again, 0);
    assert_ok(NULL, kiln_device_find(info.name, &again));
    assert_string_equal(device_info(again).name, info.name);
}

static void device_find_rejects_unknown_specs_and_a_null_index(void **state)
{
    (void)state;
    size_t n = 0, index = 12345;
    char past_the_end[32];
    assert_ok(NULL, kiln_device_count(&n));
    snprintf(past_the_end, sizeof past_the_end, "%zu", n);
    assert_status(NULL, kiln_device_find("no-such-device-xyzzy", &index),
                  KILN_ERR_NODEVICE);
    assert_contains(kiln_last_error(NULL), device_info(0).name);
    assert_status(NULL, kiln_device_find(past_the_end, &index), KILN_ERR_NODEVICE);
    assert_int_equal(index, 12345);
    assert_arg_error(NULL, kiln_device_find(NULL, NULL));
}

static void ctx_create_with_null_follows_kiln_device(void **state)
{
    (void)state;
    const char *saved = getenv("KILN_DEVICE");
    char *kept = saved != NULL ? strdup(saved) : NULL;
    kiln_ctx *ctx = NULL;
    setenv("KILN_DEVICE", "no-such-device-xyzzy", 1);
    kiln_status status = kiln_ctx_create(&ctx, NULL);
    kiln_ctx_destroy(ctx);
    if (kept != NULL)
        setenv("KILN_DEVICE", kept, 1);
    else
        unsetenv("KILN_DEVICE");
    free(kept);
    assert_status(NULL, status, KILN_ERR_NODEVICE);
}

static void ctx_accessors_return_the_opencl_objects(void **state)
{
    kiln_ctx *ctx = *state;
    assert_non_null(kiln_ctx_context(ctx));
    assert_non_null(kiln_ctx_device(ctx));
    assert_non_null(kiln_ctx_queue(ctx));
    assert_null(kiln_ctx_context(NULL));
    assert_null(kiln_ctx_device(NULL));
    assert_null(kiln_ctx_queue(NULL));
}

static void ctx_queue_is_in_order_and_profiling(void **state)
{
    kiln_ctx *ctx = *state;
    cl_command_queue_properties properties = 0;
    assert_int_equal(clGetCommandQueueInfo(kiln_ctx_queue(ctx), CL_QUEUE_PROPERTIES,
                                           sizeof properties, &properties, NULL),
                     CL_SUCCESS);
    assert_true(properties & CL_QUEUE_PROFILING_ENABLE);
    assert_false(properties & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE);
}

static void last_error_of_a_fresh_context_is_empty(void **state)
{
    kiln_ctx *ctx = scratch_context(NULL);
    (void)state;
    assert_string_equal(kiln_last_error(ctx), "");
    assert_arg_error(ctx, kiln_buf_create(ctx, 0, &(kiln_buf *){NULL}));
    assert_true(strlen(kiln_last_error(ctx)) > 0);
}

/* kiln_error_set, for libraries built on kiln, on a context: kiln_last_error(ctx) holds
 * its message, and the message outside contexts stays. */
static void error_set_records_a_message_on_the_context(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_error_set(NULL, KILN_ERR_ARG, "outside");
    assert_int_equal(kiln_error_set(ctx, KILN_ERR_MPI, "MPI_Bcast failed: %s", "truncated"),
                     KILN_ERR_MPI);
    assert_string_equal(kiln_last_error(ctx), "MPI_Bcast failed: truncated");
    assert_string_equal(kiln_last_error(NULL), "outside");
}

static void ctx_wrap_runs_work_and_leaves_the_original_working(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_ctx *wrap = NULL;
    assert_ok(NULL, kiln_ctx_wrap(&wrap, kiln_ctx_context(ctx), kiln_ctx_device(ctx),
                                  kiln_ctx_queue(ctx)));
    assert_ptr_equal(kiln_ctx_context(wrap), kiln_ctx_context(ctx));
    assert_ptr_equal(kiln_ctx_queue(wrap), kiln_ctx_queue(ctx));
    assert_vadd_works(wrap);
    scratch_release(NULL); /* the wrap's buffers go before the wrap */
    assert_ok(wrap, kiln_finish(wrap));
    kiln_ctx_destroy(wrap);
    assert_vadd_works(ctx);
    assert_ok(ctx, kiln_finish(ctx));
}

/* A context and in-order queue of the caller's own on ctx's device. */
static void make_own_context(kiln_ctx *ctx, cl_context *context, cl_command_queue *queue)
{
    cl_device_id device = kiln_ctx_device(ctx);
    cl_int error = CL_SUCCESS;
    *context = clCreateContext(NULL, 1, &device, NULL, NULL, &error);
    assert_int_equal(error, CL_SUCCESS);
    *queue = clCreateCommandQueue(*context, device, 0, &error);
    assert_int_equal(error, CL_SUCCESS);
}

static void ctx_wrap_keeps_the_callers_objects_alive(void **state)
{
    kiln_ctx *ctx = *state;
    cl_context context = NULL;
    cl_command_queue queue = NULL;
    make_own_context(ctx, &context, &queue);
    kiln_ctx *wrap = NULL;
    kiln_status status = kiln_ctx_wrap(&wrap, context, kiln_ctx_device(ctx), queue);
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
    assert_ok(NULL, status);
    assert_vadd_works(wrap);
    scratch_release(NULL);
    kiln_ctx_destroy(wrap);
}

static void ctx_wrap_rejects_null_objects(void **state)
{
    kiln_ctx *ctx = *state;
    cl_context context = kiln_ctx_context(ctx);
    cl_device_id device = kiln_ctx_device(ctx);
    cl_command_queue queue = kiln_ctx_queue(ctx);
    kiln_ctx *untouched = (kiln_ctx *)&untouched;
    assert_arg_error(NULL, kiln_ctx_wrap(&untouched, NULL, device, queue));
    assert_arg_error(NULL, kiln_ctx_wrap(&untouched, context, NULL, queue));
    assert_arg_error(NULL, kiln_ctx_wrap(&untouched, context, device, NULL));
    assert_arg_error(NULL, kiln_ctx_wrap(NULL, context, device, queue));
    assert_ptr_equal(untouched, (kiln_ctx *)&untouched);
}

static void ctx_wrap_rejects_a_queue_of_another_context(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_ctx *other = scratch_context(NULL);
    kiln_ctx *wrap = NULL;
    assert_arg_error(NULL, kiln_ctx_wrap(&wrap, kiln_ctx_context(ctx), kiln_ctx_device(ctx),
                                         kiln_ctx_queue(other)));
    assert_null(wrap);
}

static void ctx_wrap_rejects_an_out_of_order_queue(void **state)
{
    kiln_ctx *ctx = *state;
    cl_int error = CL_SUCCESS;
    cl_command_queue queue =
        clCreateCommandQueue(kiln_ctx_context(ctx), kiln_ctx_device(ctx),
                             CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &error);
    if (error != CL_SUCCESS) {
        print_message("the device makes no out-of-order queue (%d): skipped\n", error);
        skip();
    }
    kiln_ctx *wrap = NULL;
    kiln_status status =
        kiln_ctx_wrap(&wrap, kiln_ctx_context(ctx), kiln_ctx_device(ctx), queue);
    kiln_ctx_destroy(wrap);
    clReleaseCommandQueue(queue);
    assert_arg_error(NULL, status);
}

static void ctx_destroy_of_null_does_nothing(void **state)
{
    (void)state;
    kiln_ctx_destroy(NULL);
}

static void count_destroy(void *data)
{
    ++*(int *)data;
}

static void buffer_destroy(void *data)
{
    kiln_buf_destroy(data);
}

/* Each destroy runs once, while the context still works: one frees a buffer of it. */
static void ctx_destroy_hands_each_attachment_to_its_destroy(void **state)
{
    (void)state;
    static const char count_key = 0, buffer_key = 0;
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_ctx_create(&ctx, NULL));
    kiln_buf *buf = NULL;
    assert_ok(ctx, kiln_buf_create(ctx, 64, &buf));
    int destroyed = 0;
    assert_ok(ctx, kiln_ctx_attach(ctx, &count_key, &destroyed, count_destroy));
    assert_ok(ctx, kiln_ctx_attach(ctx, &buffer_key, buf, buffer_destroy));
    assert_ptr_equal(kiln_ctx_attachment(ctx, &count_key), &destroyed);
    assert_ptr_equal(kiln_ctx_attachment(ctx, &buffer_key), buf);
    kiln_ctx_destroy(ctx);
    assert_int_equal(destroyed, 1);
}

static void ctx_attach_rejects_a_key_attached_already_and_null_arguments(void **state)
{
    (void)state;
    static const char key = 0, other_key = 0;
    kiln_ctx *ctx = scratch_context(NULL);
    assert_ok(ctx, kiln_ctx_attach(ctx, &key, NULL, free));
    assert_arg_error(ctx, kiln_ctx_attach(ctx, &key, NULL, free));
    assert_arg_error(ctx, kiln_ctx_attach(ctx, NULL, NULL, free));
    assert_arg_error(ctx, kiln_ctx_attach(ctx, &other_key, NULL, NULL));
    assert_arg_error(NULL, kiln_ctx_attach(NULL, &other_key, NULL, free));
    assert_null(kiln_ctx_attachment(ctx, &other_key));
    assert_null(kiln_ctx_attachment(NULL, &key));
}

static void finish_rejects_a_null_context(void **state)
{
    kiln_ctx *ctx = *state;
    assert_arg_error(NULL, kiln_finish(NULL));
    assert_ok(ctx, kiln_finish(ctx));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(ctx_create_with_null_opens_the_default_device),
        KILN_TEST(ctx_create_accepts_type_index_and_platform_device_specs),
        KILN_TEST(ctx_create_matches_a_name_substring_ignoring_case),
        KILN_TEST(ctx_create_rejects_an_unknown_spec_listing_the_devices),
        KILN_TEST(ctx_create_rejects_specs_of_devices_not_there),
        KILN_TEST(ctx_create_rejects_a_null_out),
        KILN_TEST(device_count_finds_the_test_device),
        KILN_TEST(device_get_reports_the_facts_of_every_device),
        KILN_TEST(device_get_rejects_an_index_out_of_range),
        KILN_TEST(device_get_rejects_a_struct_size_too_small),
        KILN_TEST(device_find_names_the_device_a_spec_opens),
        KILN_TEST(device_find_rejects_unknown_specs_and_a_null_index),
        KILN_TEST(ctx_create_with_null_follows_kiln_device),
        KILN_TEST(ctx_accessors_return_the_opencl_objects),
        KILN_TEST(ctx_queue_is_in_order_and_profiling),
        KILN_TEST(last_error_of_a_fresh_context_is_empty),
        KILN_TEST(error_set_records_a_message_on_the_context),
        KILN_TEST(ctx_wrap_runs_work_and_leaves_the_original_working),
        KILN_TEST(ctx_wrap_keeps_the_callers_objects_alive),
        KILN_TEST(ctx_wrap_rejects_null_objects),
        KILN_TEST(ctx_wrap_rejects_a_queue_of_another_context),
        KILN_TEST(ctx_wrap_rejects_an_out_of_order_queue),
        KILN_TEST(ctx_destroy_of_null_does_nothing),
        KILN_TEST(ctx_destroy_hands_each_attachment_to_its_destroy),
        KILN_TEST(ctx_attach_rejects_a_key_attached_already_and_null_arguments),
        KILN_TEST(finish_rejects_a_null_context),
    };
    return RUN_KILN_TESTS(tests);
}
