/* Copy queues: the _async copies that go straight to the driver (pinned memory, and
 * pageable copies too small to stage) run on two queues of their own, one per
 * direction, so that they overlap each other and the kernels on the context's queue.
 *
 * They stay ordered with kiln's work as if they ran on the context's queue, by the
 * device allocations (a buffer's root) and host memory that commands use:
 * - a copy waits for the work on the context's queue that uses its allocation (kiln
 *   keeps each such command's event, see copies_track) and for the copies on the other
 *   copy queue that use its allocation or overlapping host memory (on its own queue it
 *   is in order anyway);
 * - kiln's work on the context's queue waits (a barrier, see copies_fence) for the
 *   copies that use its allocations; copies through the context's queue (blocking ones,
 *   staged ones) and kiln_finish wait for all of them.
 * Work the caller enqueues on the context's queue is not known to kiln, so copies stay
 * on that queue once kiln_ctx_queue has handed it out, on wrapped contexts, and on
 * host-unified devices, where one device does both and nothing would overlap. */
#include "internal.h"

#include <stdint.h>
#include <stdlib.h>

enum { USES_MAX = 32 }; /* commands remembered per queue; more collapse into one */

/* A command that may still run and what it uses: a device allocation and, for copies,
 * host memory; root NULL stands for everything (earlier commands of its queue). */
struct use {
    cl_event done;
    cl_mem root;
    uintptr_t host_start, host_end;
    bool fenced; /* a copy the context's queue already waits for */
};

/* The commands of one in-order queue that may still run, oldest first. */
struct uses {
    struct use list[USES_MAX];
    size_t count;
};

struct copy_queues {
    pthread_mutex_t lock; /* everything here */
    bool wanted; /* the context's queue is kiln's alone and the device has its own memory */
    bool tried;  /* the lanes' queues were made, or could not be */
    cl_command_queue lanes[2]; /* device -> host, host -> device: indexed by write */
    struct uses copies[2];     /* each lane's copies */
    struct uses work;          /* kiln's work on the context's queue, while lanes run */
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

/* ---------------------------------------------------------------- lists of uses */

static void uses_forget(struct uses *uses, size_t i)
{
    clReleaseEvent(uses->list[i].done);
    for (; i + 1 < uses->count; ++i)
        uses->list[i] = uses->list[i + 1];
    uses->count--;
}

static void uses_clear(struct uses *uses)
{
    while (uses->count > 0)
        uses_forget(uses, uses->count - 1);
}

/* Forgets the commands that have ended. */
static void uses_prune(struct uses *uses)
{
    for (size_t i = uses->count; i-- > 0;) {
        cl_int status = CL_QUEUED;
        if (clGetEventInfo(uses->list[i].done, CL_EVENT_COMMAND_EXECUTION_STATUS,
                           sizeof(status), &status, NULL) == CL_SUCCESS &&
            status <= CL_COMPLETE)
            uses_forget(uses, i);
    }
}

/* Remembers a command (retaining its event). A full list becomes one entry for
 * everything, whose event `latest` (retained here) ends after every command of the list. */
static void uses_add(struct uses *uses, const struct use *use, cl_event latest)
{
    uses_prune(uses);
    if (uses->count == USES_MAX) {
        uses_clear(uses);
        clRetainEvent(latest);
        uses->list[uses->count++] = (struct use){latest, NULL, 0, 0, false};
    }
    if (uses->count < USES_MAX) {
        clRetainEvent(use->done);
        uses->list[uses->count++] = *use;
    }
}

static bool uses_conflict(const struct use *a, const struct use *b)
{
    return a->root == NULL || b->root == NULL || a->root == b->root ||
           (a->host_start < b->host_end && b->host_start < a->host_end);
}

/* Appends to waits the events of the commands that conflict with use (the unfenced ones
 * only, marking them fenced, when fence). */
static void uses_waits(struct uses *uses, const struct use *use, bool fence, cl_event *waits,
                       cl_uint *count)
{
    for (size_t i = 0; i < uses->count; ++i) {
        struct use *u = &uses->list[i];
        if (uses_conflict(u, use) && !(fence && u->fenced)) {
            waits[(*count)++] = u->done;
            u->fenced = u->fenced || fence;
        }
    }
}

/* ---------------------------------------------------------------- the lanes */

void copies_destroy(kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    for (int w = 0; w < 2; ++w) {
        if (q->lanes[w] != NULL) {
            clFinish(q->lanes[w]);
            clReleaseCommandQueue(q->lanes[w]);
        }
        uses_clear(&q->copies[w]);
    }
    uses_clear(&q->work);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static bool lanes_active(const struct copy_queues *q)
{
    return q->wanted && q->lanes[0] != NULL;
}

/* From now on kiln follows its work on the context's queue: a marker stands for the
 * work before, which it did not. Lock held. */
static cl_int work_follow(const kiln_ctx *ctx, struct copy_queues *q)
{
    struct use earlier = {NULL, NULL, 0, 0, false};
    cl_int err = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &earlier.done);
    if (err == CL_SUCCESS) {
        uses_add(&q->work, &earlier, earlier.done);
        clReleaseEvent(earlier.done);
    }
    return err;
}

/* Makes the lanes' queues at the first copy; false where they are not wanted or could
 * not be made (copies then stay on the context's queue). Lock held. */
static bool lanes_ready(const kiln_ctx *ctx, struct copy_queues *q)
{
    if (q->tried || !q->wanted)
        return lanes_active(q);
    q->tried = true;
    cl_int err = CL_SUCCESS;
    for (int w = 0; w < 2 && err == CL_SUCCESS; ++w)
        q->lanes[w] =
            clCreateCommandQueue(ctx->context, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err == CL_SUCCESS && work_follow(ctx, q) == CL_SUCCESS)
        return true;
    for (int w = 0; w < 2; ++w)
        if (q->lanes[w] != NULL)
            clReleaseCommandQueue(q->lanes[w]);
    q->lanes[0] = q->lanes[1] = NULL;
    return false;
}

/* A use of allocation i of roots (roots NULL or count 0: of everything). */
static struct use use_of(const cl_mem *roots, size_t count, size_t i)
{
    return (struct use){NULL, roots != NULL && count > 0 ? roots[i] : NULL, 0, 0, false};
}

/* Makes the context's queue wait for the unfenced copies that conflict with a use of
 * the roots. Lock held. */
static cl_int fence_locked(const kiln_ctx *ctx, struct copy_queues *q, const cl_mem *roots,
                           size_t count)
{
    cl_event waits[2 * USES_MAX];
    cl_uint waiting = 0;
    for (size_t i = 0; i < (count > 0 ? count : 1); ++i) {
        struct use use = use_of(roots, count, i);
        for (int w = 0; w < 2; ++w)
            uses_waits(&q->copies[w], &use, true, waits, &waiting);
    }
    return waiting == 0 ? CL_SUCCESS
                        : clEnqueueBarrierWithWaitList(ctx->queue, waiting, waits, NULL);
}

kiln_status copies_fence(const kiln_ctx *ctx, const cl_mem *roots, size_t count, bool *track)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    *track = lanes_active(q);
    cl_int err = *track ? fence_locked(ctx, q, roots, count) : CL_SUCCESS;
    pthread_mutex_unlock(&q->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, "clEnqueueBarrierWithWaitList", err);
}


/* Remembers a use of each allocation in roots by done (NULL: by a marker). Lock held. */
static cl_int work_add(const kiln_ctx *ctx, struct copy_queues *q, const cl_mem *roots,
                       size_t count, cl_event done)
{
    uses_prune(&q->work);
    size_t entries = count > 0 ? count : 1;
    /* A marker ends after every command enqueued before it, by any thread: it stands for
     * a command without an event, and for the whole list once that is full. */
    cl_event marker = NULL;
    cl_int err = CL_SUCCESS;
    if (done == NULL || q->work.count + entries > USES_MAX)
        err = clEnqueueMarkerWithWaitList(ctx->queue, 0, NULL, &marker);
    for (size_t i = 0; err == CL_SUCCESS && i < entries; ++i) {
        struct use use = use_of(roots, count, i);
        use.done = done != NULL ? done : marker;
        uses_add(&q->work, &use, marker);
    }
    if (marker != NULL)
        clReleaseEvent(marker);
    return err;
}

kiln_status copies_track(const kiln_ctx *ctx, const cl_mem *roots, size_t count, cl_event done)
{
    if (done == NULL)
        return KILN_OK;
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    cl_int err = work_add(ctx, q, roots, count, done);
    pthread_mutex_unlock(&q->lock);
    clReleaseEvent(done);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, "clEnqueueMarkerWithWaitList", err);
}

kiln_status copies_track_all(const kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    cl_int err = work_add(ctx, q, NULL, 0, NULL);
    pthread_mutex_unlock(&q->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, "clEnqueueMarkerWithWaitList", err);
}

kiln_status copies_fence_all(const kiln_ctx *ctx)
{
    bool track = false;
    return copies_fence(ctx, NULL, 0, &track);
}

void copies_finish(const kiln_ctx *ctx)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    for (int w = 0; w < 2; ++w)
        if (q->lanes[w] != NULL)
            clFinish(q->lanes[w]);
    pthread_mutex_unlock(&q->lock);
}

void copies_set_wanted(const kiln_ctx *ctx, bool wanted)
{
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    /* Work kiln no longer follows must not pass the copies: without the barrier, wait. */
    bool fenced = fence_locked(ctx, q, NULL, 0) == CL_SUCCESS;
    bool resumed = wanted && !q->wanted && q->lanes[0] != NULL;
    q->wanted = wanted;
    if (resumed && work_follow(ctx, q) != CL_SUCCESS)
        q->wanted = false;
    pthread_mutex_unlock(&q->lock);
    if (!fenced)
        copies_finish(ctx);
}

void copies_share_queue(const kiln_ctx *ctx)
{
    copies_set_wanted(ctx, false);
}

/* ---------------------------------------------------------------- a copy */

/* The copy's wait list: kiln's work that uses its allocation and the conflicting copies
 * of the other lane. Lock held. */
static cl_int copy_waits(const kiln_ctx *ctx, struct copy_queues *q, bool write,
                         const struct use *copy, cl_event waits[2 * USES_MAX],
                         cl_uint *count)
{
    uses_prune(&q->work);
    uses_prune(&q->copies[!write]);
    uses_waits(&q->work, copy, false, waits, count);
    uses_waits(&q->copies[!write], copy, false, waits, count);
    /* The lane waits for commands of the context's queue, which must reach the device. */
    return *count > 0 ? clFlush(ctx->queue) : CL_SUCCESS;
}

kiln_status copies_enqueue(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                           bool write, bool *used)
{
    const kiln_ctx *ctx = buf->ctx;
    struct copy_queues *q = ctx->copy_queues;
    pthread_mutex_lock(&q->lock);
    *used = lanes_ready(ctx, q);
    struct use copy = {NULL, buf->root, (uintptr_t)host, (uintptr_t)host + bytes, false};
    cl_event waits[2 * USES_MAX];
    cl_uint count = 0;
    const char *call = "clFlush";
    cl_int err = *used ? copy_waits(ctx, q, write, &copy, waits, &count) : CL_SUCCESS;
    cl_command_queue lane = q->lanes[write];
    size_t at = buf->offset + offset;
    if (*used && err == CL_SUCCESS) {
        call = write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer";
        err = write ? clEnqueueWriteBuffer(lane, buf->mem, CL_FALSE, at, bytes, host, count,
                                           count > 0 ? waits : NULL, &copy.done)
                    : clEnqueueReadBuffer(lane, buf->mem, CL_FALSE, at, bytes, host, count,
                                          count > 0 ? waits : NULL, &copy.done);
    }
    if (*used && err == CL_SUCCESS) {
        uses_add(&q->copies[write], &copy, copy.done);
        clReleaseEvent(copy.done);
        call = "clFlush";
        err = clFlush(lane);
    }
    pthread_mutex_unlock(&q->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, call, err);
}
