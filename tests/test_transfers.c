/* Host <-> device transfers: pinned memory of kiln_host_alloc, pageable memory staged
 * through the ring (its memcpy split between copy threads), the _async forms, their
 * order with kernels, threads, and the fallbacks where pinned memory is refused. Links
 * kiln's objects and includes lib/internal.h on purpose, for transfers_set_test_knobs:
 * each path forced (staging on PoCL's host-unified device, where kiln would not stage;
 * the driver's own copies on GPUs, where it would), small chunks (so a copy crosses many
 * chunk boundaries), more copy threads than this machine's cores, and pinned
 * allocations refused. CI also runs it under TSan. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */

#include "common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    SMALL_CHUNK = 4096,
    SMALL_STAGE_MIN = 64 << 10,
    /* Chunks of 1 and 2 MiB (kiln's chunk_table), each memcpy in 256 KiB pieces or more. */
    THREADED_SLOT = 2 << 20,
    COPY_THREADS = 4,
};

typedef enum { HOST_PAGEABLE, HOST_PINNED } host_kind;
typedef enum { COPY_BLOCKING, COPY_ASYNC } copy_mode;

static kiln_ctx *context_with(const struct transfer_knobs *knobs)
{
    kiln_ctx *ctx = scratch_context(NULL);
    transfers_set_test_knobs(ctx, knobs);
    return ctx;
}

/* A context of the test's own that stages pageable copies from 64 KiB in SMALL_CHUNK
 * pieces, each memcpy on one thread. */
static kiln_ctx *staging_context(bool refuse_pinned)
{
    return context_with(&(struct transfer_knobs){SMALL_CHUNK, SMALL_STAGE_MIN, 1, KNOB_ON,
                                                 KNOB_OFF, refuse_pinned});
}

/* One that stages from 64 KiB in chunks of up to THREADED_SLOT, each memcpy split
 * between COPY_THREADS threads where it is large enough. */
static kiln_ctx *threaded_context(void)
{
    return context_with(&(struct transfer_knobs){THREADED_SLOT, SMALL_STAGE_MIN, COPY_THREADS,
                                                 KNOB_ON, KNOB_OFF, false});
}

/* One whose copies all go to the driver on the context's queue. */
static kiln_ctx *plain_context(void)
{
    return context_with(&(struct transfer_knobs){.stage = KNOB_OFF, .copy_queues = KNOB_OFF});
}

/* One whose _async copies all go to the copy queues (pageable ones too: no staging). */
static kiln_ctx *copy_queue_context(void)
{
    return context_with(&(struct transfer_knobs){.stage = KNOB_OFF, .copy_queues = KNOB_ON});
}

/* One that stages pageable copies from 64 KiB on the context's queue, in SMALL_CHUNK
 * pieces, and puts the other _async copies on the copy queues, as on a GPU. */
static kiln_ctx *mixed_context(void)
{
    return context_with(&(struct transfer_knobs){SMALL_CHUNK, SMALL_STAGE_MIN, 1, KNOB_ON,
                                                 KNOB_ON, false});
}

/* Host memory of the kind, freed by the test's teardown (pinned: with its context). */
static unsigned char *host_memory(kiln_ctx *ctx, host_kind kind, size_t bytes)
{
    if (kind == HOST_PAGEABLE)
        return (unsigned char *)scratch_floats((bytes + 3) / 4);
    void *p = NULL;
    assert_ok(ctx, kiln_host_alloc(ctx, bytes, &p));
    return p;
}

static void bytes_fill(unsigned char *p, size_t bytes, unsigned seed)
{
    for (size_t i = 0; i < bytes; ++i)
        p[i] = (unsigned char)(i * 131u + seed * 7u + (i >> 9));
}

static kiln_status write_with(copy_mode mode, kiln_buf *buf, size_t offset, const void *src,
                              size_t bytes)
{
    return mode == COPY_ASYNC ? kiln_buf_write_async(buf, offset, src, bytes)
                              : kiln_buf_write(buf, offset, src, bytes);
}

static kiln_status read_with(copy_mode mode, const kiln_buf *buf, size_t offset, void *dst,
                             size_t bytes)
{
    return mode == COPY_ASYNC ? kiln_buf_read_async(buf, offset, dst, bytes)
                              : kiln_buf_read(buf, offset, dst, bytes);
}

/* bytes at offset into a view (so the view's own offset counts too) and back: the range
 * comes back as written and the rest of the buffer keeps its canaries. */
static void round_trip(kiln_ctx *ctx, size_t bytes, size_t offset, host_kind from,
                       host_kind to, copy_mode mode)
{
    size_t mark = scratch_mark();
    size_t floats = (4 + offset + bytes + 3) / 4 + 1;
    kiln_buf *whole = scratch_buffer(ctx, floats * 4);
    kiln_buf *view = scratch_view(whole, 4, floats * 4 - 4);
    assert_ok(ctx, kiln_buf_fill(whole, CANARY));
    unsigned char *src = host_memory(ctx, from, bytes), *dst = host_memory(ctx, to, bytes);
    bytes_fill(src, bytes, (unsigned)(bytes + offset));
    memset(dst, 0xee, bytes);
    assert_ok(ctx, write_with(mode, view, offset, src, bytes));
    assert_ok(ctx, read_with(mode, view, offset, dst, bytes));
    if (mode == COPY_ASYNC)
        assert_ok(ctx, kiln_finish(ctx));
    if (memcmp(src, dst, bytes) != 0)
        fail_msg("%zu bytes at offset %zu (%s to %s, %s) came back different", bytes, offset,
                 from == HOST_PINNED ? "pinned" : "pageable",
                 to == HOST_PINNED ? "pinned" : "pageable",
                 mode == COPY_ASYNC ? "async" : "blocking");
    float *expected = scratch_filled(floats, CANARY);
    memcpy((unsigned char *)expected + 4 + offset, src, bytes);
    assert_memory_equal(scratch_download(whole, floats), expected, floats * 4);
    scratch_release_to(mark);
}

/* Sizes around SMALL_CHUNK and the staging threshold (64 KiB). */
static const size_t small_sizes[] = {1, 4095, 49157, 65536, 65537, 100003, 300001, 0};
/* Sizes of several chunks of the threaded context, split between its threads: its
 * chunks of 1 MiB (copies below 8 MiB) and of 2 MiB, with a short last piece. */
static const size_t large_sizes[] = {(3 << 20) + 12345, (9 << 20) + 7, 0};

/* Every combination of host kinds and modes over the sizes (up to a 0) at odd
 * offsets. */
static void round_trips(kiln_ctx *ctx, const size_t *sizes)
{
    static const size_t offsets[] = {0, 3, SMALL_CHUNK - 3};
    for (size_t s = 0; sizes[s] != 0; ++s)
        for (size_t o = 0; o < sizeof offsets / sizeof *offsets; ++o)
            for (int kinds = 0; kinds < 4; ++kinds)
                for (int mode = 0; mode < 2; ++mode)
                    round_trip(ctx, sizes[s], offsets[o], (host_kind)(kinds & 1),
                               (host_kind)(kinds >> 1), (copy_mode)mode);
}

static void copies_on_the_default_paths_match_the_data(void **state)
{
    round_trips(*state, small_sizes);
    round_trips(*state, large_sizes);
}

static void copies_by_the_driver_alone_match_the_data(void **state)
{
    (void)state;
    round_trips(plain_context(), small_sizes);
}

static void async_copies_on_copy_queues_match_the_data(void **state)
{
    (void)state;
    round_trips(copy_queue_context(), small_sizes);
    round_trips(mixed_context(), small_sizes);
}

static void staged_copies_match_the_data_across_chunk_boundaries(void **state)
{
    (void)state;
    round_trips(staging_context(false), small_sizes);
}

static void staged_copies_split_between_copy_threads_match_the_data(void **state)
{
    (void)state;
    kiln_ctx *ctx = threaded_context();
    round_trips(ctx, small_sizes);
    round_trips(ctx, large_sizes);
}

static void refused_pinned_memory_falls_back_to_pageable_copies_with_the_same_results(
    void **state)
{
    (void)state;
    round_trips(staging_context(true), small_sizes);
}

/* write a; read (a); double in place; read (2a); write b over the kernel's result;
 * read (b); double; read (2b): each copy sees exactly the work enqueued before it. */
static void copies_and_kernels_on_one_buffer(kiln_ctx *ctx, size_t n, host_kind kind,
                                             copy_mode mode)
{
    const size_t bytes = n * sizeof(float);
    kiln_buf *buf = scratch_buffer(ctx, bytes);
    float *a = (float *)host_memory(ctx, kind, bytes), *b = (float *)host_memory(ctx, kind, bytes);
    float *got[4];
    for (int i = 0; i < 4; ++i)
        got[i] = (float *)host_memory(ctx, kind, bytes);
    floats_random(a, n, 11);
    floats_random(b, n, 12);
    assert_ok(ctx, write_with(mode, buf, 0, a, bytes));
    assert_ok(ctx, read_with(mode, buf, 0, got[0], bytes));
    assert_ok(ctx, kiln_vadd(ctx, buf, buf, buf, n));
    assert_ok(ctx, read_with(mode, buf, 0, got[1], bytes));
    assert_ok(ctx, write_with(mode, buf, 0, b, bytes));
    assert_ok(ctx, read_with(mode, buf, 0, got[2], bytes));
    assert_ok(ctx, kiln_vadd(ctx, buf, buf, buf, n));
    assert_ok(ctx, read_with(mode, buf, 0, got[3], bytes));
    assert_ok(ctx, kiln_finish(ctx));
    for (size_t i = 0; i < n; ++i) {
        if (got[0][i] != a[i] || got[1][i] != a[i] + a[i] || got[2][i] != b[i] ||
            got[3][i] != b[i] + b[i])
            fail_msg("element %zu of %s %s copies: %g %g %g %g, wrote %g then %g", i,
                     kind == HOST_PINNED ? "pinned" : "pageable",
                     mode == COPY_ASYNC ? "async" : "blocking", got[0][i], got[1][i],
                     got[2][i], got[3][i], a[i], b[i]);
    }
}

/* The contexts of the order and thread tests, and a size (in floats) that the context
 * stages, in several chunks split between threads where it has threads. */
typedef struct {
    kiln_ctx *ctx;
    size_t n;
} sized_context;

enum { CONTEXTS = 5 };

static void contexts_of_every_path(void **state, sized_context contexts[CONTEXTS])
{
    contexts[0] = (sized_context){*state, 70001};
    contexts[1] = (sized_context){staging_context(false), 70001};
    contexts[2] = (sized_context){threaded_context(), (5 << 20) / 4 + 3};
    contexts[3] = (sized_context){copy_queue_context(), 70001};
    contexts[4] = (sized_context){mixed_context(), 70001};
}

static void copies_keep_their_order_with_kernels_on_the_same_buffer(void **state)
{
    sized_context contexts[CONTEXTS];
    contexts_of_every_path(state, contexts);
    for (int c = 0; c < CONTEXTS; ++c)
        for (int kind = 0; kind < 2; ++kind)
            for (int mode = 0; mode < 2; ++mode)
                copies_and_kernels_on_one_buffer(contexts[c].ctx, contexts[c].n,
                                                 (host_kind)kind, (copy_mode)mode);
}

/* On the copy queues, host -> device and device -> host copies run on queues of their
 * own: they still keep their order through the host memory and the buffers they share.
 * x = a; p = y (b), after x took p (a); q = x (a); y = q (a); y = y + y. */
static void copies_keep_their_order_through_shared_host_memory(kiln_ctx *ctx)
{
    const size_t n = 30011, bytes = n * sizeof(float);
    size_t mark = scratch_mark();
    kiln_buf *x = scratch_buffer(ctx, bytes), *y = scratch_buffer(ctx, bytes);
    float *a = scratch_random(n, 21), *b = scratch_random(n, 22);
    float *p = (float *)host_memory(ctx, HOST_PINNED, bytes);
    float *q = (float *)host_memory(ctx, HOST_PINNED, bytes);
    memcpy(p, a, bytes);
    assert_ok(ctx, kiln_buf_write(y, 0, b, bytes));
    assert_ok(ctx, kiln_buf_write_async(x, 0, p, bytes));
    assert_ok(ctx, kiln_buf_read_async(y, 0, p, bytes));
    assert_ok(ctx, kiln_buf_read_async(x, 0, q, bytes));
    assert_ok(ctx, kiln_buf_write_async(y, 0, q, bytes));
    assert_ok(ctx, kiln_vadd(ctx, y, y, y, n));
    assert_ok(ctx, kiln_finish(ctx));
    assert_memory_equal(p, b, bytes);
    assert_memory_equal(q, a, bytes);
    float *doubled = scratch_download(y, n);
    for (size_t i = 0; i < n; ++i)
        assert_float_equal(doubled[i], a[i] + a[i], 0.0f);
    scratch_release_to(mark);
}

static void async_copies_keep_their_order_with_each_other(void **state)
{
    copies_keep_their_order_through_shared_host_memory(*state);
    copies_keep_their_order_through_shared_host_memory(copy_queue_context());
}

/* The worker fills the memory of a staged read after the device copied each chunk: a
 * copy through the driver from the end of that memory, and one into it, wait for it. */
static void copies_through_the_driver_wait_for_a_staged_read_of_their_memory(kiln_ctx *ctx)
{
    const size_t n = 75007, bytes = n * sizeof(float), tail = 1000;
    size_t mark = scratch_mark();
    kiln_buf *x = scratch_buffer(ctx, bytes), *y = scratch_buffer(ctx, tail * sizeof(float));
    float *a = scratch_random(n, 41), *b = scratch_random(tail, 42);
    float *p = scratch_floats(n);
    assert_ok(ctx, kiln_buf_write(x, 0, a, bytes));
    assert_ok(ctx, kiln_buf_write(y, 0, b, tail * sizeof(float)));
    assert_ok(ctx, kiln_buf_read_async(x, 0, p, bytes));
    assert_ok(ctx, kiln_buf_write_async(y, 0, p + n - tail, tail * sizeof(float)));
    assert_ok(ctx, kiln_buf_read_async(y, 0, p + n - 2 * tail, tail * sizeof(float)));
    assert_ok(ctx, kiln_finish(ctx));
    assert_memory_equal(p, a, (n - 2 * tail) * sizeof(float));
    assert_memory_equal(p + n - 2 * tail, a + n - tail, tail * sizeof(float));
    assert_memory_equal(scratch_download(y, tail), a + n - tail, tail * sizeof(float));
    scratch_release_to(mark);
}

static void copies_through_the_driver_keep_their_order_with_staged_reads(void **state)
{
    (void)state;
    copies_through_the_driver_wait_for_a_staged_read_of_their_memory(staging_context(false));
    copies_through_the_driver_wait_for_a_staged_read_of_their_memory(mixed_context());
}

/* Work of the caller's own on kiln_ctx_queue sees an _async copy made before the queue
 * was handed out (kiln fences it then) and one made after (it stays on that queue). */
static void work_of_ones_own_on_the_handed_out_queue_sees_async_copies(void **state)
{
    (void)state;
    kiln_ctx *ctx = copy_queue_context();
    const size_t n = 50021, bytes = n * sizeof(float);
    kiln_buf *x = scratch_buffer(ctx, bytes), *y = scratch_buffer(ctx, bytes);
    float *a = scratch_random(n, 31), *b = scratch_random(n, 32);
    float *p = (float *)host_memory(ctx, HOST_PINNED, bytes);
    memcpy(p, a, bytes);
    assert_ok(ctx, kiln_buf_write_async(x, 0, p, bytes));
    cl_command_queue queue = kiln_ctx_queue(ctx);
    assert_int_equal(clEnqueueCopyBuffer(queue, kiln_buf_mem(x), kiln_buf_mem(y), 0, 0, bytes,
                                         0, NULL, NULL),
                     CL_SUCCESS);
    assert_memory_equal(scratch_download(y, n), a, bytes);
    assert_ok(ctx, kiln_finish(ctx));
    memcpy(p, b, bytes);
    assert_ok(ctx, kiln_buf_write_async(x, 0, p, bytes));
    assert_int_equal(clEnqueueCopyBuffer(queue, kiln_buf_mem(x), kiln_buf_mem(y), 0, 0, bytes,
                                         0, NULL, NULL),
                     CL_SUCCESS);
    assert_memory_equal(scratch_download(y, n), b, bytes);
}

/* ---------------------------------------------------------------- threads */

enum { THREADS = 8, ROUNDS = 12 };

typedef struct {
    kiln_ctx *ctx;
    size_t n;
    unsigned seed;
    int wrong;
} copier;

/* Rounds of: async write from its own pinned (even rounds) or pageable memory, doubling
 * in place, a blocking read into pinned memory; then frees its pinned memory. */
static void *copy_rounds(void *arg)
{
    copier *job = arg;
    const size_t bytes = job->n * sizeof(float);
    void *pinned = NULL, *got = NULL;
    float *pageable = malloc(bytes);
    kiln_buf *buf = NULL;
    job->wrong = pageable == NULL || kiln_host_alloc(job->ctx, bytes, &pinned) != KILN_OK ||
                 kiln_host_alloc(job->ctx, bytes, &got) != KILN_OK ||
                 kiln_buf_create(job->ctx, bytes, &buf) != KILN_OK;
    for (int round = 0; round < ROUNDS && !job->wrong; ++round) {
        float *src = round % 2 == 0 ? pinned : pageable, *out = got;
        floats_random(src, job->n, job->seed + (unsigned)round);
        job->wrong = kiln_buf_write_async(buf, 0, src, bytes) != KILN_OK ||
                     kiln_vadd(job->ctx, buf, buf, buf, job->n) != KILN_OK ||
                     kiln_buf_read(buf, 0, out, bytes) != KILN_OK;
        for (size_t i = 0; i < job->n && !job->wrong; ++i)
            job->wrong = out[i] != src[i] + src[i];
    }
    kiln_buf_destroy(buf);
    kiln_host_free(job->ctx, pinned);
    kiln_host_free(job->ctx, got);
    free(pageable);
    return NULL;
}

static void eight_threads_with_their_own_pinned_memory_share_a_context(void **state)
{
    sized_context contexts[CONTEXTS];
    contexts_of_every_path(state, contexts);
    for (int c = 0; c < CONTEXTS; ++c) {
        copier jobs[THREADS];
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; ++t) {
            size_t n = contexts[c].n / 4 + 4099 * (size_t)t;
            jobs[t] = (copier){contexts[c].ctx, n, 100u * (unsigned)t, 0};
            assert_int_equal(pthread_create(&threads[t], NULL, copy_rounds, &jobs[t]), 0);
        }
        for (int t = 0; t < THREADS; ++t)
            assert_int_equal(pthread_join(threads[t], NULL), 0);
        for (int t = 0; t < THREADS; ++t)
            assert_int_equal(jobs[t].wrong, 0);
    }
}

/* ---------------------------------------------------------------- kiln_host_free */

static void host_free_while_copying(kiln_ctx *ctx)
{
    const size_t n = 1 << 20, bytes = n * sizeof(float);
    kiln_buf *buf = scratch_buffer(ctx, bytes);
    float *expected = scratch_random(n, 5), *got = scratch_floats(n);
    void *src = NULL, *dst = NULL;
    assert_ok(ctx, kiln_host_alloc(ctx, bytes, &src));
    assert_ok(ctx, kiln_host_alloc(ctx, bytes, &dst));
    memcpy(src, expected, bytes);
    assert_ok(ctx, kiln_buf_write_async(buf, 0, src, bytes));
    kiln_host_free(ctx, src);
    assert_ok(ctx, kiln_buf_read_async(buf, 0, dst, bytes));
    kiln_host_free(ctx, dst);
    assert_ok(ctx, kiln_buf_read(buf, 0, got, bytes));
    assert_memory_equal(got, expected, bytes);
    assert_string_equal(kiln_last_error(ctx), "");
}

static void host_free_waits_for_copies_in_flight(void **state)
{
    host_free_while_copying(*state);
    host_free_while_copying(copy_queue_context());
}

static void host_free_rejects_foreign_and_twice_freed_pointers(void **state)
{
    kiln_ctx *ctx = *state;
    int local = 0;
    kiln_host_free(ctx, NULL);
    assert_string_equal(kiln_last_error(ctx), "");
    kiln_host_free(ctx, &local);
    assert_non_null(strstr(kiln_last_error(ctx), "not memory of kiln_host_alloc"));
    void *p = NULL;
    assert_ok(ctx, kiln_host_alloc(ctx, 100, &p));
    kiln_host_free(ctx, (char *)p + 1);
    assert_non_null(strstr(kiln_last_error(ctx), "not memory of kiln_host_alloc"));
    kiln_host_free(ctx, p);
    kiln_host_free(ctx, p);
    assert_non_null(strstr(kiln_last_error(ctx), "or was freed already"));
    kiln_host_free(NULL, p);
    assert_string_equal(kiln_last_error(NULL), "ctx is NULL");
}

static void host_alloc_rejects_bad_arguments(void **state)
{
    kiln_ctx *ctx = *state;
    void *p = NULL;
    assert_arg_error(ctx, kiln_host_alloc(ctx, 0, &p));
    assert_arg_error(ctx, kiln_host_alloc(ctx, 16, NULL));
    assert_status(NULL, kiln_host_alloc(NULL, 16, &p), KILN_ERR_ARG);
    assert_null(p);
}

/* Pinned and ordinary (refused) memory left to the context: ASan and valgrind see it
 * freed by kiln_ctx_destroy. */
static void host_memory_left_unfreed_goes_with_the_context(void **state)
{
    (void)state;
    for (int refuse = 0; refuse < 2; ++refuse) {
        kiln_ctx *ctx = NULL;
        assert_ok(NULL, kiln_ctx_create(&ctx, NULL));
        transfers_set_test_knobs(ctx, &(struct transfer_knobs){SMALL_CHUNK, SMALL_STAGE_MIN, 1,
                                                               KNOB_ON, KNOB_ON, refuse == 1});
        void *p = NULL;
        assert_ok(ctx, kiln_host_alloc(ctx, 1 << 16, &p));
        memset(p, 1, 1 << 16);
        kiln_ctx_destroy(ctx);
    }
}

/* Whether a context made with $KILN_STAGING at `value` (NULL: unset) stages. */
static bool staging_with(const char *value)
{
    if (value != NULL)
        setenv("KILN_STAGING", value, 1);
    else
        unsetenv("KILN_STAGING");
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_ctx_create(&ctx, NULL));
    bool on = transfers_staging(ctx);
    kiln_ctx_destroy(ctx);
    unsetenv("KILN_STAGING");
    return on;
}

/* $KILN_STAGING takes on and off, and 1 and 0 for them; anything else leaves the
 * device's default. */
static void kiln_staging_takes_on_off_and_one_zero(void **state)
{
    (void)state;
    assert_true(staging_with("on"));
    assert_true(staging_with("1"));
    assert_false(staging_with("off"));
    assert_false(staging_with("0"));
    assert_int_equal(staging_with("maybe"), staging_with(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(kiln_staging_takes_on_off_and_one_zero),
        KILN_TEST(copies_on_the_default_paths_match_the_data),
        KILN_TEST(copies_by_the_driver_alone_match_the_data),
        KILN_TEST(async_copies_on_copy_queues_match_the_data),
        KILN_TEST(staged_copies_match_the_data_across_chunk_boundaries),
        KILN_TEST(staged_copies_split_between_copy_threads_match_the_data),
        KILN_TEST(refused_pinned_memory_falls_back_to_pageable_copies_with_the_same_results),
        KILN_TEST(copies_keep_their_order_with_kernels_on_the_same_buffer),
        KILN_TEST(async_copies_keep_their_order_with_each_other),
        KILN_TEST(copies_through_the_driver_keep_their_order_with_staged_reads),
        KILN_TEST(work_of_ones_own_on_the_handed_out_queue_sees_async_copies),
        KILN_TEST(eight_threads_with_their_own_pinned_memory_share_a_context),
        KILN_TEST(host_free_waits_for_copies_in_flight),
        KILN_TEST(host_free_rejects_foreign_and_twice_freed_pointers),
        KILN_TEST(host_alloc_rejects_bad_arguments),
        KILN_TEST(host_memory_left_unfreed_goes_with_the_context),
    };
    return RUN_KILN_TESTS(tests);
}
