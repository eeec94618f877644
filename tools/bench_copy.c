/*
 * kiln-bench's copy op: N floats host -> device and device -> host, from and to memory of
 * kiln_host_alloc (pinned) and of malloc (pageable, staged through kiln's ring on GPUs).
 * The kiln line is host -> device from pinned memory; the others follow it as lines of
 * their own.
 */
#include "bench.h"

#include <stdio.h>
#include <string.h>

/* The pinned memory of the current case, and where the last run left its result: the
 * pinned memory, or NULL for the case's own output. kiln-bench runs one case at a time. */
static struct {
    kiln_ctx *ctx;
    void *pinned;
    size_t bytes;
    const void *result;
} copy_state;

static bool pinned_ready(bench_case *c)
{
    const size_t bytes = c->out_len * sizeof(float);
    if (copy_state.ctx == c->ctx && copy_state.bytes == bytes)
        return true;
    if (copy_state.ctx == c->ctx)
        kiln_host_free(c->ctx, copy_state.pinned);
    copy_state.ctx = NULL;
    if (!bench_report(c->ctx, kiln_host_alloc(c->ctx, bytes, &copy_state.pinned),
                      "kiln_host_alloc"))
        return false;
    copy_state.ctx = c->ctx;
    copy_state.bytes = bytes;
    return true;
}

/* The input in pinned memory, for host -> device. */
static bool pinned_input(bench_case *c)
{
    if (!pinned_ready(c))
        return false;
    memcpy(copy_state.pinned, c->in[0], copy_state.bytes);
    return true;
}

/* Pinned memory poisoned, for device -> host. */
static bool pinned_output(bench_case *c)
{
    if (!pinned_ready(c))
        return false;
    memset(copy_state.pinned, 0xff, copy_state.bytes);
    return true;
}

static bool h2d_pinned(bench_case *c)
{
    copy_state.result = NULL;
    return bench_report(c->ctx, kiln_buf_write(c->dev_out, 0, copy_state.pinned, copy_state.bytes),
                        "kiln_buf_write");
}

static bool h2d_pageable(bench_case *c)
{
    copy_state.result = NULL;
    return bench_report(c->ctx, kiln_buf_write(c->dev_out, 0, c->in[0], c->out_len * sizeof(float)),
                        "kiln_buf_write");
}

static bool d2h_pinned(bench_case *c)
{
    copy_state.result = copy_state.pinned;
    return bench_report(c->ctx, kiln_buf_read(c->dev_in[0], 0, copy_state.pinned, copy_state.bytes),
                        "kiln_buf_read");
}

static bool d2h_pageable(bench_case *c)
{
    copy_state.result = NULL;
    return bench_report(c->ctx, kiln_buf_read(c->dev_in[0], 0, c->out, c->out_len * sizeof(float)),
                        "kiln_buf_read");
}

bool bench_verify_copy(const bench_case *c, char *why, size_t why_len)
{
    const float *got = copy_state.result != NULL ? copy_state.result : c->out;
    for (size_t i = 0; i < c->out_len; ++i)
        if (memcmp(&got[i], &c->in[0][i], sizeof(float)) != 0) {
            snprintf(why, why_len, "element %zu is %g, not %g", i, got[i], c->in[0][i]);
            return false;
        }
    return true;
}

#define COPY(name, role, where, prepare, run) {name, role, where, role != BENCH_ROLE_KILN, prepare, run}
const bench_impl bench_copy_impls[] = {
    COPY("kiln h2d pinned", BENCH_ROLE_KILN, BENCH_ON_QUEUE, pinned_input, h2d_pinned),
    COPY("kiln h2d pageable", BENCH_ROLE_TRANSFERS, BENCH_ON_QUEUE, NULL, h2d_pageable),
    COPY("kiln d2h pinned", BENCH_ROLE_TRANSFERS, BENCH_WAITS, pinned_output, d2h_pinned),
    COPY("kiln d2h pageable", BENCH_ROLE_TRANSFERS, BENCH_WAITS, NULL, d2h_pageable),
    {NULL, BENCH_ROLE_CPU, BENCH_ON_HOST, false, NULL, NULL}};
