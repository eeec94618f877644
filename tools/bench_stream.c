/*
 * kiln-bench's stream op (examples/stream.c as a bench row): y = sigmoid(x) over N floats
 * of kiln_host_alloc memory, a chunk at a time through three device buffers, each chunk's
 * kiln_buf_write_async, kiln_sigmoid and kiln_buf_read_async enqueued at once and one
 * kiln_finish at the end. The kiln line streams copies and sigmoids; its peer line the
 * copies alone, so kiln/peer is the copies' time over the whole stream's (1 when the
 * sigmoids hide entirely behind the copies).
 *
 * It runs on a context of its own on the bench's device: kiln-bench takes its main
 * context's queue for timing markers, after which kiln keeps that context's copies on
 * it (kiln_ctx_queue's rule), where a program of the user's would have them overlap.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

enum { STREAM_BUFFERS = 3, STREAM_CHUNK = 1 << 24 /* floats: 64 MiB */ };

/* The stream's context, made at its first case and kept to bench_stream_close, with the
 * current size's pinned x and y and chunk buffers, and whether the last run computed
 * (else it only copied). kiln-bench runs one case at a time. */
static struct {
    const char *device; /* the -d spec of the bench */
    kiln_ctx *ctx;
    float *x, *y;
    size_t n, chunk;
    kiln_buf *bufs[STREAM_BUFFERS];
    bool computed;
} stream_state;

void bench_stream_set(const char *device)
{
    stream_state.device = device;
}

/* The current size's memory, freed (the context stays). */
static void stream_free(void)
{
    for (int b = 0; b < STREAM_BUFFERS; ++b) {
        kiln_buf_destroy(stream_state.bufs[b]);
        stream_state.bufs[b] = NULL;
    }
    kiln_host_free(stream_state.ctx, stream_state.x);
    kiln_host_free(stream_state.ctx, stream_state.y);
    stream_state.x = stream_state.y = NULL;
    stream_state.n = 0;
}

void bench_stream_close(void)
{
    stream_free();
    kiln_ctx_destroy(stream_state.ctx);
    stream_state.ctx = NULL;
}

/* The stream's context on the bench's device: its spec opens the same one again. */
static bool stream_open(void)
{
    if (stream_state.ctx != NULL)
        return true;
    return bench_report(NULL, kiln_ctx_create(&stream_state.ctx, stream_state.device),
                        "kiln_ctx_create");
}

/* Pinned x and y of n floats and three buffers of a chunk (a third of n at most, so that
 * they take turns). */
static bool stream_alloc(size_t n)
{
    kiln_ctx *ctx = stream_state.ctx;
    size_t third = n / STREAM_BUFFERS, chunk = third < STREAM_CHUNK ? third : STREAM_CHUNK;
    if (chunk == 0) {
        fprintf(stderr, "kiln-bench: stream needs at least %d floats\n", STREAM_BUFFERS);
        return false;
    }
    stream_state.n = n, stream_state.chunk = chunk;
    bool ok = bench_report(ctx, kiln_host_alloc(ctx, n * sizeof(float), (void **)&stream_state.x),
                           "kiln_host_alloc") &&
              bench_report(ctx, kiln_host_alloc(ctx, n * sizeof(float), (void **)&stream_state.y),
                           "kiln_host_alloc");
    for (int b = 0; b < STREAM_BUFFERS && ok; ++b)
        ok = bench_report(ctx, kiln_buf_create(ctx, chunk * sizeof(float), &stream_state.bufs[b]),
                          "kiln_buf_create");
    if (!ok)
        stream_free();
    return ok;
}

/* The memory for the case's size, x holding its input, made outside the timing. */
static bool stream_prepare(bench_case *c)
{
    if (!stream_open())
        return false;
    if (stream_state.n != c->out_len) {
        stream_free();
        if (!stream_alloc(c->out_len))
            return false;
    }
    memcpy(stream_state.x, c->in[0], c->out_len * sizeof(float));
    return true;
}

/* Every chunk through one of the buffers in turn: its copies, and its sigmoid if asked. */
static bool stream_run(bool compute)
{
    kiln_ctx *ctx = stream_state.ctx;
    const size_t n = stream_state.n, chunk = stream_state.chunk;
    stream_state.computed = compute;
    for (size_t start = 0, i = 0; start < n; start += chunk, i++) {
        size_t count = n - start < chunk ? n - start : chunk, bytes = count * sizeof(float);
        kiln_buf *buf = stream_state.bufs[i % STREAM_BUFFERS];
        if (!bench_report(ctx, kiln_buf_write_async(buf, 0, stream_state.x + start, bytes),
                          "kiln_buf_write_async") ||
            (compute && !bench_report(ctx, kiln_sigmoid(ctx, buf, buf, count), "kiln_sigmoid")) ||
            !bench_report(ctx, kiln_buf_read_async(buf, 0, stream_state.y + start, bytes),
                          "kiln_buf_read_async"))
            return false;
    }
    return bench_report(ctx, kiln_finish(ctx), "kiln_finish");
}

static bool stream_both(bench_case *c)
{
    (void)c;
    return stream_run(true);
}

static bool stream_copies(bench_case *c)
{
    (void)c;
    return stream_run(false);
}

/* y is sigmoid(x) after a streamed run, x itself after copies alone. */
bool bench_verify_stream(const bench_case *c, char *why, size_t why_len)
{
    if (stream_state.computed) {
        bench_case view = *c;
        view.out = stream_state.y;
        return bench_verify_sigmoid(&view, why, why_len);
    }
    for (size_t i = 0; i < c->out_len; ++i)
        if (memcmp(&stream_state.y[i], &c->in[0][i], sizeof(float)) != 0) {
            snprintf(why, why_len, "element %zu is %g, not %g", i, stream_state.y[i],
                     c->in[0][i]);
            return false;
        }
    return true;
}

const bench_impl bench_stream_impls[] = {
    {"kiln stream", BENCH_ROLE_KILN, BENCH_WAITS, false, stream_prepare, stream_both},
    {"kiln its copies alone", BENCH_ROLE_TRANSFERS, BENCH_WAITS, true, stream_prepare,
     stream_copies},
    {NULL, BENCH_ROLE_CPU, BENCH_ON_HOST, false, NULL, NULL}};
