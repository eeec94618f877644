/* Threads: several threads enqueue on one context at once; errors stay per thread. */
#include "common.h"

#include <pthread.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(vadd_from_several_threads_on_one_context_is_correct),
        KILN_TEST(last_error_belongs_to_the_thread_that_failed),
    };
    return RUN_KILN_TESTS(tests);
}
