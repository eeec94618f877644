/* The device buffers the _host conveniences reuse between calls: results the same as on
 * fresh buffers whatever the sizes before, calls from two threads at once, the bound on
 * what stays allocated. Links kiln's objects and includes lib/internal.h on purpose, to
 * see the idle buffers and set a small bound. CI also runs it under TSan, and its tests of the bound under valgrind. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */

#include "common.h"

#include <pthread.h>
#include <string.h>

/* ---------------------------------------------------------------- on fresh buffers */

/* Each operation on buffers of the test's own, as a _host call must give it. */
static float *vadd_on_buffers(kiln_ctx *ctx, const float *a, const float *b, size_t n)
{
    kiln_buf *c = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_vadd(ctx, scratch_upload(ctx, a, n), scratch_upload(ctx, b, n), c, n));
    return scratch_download(c, n);
}

static float *sigmoid_on_buffers(kiln_ctx *ctx, const float *x, size_t n)
{
    kiln_buf *y = scratch_buffer(ctx, n * sizeof(float));
    assert_ok(ctx, kiln_sigmoid(ctx, scratch_upload(ctx, x, n), y, n));
    return scratch_download(y, n);
}

static float *matmul_on_buffers(kiln_ctx *ctx, size_t m, size_t n, size_t k, const float *a,
                                const float *b)
{
    kiln_buf *c = scratch_buffer(ctx, m * n * sizeof(float));
    assert_ok(ctx, kiln_matmul(ctx, m, n, k, scratch_upload(ctx, a, m * k),
                               scratch_upload(ctx, b, k * n), c));
    return scratch_download(c, m * n);
}

static float *dense_on_buffers(kiln_ctx *ctx, const float *w, const float *x,
                               const float *bias, size_t out, size_t in, size_t batch)
{
    kiln_buf *y = scratch_buffer(ctx, out * batch * sizeof(float));
    assert_ok(ctx, kiln_dense(ctx, scratch_upload(ctx, w, out * in),
                              scratch_upload(ctx, x, in * batch),
                              bias != NULL ? scratch_upload(ctx, bias, out) : NULL, y, out,
                              in, batch, KILN_ACT_SIGMOID));
    return scratch_download(y, out * batch);
}

/* ---------------------------------------------------------------- sizes */

/* Up, then down past where they started: later calls get buffers that held larger data. */
static const size_t lengths[] = {1, 1000, 4097, 70000, 300000, 70001, 4096, 999, 3};
static const size_t sides[] = {1, 7, 33, 100, 150, 60, 9, 2};

static void host_vectors_of_growing_and_shrinking_sizes_match_fresh_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        size_t n = lengths[i], mark = scratch_mark();
        const float *a = scratch_random(n, (uint32_t)i), *b = scratch_random(n, 100 + (uint32_t)i);
        float *got = scratch_floats(n);
        assert_ok(ctx, kiln_vadd_host(ctx, a, b, got, n));
        for (size_t j = 0; j < n; j++)
            assert_true(got[j] == a[j] + b[j]);
        assert_memory_equal(got, vadd_on_buffers(ctx, a, b, n), n * sizeof(float));
        assert_ok(ctx, kiln_sigmoid_host(ctx, a, got, n));
        assert_memory_equal(got, sigmoid_on_buffers(ctx, a, n), n * sizeof(float));
        scratch_release_to(mark);
    }
}

static void host_products_of_growing_and_shrinking_sizes_match_fresh_buffers(void **state)
{
    kiln_ctx *ctx = *state;
    for (size_t i = 0; i < sizeof sides / sizeof sides[0]; i++) {
        size_t m = sides[i], n = sides[i] + 1, k = sides[i] + 2, mark = scratch_mark();
        const float *a = scratch_random(m * k, (uint32_t)i);
        const float *b = scratch_random(k * n, 100 + (uint32_t)i);
        const float *bias = scratch_random(m, 200 + (uint32_t)i);
        float *got = scratch_floats(m * n);
        assert_ok(ctx, kiln_matmul_host(ctx, m, n, k, a, b, got));
        assert_memory_equal(got, matmul_on_buffers(ctx, m, n, k, a, b), m * n * sizeof(float));
        /* dense: W is a (m×k), x is b (k×n); with and without a bias. */
        assert_ok(ctx, kiln_dense_host(ctx, a, b, bias, got, m, k, n, KILN_ACT_SIGMOID));
        assert_memory_equal(got, dense_on_buffers(ctx, a, b, bias, m, k, n),
                            m * n * sizeof(float));
        assert_ok(ctx, kiln_dense_host(ctx, a, b, NULL, got, m, k, n, KILN_ACT_SIGMOID));
        assert_memory_equal(got, dense_on_buffers(ctx, a, b, NULL, m, k, n),
                            m * n * sizeof(float));
        scratch_release_to(mark);
    }
}

/* ---------------------------------------------------------------- two threads */

enum { THREADS = 2, ROUNDS = 12 }; /* this thread and a second */

/* One round of a thread: its inputs and what fresh buffers gave, made by the main thread
 * (cmocka and the scratch helpers are not thread-safe); got filled by the thread. */
typedef struct {
    size_t n, side;
    const float *a, *b;
    const float *sum, *sigmoid, *product;
    float *got_sum, *got_sigmoid, *got_product;
} round_data;

typedef struct {
    kiln_ctx *ctx;
    pthread_barrier_t *start;
    round_data rounds[ROUNDS];
    kiln_status status;
} caller;

static void *call_rounds(void *arg)
{
    caller *c = arg;
    pthread_barrier_wait(c->start);
    for (size_t r = 0; r < ROUNDS && c->status == KILN_OK; r++) {
        round_data *d = &c->rounds[r];
        c->status = kiln_vadd_host(c->ctx, d->a, d->b, d->got_sum, d->n);
        if (c->status == KILN_OK)
            c->status = kiln_sigmoid_host(c->ctx, d->a, d->got_sigmoid, d->n);
        if (c->status == KILN_OK)
            c->status = kiln_matmul_host(c->ctx, d->side, d->side, d->side, d->a, d->b,
                                         d->got_product);
    }
    return NULL;
}

/* This thread and a second one ask for the same sizes in the same rounds, so they want
 * the same idle buffers at the same moments; a buffer lent to both would mix their
 * results. */
static void host_calls_from_two_threads_on_one_context_give_right_results(void **state)
{
    kiln_ctx *ctx = *state;
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    caller callers[THREADS];
    for (size_t t = 0; t < THREADS; t++) {
        callers[t] = (caller){.ctx = ctx, .start = &start};
        for (size_t r = 0; r < ROUNDS; r++) {
            size_t side = sides[r % (sizeof sides / sizeof sides[0])];
            size_t n = side * side + lengths[r % (sizeof lengths / sizeof lengths[0])];
            uint32_t seed = (uint32_t)(1000 * t + 2 * r);
            round_data *d = &callers[t].rounds[r];
            *d = (round_data){.n = n, .side = side, .a = scratch_random(n, seed),
                              .b = scratch_random(n, seed + 1)};
            d->sum = vadd_on_buffers(ctx, d->a, d->b, n);
            d->sigmoid = sigmoid_on_buffers(ctx, d->a, n);
            d->product = matmul_on_buffers(ctx, side, side, side, d->a, d->b);
            d->got_sum = scratch_floats(n);
            d->got_sigmoid = scratch_floats(n);
            d->got_product = scratch_floats(side * side);
        }
    }
    pthread_t second;
    assert_int_equal(pthread_create(&second, NULL, call_rounds, &callers[1]), 0);
    call_rounds(&callers[0]);
    assert_int_equal(pthread_join(second, NULL), 0);
    pthread_barrier_destroy(&start);
    for (size_t t = 0; t < THREADS; t++) {
        assert_ok(ctx, callers[t].status);
        for (size_t r = 0; r < ROUNDS; r++) {
            const round_data *d = &callers[t].rounds[r];
            assert_memory_equal(d->got_sum, d->sum, d->n * sizeof(float));
            assert_memory_equal(d->got_sigmoid, d->sigmoid, d->n * sizeof(float));
            assert_memory_equal(d->got_product, d->product, d->side * d->side * sizeof(float));
        }
    }
}

/* ---------------------------------------------------------------- the bound */

static void sigmoid_host_of(kiln_ctx *ctx, size_t bytes)
{
    size_t n = bytes / sizeof(float), mark = scratch_mark();
    assert_ok(ctx, kiln_sigmoid_host(ctx, scratch_random(n, 5), scratch_floats(n), n));
    scratch_release_to(mark);
}

/* Each size above the buffer the one before it got (its size rounded up by at most a
 * quarter), so each call makes a new buffer and the idle ones pile up. */
static size_t next_size(size_t bytes)
{
    return bytes * 13 / 10 + sizeof(float);
}

static void idle_buffers_stay_within_the_bound_in_bytes(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    enum { BOUND = 256 << 10 };
    host_buffers_set_test_bound(ctx, BOUND);
    size_t count = 0, bytes = 0;
    for (size_t size = 16 << 10; size < BOUND; size = next_size(size)) {
        sigmoid_host_of(ctx, size);
        host_buffers_kept(ctx, &count, &bytes);
        assert_in_range(count, 1, HOST_BUFFERS_KEPT);
        assert_true(bytes <= BOUND);
    }
    assert_true(bytes > BOUND / 2); /* the latest kept, the oldest freed */
    sigmoid_host_of(ctx, 2 * BOUND); /* alone above the bound: not kept */
    size_t count_after = 0, bytes_after = 0;
    host_buffers_kept(ctx, &count_after, &bytes_after);
    assert_int_equal(count_after, count);
    assert_int_equal(bytes_after, bytes);
}

static void idle_buffers_stay_within_the_bound_in_number(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    size_t count = 0, bytes = 0, size = 4100; /* above the smallest buffer, a page */
    for (size_t call = 0; call < HOST_BUFFERS_KEPT + 4; call++, size = next_size(size)) {
        sigmoid_host_of(ctx, size);
        host_buffers_kept(ctx, &count, &bytes);
        assert_int_equal(count, call < HOST_BUFFERS_KEPT ? call + 1 : HOST_BUFFERS_KEPT);
    }
    assert_true(bytes <= HOST_BUFFERS_KEPT_BYTES);
}

/* Idle buffers are OpenCL objects, which leak checkers do not see inside the driver: one
 * is held past kiln_ctx_destroy here, and must then be held by nothing else. */
static void context_destroy_frees_its_idle_buffers(void **state)
{
    (void)state;
    kiln_ctx *ctx = NULL;
    assert_ok(NULL, kiln_ctx_create(&ctx, NULL));
    float x = 1.0f, y = 0.0f;
    assert_ok(ctx, kiln_sigmoid_host(ctx, &x, &y, 1));
    assert_int_equal(ctx->host_buffers.count, 1);
    cl_mem held = ctx->host_buffers.idle[0].mem;
    assert_int_equal(clRetainMemObject(held), CL_SUCCESS);
    kiln_ctx_destroy(ctx);
    cl_uint references = 0;
    assert_int_equal(clGetMemObjectInfo(held, CL_MEM_REFERENCE_COUNT, sizeof references,
                                        &references, NULL),
                     CL_SUCCESS);
    clReleaseMemObject(held);
    assert_int_equal(references, 1);
}

/* With the argument "bound", only the tests of what is kept: small enough for valgrind. */
int main(int argc, char **argv)
{
    const struct CMUnitTest bound[] = {
        KILN_TEST(idle_buffers_stay_within_the_bound_in_bytes),
        KILN_TEST(idle_buffers_stay_within_the_bound_in_number),
        KILN_TEST(context_destroy_frees_its_idle_buffers),
    };
    if (argc > 1 && strcmp(argv[1], "bound") == 0)
        return RUN_KILN_TESTS(bound);
    const struct CMUnitTest tests[] = {
        KILN_TEST(host_vectors_of_growing_and_shrinking_sizes_match_fresh_buffers),
        KILN_TEST(host_products_of_growing_and_shrinking_sizes_match_fresh_buffers),
        KILN_TEST(host_calls_from_two_threads_on_one_context_give_right_results),
        KILN_TEST(idle_buffers_stay_within_the_bound_in_bytes),
        KILN_TEST(idle_buffers_stay_within_the_bound_in_number),
        KILN_TEST(context_destroy_frees_its_idle_buffers),
    };
    return RUN_KILN_TESTS(tests);
}
