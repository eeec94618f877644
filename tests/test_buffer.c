/* Buffers: allocation limits, transfers, views, copies, fills and cl_mem interop. */
#include "common.h"

#include <stdio.h>
#include <string.h>

static kiln_buf *untouched_buf(void)
{
    static int marker;
    return (kiln_buf *)&marker;
}

static cl_ulong device_max_alloc(kiln_ctx *ctx)
{
    cl_ulong bytes = 0;
    assert_int_equal(clGetDeviceInfo(kiln_ctx_device(ctx), CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                                     sizeof bytes, &bytes, NULL),
                     CL_SUCCESS);
    return bytes;
}

/* Fails unless the n floats of buf at float offset `at` equal expected. */
static void assert_buffer_holds(const kiln_buf *buf, size_t at, const float *expected,
                                size_t n)
{
    float *got = scratch_floats(n);
    assert_ok(NULL, kiln_buf_read(buf, at * sizeof(float), got, n * sizeof(float)));
    assert_memory_equal(got, expected, n * sizeof(float));
}

static void buf_write_then_read_round_trips(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1000 };
    float *values = scratch_random(n, 1);
    kiln_buf *buf = scratch_upload(ctx, values, n);
    assert_int_equal(kiln_buf_size(buf), n * sizeof(float));
    assert_int_equal(kiln_buf_offset(buf), 0);
    assert_non_null(kiln_buf_mem(buf));
    assert_buffer_holds(buf, 0, values, n);
    assert_buffer_holds(buf, 517, values + 517, 13);
}

static void buf_transfers_work_at_any_byte_offset(void **state)
{
    kiln_ctx *ctx = *state;
    const unsigned char bytes[5] = {1, 2, 3, 4, 5};
    unsigned char got[5] = {0};
    kiln_buf *buf = scratch_buffer(ctx, 16);
    kiln_buf *view = scratch_view(buf, 1, 9);
    assert_ok(ctx, kiln_buf_write(view, 2, bytes, sizeof bytes));
    assert_ok(ctx, kiln_buf_read(buf, 3, got, sizeof got));
    assert_memory_equal(got, bytes, sizeof bytes);
}

static void buf_write_at_an_offset_changes_only_that_range(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 64 };
    float *values = scratch_filled(n, CANARY);
    kiln_buf *buf = scratch_upload(ctx, values, n);
    float *middle = scratch_random(5, 2);
    assert_ok(ctx, kiln_buf_write(buf, 11 * sizeof(float), middle, 5 * sizeof(float)));
    memcpy(values + 11, middle, 5 * sizeof(float));
    assert_buffer_holds(buf, 0, values, n);
}

static void buf_create_rejects_zero_bytes(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = untouched_buf();
    assert_arg_error(ctx, kiln_buf_create(ctx, 0, &buf));
    assert_ptr_equal(buf, untouched_buf());
}

static void buf_create_rejects_more_than_the_largest_allocation(void **state)
{
    kiln_ctx *ctx = *state;
    cl_ulong limit = device_max_alloc(ctx);
    kiln_buf *buf = untouched_buf();
    if (limit >= SIZE_MAX)
        skip();
    assert_size_error(ctx, kiln_buf_create(ctx, (size_t)limit + 1, &buf));
    assert_ptr_equal(buf, untouched_buf());
    char number[32];
    snprintf(number, sizeof number, "%llu", (unsigned long long)limit);
    assert_contains(kiln_last_error(ctx), number);
    assert_size_error(ctx, kiln_buf_create(ctx, SIZE_MAX, &buf));
    assert_ptr_equal(buf, untouched_buf());
}

static void buf_create_rejects_null_arguments(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = untouched_buf();
    assert_arg_error(NULL, kiln_buf_create(NULL, 16, &buf));
    assert_ptr_equal(buf, untouched_buf());
    assert_arg_error(ctx, kiln_buf_create(ctx, 16, NULL));
}

static void buf_transfers_reject_ranges_beyond_the_end(void **state)
{
    kiln_ctx *ctx = *state;
    float *host = scratch_filled(8, 1.0f);
    kiln_buf *buf = scratch_upload(ctx, host, 4);
    assert_size_error(ctx, kiln_buf_write(buf, 0, host, 20));
    assert_size_error(ctx, kiln_buf_write(buf, 4, host, 16));
    assert_size_error(ctx, kiln_buf_write(buf, SIZE_MAX - 3, host, 8));
    assert_size_error(ctx, kiln_buf_read(buf, 0, host, 20));
    assert_size_error(ctx, kiln_buf_read(buf, 12, host, 8));
    assert_size_error(ctx, kiln_buf_read(buf, SIZE_MAX - 3, host, 8));
    assert_buffer_holds(buf, 0, scratch_filled(4, 1.0f), 4);
}

static void buf_transfers_reject_null_arguments(void **state)
{
    kiln_ctx *ctx = *state;
    float host[4] = {0};
    kiln_buf *buf = scratch_upload(ctx, host, 4);
    assert_arg_error(NULL, kiln_buf_write(NULL, 0, host, 4));
    assert_arg_error(ctx, kiln_buf_write(buf, 0, NULL, 4));
    assert_arg_error(NULL, kiln_buf_read(NULL, 0, host, 4));
    assert_arg_error(ctx, kiln_buf_read(buf, 0, NULL, 4));
}

static void buf_queries_of_null_give_zero(void **state)
{
    (void)state;
    assert_int_equal(kiln_buf_size(NULL), 0);
    assert_int_equal(kiln_buf_offset(NULL), 0);
    assert_null(kiln_buf_mem(NULL));
    assert_null(kiln_buf_ctx(NULL));
    kiln_buf_destroy(NULL);
}

static void buf_view_reports_its_size_offset_context_and_parent_memory(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *parent = scratch_buffer(ctx, 400);
    kiln_buf *view = scratch_view(parent, 12, 100);
    kiln_buf *inner = scratch_view(view, 8, 40);
    assert_int_equal(kiln_buf_size(view), 100);
    assert_int_equal(kiln_buf_offset(view), 12);
    assert_ptr_equal(kiln_buf_mem(view), kiln_buf_mem(parent));
    assert_int_equal(kiln_buf_size(inner), 40);
    assert_int_equal(kiln_buf_offset(inner), 20);
    assert_ptr_equal(kiln_buf_mem(inner), kiln_buf_mem(parent));
    assert_ptr_equal(kiln_buf_ctx(parent), ctx);
    assert_ptr_equal(kiln_buf_ctx(inner), ctx);
}

static void buf_view_writes_and_reads_land_in_the_parent(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 40 };
    float *values = scratch_random(n, 3);
    kiln_buf *parent = scratch_upload(ctx, values, n);
    kiln_buf *view = scratch_view(parent, 3 * sizeof(float), 20 * sizeof(float));
    kiln_buf *inner = scratch_view(view, 5 * sizeof(float), 7 * sizeof(float));
    assert_buffer_holds(view, 0, values + 3, 20);
    assert_buffer_holds(inner, 0, values + 8, 7);
    float *fresh = scratch_random(7, 4);
    assert_ok(ctx, kiln_buf_write(inner, 0, fresh, 7 * sizeof(float)));
    memcpy(values + 8, fresh, 7 * sizeof(float));
    assert_buffer_holds(parent, 0, values, n);
    assert_size_error(ctx, kiln_buf_write(inner, 4, fresh, 7 * sizeof(float)));
}

static void buf_view_rejects_ranges_outside_its_parent(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *parent = scratch_buffer(ctx, 64);
    kiln_buf *view = untouched_buf();
    assert_size_error(ctx, kiln_buf_view(parent, 0, 68, &view));
    assert_size_error(ctx, kiln_buf_view(parent, 60, 8, &view));
    assert_size_error(ctx, kiln_buf_view(parent, 68, 4, &view));
    assert_size_error(ctx, kiln_buf_view(parent, SIZE_MAX - 3, 8, &view));
    kiln_buf *half = scratch_view(parent, 32, 32);
    assert_size_error(ctx, kiln_buf_view(half, 4, 32, &view));
    assert_ptr_equal(view, untouched_buf());
}

static void buf_view_rejects_zero_bytes_and_null_arguments(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *parent = scratch_buffer(ctx, 64);
    kiln_buf *view = untouched_buf();
    assert_arg_error(ctx, kiln_buf_view(parent, 0, 0, &view));
    assert_arg_error(NULL, kiln_buf_view(NULL, 0, 4, &view));
    assert_ptr_equal(view, untouched_buf());
    assert_arg_error(ctx, kiln_buf_view(parent, 0, 4, NULL));
}

static void buf_copy_moves_bytes_between_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    float *values = scratch_random(32, 5);
    kiln_buf *src = scratch_upload(ctx, values, 32);
    float *expected = scratch_filled(32, CANARY);
    kiln_buf *dst = scratch_upload(ctx, expected, 32);
    assert_ok(ctx, kiln_buf_copy(dst, 3 * sizeof(float), src, 10 * sizeof(float),
                                 9 * sizeof(float)));
    memcpy(expected + 3, values + 10, 9 * sizeof(float));
    assert_buffer_holds(dst, 0, expected, 32);
    assert_buffer_holds(src, 0, values, 32);
}

static void buf_copy_within_one_buffer_without_overlap_works(void **state)
{
    kiln_ctx *ctx = *state;
    float *values = scratch_random(32, 6);
    kiln_buf *buf = scratch_upload(ctx, values, 32);
    assert_ok(ctx, kiln_buf_copy(buf, 16 * sizeof(float), buf, 0, 16 * sizeof(float)));
    memcpy(values + 16, values, 16 * sizeof(float));
    assert_buffer_holds(buf, 0, values, 32);
}

static void buf_copy_and_fill_come_before_later_work(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 4097 };
    float *values = scratch_random(n, 17);
    kiln_buf *src = scratch_upload(ctx, values, n);
    kiln_buf *copy = scratch_buffer(ctx, n * sizeof(float));
    kiln_buf *ones = scratch_buffer(ctx, n * sizeof(float));
    kiln_buf *sum = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_buf_copy(copy, 0, src, 0, n * sizeof(float)));
    assert_ok(ctx, kiln_buf_fill(ones, 1.0f));
    assert_ok(ctx, kiln_vadd(ctx, copy, ones, sum, n));
    const float *got = scratch_download(sum, n);
    for (size_t i = 0; i < n; i++)
        if (got[i] != values[i] + 1.0f)
            fail_msg("float %zu: got %.9g, expected %.9g", i, (double)got[i],
                     (double)(values[i] + 1.0f));
}

static void buf_copy_rejects_overlapping_ranges(void **state)
{
    kiln_ctx *ctx = *state;
    float *values = scratch_random(32, 7);
    kiln_buf *buf = scratch_upload(ctx, values, 32);
    kiln_buf *low = scratch_view(buf, 0, 64), *high = scratch_view(buf, 60, 64);
    assert_arg_error(ctx, kiln_buf_copy(buf, 4, buf, 0, 16));
    assert_arg_error(ctx, kiln_buf_copy(buf, 0, buf, 0, 16));
    assert_arg_error(ctx, kiln_buf_copy(high, 0, low, 0, 64));
    assert_buffer_holds(buf, 0, values, 32);
}

static void buf_copy_rejects_ranges_beyond_either_end(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *src = scratch_buffer(ctx, 64), *dst = scratch_buffer(ctx, 32);
    assert_size_error(ctx, kiln_buf_copy(dst, 0, src, 0, 64));
    assert_size_error(ctx, kiln_buf_copy(dst, 0, src, 40, 32));
    assert_size_error(ctx, kiln_buf_copy(dst, 4, src, 0, 32));
    assert_size_error(ctx, kiln_buf_copy(dst, SIZE_MAX - 3, src, 0, 8));
}

static void buf_copy_rejects_null_and_foreign_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = scratch_buffer(ctx, 64);
    kiln_buf *foreign = scratch_buffer(scratch_context(NULL), 64);
    assert_arg_error(ctx, kiln_buf_copy(NULL, 0, buf, 0, 4));
    assert_arg_error(ctx, kiln_buf_copy(buf, 0, NULL, 0, 4));
    assert_arg_error(ctx, kiln_buf_copy(buf, 0, foreign, 0, 4));
    assert_arg_error(ctx, kiln_buf_copy(foreign, 0, buf, 0, 4));
}

static void buf_fill_sets_every_float(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 1025 };
    kiln_buf *buf = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_buf_fill(buf, 2.5f));
    assert_buffer_holds(buf, 0, scratch_filled(n, 2.5f), n);
}

static void buf_fill_of_a_view_leaves_the_rest_of_the_parent(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 50 };
    float *values = scratch_random(n, 8);
    kiln_buf *parent = scratch_upload(ctx, values, n);
    kiln_buf *view = scratch_view(parent, 3 * sizeof(float), 17 * sizeof(float));
    assert_ok(ctx, kiln_buf_fill(view, -1.5f));
    floats_set(values + 3, 17, -1.5f);
    assert_buffer_holds(parent, 0, values, n);
}

static void buf_fill_rejects_sizes_and_offsets_not_of_whole_floats(void **state)
{
    kiln_ctx *ctx = *state;
    float *values = scratch_random(16, 9);
    kiln_buf *parent = scratch_upload(ctx, values, 16);
    assert_arg_error(ctx, kiln_buf_fill(scratch_view(parent, 0, 6), 1.0f));
    assert_arg_error(ctx, kiln_buf_fill(scratch_view(parent, 2, 8), 1.0f));
    assert_arg_error(NULL, kiln_buf_fill(NULL, 1.0f));
    assert_buffer_holds(parent, 0, values, 16);
}

static cl_mem make_cl_buffer(kiln_ctx *ctx, size_t bytes)
{
    cl_int error = CL_SUCCESS;
    cl_mem mem =
        clCreateBuffer(kiln_ctx_context(ctx), CL_MEM_READ_WRITE, bytes, NULL, &error);
    assert_int_equal(error, CL_SUCCESS);
    return mem;
}

static void buf_wrap_uses_a_cl_mem_of_the_context_and_keeps_it_alive(void **state)
{
    kiln_ctx *ctx = *state;
    enum { n = 20 };
    cl_mem mem = make_cl_buffer(ctx, n * sizeof(float));
    float *values = scratch_random(n, 10);
    kiln_buf *buf = NULL;
    assert_ok(ctx, kiln_buf_wrap(ctx, mem, &buf));
    assert_int_equal(kiln_buf_size(buf), n * sizeof(float));
    assert_ptr_equal(kiln_buf_mem(buf), mem);
    kiln_status written = kiln_buf_write(buf, 0, values, n * sizeof(float));
    kiln_buf_destroy(buf);
    /* the caller's reference still holds the memory and what kiln wrote into it */
    float *got = scratch_floats(n);
    cl_int read = clEnqueueReadBuffer(kiln_ctx_queue(ctx), mem, CL_TRUE, 0,
                                      n * sizeof(float), got, 0, NULL, NULL);
    clReleaseMemObject(mem);
    assert_ok(ctx, written);
    assert_int_equal(read, CL_SUCCESS);
    assert_memory_equal(got, values, n * sizeof(float));
}

static void buf_wrap_rejects_a_cl_mem_of_another_context(void **state)
{
    kiln_ctx *ctx = *state;
    cl_mem mem = make_cl_buffer(scratch_context(NULL), 64);
    kiln_buf *buf = untouched_buf();
    kiln_status status = kiln_buf_wrap(ctx, mem, &buf);
    clReleaseMemObject(mem);
    assert_arg_error(ctx, status);
    assert_ptr_equal(buf, untouched_buf());
}

static void buf_wrap_rejects_null_arguments(void **state)
{
    kiln_ctx *ctx = *state;
    cl_mem mem = make_cl_buffer(ctx, 64);
    kiln_buf *buf = untouched_buf();
    kiln_status no_ctx = kiln_buf_wrap(NULL, mem, &buf);
    kiln_status no_out = kiln_buf_wrap(ctx, mem, NULL);
    clReleaseMemObject(mem);
    assert_arg_error(NULL, no_ctx);
    assert_arg_error(ctx, no_out);
    assert_arg_error(ctx, kiln_buf_wrap(ctx, NULL, &buf));
    assert_ptr_equal(buf, untouched_buf());
}

static void buf_wrap_of_a_sub_buffer_knows_it_shares_its_parent(void **state)
{
    kiln_ctx *ctx = *state;
    cl_uint align_bits = 0;
    assert_int_equal(clGetDeviceInfo(kiln_ctx_device(ctx), CL_DEVICE_MEM_BASE_ADDR_ALIGN,
                                     sizeof align_bits, &align_bits, NULL),
                     CL_SUCCESS);
    size_t align = align_bits / 8 > 4 ? align_bits / 8 : 4;
    cl_mem parent = make_cl_buffer(ctx, 4 * align);
    cl_buffer_region region = {align, 2 * align};
    cl_int error = CL_SUCCESS;
    cl_mem sub = clCreateSubBuffer(parent, CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                   &region, &error);
    kiln_buf *whole = scratch_wrap(ctx, parent), *part = NULL;
    clReleaseMemObject(parent);
    assert_int_equal(error, CL_SUCCESS);
    kiln_status wrapped = kiln_buf_wrap(ctx, sub, &part);
    clReleaseMemObject(sub);
    assert_ok(ctx, wrapped);
    kiln_status overlap = kiln_buf_copy(part, 0, whole, align, 8);
    kiln_buf_destroy(part);
    assert_arg_error(ctx, overlap);
}

static void ops_reject_a_buffer_of_another_context(void **state)
{
    kiln_ctx *ctx = *state;
    operand a = vector_make(ctx, 16, 0, 0, FILL_RANDOM, 11);
    operand c = vector_make(ctx, 16, 0, 0, FILL_CANARY, 12);
    kiln_buf *foreign = scratch_buffer(scratch_context(NULL), 16 * sizeof(float));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, foreign, c.view, 16));
    assert_arg_error(ctx, kiln_vadd(ctx, a.view, a.view, foreign, 16));
    assert_arg_error(ctx, kiln_sigmoid(ctx, foreign, c.view, 16));
    assert_arg_error(ctx, kiln_matmul(ctx, 4, 4, 4, a.view, foreign, c.view));
    assert_operand_unchanged(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(buf_write_then_read_round_trips),
        KILN_TEST(buf_transfers_work_at_any_byte_offset),
        KILN_TEST(buf_write_at_an_offset_changes_only_that_range),
        KILN_TEST(buf_create_rejects_zero_bytes),
        KILN_TEST(buf_create_rejects_more_than_the_largest_allocation),
        KILN_TEST(buf_create_rejects_null_arguments),
        KILN_TEST(buf_transfers_reject_ranges_beyond_the_end),
        KILN_TEST(buf_transfers_reject_null_arguments),
        KILN_TEST(buf_queries_of_null_give_zero),
        KILN_TEST(buf_view_reports_its_size_offset_context_and_parent_memory),
        KILN_TEST(buf_view_writes_and_reads_land_in_the_parent),
        KILN_TEST(buf_view_rejects_ranges_outside_its_parent),
        KILN_TEST(buf_view_rejects_zero_bytes_and_null_arguments),
        KILN_TEST(buf_copy_moves_bytes_between_buffers),
        KILN_TEST(buf_copy_within_one_buffer_without_overlap_works),
        KILN_TEST(buf_copy_and_fill_come_before_later_work),
        KILN_TEST(buf_copy_rejects_overlapping_ranges),
        KILN_TEST(buf_copy_rejects_ranges_beyond_either_end),
        KILN_TEST(buf_copy_rejects_null_and_foreign_buffers),
        KILN_TEST(buf_fill_sets_every_float),
        KILN_TEST(buf_fill_of_a_view_leaves_the_rest_of_the_parent),
        KILN_TEST(buf_fill_rejects_sizes_and_offsets_not_of_whole_floats),
        KILN_TEST(buf_wrap_uses_a_cl_mem_of_the_context_and_keeps_it_alive),
        KILN_TEST(buf_wrap_rejects_a_cl_mem_of_another_context),
        KILN_TEST(buf_wrap_rejects_null_arguments),
        KILN_TEST(buf_wrap_of_a_sub_buffer_knows_it_shares_its_parent),
        KILN_TEST(ops_reject_a_buffer_of_another_context),
    };
    return RUN_KILN_TESTS(tests);
}
