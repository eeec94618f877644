/* The device buffers the _host conveniences reuse from call to call (see internal.h). */
#include "internal.h"

enum { SMALLEST_CLASS = 4096 }; /* a page: tiny calls share their buffers */

void host_buffers_init(struct host_buffers *pool)
{
    pthread_mutex_init(&pool->lock, NULL);
    pool->count = pool->bytes = 0;
    pool->kept_bytes = HOST_BUFFERS_KEPT_BYTES;
}

void host_buffers_free(struct host_buffers *pool)
{
    for (size_t i = 0; i < pool->count; ++i)
        clReleaseMemObject(pool->idle[i].mem);
    pool->count = pool->bytes = 0;
    pthread_mutex_destroy(&pool->lock);
}

/* bytes rounded up to a quarter of the power of two below it, so that calls of nearby
 * sizes share a buffer at most a quarter larger than they need; bytes itself where that
 * would be above the device's largest allocation. */
static size_t size_class(const kiln_ctx *ctx, size_t bytes)
{
    if (bytes >= ctx->max_alloc_bytes)
        return bytes; /* buf_mem_create says whether it fits */
    size_t power = SMALLEST_CLASS;
    while (power <= bytes / 2)
        power *= 2;
    size_t step = power / 4;
    size_t class = bytes <= SMALLEST_CLASS ? SMALLEST_CLASS : (bytes + step - 1) / step * step;
    return class <= ctx->max_alloc_bytes ? class : bytes;
}

/* Removes idle entry i, under lock. */
static struct idle_buffer idle_take(struct host_buffers *pool, size_t i)
{
    struct idle_buffer taken = pool->idle[i];
    for (; i + 1 < pool->count; ++i)
        pool->idle[i] = pool->idle[i + 1];
    pool->count--;
    pool->bytes -= taken.bytes;
    return taken;
}

/* The smallest idle buffer holding bytes and no more than twice its class, taken out of
 * the pool; NULL when none. */
static cl_mem idle_fitting(struct host_buffers *pool, size_t bytes, size_t class)
{
    pthread_mutex_lock(&pool->lock);
    size_t best = pool->count;
    for (size_t i = 0; i < pool->count; ++i) {
        size_t held = pool->idle[i].bytes;
        if (held >= bytes && held / 2 <= class &&
            (best == pool->count || held < pool->idle[best].bytes))
            best = i;
    }
    cl_mem mem = best < pool->count ? idle_take(pool, best).mem : NULL;
    pthread_mutex_unlock(&pool->lock);
    return mem;
}

/* Frees every idle buffer: device memory ran out, and they may be what holds it. */
static bool idle_drop(struct host_buffers *pool)
{
    struct idle_buffer dropped[HOST_BUFFERS_KEPT];
    pthread_mutex_lock(&pool->lock);
    size_t count = pool->count;
    for (size_t i = 0; i < count; ++i)
        dropped[i] = pool->idle[i];
    pool->count = pool->bytes = 0;
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < count; ++i)
        clReleaseMemObject(dropped[i].mem);
    return count > 0;
}

kiln_status host_buffer_borrow(kiln_ctx *ctx, size_t bytes, kiln_buf **out)
{
    struct host_buffers *pool = &ctx->host_buffers;
    size_t class = size_class(ctx, bytes);
    cl_mem mem = idle_fitting(pool, bytes, class);
    if (mem == NULL) {
        kiln_status status = buf_mem_create(ctx, class, &mem);
        if (status == KILN_ERR_NOMEM && idle_drop(pool))
            status = buf_mem_create(ctx, class, &mem);
        CHECK(status);
    }
    kiln_status status = buf_new(ctx, mem, 0, bytes, out);
    if (status != KILN_OK)
        clReleaseMemObject(mem);
    return status;
}

void host_buffer_give_back(kiln_buf *buf, bool keep)
{
    if (buf == NULL)
        return;
    struct host_buffers *pool = &buf->ctx->host_buffers;
    cl_mem mem = buf->mem;
    size_t bytes = 0;
    keep = keep && clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof(bytes), &bytes, NULL) ==
                       CL_SUCCESS;
    clRetainMemObject(mem); /* the pool's reference, or freed below */
    kiln_buf_destroy(buf);
    struct idle_buffer evicted[HOST_BUFFERS_KEPT];
    size_t evictions = 0;
    pthread_mutex_lock(&pool->lock);
    keep = keep && bytes <= pool->kept_bytes;
    while (keep && (pool->count == HOST_BUFFERS_KEPT || pool->bytes + bytes > pool->kept_bytes))
        evicted[evictions++] = idle_take(pool, 0);
    if (keep) {
        pool->idle[pool->count++] = (struct idle_buffer){mem, bytes};
        pool->bytes += bytes;
    }
    pthread_mutex_unlock(&pool->lock);
    for (size_t i = 0; i < evictions; ++i)
        clReleaseMemObject(evicted[i].mem);
    if (!keep)
        clReleaseMemObject(mem);
}

void host_buffers_kept(kiln_ctx *ctx, size_t *count, size_t *bytes)
{
    struct host_buffers *pool = &ctx->host_buffers;
    pthread_mutex_lock(&pool->lock);
    *count = pool->count;
    *bytes = pool->bytes;
    pthread_mutex_unlock(&pool->lock);
}

void host_buffers_set_test_bound(kiln_ctx *ctx, size_t kept_bytes)
{
    struct host_buffers *pool = &ctx->host_buffers;
    pthread_mutex_lock(&pool->lock);
    pool->kept_bytes = kept_bytes;
    pthread_mutex_unlock(&pool->lock);
}
