/* Statuses, OpenCL error names and the last-error messages (per context and thread). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

KILN_API const char *kiln_status_str(kiln_status s)
{
    switch (s) {
#define KILN_STATUS_CASE(name, value, text)                                          \
    case KILN_##name:                                                                \
        return "KILN_" #name ": " text;
        KILN_STATUS_MAP(KILN_STATUS_CASE)
#undef KILN_STATUS_CASE
    }
    return "KILN_ERR_UNKNOWN: not a kiln status";
}

/* The error codes of OpenCL 1.2 and of the ICD loader. */
#define CL_ERROR_MAP(X)                                                              \
    X(CL_DEVICE_NOT_FOUND) X(CL_DEVICE_NOT_AVAILABLE) X(CL_COMPILER_NOT_AVAILABLE)   \
    X(CL_MEM_OBJECT_ALLOCATION_FAILURE) X(CL_OUT_OF_RESOURCES)                       \
    X(CL_OUT_OF_HOST_MEMORY) X(CL_PROFILING_INFO_NOT_AVAILABLE)                      \
    X(CL_MEM_COPY_OVERLAP) X(CL_IMAGE_FORMAT_MISMATCH)                               \
    X(CL_IMAGE_FORMAT_NOT_SUPPORTED) X(CL_BUILD_PROGRAM_FAILURE) X(CL_MAP_FAILURE)   \
    X(CL_MISALIGNED_SUB_BUFFER_OFFSET) X(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST) \
    X(CL_COMPILE_PROGRAM_FAILURE) X(CL_LINKER_NOT_AVAILABLE) X(CL_LINK_PROGRAM_FAILURE) \
    X(CL_DEVICE_PARTITION_FAILED) X(CL_KERNEL_ARG_INFO_NOT_AVAILABLE)                \
    X(CL_INVALID_VALUE) X(CL_INVALID_DEVICE_TYPE) X(CL_INVALID_PLATFORM)             \
    X(CL_INVALID_DEVICE) X(CL_INVALID_CONTEXT) X(CL_INVALID_QUEUE_PROPERTIES)        \
    X(CL_INVALID_COMMAND_QUEUE) X(CL_INVALID_HOST_PTR) X(CL_INVALID_MEM_OBJECT)      \
    X(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR) X(CL_INVALID_IMAGE_SIZE)                   \
    X(CL_INVALID_SAMPLER) X(CL_INVALID_BINARY) X(CL_INVALID_BUILD_OPTIONS)           \
    X(CL_INVALID_PROGRAM) X(CL_INVALID_PROGRAM_EXECUTABLE) X(CL_INVALID_KERNEL_NAME) \
    X(CL_INVALID_KERNEL_DEFINITION) X(CL_INVALID_KERNEL) X(CL_INVALID_ARG_INDEX)     \
    X(CL_INVALID_ARG_VALUE) X(CL_INVALID_ARG_SIZE) X(CL_INVALID_KERNEL_ARGS)         \
    X(CL_INVALID_WORK_DIMENSION) X(CL_INVALID_WORK_GROUP_SIZE)                       \
    X(CL_INVALID_WORK_ITEM_SIZE) X(CL_INVALID_GLOBAL_OFFSET)                         \
    X(CL_INVALID_EVENT_WAIT_LIST) X(CL_INVALID_EVENT) X(CL_INVALID_OPERATION)        \
    X(CL_INVALID_GL_OBJECT) X(CL_INVALID_BUFFER_SIZE) X(CL_INVALID_MIP_LEVEL)        \
    X(CL_INVALID_GLOBAL_WORK_SIZE) X(CL_INVALID_PROPERTY)                            \
    X(CL_INVALID_IMAGE_DESCRIPTOR) X(CL_INVALID_COMPILER_OPTIONS)                    \
    X(CL_INVALID_LINKER_OPTIONS) X(CL_INVALID_DEVICE_PARTITION_COUNT)                \
    X(CL_PLATFORM_NOT_FOUND_KHR)

#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

const char *cl_error_name(cl_int err)
{
    switch (err) {
#define CL_ERROR_CASE(name)                                                          \
    case name:                                                                       \
        return #name;
        CL_ERROR_MAP(CL_ERROR_CASE)
#undef CL_ERROR_CASE
    }
    return "an unknown OpenCL error";
}

/* Messages for calls without a context: one per thread. */
static _Thread_local char thread_message[4096];

struct error_slot {
    pthread_t thread;
    char *text;
    size_t capacity;
    struct error_slot *next;
};

/* The calling thread's slot of ctx, made on first use; NULL when memory is short. */
static struct error_slot *slot_of_this_thread(kiln_ctx *ctx)
{
    pthread_t self = pthread_self();
    struct error_slot *slot;
    for (slot = ctx->errors; slot != NULL; slot = slot->next)
        if (pthread_equal(slot->thread, self))
            return slot;
    slot = calloc(1, sizeof(*slot));
    if (slot != NULL) {
        slot->thread = self;
        slot->next = ctx->errors;
        ctx->errors = slot;
    }
    return slot;
}

/* Copies text into the thread's slot of ctx, growing it as needed. */
static void store_message(kiln_ctx *ctx, const char *text)
{
    size_t need = strlen(text) + 1;
    pthread_mutex_lock(&ctx->error_lock);
    struct error_slot *slot = slot_of_this_thread(ctx);
    if (slot != NULL && slot->capacity < need) {
        char *grown = realloc(slot->text, need);
        if (grown != NULL) {
            slot->text = grown;
            slot->capacity = need;
        }
    }
    if (slot != NULL && slot->capacity >= need)
        memcpy(slot->text, text, need);
    pthread_mutex_unlock(&ctx->error_lock);
}

/* fail() over a va_list, which it consumes. */
static kiln_status fail_list(const kiln_ctx *ctx, kiln_status status, const char *fmt,
                             va_list args)
{
    if (ctx == NULL) {
        vsnprintf(thread_message, sizeof(thread_message), fmt, args);
        return status;
    }
    va_list again;
    va_copy(again, args);
    int length = vsnprintf(NULL, 0, fmt, args);
    char *text = length >= 0 ? malloc((size_t)length + 1) : NULL;
    if (text != NULL) {
        vsnprintf(text, (size_t)length + 1, fmt, again);
        /* The slots are kiln's bookkeeping, not the caller's context state. */
        store_message((kiln_ctx *)ctx, text);
        free(text);
    }
    va_end(again);
    return status;
}

kiln_status fail(const kiln_ctx *ctx, kiln_status status, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fail_list(ctx, status, fmt, args);
    va_end(args);
    return status;
}

KILN_API kiln_status kiln_error_set(const kiln_ctx *ctx, kiln_status status,
                                    const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fail_list(ctx, status, format != NULL ? format : "", args);
    va_end(args);
    return status;
}

kiln_status fail_cl(const kiln_ctx *ctx, const char *call, cl_int err)
{
    kiln_status status = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE ||
                          err == CL_OUT_OF_HOST_MEMORY)
                             ? KILN_ERR_NOMEM
                             : KILN_ERR_CL;
    return fail(ctx, status, "%s failed: %s (%d)", call, cl_error_name(err), (int)err);
}

KILN_API const char *kiln_last_error(const kiln_ctx *ctx)
{
    if (ctx == NULL)
        return thread_message;
    kiln_ctx *shared = (kiln_ctx *)ctx;
    const char *text = "";
    pthread_t self = pthread_self();
    pthread_mutex_lock(&shared->error_lock);
    for (const struct error_slot *slot = shared->errors; slot != NULL; slot = slot->next)
        if (pthread_equal(slot->thread, self) && slot->text != NULL)
            text = slot->text;
    pthread_mutex_unlock(&shared->error_lock);
    return text;
}

void error_slots_free(struct error_slot *slots)
{
    while (slots != NULL) {
        struct error_slot *next = slots->next;
        free(slots->text);
        free(slots);
        slots = next;
    }
}
