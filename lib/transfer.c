/* Host <-> device transfers: pinned host memory (kiln_host_alloc), copies from and to it
 * at the bus's speed, and a ring of pinned chunks that pageable memory is staged
 * through by a worker thread, so that copies of ordinary memory are fast too and can
 * be asynchronous. The worker splits each chunk's memcpy between host threads
 * (host_copy.c) while the device copies the chunk before it. */
#include "internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    RING_SLOTS = 4,
    SLOT_BYTES = 8 << 20,
    /* Below this the driver's own copy of pageable memory is as quick as the ring's
     * round trips. */
    STAGE_MIN_BYTES = 2 << 20,
};

/* A staged copy's chunks by its size, each at most a slot: copies of a few slots go in
 * smaller chunks so that the memcpy of one still overlaps the device's copy of another. */
static const struct {
    size_t from_bytes, chunk_bytes;
} chunk_table[] = {
    {32 << 20, 8 << 20},
    {8 << 20, 2 << 20},
    {0, 1 << 20},
};

/* Memory of kiln_host_alloc or a slot of the ring: a CL_MEM_ALLOC_HOST_PTR buffer kept
 * mapped, or, where the device refused one, ordinary host memory (mem NULL). */
struct pinned {
    cl_mem mem;
    char *host;
    size_t bytes;
    struct pinned *next;
};

/* One staged copy. Its chunk commands are all enqueued at the call, so they keep their
 * place on the queue; each waits for a gate (a user event) that the worker opens once
 * the chunk's slot is ready: filled from the caller's memory (write), or free (read). */
struct job {
    bool write;
    char *host; /* the caller's memory */
    size_t bytes, chunk_bytes, chunks, first_slot;
    size_t enqueued; /* chunks on the queue: all of them unless an enqueue failed */
    cl_event *gates, *copies; /* one per chunk */
    struct job *next;
};

struct transfers {
    pthread_mutex_t lock; /* everything but slot_busy, which only the worker uses */
    pthread_cond_t wake;  /* a job came, or the worker must stop */
    pthread_cond_t idle;  /* a job finished */
    struct pinned *blocks; /* kiln_host_alloc's */
    struct pinned ring[RING_SLOTS];
    cl_event slot_busy[RING_SLOTS]; /* the last command on each slot, until waited for */
    size_t next_slot;
    /* slot_bytes fixed once the ring is tried; copy_queues unused (copy_queue.c keeps
     * that switch) */
    struct transfer_knobs knobs;
    bool ring_tried, ring_ready, stopping;
    pthread_t worker;
    struct host_copiers *copiers; /* the worker's; NULL: it copies alone */
    struct job *head, *tail;
    unsigned long long submitted, finished; /* jobs, in FIFO order */
    cl_int deferred; /* the first failure of a job, until someone reports it */
    const char *deferred_call;
};

/* ---------------------------------------------------------------- pinned memory */

/* A mapped CL_MEM_ALLOC_HOST_PTR buffer. The blocking map waits for the queue. */
static kiln_status pinned_make(kiln_ctx *ctx, size_t bytes, struct pinned *block)
{
    if (ctx->transfers->knobs.refuse_pinned)
        return fail(ctx, KILN_ERR_NOMEM, "pinned memory refused (the tests' switch)");
    if (bytes > ctx->max_alloc_bytes)
        return fail(ctx, KILN_ERR_SIZE, "%zu pinned bytes is above the device's largest "
                    "allocation", bytes);
    cl_int err;
    cl_mem mem = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | CL_MEM_ALLOC_HOST_PTR, bytes,
                                NULL, &err);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clCreateBuffer", err);
    void *host = clEnqueueMapBuffer(ctx->queue, mem, CL_TRUE, CL_MAP_READ | CL_MAP_WRITE, 0,
                                    bytes, 0, NULL, NULL, &err);
    if (err != CL_SUCCESS) {
        clReleaseMemObject(mem);
        return fail_cl(ctx, "clEnqueueMapBuffer", err);
    }
    *block = (struct pinned){mem, host, bytes, NULL};
    return KILN_OK;
}

/* Unmaps and frees; the caller has waited for every copy that used the block. */
static void pinned_release(kiln_ctx *ctx, struct pinned *block)
{
    if (block->mem == NULL) {
        free(block->host);
        return;
    }
    cl_event unmapped;
    if (clEnqueueUnmapMemObject(ctx->queue, block->mem, block->host, 0, NULL, &unmapped) ==
        CL_SUCCESS) {
        clWaitForEvents(1, &unmapped);
        clReleaseEvent(unmapped);
    }
    clReleaseMemObject(block->mem);
}

/* The pinned block holding [p, p + bytes), under lock; NULL for other memory. */
static const struct pinned *pinned_holding(const struct transfers *t, const void *p,
                                           size_t bytes)
{
    uintptr_t start = (uintptr_t)p;
    for (const struct pinned *b = t->blocks; b != NULL; b = b->next) {
        uintptr_t base = (uintptr_t)b->host;
        if (b->mem != NULL && start >= base && start - base <= b->bytes &&
            bytes <= b->bytes - (start - base))
            return b;
    }
    return NULL;
}

KILN_API kiln_status kiln_host_alloc(kiln_ctx *ctx, size_t bytes, void **ptr)
{
    CHECK(check_ctx(ctx));
    if (ptr == NULL)
        return fail(ctx, KILN_ERR_ARG, "ptr is NULL");
    if (bytes == 0)
        return fail(ctx, KILN_ERR_ARG, "bytes is 0: host memory holds at least one byte");
    struct pinned *block = malloc(sizeof(*block));
    if (block == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for pinned memory");
    /* Memory the device cannot pin still works, as pageable memory. */
    if (pinned_make(ctx, bytes, block) != KILN_OK)
        *block = (struct pinned){NULL, malloc(bytes), bytes, NULL};
    if (block->host == NULL) {
        free(block);
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory: %zu bytes", bytes);
    }
    struct transfers *t = ctx->transfers;
    pthread_mutex_lock(&t->lock);
    block->next = t->blocks;
    t->blocks = block;
    pthread_mutex_unlock(&t->lock);
    *ptr = block->host;
    return KILN_OK;
}

/* ---------------------------------------------------------------- the worker */

/* Keeps the first failure of a job for the next kiln_finish or blocking copy. */
static void note(struct transfers *t, cl_int err, const char *call)
{
    if (err == CL_SUCCESS)
        return;
    pthread_mutex_lock(&t->lock);
    if (t->deferred == CL_SUCCESS) {
        t->deferred = err;
        t->deferred_call = call;
    }
    pthread_mutex_unlock(&t->lock);
}

static size_t job_slot(const struct job *job, size_t chunk)
{
    return (job->first_slot + chunk) % RING_SLOTS;
}

static size_t chunk_length(const struct job *job, size_t chunk)
{
    return chunk + 1 < job->chunks ? job->chunk_bytes : job->bytes - chunk * job->chunk_bytes;
}

/* Waits until the last command on the slot has ended. */
static void slot_wait(struct transfers *t, size_t slot)
{
    if (t->slot_busy[slot] == NULL)
        return;
    note(t, clWaitForEvents(1, &t->slot_busy[slot]), "a staged copy");
    clReleaseEvent(t->slot_busy[slot]);
    t->slot_busy[slot] = NULL;
}

/* Lets the chunk's command run; its slot is busy until it ends. */
static void gate_open(struct transfers *t, const struct job *job, size_t chunk)
{
    note(t, clSetUserEventStatus(job->gates[chunk], CL_COMPLETE), "clSetUserEventStatus");
    clRetainEvent(job->copies[chunk]);
    t->slot_busy[job_slot(job, chunk)] = job->copies[chunk];
}

/* Host memcpy of chunk i + 1 runs while chunk i travels. */
static void job_run_write(struct transfers *t, const struct job *job)
{
    for (size_t i = 0; i < job->enqueued; ++i) {
        size_t slot = job_slot(job, i);
        slot_wait(t, slot);
        host_copiers_copy(t->copiers, t->ring[slot].host, job->host + i * job->chunk_bytes,
                          chunk_length(job, i));
        gate_open(t, job, i);
    }
}

/* The first RING_SLOTS chunks travel at once; each slot emptied lets the next one in. */
static void job_run_read(struct transfers *t, const struct job *job)
{
    for (size_t i = 0; i < job->enqueued && i < RING_SLOTS; ++i) {
        slot_wait(t, job_slot(job, i));
        gate_open(t, job, i);
    }
    for (size_t i = 0; i < job->enqueued; ++i) {
        size_t slot = job_slot(job, i);
        slot_wait(t, slot);
        host_copiers_copy(t->copiers, job->host + i * job->chunk_bytes, t->ring[slot].host,
                          chunk_length(job, i));
        if (i + RING_SLOTS < job->enqueued)
            gate_open(t, job, i + RING_SLOTS);
    }
}

static void job_free(struct job *job)
{
    for (size_t i = 0; i < job->enqueued; ++i) {
        clReleaseEvent(job->gates[i]);
        clReleaseEvent(job->copies[i]);
    }
    free(job->gates);
    free(job->copies);
    free(job);
}

static void *worker_main(void *arg)
{
    struct transfers *t = arg;
    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (t->head == NULL && !t->stopping)
            pthread_cond_wait(&t->wake, &t->lock);
        struct job *job = t->head;
        if (job == NULL)
            break;
        pthread_mutex_unlock(&t->lock);
        if (job->write)
            job_run_write(t, job);
        else
            job_run_read(t, job);
        pthread_mutex_lock(&t->lock);
        t->head = job->next;
        if (t->head == NULL)
            t->tail = NULL;
        job_free(job);
        t->finished++;
        pthread_cond_broadcast(&t->idle);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

/* Waits until the job of this ticket (and so every earlier one) has finished. */
static void jobs_wait(struct transfers *t, unsigned long long ticket)
{
    pthread_mutex_lock(&t->lock);
    while (t->finished < ticket)
        pthread_cond_wait(&t->idle, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

/* jobs_wait, then reports (and forgets) a failure a job met. */
static kiln_status jobs_wait_report(kiln_ctx *ctx, unsigned long long ticket)
{
    struct transfers *t = ctx->transfers;
    jobs_wait(t, ticket);
    pthread_mutex_lock(&t->lock);
    cl_int err = t->deferred;
    const char *call = t->deferred_call;
    t->deferred = CL_SUCCESS;
    pthread_mutex_unlock(&t->lock);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, call, err);
}

static unsigned long long jobs_submitted(struct transfers *t)
{
    pthread_mutex_lock(&t->lock);
    unsigned long long submitted = t->submitted;
    pthread_mutex_unlock(&t->lock);
    return submitted;
}

/* ---------------------------------------------------------------- the ring */

static void ring_release(kiln_ctx *ctx)
{
    for (size_t s = 0; s < RING_SLOTS; ++s)
        if (ctx->transfers->ring[s].host != NULL)
            pinned_release(ctx, &ctx->transfers->ring[s]);
}

/* The ring, its worker and the worker's copy threads, made at the first staged copy;
 * false where pinned memory or the worker could not be had, and copies then go
 * directly. */
static bool ring_ready(kiln_ctx *ctx)
{
    struct transfers *t = ctx->transfers;
    pthread_mutex_lock(&t->lock);
    bool first = !t->ring_tried, ready = t->ring_ready;
    t->ring_tried = true;
    struct transfer_knobs knobs = t->knobs;
    pthread_mutex_unlock(&t->lock);
    if (!first)
        return ready;
    /* Another thread meanwhile copies directly. */
    ready = true;
    for (size_t s = 0; s < RING_SLOTS && ready; ++s)
        ready = pinned_make(ctx, knobs.slot_bytes, &t->ring[s]) == KILN_OK;
    t->copiers = ready ? host_copiers_create(knobs.copy_threads) : NULL;
    ready = ready && pthread_create(&t->worker, NULL, worker_main, t) == 0;
    if (!ready) {
        host_copiers_destroy(t->copiers);
        t->copiers = NULL;
        ring_release(ctx);
    }
    pthread_mutex_lock(&t->lock);
    t->ring_ready = ready;
    pthread_mutex_unlock(&t->lock);
    return ready;
}

/* Enqueues the job's chunks, each behind its gate, under the lock; on a failure the
 * job keeps the chunks enqueued before it (the worker must still open their gates). */
static cl_int job_enqueue(const kiln_buf *buf, size_t offset, struct job *job,
                          const char **call)
{
    struct transfers *t = buf->ctx->transfers;
    cl_int err = CL_SUCCESS;
    for (; job->enqueued < job->chunks; ++job->enqueued) {
        size_t i = job->enqueued, at = buf->offset + offset + i * job->chunk_bytes;
        size_t length = chunk_length(job, i);
        *call = "clCreateUserEvent";
        job->gates[i] = clCreateUserEvent(buf->ctx->context, &err);
        if (err != CL_SUCCESS)
            break;
        void *slot = t->ring[job_slot(job, i)].host;
        *call = job->write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer";
        err = job->write ? clEnqueueWriteBuffer(buf->ctx->queue, buf->mem, CL_FALSE, at, length,
                                                slot, 1, &job->gates[i], &job->copies[i])
                         : clEnqueueReadBuffer(buf->ctx->queue, buf->mem, CL_FALSE, at, length,
                                               slot, 1, &job->gates[i], &job->copies[i]);
        if (err != CL_SUCCESS) {
            clSetUserEventStatus(job->gates[i], CL_COMPLETE);
            clReleaseEvent(job->gates[i]);
            break;
        }
    }
    return err;
}

/* The chunk_table's chunk for a copy of `bytes`, within a slot. */
static size_t chunk_for(const struct transfers *t, size_t bytes)
{
    size_t row = 0;
    while (bytes < chunk_table[row].from_bytes)
        ++row;
    size_t chunk = chunk_table[row].chunk_bytes;
    return chunk < t->knobs.slot_bytes ? chunk : t->knobs.slot_bytes;
}

static kiln_status job_new(kiln_ctx *ctx, bool write, char *host, size_t bytes,
                           struct job **out)
{
    struct job *job = calloc(1, sizeof(*job));
    size_t chunk_bytes = chunk_for(ctx->transfers, bytes); /* slots are fixed by now */
    size_t chunks = (bytes + chunk_bytes - 1) / chunk_bytes;
    if (job != NULL) {
        *job = (struct job){write, host, bytes, chunk_bytes, chunks, 0, 0,
                            malloc(chunks * sizeof(cl_event)), malloc(chunks * sizeof(cl_event)),
                            NULL};
    }
    if (job == NULL || job->gates == NULL || job->copies == NULL) {
        if (job != NULL) {
            free(job->gates);
            free(job->copies);
        }
        free(job);
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for a staged copy");
    }
    *out = job;
    return KILN_OK;
}

/* Stages a copy of pageable memory through the ring; with wait, returns once it ended. */
static kiln_status copy_staged(const kiln_buf *buf, size_t offset, char *host, size_t bytes,
                               bool write, bool wait)
{
    struct transfers *t = buf->ctx->transfers;
    struct job *job = NULL;
    CHECK(job_new(buf->ctx, write, host, bytes, &job));
    const char *call = NULL;
    pthread_mutex_lock(&t->lock);
    job->first_slot = t->next_slot;
    cl_int err = job_enqueue(buf, offset, job, &call);
    t->next_slot = (t->next_slot + job->enqueued) % RING_SLOTS;
    unsigned long long ticket = t->submitted;
    bool queued = job->enqueued > 0; /* the worker owns it then */
    if (queued) {
        *(t->tail != NULL ? &t->tail->next : &t->head) = job;
        t->tail = job;
        ticket = ++t->submitted;
        pthread_cond_signal(&t->wake);
    }
    pthread_mutex_unlock(&t->lock);
    if (!queued)
        job_free(job);
    clFlush(buf->ctx->queue);
    if (err != CL_SUCCESS) {
        jobs_wait(t, ticket); /* the chunks that were enqueued still use host */
        return fail_cl(buf->ctx, call, err);
    }
    return wait ? jobs_wait_report(buf->ctx, ticket) : KILN_OK;
}

/* ---------------------------------------------------------------- copies */

static kiln_status copy_direct(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                               bool write, bool wait)
{
    cl_bool blocking = wait ? CL_TRUE : CL_FALSE;
    size_t at = buf->offset + offset;
    cl_int err = write ? clEnqueueWriteBuffer(buf->ctx->queue, buf->mem, blocking, at, bytes,
                                              host, 0, NULL, NULL)
                       : clEnqueueReadBuffer(buf->ctx->queue, buf->mem, blocking, at, bytes,
                                             host, 0, NULL, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(buf->ctx, write ? "clEnqueueWriteBuffer" : "clEnqueueReadBuffer", err);
    return KILN_OK;
}

/* A copy through the context's queue: staged, or directly where it is not. */
static kiln_status copy_on_queue(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                                 bool write, bool wait, bool staged)
{
    unsigned long long earlier = jobs_submitted(buf->ctx->transfers);
    if (staged && ring_ready(buf->ctx))
        return copy_staged(buf, offset, host, bytes, write, wait);
    CHECK(copy_direct(buf, offset, host, bytes, write, wait));
    /* A blocking read also waits for earlier staged reads to reach their memory. */
    return wait && !write ? jobs_wait_report(buf->ctx, earlier) : KILN_OK;
}

/* The ticket of the last unfinished staged read into host memory that overlaps
 * [host, host + bytes), else 0. Lock held. */
static unsigned long long read_landing_in(const struct transfers *t, const void *host,
                                          size_t bytes)
{
    uintptr_t start = (uintptr_t)host, end = start + bytes;
    unsigned long long ticket = 0, position = t->finished;
    for (const struct job *job = t->head; job != NULL; job = job->next) {
        ++position;
        uintptr_t job_start = (uintptr_t)job->host;
        if (!job->write && job_start < end && start < job_start + job->bytes)
            ticket = position;
    }
    return ticket;
}

/* Pinned memory goes directly (the driver copies it at the bus's speed); pageable memory
 * through the ring where the device is not the host's own memory. Direct _async copies
 * go to the copy queues where the context has them; the rest, through the context's
 * queue, wait for every copy there (host memory may be shared) and, until they have
 * ended, hold up later copies on the copy queues. */
static kiln_status copy(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                        bool write, bool wait)
{
    struct transfers *t = buf->ctx->transfers;
    pthread_mutex_lock(&t->lock);
    bool staged = t->knobs.stage == KNOB_ON && bytes >= t->knobs.stage_min_bytes &&
                  pinned_holding(t, host, bytes) == NULL;
    /* The worker fills a staged read's memory after the device has copied each chunk, so
     * a copy that the driver makes of that memory must wait for it (staged ones queue
     * behind it anyway). */
    unsigned long long landing = staged ? 0 : read_landing_in(t, host, bytes);
    pthread_mutex_unlock(&t->lock);
    if (landing > 0)
        jobs_wait(t, landing);
    bool on_copy_queue = false;
    if (!staged && !wait)
        CHECK(copies_enqueue(buf, offset, host, bytes, write, &on_copy_queue));
    if (on_copy_queue)
        return KILN_OK;
    bool track = false;
    CHECK(copies_fence(buf->ctx, NULL, 0, &track));
    CHECK(copy_on_queue(buf, offset, host, bytes, write, wait, staged));
    return track && !wait ? copies_track_all(buf->ctx) : KILN_OK;
}

kiln_status transfer_write(kiln_buf *buf, size_t offset, const void *src, size_t bytes,
                           bool wait)
{
    return copy(buf, offset, (void *)src, bytes, true, wait);
}

kiln_status transfer_read(const kiln_buf *buf, size_t offset, void *dst, size_t bytes,
                          bool wait)
{
    return copy(buf, offset, dst, bytes, false, wait);
}

/* ---------------------------------------------------------------- the context's part */

/* A switch from the environment: "on" or "1", "off" or "0", else unchanged (said on
 * stderr). */
static enum knob_switch switch_from_env(const char *name)
{
    const char *value = getenv(name);
    if (value == NULL || *value == '\0')
        return KNOB_UNCHANGED;
    if (strcmp(value, "on") == 0 || strcmp(value, "1") == 0)
        return KNOB_ON;
    if (strcmp(value, "off") == 0 || strcmp(value, "0") == 0)
        return KNOB_OFF;
    fprintf(stderr, "kiln: ignoring %s=%s: expected on or off (or 1 or 0)\n", name, value);
    return KNOB_UNCHANGED;
}

kiln_status transfers_create(kiln_ctx *ctx)
{
    struct transfers *t = calloc(1, sizeof(*t));
    if (t == NULL || !copies_create(ctx)) {
        free(t);
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a context");
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->wake, NULL);
    pthread_cond_init(&t->idle, NULL);
    /* On host-unified devices (CPUs, PoCL) the ring would only add a memcpy. */
    t->knobs = (struct transfer_knobs){SLOT_BYTES, STAGE_MIN_BYTES, host_copy_threads(),
                                       ctx->host_unified ? KNOB_OFF : KNOB_ON,
                                       KNOB_UNCHANGED, false};
    ctx->transfers = t;
    /* For measurements and as a way out: the ring and the copy queues on any device
     * ("on"), or on none ("off"). */
    transfers_set_test_knobs(ctx, &(struct transfer_knobs){
                                      .stage = switch_from_env("KILN_STAGING"),
                                      .copy_queues = switch_from_env("KILN_COPY_QUEUES")});
    return KILN_OK;
}

kiln_status transfers_drain(kiln_ctx *ctx)
{
    return jobs_wait_report(ctx, jobs_submitted(ctx->transfers));
}

KILN_API void kiln_host_free(kiln_ctx *ctx, void *ptr)
{
    if (ptr == NULL || check_ctx(ctx) != KILN_OK)
        return;
    struct transfers *t = ctx->transfers;
    pthread_mutex_lock(&t->lock);
    struct pinned **link = &t->blocks;
    while (*link != NULL && (*link)->host != ptr)
        link = &(*link)->next;
    struct pinned *block = *link;
    if (block != NULL)
        *link = block->next;
    unsigned long long ticket = t->submitted;
    pthread_mutex_unlock(&t->lock);
    if (block == NULL) {
        fail(ctx, KILN_ERR_ARG, "ptr %p is not memory of kiln_host_alloc on this context, "
             "or was freed already", ptr);
        return;
    }
    /* Copies from or to it may still be on their way. */
    jobs_wait(t, ticket);
    copies_finish(ctx);
    clFinish(ctx->queue);
    pinned_release(ctx, block);
    free(block);
}

void transfers_destroy(kiln_ctx *ctx)
{
    struct transfers *t = ctx->transfers;
    copies_destroy(ctx);
    jobs_wait(t, jobs_submitted(t));
    clFinish(ctx->queue);
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    bool worker = t->ring_ready;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    if (worker) {
        pthread_join(t->worker, NULL);
        host_copiers_destroy(t->copiers);
    }
    for (size_t s = 0; s < RING_SLOTS; ++s)
        if (t->slot_busy[s] != NULL)
            clReleaseEvent(t->slot_busy[s]);
    if (worker)
        ring_release(ctx);
    while (t->blocks != NULL) {
        struct pinned *next = t->blocks->next;
        pinned_release(ctx, t->blocks);
        free(t->blocks);
        t->blocks = next;
    }
    pthread_cond_destroy(&t->idle);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

bool transfers_staging(kiln_ctx *ctx)
{
    struct transfers *t = ctx->transfers;
    pthread_mutex_lock(&t->lock);
    bool on = t->knobs.stage == KNOB_ON;
    pthread_mutex_unlock(&t->lock);
    return on;
}

void transfers_set_test_knobs(kiln_ctx *ctx, const struct transfer_knobs *knobs)
{
    struct transfers *t = ctx->transfers;
    pthread_mutex_lock(&t->lock);
    if (knobs->slot_bytes > 0 && !t->ring_tried)
        t->knobs.slot_bytes = knobs->slot_bytes;
    if (knobs->stage_min_bytes > 0)
        t->knobs.stage_min_bytes = knobs->stage_min_bytes;
    if (knobs->copy_threads > 0 && !t->ring_tried)
        t->knobs.copy_threads = knobs->copy_threads;
    if (knobs->stage != KNOB_UNCHANGED)
        t->knobs.stage = knobs->stage;
    t->knobs.refuse_pinned = knobs->refuse_pinned;
    pthread_mutex_unlock(&t->lock);
    if (knobs->copy_queues != KNOB_UNCHANGED)
        copies_set_wanted(ctx, knobs->copy_queues == KNOB_ON);
}
