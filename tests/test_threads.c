/* Threads: several threads enqueue on one context at once, or each on its own, running
 * every operation with results checked against the double reference; errors stay per
 * thread. CI also runs this file under ThreadSanitizer. */
#include "common.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { THREADS = 4, ROUNDS = 25 };

typedef struct {
    kiln_ctx *ctx;
    size_t n;
    uint32_t seed;
    int wrong; /* rounds whose result was not a + b, or a call that failed */
} adder;

/* One round: c = a + b on fresh buffers, read back and compared to the host's float sum,
 * which is exactly what a correct kernel computes. */
static int add_once(adder *job, const float *a, const float *b, float *c)
{
    kiln_buf *da = NULL, *db = NULL, *dc = NULL;
    size_t bytes = job->n * sizeof(float);
    int wrong = kiln_buf_create(job->ctx, bytes, &da) != KILN_OK ||
                kiln_buf_create(job->ctx, bytes, &db) != KILN_OK ||
                kiln_buf_create(job->ctx, bytes, &dc) != KILN_OK ||
                kiln_buf_write(da, 0, a, bytes) != KILN_OK ||
                kiln_buf_write(db, 0, b, bytes) != KILN_OK ||
                kiln_vadd(job->ctx, da, db, dc, job->n) != KILN_OK ||
                kiln_buf_read(dc, 0, c, bytes) != KILN_OK;
    for (size_t i = 0; !wrong && i < job->n; i++)
        wrong = c[i] != a[i] + b[i];
    kiln_buf_destroy(da);
    kiln_buf_destroy(db);
    kiln_buf_destroy(dc);
    return wrong;
}

static void *add_rounds(void *arg)
{
    adder *job = arg;
    float *a = malloc(job->n * sizeof(float)), *b = malloc(job->n * sizeof(float));
    float *c = malloc(job->n * sizeof(float));
    for (int round = 0; round < ROUNDS && a && b && c; round++) {
        floats_random(a, job->n, job->seed + 2 * (uint32_t)round);
        floats_random(b, job->n, job->seed + 2 * (uint32_t)round + 1);
        job->wrong += add_once(job, a, b, c);
    }
    job->wrong += !a || !b || !c;
    free(a);
    free(b);
    free(c);
    return NULL;
}

static void vadd_from_several_threads_on_one_context_is_correct(void **state)
{
    adder jobs[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        jobs[t] = (adder){*state, 1000 + 257 * (size_t)t, 100 * (uint32_t)t, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, add_rounds, &jobs[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(jobs[t].wrong, 0);
}

typedef struct {
    kiln_ctx *ctx;
    char context_error[512], global_error[512];
} failer;

/* Fails once on the context and once outside any, keeping both messages. */
static void *fail_twice(void *arg)
{
    failer *job = arg;
    kiln_buf *buf = NULL;
    kiln_buf_create(job->ctx, 0, &buf);
    kiln_finish(NULL);
    snprintf(job->context_error, sizeof job->context_error, "%s",
             kiln_last_error(job->ctx));
    snprintf(job->global_error, sizeof job->global_error, "%s", kiln_last_error(NULL));
    return NULL;
}

static void last_error_belongs_to_the_thread_that_failed(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    kiln_device_info info = {.struct_size = sizeof info};
    assert_status(NULL, kiln_device_get((size_t)-1, &info), KILN_ERR_NODEVICE);
    char mine[512];
    snprintf(mine, sizeof mine, "%s", kiln_last_error(NULL));
    failer job = {.ctx = ctx};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fail_twice, &job), 0);
    assert_int_equal(pthread_join(thread, NULL), 0);
    assert_true(strlen(job.context_error) > 0);
    assert_true(strlen(job.global_error) > 0);
    assert_string_equal(kiln_last_error(ctx), "");
    assert_string_equal(kiln_last_error(NULL), mine);
}

/* ---------------------------------------------------------------- mixed operations */

enum { WORKERS = 8, JOBS = 10 };

typedef enum { OP_VADD, OP_SIGMOID, OP_GEAM, OP_SGEMM, OP_DENSE, OP_COUNT } op_kind;

/* One operation on tight matrices, its inputs and expected result made by the main
 * thread (cmocka and the scratch helpers are not thread-safe), run by a worker. For
 * vadd and sigmoid n counts the floats; dense is out = m, batch = n, in = k. */
typedef struct {
    op_kind op;
    kiln_trans ta, tb;
    size_t m, n, k;
    const float *in[3];
    size_t in_floats[3], inputs;
    float *got;
    reference expected;
} job;

static size_t ld_of(kiln_trans t, size_t rows, size_t cols)
{
    return t == KILN_TRANS ? rows : cols;
}

static void job_input(job *j, size_t floats, uint32_t seed)
{
    j->in_floats[j->inputs] = floats;
    j->in[j->inputs++] = scratch_random(floats, seed);
}

/* Shapes of 1 .. 60 from the seed, every op and transpose in turn. */
static job job_make(size_t index, uint32_t seed)
{
    job j = {.op = (op_kind)(index % OP_COUNT), .ta = (kiln_trans)(seed & 1),
             .tb = (kiln_trans)((seed >> 1) & 1), .m = 1 + seed % 60,
             .n = 1 + (seed / 7) % 60, .k = 1 + (seed / 11) % 60};
    switch (j.op) {
    case OP_VADD:
        j.n *= 97;
        job_input(&j, j.n, seed), job_input(&j, j.n, seed + 1);
        j.expected = reference_vadd(j.in[0], j.in[1], j.n);
        break;
    case OP_SIGMOID:
        j.n *= 97;
        job_input(&j, j.n, seed);
        j.expected = reference_sigmoid(j.in[0], j.n);
        break;
    case OP_GEAM:
        job_input(&j, j.m * j.n, seed), job_input(&j, j.m * j.n, seed + 1);
        j.expected = reference_geam(j.ta, j.tb, j.m, j.n, 0.5f, j.in[0],
                                    ld_of(j.ta, j.m, j.n), -2.0f, j.in[1],
                                    ld_of(j.tb, j.m, j.n));
        break;
    case OP_SGEMM:
        job_input(&j, j.m * j.k, seed), job_input(&j, j.k * j.n, seed + 1);
        j.expected = reference_sgemm(j.ta, j.tb, j.m, j.n, j.k, 1.5f, j.in[0],
                                     ld_of(j.ta, j.m, j.k), j.in[1], ld_of(j.tb, j.k, j.n),
                                     0.0f, NULL, j.n);
        break;
    default:
        job_input(&j, j.m * j.k, seed), job_input(&j, j.k * j.n, seed + 1);
        job_input(&j, j.m, seed + 2);
        j.expected = reference_dense(j.in[0], j.in[1], j.in[2], j.m, j.k, j.n,
                                     KILN_ACT_SIGMOID);
        break;
    }
    j.got = scratch_floats(j.expected.rows * j.expected.cols);
    return j;
}

static kiln_status job_enqueue(kiln_ctx *ctx, const job *j, kiln_buf *const *in, kiln_buf *out)
{
    switch (j->op) {
    case OP_VADD: return kiln_vadd(ctx, in[0], in[1], out, j->n);
    case OP_SIGMOID: return kiln_sigmoid(ctx, in[0], out, j->n);
    case OP_GEAM:
        return kiln_geam(ctx, j->ta, j->tb, j->m, j->n, 0.5f, in[0], ld_of(j->ta, j->m, j->n),
                         -2.0f, in[1], ld_of(j->tb, j->m, j->n), out, j->n);
    case OP_SGEMM:
        return kiln_sgemm(ctx, j->ta, j->tb, j->m, j->n, j->k, 1.5f, in[0],
                          ld_of(j->ta, j->m, j->k), in[1], ld_of(j->tb, j->k, j->n), 0.0f,
                          out, j->n);
    default:
        return kiln_dense(ctx, in[0], in[1], in[2], out, j->m, j->k, j->n, KILN_ACT_SIGMOID);
    }
}

static kiln_status upload(kiln_ctx *ctx, const float *values, size_t floats, kiln_buf **out)
{
    kiln_status status = kiln_buf_create(ctx, floats * sizeof(float), out);
    return status == KILN_OK ? kiln_buf_write(*out, 0, values, floats * sizeof(float))
                             : status;
}

/* Uploads the inputs, runs the op and reads the result into j->got; frees its buffers. */
static kiln_status job_run(kiln_ctx *ctx, job *j)
{
    kiln_buf *in[3] = {NULL, NULL, NULL}, *out = NULL;
    size_t out_bytes = j->expected.rows * j->expected.cols * sizeof(float);
    kiln_status status = KILN_OK;
    for (size_t i = 0; i < j->inputs && status == KILN_OK; i++)
        status = upload(ctx, j->in[i], j->in_floats[i], &in[i]);
    if (status == KILN_OK)
        status = kiln_buf_create(ctx, out_bytes, &out);
    if (status == KILN_OK)
        status = job_enqueue(ctx, j, in, out);
    if (status == KILN_OK)
        status = kiln_buf_read(out, 0, j->got, out_bytes);
    for (size_t i = 0; i < 3; i++)
        kiln_buf_destroy(in[i]);
    kiln_buf_destroy(out);
    return status;
}

typedef struct {
    kiln_ctx *shared; /* NULL: the worker opens and closes a context of its own */
    pthread_barrier_t *start; /* NULL, or where the workers wait for each other */
    job jobs[JOBS];
    kiln_status status;
    size_t failed_job;
    char error[512];
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    if (w->start != NULL)
        pthread_barrier_wait(w->start);
    kiln_ctx *ctx = w->shared;
    w->status = ctx != NULL ? KILN_OK : kiln_ctx_create(&ctx, NULL);
    for (w->failed_job = 0; w->status == KILN_OK && w->failed_job < JOBS; w->failed_job++)
        w->status = job_run(ctx, &w->jobs[w->failed_job]);
    snprintf(w->error, sizeof w->error, "%s", kiln_last_error(ctx));
    if (w->shared == NULL)
        kiln_ctx_destroy(ctx);
    return NULL;
}

static worker workers[WORKERS];

/* WORKERS threads, started together, run JOBS mixed operations each (the same ones in
 * every thread when same_jobs), on `shared` or on contexts of their own; every result
 * is then checked against its double reference. */
static void run_workers(kiln_ctx *shared, bool same_jobs)
{
    pthread_t threads[WORKERS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, WORKERS), 0);
    for (size_t t = 0; t < WORKERS; t++) {
        size_t u = same_jobs ? 0 : t;
        workers[t] = (worker){.shared = shared, .start = &start};
        for (size_t i = 0; i < JOBS; i++)
            workers[t].jobs[i] = job_make(i + u, (uint32_t)(1000 * u + 37 * i));
    }
    for (size_t t = 0; t < WORKERS; t++)
        assert_int_equal(pthread_create(&threads[t], NULL, worker_run, &workers[t]), 0);
    for (size_t t = 0; t < WORKERS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    pthread_barrier_destroy(&start);
    for (size_t t = 0; t < WORKERS; t++) {
        if (workers[t].status != KILN_OK)
            fail_msg("worker %zu, job %zu: %s: %s", t, workers[t].failed_job,
                     kiln_status_str(workers[t].status), workers[t].error);
        for (size_t i = 0; i < JOBS; i++)
            assert_matrix_near(workers[t].jobs[i].got, workers[t].jobs[i].expected.cols,
                               &workers[t].jobs[i].expected);
    }
}

static void mixed_ops_from_eight_threads_on_one_context_are_correct(void **state)
{
    run_workers(*state, false);
}

static void mixed_ops_from_eight_threads_on_their_own_contexts_are_correct(void **state)
{
    (void)state;
    run_workers(NULL, false);
}

/* Programs made for a context so far: each is a cache hit or a miss (then compiled). */
static unsigned long long programs_made(void)
{
    kiln_cache_stats stats = {.struct_size = sizeof stats};
    assert_ok(NULL, kiln_cache_stats_get(&stats));
    return stats.hits + stats.misses;
}

/* Eight threads ask a new context for the same programs at the same moment; it must make
 * each once, as many as one thread alone makes on another new context. A race there
 * builds a program twice or loses one from the context's list (then built again). */
static void each_distinct_program_is_built_once_by_eight_threads_at_once(void **state)
{
    (void)state;
    char folder[] = "/tmp/kiln-threads-cache-XXXXXX", saved[4096] = "";
    const char *was = getenv("KILN_CACHE_DIR");
    snprintf(saved, sizeof saved, "%s", was != NULL ? was : "");
    assert_non_null(mkdtemp(folder));
    assert_int_equal(setenv("KILN_CACHE_DIR", folder, 1), 0); /* caching on, empty */
    unsigned long long before = programs_made();
    run_workers(scratch_context(NULL), true);
    unsigned long long by_eight = programs_made() - before;
    workers[0].shared = scratch_context(NULL), workers[0].start = NULL;
    before = programs_made();
    worker_run(&workers[0]);
    unsigned long long by_one = programs_made() - before;
    assert_int_equal(was != NULL ? setenv("KILN_CACHE_DIR", saved, 1)
                                 : unsetenv("KILN_CACHE_DIR"), 0);
    assert_int_equal(folder_remove(folder), 0);
    assert_int_equal(workers[0].status, KILN_OK);
    assert_true(by_one > 0);
    assert_int_equal(by_eight, by_one);
}

/* ---------------------------------------------------------------- errors per thread */

enum { ERROR_ROUNDS = 200 };

typedef struct {
    kiln_ctx *ctx;
    kiln_buf *parent;
    size_t offset; /* this thread's bad offset: its own number in every message */
    int foreign;   /* rounds whose message was not this thread's */
} error_maker;

static void *fail_with_own_offset(void *arg)
{
    error_maker *job = arg;
    char mine[32];
    snprintf(mine, sizeof mine, "[%zu,", job->offset);
    for (int round = 0; round < ERROR_ROUNDS; round++) {
        kiln_buf *view = NULL;
        if (kiln_buf_view(job->parent, job->offset, 4, &view) != KILN_ERR_SIZE ||
            strstr(kiln_last_error(job->ctx), mine) == NULL)
            job->foreign++;
    }
    return NULL;
}

static void errors_of_threads_failing_at_once_on_one_context_stay_apart(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *parent = scratch_buffer(ctx, 64);
    error_maker jobs[WORKERS];
    pthread_t threads[WORKERS];
    for (size_t t = 0; t < WORKERS; t++) {
        jobs[t] = (error_maker){ctx, parent, 1000 + 111 * t, 0};
        assert_int_equal(pthread_create(&threads[t], NULL, fail_with_own_offset, &jobs[t]), 0);
    }
    for (size_t t = 0; t < WORKERS; t++)
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    for (size_t t = 0; t < WORKERS; t++)
        assert_int_equal(jobs[t].foreign, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(vadd_from_several_threads_on_one_context_is_correct),
        KILN_TEST(last_error_belongs_to_the_thread_that_failed),
        KILN_TEST(mixed_ops_from_eight_threads_on_one_context_are_correct),
        KILN_TEST(mixed_ops_from_eight_threads_on_their_own_contexts_are_correct),
        KILN_TEST(each_distinct_program_is_built_once_by_eight_threads_at_once),
        KILN_TEST(errors_of_threads_failing_at_once_on_one_context_stay_apart),
    };
    return RUN_KILN_TESTS(tests);
}
