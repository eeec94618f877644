/* Copy queues: the _async copies that go straight to the driver (pinned memory, and
 * pageable copies too small to stage) run on two queues of their own, one per
 * direction, so that they overlap the kernels on the context's queue and each other.
 *
 * They stay ordered with everything as if they ran on the context's queue:
 * - a copy waits for a marker of the context's queue, so for all work enqueued there
 *   before it (kiln's and the caller's alike);
 * - kiln's next enqueue on the context's queue waits (a barrier) for every copy made
 *   since the last such fence (copies_fence), and so does work enqueued after it;
 * - a copy waits for the copies in flight on the other queue that use the same device
 *   allocation or overlapping host memory (on its own queue they are in order anyway).
 * Only work the caller enqueues on the context's queue itself would miss the fence, so
 * copies stay on the context's queue once kiln_ctx_queue has handed it out, on wrapped
 * contexts, and on host-unified devices, where one device does both and nothing
 * overlaps. */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

enum { IN_FLIGHT_MAX = 32 }; /* copies remembered per queue; more collapse into one */

/* A copy that may still run: its device allocation and host range, or, with root NULL,
 * everything (the copies it stands for, all earlier on its queue). */
struct in_flight {
    cl_event done;
    cl_mem root;
    uintptr_t host_start, host_end;
};

/* One direction: device -> host (reads) or host -> device (writes). */
struct copy_lane {
    cl_command_queue queue;
    cl_event unfenced; /* its last copy, until the context's queue is made to wait for it */
    struct in_flight copies[IN_FLIGHT_MAX];
    size_t count;
};

struct copy_queues {
    pthread_mutex_t lock; /* everything here; taken inside ctx->lock, never around it */
    bool wanted; /* the context's queue is kiln's alone and the device has its own memory */
    bool tried;  /* the lanes' queues were made, or could not be */
    struct copy_lane lanes[2]; /* indexed by write */
};

bool copies_create(kiln_ctx *ctx)
{
    struct copy_queues *q = calloc(1, sizeof(*q));
    if (q == NULL)
        return false;
    pthread_mutex_init(&q->lock, NULL);
    q->wanted = !ctx->host_unified;
    ctx->copy_queues = q;
    return true;
}

static void lane_forget(struct copy_lane *lane, size_t i)
{
    clReleaseEvent(lane->copies[i].done);
    lane->copies[i] = lane->copies[--lane->count];
}

/* Forgets the copies that have ended. */
static void lane_prune(struct copy_lane *lane)
{
    for (size_t i = lane->count; i-- > 0;) {
        cl_int status = CL_QUEUED;
        if (clGetEventInfo(lane->copies[i].done, CL_EVENT_COMMAND_EXECUTION_STATUS,
                           sizeof(status), &status, NULL) == CL_SUCCESS &&
            status <= CL_COMPLETE)
            lane_forget(lane, i);
    }
}

void copies_destroy(kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    for (int w = 0; w < 2; ++w) {
        struct copy_lane *lane = &q->lanes[w];
        if (lane->queue != NULL) {
            clFinish(lane->queue);
            clReleaseCommandQueue(lane->queue);
        }
        while (lane->count > 0)
            lane_forget(lane, 0);
        if (lane->unfenced != NULL)
            clReleaseEvent(lane->unfenced);
    }
    pthread_mutex_destroy(&q->lock);
    free(q);
}

/* Makes the lanes' queues at the first copy; false where they are not wanted or could
 * not be made (copies then stay on the context's queue). Lock held. */
static bool lanes_ready(kiln_ctx *ctx, struct copy_queues *q)
{
    if (q->tried || !q->wanted)
        return q->wanted;
    q->tried = true;
    cl_int err = CL_SUCCESS;
    for (int w = 0; w < 2 && err == CL_SUCCESS; ++w)
        q->lanes[w].queue =
            clCreateCommandQueue(ctx->context, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        for (int w = 0; w < 2; ++w)
            if (q->lanes[w].queue != NULL)
                clReleaseCommandQueue(q->lanes[w].queue);
        q->lanes[0].queue = q->lanes[1].queue = NULL;
        q->wanted = false;
    }
    return q->wanted;
}

/* Makes the context's queue wait for the copies since the last fence. Lock held. */
static cl_int fence_locked(const kiln_ctx *ctx, struct copy_queues *q)
{
    cl_event waits[2];
    cl_uint count = 0;
    for (int w = 0; w < 2; ++w)
        if (q->lanes[w].unfenced != NULL)
            waits[count++] = q->lanes[w].unfenced;
    if (count == 0)
        return CL_SUCCESS;
    cl_int err = clEnqueueBarrierWithWaitList(ctx->queue, count, waits, NULL);
    if (err != CL_SUCCESS)
        return err;
    for (int w = 0; w < 2; ++w)
        if (q->lanes[w].unfenced != NULL) {
            clReleaseEvent(q->lanes[w].unfenced);
            q->lanes[w].unfenced = NULL;
        }
    return CL_SUCCESS;
}

kiln_status copies_fence(const kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    cl_int err = fence_locked(ctx, q);
    pthread_mutex_unlock(&q->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, "clEnqueueBarrierWithWaitList", err);
}

void copies_share_queue(const kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    q->wanted = false;
    cl_int err = fence_locked(ctx, q);
    pthread_mutex_unlock(&q->lock);
    /* Without the barrier the caller's own work could pass the copies: wait for them. */
    if (err != CL_SUCCESS)
        copies_finish(ctx);
}

void copies_finish(const kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    for (int w = 0; w < 2; ++w)
        if (q->lanes[w].queue != NULL)
            clFinish(q->lanes[w].queue);
    pthread_mutex_unlock(&q->lock);
}

void copies_set_wanted(kiln_ctx *ctx, bool wanted)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    q->wanted = wanted;
    pthread_mutex_unlock(&q->lock);
}

static bool in_flight_conflicts(const struct in_flight *copy, cl_mem root, uintptr_t start,
                                uintptr_t end)
{
    return copy->root == NULL || copy->root == root ||
           (start < copy->host_end && copy->host_start < end);
}

/* Remembers a copy of the lane (retaining its event); a full lane collapses into one
 * entry for all, which the copy's event stands for as the lane runs in order. */
static void lane_remember(struct copy_lane *lane, const struct in_flight *copy)
{
    lane_prune(lane);
    if (lane->count == IN_FLIGHT_MAX) {
        while (lane->count > 0)
            lane_forget(lane, 0);
        lane->copies[lane->count++] = (struct in_flight){copy->done, NULL, 0, 0};
    } else {
        lane->copies[lane->count++] = *copy;
    }
    clRetainEvent(copy->done);
    if (lane->unfenced != NULL)
        clReleaseEvent(lane->unfenced);
    lane->unfenced = copy->done;
    clRetainEvent(copy->done);
}

/* The copy's wait list: a marker of the context's queue (waits[0]), then the copies of
 * the other lane it conflicts with. Returns how many; lock held. */
static cl_int copy_waits(kiln_ctx *ctx, struct copy_lane *other, const struct in_flight *copy,
                         cl_event waits[IN_FLIGHT_MAX + 1], cl_uint *count)
{
    cl_int err = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &waits[0]);
    if (err != CL_SUCCESS)
        return err;
    *count = 1;
    lane_prune(other);
    for (size_t i = 0; i < other->count; ++i)
        if (in_flight_conflicts(&other->copies[i], copy->root, copy->host_start,
                                copy->host_end))
            waits[(*count)++] = other->copies[i].done;
    /* The copy queue waits for the marker, which must reach the device. */
    err = clFlush(ctx->queue);
    if (err != CL_SUCCESS)
        clReleaseEvent(waits[0]);
    return err;
}

kiln_status copies_enqueue(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                           bool write, bool *used)
{
    kiln_ctx *ctx = buf->ctx;
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    *used = lanes_ready(ctx, q);
    if (!*used) {
        pthread_mutex_unlock(&q->lock);
        return KILN_OK;
    }
    struct copy_lane *lane = &q->lanes[write], *other = &q->lanes[!write];
    struct in_flight copy = {NULL, buf->root, (uintptr_t)host, (uintptr_t)host + bytes};
    cl_event waits[IN_FLIGHT_MAX + 1];
    cl_uint count = 0;
    const char *call = "clEnqueueMarkerWithWaitList";
    cl_int err = copy_waits(ctx, other, &copy, waits, &count);
    size_t at = buf->offset + offset;
    if (err == CL_SUCCESS) {
        call = write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer";
        err = write ? clEnqueueWriteBuffer(lane->queue, buf->mem, CL_FALSE, at, bytes, host,
                                           count, waits, &copy.done)
                    : clEnqueueReadBuffer(lane->queue, buf->mem, CL_FALSE, at, bytes, host,
                                          count, waits, &copy.done);
        clReleaseEvent(waits[0]);
    }
    if (err == CL_SUCCESS) {
        lane_remember(lane, &copy);
        clReleaseEvent(copy.done);
        call = "clFlush";
        err = clFlush(lane->queue);
    }
    pthread_mutex_unlock(&q->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, call, err);
}
