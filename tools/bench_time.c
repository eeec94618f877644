/* kiln-bench's clocks: wall time on CLOCK_MONOTONIC, and profiling markers around a
 * run of launches on kiln's own queue (its launches have no events of their own). */
#include "bench.h"

#include <stdio.h>
#include <time.h>

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

bool bench_report(const kiln_ctx *ctx, kiln_status status, const char *what)
{
    if (status == KILN_OK)
        return true;
    fprintf(stderr, "kiln-bench: %s: %s: %s\n", what, kiln_status_str(status),
            kiln_last_error(ctx));
    return false;
}

static bool enqueue_marker(cl_command_queue queue, cl_event *event)
{
    cl_int err = clEnqueueMarkerWithWaitList(queue, 0, NULL, event);
    if (err != CL_SUCCESS)
        fprintf(stderr, "kiln-bench: clEnqueueMarkerWithWaitList failed (%d)\n", (int)err);
    return err == CL_SUCCESS;
}

/* Seconds from the end of `before` to the start of `after`; < 0 when the driver keeps
 * no profiling times for markers. */
static double marker_span(cl_event before, cl_event after)
{
    cl_ulong end = 0, start = 0;
    if (clGetEventProfilingInfo(before, CL_PROFILING_COMMAND_END, sizeof(end), &end,
                                NULL) != CL_SUCCESS ||
        clGetEventProfilingInfo(after, CL_PROFILING_COMMAND_START, sizeof(start), &start,
                                NULL) != CL_SUCCESS ||
        start < end)
        return -1.0;
    return (double)(start - end) * 1e-9;
}

bool bench_time_queue(kiln_ctx *ctx, bench_call call, void *arg, int repeats,
                      bench_timing *t)
{
    cl_command_queue queue = kiln_ctx_queue(ctx);
    cl_event before = NULL, after = NULL;
    bool ok = enqueue_marker(queue, &before) && bench_report(ctx, kiln_finish(ctx), "kiln_finish");
    double start = bench_now(), enqueued = start;
    for (int i = 0; ok && i < repeats; ++i)
        ok = call(arg);
    enqueued = bench_now();
    ok = ok && enqueue_marker(queue, &after);
    ok = bench_report(ctx, kiln_finish(ctx), "kiln_finish") && ok;
    double end = bench_now();
    if (ok) {
        t->repeats = repeats;
        t->seconds = (end - start) / repeats;
        t->enqueue_seconds = (enqueued - start) / repeats;
        double span = marker_span(before, after);
        t->kernel_seconds = span < 0 ? -1.0 : span / repeats;
    }
    if (before)
        clReleaseEvent(before);
    if (after)
        clReleaseEvent(after);
    return ok;
}

bool bench_time_waiting(bench_call call, void *arg, int repeats, bench_timing *t)
{
    double start = bench_now();
    for (int i = 0; i < repeats; ++i)
        if (!call(arg))
            return false;
    t->repeats = repeats;
    t->seconds = (bench_now() - start) / repeats;
    t->kernel_seconds = -1.0;
    t->enqueue_seconds = -1.0;
    return true;
}
