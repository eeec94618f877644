/*
 * kiln-bench's stream op (examples/stream.c as a bench row): y = sigmoid(x) over N floats
 * of kiln_host_alloc memory, a chunk at a time through three device buffers, each chunk's
 * kiln_buf_write_async, kiln_sigmoid and kiln_buf_read_async enqueued at once and one
 * kiln_finish at the end. The kiln line streams copies and sigmoids; its peer line the
 * copies alone, so kiln/peer is the copies' time over the whole stream's (1 when the
 * sigmoids hide entirely behind the copies).
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

enum { STREAM_BUFFERS = 3, STREAM_CHUNK = 1 << 24 /* floats: 64 MiB */ };

/* The current case's pinned x and y (with the context's life, as the copy op's), and
 * whether its last run computed (else it only copied). kiln-bench runs one case at a
 * time; the device buffers are c->dev_parts, which it destroys after the case. */
static struct {
    kiln_ctx *ctx;
    float *x, *y;
    size_t n;
    bool computed;
} stream_state;

static bool pinned_pair(bench_case *c)
{
    const size_t n = c->out_len;
    if (stream_state.ctx == c->ctx && stream_state.n == n)
        return true;
    if (stream_state.ctx == c->ctx) {
        kiln_host_free(c->ctx, stream_state.x);
        kiln_host_free(c->ctx, stream_state.y);
    }
    stream_state.ctx = NULL;
    if (!bench_report(c->ctx, kiln_host_alloc(c->ctx, n * sizeof(float), (void **)&stream_state.x),
                      "kiln_host_alloc") ||
        !bench_report(c->ctx, kiln_host_alloc(c->ctx, n * sizeof(float), (void **)&stream_state.y),
                      "kiln_host_alloc"))
        return false;
    stream_state.ctx = c->ctx, stream_state.n = n;
    return true;
}

/* Floats of a chunk: a third of the data at most, so that the three buffers take turns. */
static size_t stream_chunk(const bench_case *c)
{
    size_t third = c->out_len / STREAM_BUFFERS;
    return third < STREAM_CHUNK ? third : STREAM_CHUNK;
}

/* Pinned x (the case's input) and y, and three chunk buffers, made outside the timing.
 * The buffers are allocations of their own: kiln orders copies by the allocation they
 * touch, so views of one would take their turns one copy at a time. */
static bool stream_prepare(bench_case *c)
{
    const size_t bytes = stream_chunk(c) * sizeof(float);
    if (bytes == 0) {
        fprintf(stderr, "kiln-bench: stream needs at least %d floats\n", STREAM_BUFFERS);
        return false;
    }
    for (int b = 0; b < STREAM_BUFFERS; ++b)
        if (c->dev_parts[b] == NULL &&
            !bench_report(c->ctx, kiln_buf_create(c->ctx, bytes, &c->dev_parts[b]),
                          "kiln_buf_create"))
            return false;
    if (!pinned_pair(c))
        return false;
    memcpy(stream_state.x, c->in[0], c->out_len * sizeof(float));
    return true;
}

/* Every chunk through one of the buffers in turn: its copies, and its sigmoid if asked. */
static bool stream_run(bench_case *c, bool compute)
{
    stream_state.computed = compute;
    const size_t n = stream_state.n, chunk = stream_chunk(c);
    for (size_t start = 0, i = 0; start < n; start += chunk, i++) {
        size_t count = n - start < chunk ? n - start : chunk, bytes = count * sizeof(float);
        kiln_buf *buf = c->dev_parts[i % STREAM_BUFFERS];
        if (!bench_report(c->ctx, kiln_buf_write_async(buf, 0, stream_state.x + start, bytes),
                          "kiln_buf_write_async") ||
            (compute &&
             !bench_report(c->ctx, kiln_sigmoid(c->ctx, buf, buf, count), "kiln_sigmoid")) ||
            !bench_report(c->ctx, kiln_buf_read_async(buf, 0, stream_state.y + start, bytes),
                          "kiln_buf_read_async"))
            return false;
    }
    return bench_report(c->ctx, kiln_finish(c->ctx), "kiln_finish");
}

static bool stream_both(bench_case *c)
{
    return stream_run(c, true);
}

static bool stream_copies(bench_case *c)
{
    return stream_run(c, false);
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
