/* Contexts: a device with its OpenCL context and in-order queue, made by kiln or
 * wrapped around the caller's objects. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The family whose tuned tiles fit the device; $KILN_GEMM_TABLE=gpu|cpu|amd overrides
 * it, so the tests run every table's tiles on whatever device they have. */
static enum device_family family_of(const kiln_device_info *info)
{
    const char *table = getenv("KILN_GEMM_TABLE");
    if (table != NULL && *table != '\0')
        return strcmp(table, "cpu") == 0   ? FAMILY_CPU
               : strcmp(table, "amd") == 0 ? FAMILY_AMD
                                           : FAMILY_GPU;
    if (info->type == KILN_DEVICE_CPU)
        return FAMILY_CPU;
    bool amd = strstr(info->vendor, "Advanced Micro Devices") != NULL ||
               strncmp(info->vendor, "AMD", 3) == 0;
    return amd && info->type == KILN_DEVICE_GPU ? FAMILY_AMD : FAMILY_GPU;
}

static kiln_status read_limits(kiln_ctx *ctx)
{
    struct device_entry entry = {NULL, ctx->device, 0, 0};
    kiln_device_info info = {.struct_size = sizeof(info)};
    clGetDeviceInfo(ctx->device, CL_DEVICE_PLATFORM, sizeof(entry.platform), &entry.platform,
                    NULL);
    device_info_read(ctx, &entry, &info);
    ctx->limits.max_work_group_size = info.max_work_group_size;
    for (int d = 0; d < 3; ++d)
        ctx->limits.max_work_item_sizes[d] = info.max_work_item_sizes[d];
    ctx->limits.compute_units = info.compute_units;
    ctx->limits.local_mem_bytes = (size_t)info.local_mem_bytes;
    ctx->limits.vector_width = info.native_vector_width[KILN_SCALAR_FLOAT];
    ctx->limits.family = family_of(&info);
    ctx->limits.nv_compute_capability =
        info.nv_compute_capability_major * 10 + info.nv_compute_capability_minor;
    ctx->max_alloc_bytes = info.max_alloc_bytes;
    ctx->alloc_flags = info.unified_memory ? CL_MEM_ALLOC_HOST_PTR : 0;
    ctx->host_unified = info.unified_memory || info.type == KILN_DEVICE_CPU;
    /* Keys the on-disk cache: a binary is only reused by the same device and driver. */
    size_t length = strlen(info.name) + strlen(info.vendor) + strlen(info.driver_version) +
                    strlen(info.platform_name) + 4;
    ctx->device_identity = malloc(length);
    if (ctx->device_identity == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a context");
    snprintf(ctx->device_identity, length, "%s\n%s\n%s\n%s", info.name, info.vendor,
             info.driver_version, info.platform_name);
    return KILN_OK;
}

/* A context struct around objects the caller has made or retained for it. */
static kiln_status ctx_assemble(kiln_ctx **out, cl_context context, cl_device_id device,
                                cl_command_queue queue)
{
    kiln_ctx *ctx = calloc(1, sizeof(*ctx));
    if (ctx == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a context");
    ctx->context = context;
    ctx->device = device;
    ctx->queue = queue;
    kiln_status status = read_limits(ctx);
    if (status == KILN_OK)
        status = transfers_create(ctx);
    if (status != KILN_OK) {
        free(ctx->device_identity);
        free(ctx);
        return status;
    }
    pthread_mutex_init(&ctx->lock, NULL);
    pthread_mutex_init(&ctx->error_lock, NULL);
    pthread_mutex_init(&ctx->sum_lock, NULL);
    pthread_mutex_init(&ctx->workspace_lock, NULL);
    host_buffers_init(&ctx->host_buffers);
    atomic_init(&ctx->gemm_backend, (int)gemm_backend_from_env());
    atomic_init(&ctx->math, (int)KILN_MATH_STRICT);
    atomic_init(&ctx->clblast_used, false);
    *out = ctx;
    return KILN_OK;
}

KILN_API kiln_status kiln_ctx_create(kiln_ctx **out, const char *device)
{
    if (out == NULL)
        return fail(NULL, KILN_ERR_ARG, "out is NULL");
    struct device_entry entry;
    CHECK(device_select(device, &entry));
    cl_int err;
    cl_context_properties properties[] = {CL_CONTEXT_PLATFORM,
                                          (cl_context_properties)entry.platform, 0};
    cl_context context = clCreateContext(properties, 1, &entry.device, NULL, NULL, &err);
    if (err != CL_SUCCESS)
        return fail_cl(NULL, "clCreateContext", err);
    cl_command_queue queue =
        clCreateCommandQueue(context, entry.device, CL_QUEUE_PROFILING_ENABLE, &err);
    if (err != CL_SUCCESS) {
        clReleaseContext(context);
        return fail_cl(NULL, "clCreateCommandQueue", err);
    }
    kiln_status status = ctx_assemble(out, context, entry.device, queue);
    if (status != KILN_OK) {
        clReleaseCommandQueue(queue);
        clReleaseContext(context);
    }
    return status;
}

/* The queue belongs to context and device and runs in order. */
static kiln_status check_wrapped_queue(cl_context context, cl_device_id device,
                                       cl_command_queue queue)
{
    cl_context queue_context;
    cl_device_id queue_device;
    cl_command_queue_properties properties;
    cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof(queue_context),
                                       &queue_context, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof(queue_device),
                                    &queue_device, NULL);
    if (err == CL_SUCCESS)
        err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof(properties),
                                    &properties, NULL);
    if (err != CL_SUCCESS)
        return fail(NULL, KILN_ERR_ARG, "queue is not a valid command queue: %s",
                    cl_error_name(err));
    if (queue_context != context || queue_device != device)
        return fail(NULL, KILN_ERR_ARG, "queue belongs to another context or device");
    if (properties & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)
        return fail(NULL, KILN_ERR_ARG,
                    "queue runs out of order; kiln needs an in-order queue");
    return KILN_OK;
}

KILN_API kiln_status kiln_ctx_wrap(kiln_ctx **out, cl_context context, cl_device_id device,
                                   cl_command_queue queue)
{
    if (out == NULL)
        return fail(NULL, KILN_ERR_ARG, "out is NULL");
    if (context == NULL || device == NULL || queue == NULL)
        return fail(NULL, KILN_ERR_ARG, "%s is NULL",
                    context == NULL ? "context" : device == NULL ? "device" : "queue");
    CHECK(check_wrapped_queue(context, device, queue));
    CHECK(ctx_assemble(out, context, device, queue));
    copies_share_queue(*out);
    clRetainContext(context);
    clRetainCommandQueue(queue);
    return KILN_OK;
}

/* Data a library on kiln keeps with the context (kiln_ctx_attach). */
struct attachment {
    const void *key;
    void *data;
    void (*destroy)(void *data);
    struct attachment *next;
};

KILN_API kiln_status kiln_ctx_attach(kiln_ctx *ctx, const void *key, void *data,
                                     void (*destroy)(void *data))
{
    CHECK(check_ctx(ctx));
    if (key == NULL || destroy == NULL)
        return fail(ctx, KILN_ERR_ARG, "%s is NULL", key == NULL ? "key" : "destroy");
    struct attachment *added = malloc(sizeof(*added));
    if (added == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for an attachment");
    *added = (struct attachment){.key = key, .data = data, .destroy = destroy};
    bool taken = false; /* looked up and added under one lock: two threads cannot both add */
    pthread_mutex_lock(&ctx->lock);
    for (const struct attachment *a = ctx->attachments; a != NULL; a = a->next)
        taken = taken || a->key == key;
    if (!taken) {
        added->next = ctx->attachments;
        ctx->attachments = added;
    }
    pthread_mutex_unlock(&ctx->lock);
    if (!taken)
        return KILN_OK;
    free(added);
    return fail(ctx, KILN_ERR_ARG, "key %p is attached already", key);
}

KILN_API void *kiln_ctx_attachment(const kiln_ctx *ctx, const void *key)
{
    if (ctx == NULL)
        return NULL;
    kiln_ctx *shared = (kiln_ctx *)ctx; /* the lock, not the context, changes */
    void *data = NULL;
    pthread_mutex_lock(&shared->lock);
    for (const struct attachment *a = shared->attachments; a != NULL; a = a->next)
        if (a->key == key)
            data = a->data;
    pthread_mutex_unlock(&shared->lock);
    return data;
}

/* Hands each attachment to its destroy while the context still works. */
static void attachments_destroy(kiln_ctx *ctx)
{
    while (ctx->attachments != NULL) {
        struct attachment *first = ctx->attachments;
        ctx->attachments = first->next;
        first->destroy(first->data);
        free(first);
    }
}

KILN_API void kiln_ctx_destroy(kiln_ctx *ctx)
{
    if (ctx == NULL)
        return;
    attachments_destroy(ctx);
    transfers_destroy(ctx);
    host_buffers_free(&ctx->host_buffers);
    kiln_buf_destroy(ctx->sum_partials);
    kiln_buf_destroy(ctx->reduce_partials);
    kiln_buf_destroy(ctx->gemm_workspace);
    programs_free(ctx->programs);
    programs_free(ctx->generated);
    gemm_clblast_release(ctx);
    clReleaseCommandQueue(ctx->queue);
    clReleaseContext(ctx->context);
    error_slots_free(ctx->errors);
    tuning_free(&ctx->tuning);
    free(ctx->wgmma_refusal);
    free(ctx->device_identity);
    pthread_mutex_destroy(&ctx->lock);
    pthread_mutex_destroy(&ctx->error_lock);
    pthread_mutex_destroy(&ctx->sum_lock);
    pthread_mutex_destroy(&ctx->workspace_lock);
    free(ctx);
}

KILN_API kiln_status kiln_finish(kiln_ctx *ctx)
{
    CHECK(check_ctx(ctx));
    CHECK(copies_fence_all(ctx));
    cl_int err = clFinish(ctx->queue);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clFinish", err);
    return transfers_drain(ctx);
}

KILN_API cl_context kiln_ctx_context(const kiln_ctx *ctx)
{
    return ctx != NULL ? ctx->context : NULL;
}

KILN_API cl_device_id kiln_ctx_device(const kiln_ctx *ctx)
{
    return ctx != NULL ? ctx->device : NULL;
}

KILN_API cl_command_queue kiln_ctx_queue(const kiln_ctx *ctx)
{
    if (ctx == NULL)
        return NULL;
    copies_share_queue(ctx);
    return ctx->queue;
}
