/* Each rank's checks of its own arguments, made before the agreement (agreement.c). */
#include "internal.h"

#include <limits.h>
#include <stdint.h>

kiln_status check_context(const kiln_ctx *ctx)
{
    return ctx == NULL ? kiln_error_set(NULL, KILN_ERR_ARG, "ctx is NULL") : KILN_OK;
}

kiln_status check_floats(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         size_t floats)
{
    if (buf == NULL)
        return kiln_error_set(ctx, KILN_ERR_ARG, "%s is NULL", name);
    if (kiln_buf_ctx(buf) != ctx)
        return kiln_error_set(ctx, KILN_ERR_ARG, "%s belongs to another context", name);
    if (floats > SIZE_MAX / sizeof(float))
        return kiln_error_set(ctx, KILN_ERR_SIZE, "%s: %zu floats overflow size_t", name,
                              floats);
    if (kiln_buf_size(buf) < floats * sizeof(float))
        return kiln_error_set(ctx, KILN_ERR_SIZE,
                              "%s needs %zu floats (%zu bytes) but its buffer holds %zu bytes",
                              name, floats, floats * sizeof(float), kiln_buf_size(buf));
    return KILN_OK;
}

kiln_status check_apart(const kiln_ctx *ctx, const kiln_buf *out, const char *out_name,
                        const kiln_buf *in, const char *in_name)
{
    size_t out_start = kiln_buf_offset(out), in_start = kiln_buf_offset(in);
    bool overlap = kiln_buf_mem(out) == kiln_buf_mem(in) &&
                   out_start < in_start + kiln_buf_size(in) &&
                   in_start < out_start + kiln_buf_size(out);
    if (overlap)
        return kiln_error_set(ctx, KILN_ERR_ARG, "%s shares memory with the input %s",
                              out_name, in_name);
    return KILN_OK;
}

kiln_status check_count(const kiln_ctx *ctx, const char *what, size_t floats)
{
    if (floats > INT_MAX)
        return kiln_error_set(ctx, KILN_ERR_SIZE,
                              "%s has %zu floats, beyond MPI's int count %d", what, floats,
                              INT_MAX);
    return KILN_OK;
}
