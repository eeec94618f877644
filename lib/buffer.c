/* Buffers: device memory that knows its context, size and, for views, its place in
 * the parent; host transfers, copies and fills. */
#include "internal.h"

#include <stdatomic.h>

#include <stdlib.h>

/* offset + bytes lies within buf. */
static kiln_status check_range(const kiln_buf *buf, const char *name, size_t offset,
                               size_t bytes)
{
    if (offset > buf->size || bytes > buf->size - offset)
        return fail(buf->ctx, KILN_ERR_SIZE,
                    "%s: bytes [%zu, %zu + %zu) are beyond its %zu bytes", name, offset,
                    offset, bytes, buf->size);
    return KILN_OK;
}

kiln_status buf_new(kiln_ctx *ctx, cl_mem mem, size_t offset, size_t size, kiln_buf **out)
{
    kiln_buf *buf = malloc(sizeof(*buf));
    if (buf == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory for a buffer");
    static atomic_uint_least64_t next_serial = 1;
    *buf = (kiln_buf){atomic_fetch_add(&next_serial, 1), ctx, mem, offset, size, mem, offset};
    *out = buf;
    return KILN_OK;
}

KILN_API kiln_status kiln_buf_create(kiln_ctx *ctx, size_t bytes, kiln_buf **out)
{
    CHECK(check_ctx(ctx));
    if (out == NULL)
        return fail(ctx, KILN_ERR_ARG, "out is NULL");
    if (bytes == 0)
        return fail(ctx, KILN_ERR_ARG, "bytes is 0: a buffer holds at least one byte");
    cl_mem mem = NULL;
    CHECK(buf_mem_create(ctx, bytes, &mem));
    kiln_status status = buf_new(ctx, mem, 0, bytes, out);
    if (status != KILN_OK)
        clReleaseMemObject(mem);
    return status;
}

kiln_status buf_mem_create(kiln_ctx *ctx, size_t bytes, cl_mem *out)
{
    if (bytes > ctx->max_alloc_bytes)
        return fail(ctx, KILN_ERR_SIZE,
                    "%zu bytes is above the device's largest allocation, %llu bytes "
                    "(CL_DEVICE_MAX_MEM_ALLOC_SIZE)",
                    bytes, ctx->max_alloc_bytes);
    cl_int err;
    *out = clCreateBuffer(ctx->context, CL_MEM_READ_WRITE | ctx->alloc_flags, bytes, NULL, &err);
    return err == CL_SUCCESS ? KILN_OK : fail_cl(ctx, "clCreateBuffer", err);
}

/* The allocation a sub-buffer is part of, and where, so overlap checks see through it. */
static void find_root(kiln_buf *buf)
{
    cl_mem parent = NULL;
    size_t offset = 0;
    if (clGetMemObjectInfo(buf->mem, CL_MEM_ASSOCIATED_MEMOBJECT, sizeof(parent), &parent,
                           NULL) == CL_SUCCESS &&
        parent != NULL &&
        clGetMemObjectInfo(buf->mem, CL_MEM_OFFSET, sizeof(offset), &offset, NULL) ==
            CL_SUCCESS) {
        buf->root = parent;
        buf->root_offset = offset;
    }
}

KILN_API kiln_status kiln_buf_wrap(kiln_ctx *ctx, cl_mem mem, kiln_buf **out)
{
    CHECK(check_ctx(ctx));
    if (mem == NULL || out == NULL)
        return fail(ctx, KILN_ERR_ARG, "%s is NULL", mem == NULL ? "mem" : "out");
    cl_context context;
    size_t size;
    cl_int err = clGetMemObjectInfo(mem, CL_MEM_CONTEXT, sizeof(context), &context, NULL);
    if (err == CL_SUCCESS)
        err = clGetMemObjectInfo(mem, CL_MEM_SIZE, sizeof(size), &size, NULL);
    if (err != CL_SUCCESS)
        return fail(ctx, KILN_ERR_ARG, "mem is not a valid buffer: %s", cl_error_name(err));
    if (context != ctx->context)
        return fail(ctx, KILN_ERR_ARG, "mem belongs to another OpenCL context");
    CHECK(buf_new(ctx, mem, 0, size, out));
    clRetainMemObject(mem);
    find_root(*out);
    return KILN_OK;
}

/* buf is not NULL, and ptr, the host side of a transfer, is not NULL. */
static kiln_status check_transfer(const kiln_buf *buf, const void *ptr, const char *ptr_name)
{
    if (buf == NULL)
        return fail(NULL, KILN_ERR_ARG, "buf is NULL");
    if (ptr == NULL)
        return fail(buf->ctx, KILN_ERR_ARG, "%s is NULL", ptr_name);
    return KILN_OK;
}

KILN_API kiln_status kiln_buf_write(kiln_buf *buf, size_t offset, const void *src,
                                    size_t bytes)
{
    CHECK(check_transfer(buf, src, "src"));
    CHECK(check_range(buf, "buf", offset, bytes));
    return bytes == 0 ? KILN_OK : transfer_write(buf, offset, src, bytes, true);
}

KILN_API kiln_status kiln_buf_read(const kiln_buf *buf, size_t offset, void *dst, size_t bytes)
{
    CHECK(check_transfer(buf, dst, "dst"));
    CHECK(check_range(buf, "buf", offset, bytes));
    return bytes == 0 ? KILN_OK : transfer_read(buf, offset, dst, bytes, true);
}

KILN_API kiln_status kiln_buf_write_async(kiln_buf *buf, size_t offset, const void *src,
                                          size_t bytes)
{
    CHECK(check_transfer(buf, src, "src"));
    CHECK(check_range(buf, "buf", offset, bytes));
    return bytes == 0 ? KILN_OK : transfer_write(buf, offset, src, bytes, false);
}

KILN_API kiln_status kiln_buf_read_async(const kiln_buf *buf, size_t offset, void *dst,
                                         size_t bytes)
{
    CHECK(check_transfer(buf, dst, "dst"));
    CHECK(check_range(buf, "buf", offset, bytes));
    return bytes == 0 ? KILN_OK : transfer_read(buf, offset, dst, bytes, false);
}

KILN_API kiln_status kiln_buf_view(kiln_buf *parent, size_t offset, size_t bytes,
                                   kiln_buf **out)
{
    if (parent == NULL)
        return fail(NULL, KILN_ERR_ARG, "parent is NULL");
    if (out == NULL)
        return fail(parent->ctx, KILN_ERR_ARG, "out is NULL");
    if (bytes == 0)
        return fail(parent->ctx, KILN_ERR_ARG, "bytes is 0: a view holds at least one byte");
    CHECK(check_range(parent, "parent", offset, bytes));
    CHECK(buf_new(parent->ctx, parent->mem, parent->offset + offset, bytes, out));
    clRetainMemObject(parent->mem);
    (*out)->root = parent->root;
    (*out)->root_offset = parent->root_offset + offset;
    return KILN_OK;
}

KILN_API kiln_status kiln_buf_copy(kiln_buf *dst, size_t dst_offset, const kiln_buf *src,
                                   size_t src_offset, size_t bytes)
{
    if (dst == NULL || src == NULL)
        return fail(NULL, KILN_ERR_ARG, "%s is NULL", dst == NULL ? "dst" : "src");
    if (dst->ctx != src->ctx)
        return fail(dst->ctx, KILN_ERR_ARG, "src belongs to another context than dst");
    CHECK(check_range(dst, "dst", dst_offset, bytes));
    CHECK(check_range(src, "src", src_offset, bytes));
    kiln_buf dst_part = *dst, src_part = *src;
    dst_part.root_offset += dst_offset;
    dst_part.size = bytes;
    src_part.root_offset += src_offset;
    src_part.size = bytes;
    if (bytes > 0 && ranges_overlap(&dst_part, &src_part))
        return fail(dst->ctx, KILN_ERR_ARG, "the source and destination ranges overlap");
    if (bytes == 0)
        return KILN_OK;
    const cl_mem roots[] = {dst->root, src->root};
    bool track = false;
    CHECK(copies_fence(dst->ctx, roots, 2, &track));
    cl_event done = NULL;
    cl_int err = clEnqueueCopyBuffer(dst->ctx->queue, src->mem, dst->mem,
                                     src->offset + src_offset, dst->offset + dst_offset, bytes,
                                     0, NULL, track ? &done : NULL);
    if (err != CL_SUCCESS)
        return fail_cl(dst->ctx, "clEnqueueCopyBuffer", err);
    return copies_track(dst->ctx, roots, 2, done);
}

KILN_API kiln_status kiln_buf_fill(kiln_buf *buf, float value)
{
    if (buf == NULL)
        return fail(NULL, KILN_ERR_ARG, "buf is NULL");
    if (buf->offset % sizeof(float) != 0 || buf->size % sizeof(float) != 0)
        return fail(buf->ctx, KILN_ERR_ARG,
                    "buf (offset %zu, %zu bytes) is not made of whole floats", buf->offset,
                    buf->size);
    bool track = false;
    CHECK(copies_fence(buf->ctx, &buf->root, 1, &track));
    cl_event done = NULL;
    cl_int err = clEnqueueFillBuffer(buf->ctx->queue, buf->mem, &value, sizeof(value),
                                     buf->offset, buf->size, 0, NULL, track ? &done : NULL);
    if (err != CL_SUCCESS)
        return fail_cl(buf->ctx, "clEnqueueFillBuffer", err);
    return copies_track(buf->ctx, &buf->root, 1, done);
}

KILN_API size_t kiln_buf_size(const kiln_buf *buf)
{
    return buf != NULL ? buf->size : 0;
}

KILN_API kiln_ctx *kiln_buf_ctx(const kiln_buf *buf)
{
    return buf != NULL ? buf->ctx : NULL;
}

KILN_API size_t kiln_buf_offset(const kiln_buf *buf)
{
    return buf != NULL ? buf->offset : 0;
}

KILN_API cl_mem kiln_buf_mem(const kiln_buf *buf)
{
    return buf != NULL ? buf->mem : NULL;
}

KILN_API void kiln_buf_destroy(kiln_buf *buf)
{
    if (buf == NULL)
        return;
    clReleaseMemObject(buf->mem);
    free(buf);
}
