/* kiln_reduce and kiln_sum (cl/reduce.cl), and the group-size choice every row-wise
 * kernel shares. */
#include "../internal.h"

#include <limits.h>
#include <stdio.h>

kiln_status row_kernel_get(kiln_ctx *ctx, const char *source, const char *options,
                           const char *name, size_t bytes_per_item, struct kernel **kernel,
                           size_t *local)
{
    size_t items = plan_row_local(&ctx->limits, SIZE_MAX, bytes_per_item);
    for (;;) {
        char all[160];
        snprintf(all, sizeof(all), "%s -DLOCAL_SIZE=%zu", options, items);
        CHECK(kernel_get(ctx, source, all, name, kernel));
        if ((*kernel)->limits.work_group_size >= items || items == 1)
            break;
        /* The kernel's registers allow fewer items: rebuild with its limit. */
        items = plan_row_local(&ctx->limits, (*kernel)->limits.work_group_size,
                               bytes_per_item);
    }
    *local = items;
    return KILN_OK;
}

kiln_status row_kernel_launch(kiln_ctx *ctx, struct kernel *kernel, const struct launch *plan,
                              size_t rows, size_t cols, size_t ld, const kiln_buf *x,
                              kiln_buf *y, const struct kernel_arg *extra, size_t extra_count)
{
    cl_ulong rows_arg = rows, cols_arg = cols, ld_arg = ld, x_offset = buf_elements_offset(x),
             y_offset = buf_elements_offset(y);
    struct kernel_arg args[KERNEL_MAX_ARGS] = {
        KERNEL_ARG(rows_arg), KERNEL_ARG(cols_arg), KERNEL_ARG(ld_arg),   KERNEL_ARG_BUF(x),
        KERNEL_ARG(x_offset), KERNEL_ARG_BUF(y),    KERNEL_ARG(y_offset),
    };
    enum { COMMON = 7 };
    for (size_t i = 0; i < extra_count && COMMON + i < KERNEL_MAX_ARGS; i++)
        args[COMMON + i] = extra[i];
    return kernel_launch(ctx, kernel, plan, args, COMMON + extra_count);
}

kiln_status row_map_kernel(kiln_ctx *ctx, const char *source, const char *name,
                           const char *flavour, size_t bytes_per_item, const kiln_buf *x,
                           const kiln_buf *y, size_t rows, size_t cols, struct kernel **kernel,
                           struct launch *plan, cl_uint *vectors)
{
    *vectors = buf_same_phase(x, y);
    size_t max_threads = SIZE_MAX;
    for (;;) {
        struct row_map_plan chosen = plan_row_map(&ctx->limits, max_threads, bytes_per_item,
                                                  *vectors, rows, cols);
        /* Only held rows fix the group's shape: streamed ones share a build across shapes. */
        char shape[64] = "", options[160];
        if (chosen.held > 0)
            snprintf(shape, sizeof(shape), " -DTEAM=%zu -DTEAMS=%zu", chosen.launch.local[0],
                     chosen.launch.local[1]);
        snprintf(options, sizeof(options), "%s -DINDEX=%s -DHELD=%u -DLOCAL_SIZE=%zu%s", flavour,
                 row_index_type(cols), chosen.held, chosen.local, shape);
        CHECK(kernel_get(ctx, source, options, name, kernel));
        *plan = chosen.launch;
        if ((*kernel)->limits.work_group_size >= chosen.local || chosen.local == 1)
            return KILN_OK;
        /* The kernel's registers allow fewer items: plan again within its limit. */
        max_threads = (*kernel)->limits.work_group_size;
    }
}

const char *row_index_type(size_t count)
{
    return count <= (size_t)INT_MAX ? "uint" : "ulong";
}

/* The local arrays hold a float and an index per work-item. */
enum { REDUCE_BYTES_PER_ITEM = 2 * sizeof(float) };

static kiln_status check_reduce_op(const kiln_ctx *ctx, kiln_reduce_op op)
{
    if (op < KILN_REDUCE_SUM || op > KILN_REDUCE_ARGMAX)
        return fail(ctx, KILN_ERR_ARG,
                    "op is %d, not a kiln_reduce_op (KILN_REDUCE_SUM, _MAX, _MIN, _MEAN, "
                    "_SUMSQ or _ARGMAX)",
                    (int)op);
    return KILN_OK;
}

/* ARGMAX needs an element to point at, and indices that fit uint32 below its "none". */
static kiln_status check_argmax_length(const kiln_ctx *ctx, kiln_axis axis, size_t length)
{
    const char *what = axis == KILN_PER_ROW ? "cols" : "rows";
    if (length == 0)
        return fail(ctx, KILN_ERR_ARG,
                    "ARGMAX of an empty set: %s is 0, so there is no index to give", what);
    if (length > (size_t)UINT32_MAX - 1)
        return fail(ctx, KILN_ERR_ARG,
                    "ARGMAX over %s = %zu elements: its uint32 indices reach only %u", what,
                    length, UINT32_MAX - 2);
    return KILN_OK;
}

/* The context's partials for two-pass reductions, made at first use; the caller holds
 * the sum lock. */
static kiln_status reduce_partials_get(kiln_ctx *ctx, kiln_buf **partials)
{
    if (ctx->reduce_partials == NULL)
        CHECK(kiln_buf_create(ctx, 2 * REDUCE_MAX_PARTIALS * sizeof(float),
                              &ctx->reduce_partials));
    *partials = ctx->reduce_partials;
    return KILN_OK;
}

/* The second pass: y[c] = op over column c of the parts×results partials, `count`
 * elements in all (MEAN's divisor). */
static kiln_status partials_enqueue(kiln_ctx *ctx, const char *options, kiln_buf *partials,
                                    size_t parts, size_t results, size_t count, kiln_buf *y)
{
    struct kernel *kernel;
    size_t local;
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_partials", REDUCE_BYTES_PER_ITEM,
                         &kernel, &local));
    struct launch plan = plan_partials(&ctx->limits, local, parts, results);
    cl_ulong parts_arg = parts, results_arg = results, count_arg = count,
             indices_at = REDUCE_MAX_PARTIALS, y_offset = buf_elements_offset(y);
    const struct kernel_arg args[] = {
        KERNEL_ARG(parts_arg),  KERNEL_ARG(results_arg), KERNEL_ARG(count_arg),
        KERNEL_ARG_BUF(partials), KERNEL_ARG(indices_at), KERNEL_ARG_BUF(y),
        KERNEL_ARG(y_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* Few long rows: `pieces` groups per row into partials, then the second pass. */
static kiln_status row_pieces_enqueue(kiln_ctx *ctx, const char *options, struct kernel *kernel,
                                      size_t local, size_t pieces, const kiln_buf *x,
                                      kiln_buf *y, size_t rows, size_t cols, size_t ld)
{
    kiln_buf *partials;
    CHECK(reduce_partials_get(ctx, &partials));
    struct launch plan = plan_rows(local, rows * pieces);
    cl_ulong rows_arg = rows, cols_arg = cols, ld_arg = ld, x_offset = buf_elements_offset(x),
             indices_at = REDUCE_MAX_PARTIALS, pieces_arg = pieces;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows_arg),     KERNEL_ARG(cols_arg),   KERNEL_ARG(ld_arg),
        KERNEL_ARG_BUF(x),        KERNEL_ARG(x_offset),   KERNEL_ARG_BUF(partials),
        KERNEL_ARG(indices_at),   KERNEL_ARG(pieces_arg),
    };
    CHECK(kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0])));
    return partials_enqueue(ctx, options, partials, pieces, rows, cols, y);
}

static kiln_status reduce_rows_enqueue(kiln_ctx *ctx, const char *options, const kiln_buf *x,
                                       kiln_buf *y, size_t rows, size_t cols, size_t ld)
{
    struct kernel *kernel;
    size_t local;
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_row_pieces", REDUCE_BYTES_PER_ITEM,
                         &kernel, &local));
    size_t pieces = plan_row_pieces(&ctx->limits, local, rows, cols);
    if (pieces > 1) {
        pthread_mutex_lock(&ctx->sum_lock);
        kiln_status status = row_pieces_enqueue(ctx, options, kernel, local, pieces, x, y, rows,
                                                cols, ld);
        pthread_mutex_unlock(&ctx->sum_lock);
        return status;
    }
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_rows", REDUCE_BYTES_PER_ITEM, &kernel,
                         &local));
    struct launch plan = plan_row_teams(&ctx->limits, local, rows, cols);
    return row_kernel_launch(ctx, kernel, &plan, rows, cols, ld, x, y, NULL, 0);
}

/* One pass into y, or chunks of the rows into partials and then the second pass. */
static kiln_status columns_enqueue(kiln_ctx *ctx, const char *options, struct kernel *kernel,
                                   const struct launch *plan, const kiln_buf *x, kiln_buf *y,
                                   size_t rows, size_t cols, size_t ld)
{
    size_t chunks = plan->global[1] / plan->local[1];
    cl_ulong indices_at = REDUCE_MAX_PARTIALS;
    const struct kernel_arg extra[] = {KERNEL_ARG(indices_at)};
    if (chunks == 1)
        return row_kernel_launch(ctx, kernel, plan, rows, cols, ld, x, y, extra, 1);
    kiln_buf *partials;
    CHECK(reduce_partials_get(ctx, &partials));
    CHECK(row_kernel_launch(ctx, kernel, plan, rows, cols, ld, x, partials, extra, 1));
    return partials_enqueue(ctx, options, partials, chunks, cols, rows, y);
}

static kiln_status reduce_columns_enqueue(kiln_ctx *ctx, const char *options,
                                          const kiln_buf *x, kiln_buf *y, size_t rows,
                                          size_t cols, size_t ld)
{
    struct kernel *kernel;
    size_t local;
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_columns", REDUCE_BYTES_PER_ITEM,
                         &kernel, &local));
    struct launch plan = plan_columns(&ctx->limits, local, rows, cols);
    pthread_mutex_lock(&ctx->sum_lock);
    kiln_status status = columns_enqueue(ctx, options, kernel, &plan, x, y, rows, cols, ld);
    pthread_mutex_unlock(&ctx->sum_lock);
    return status;
}

KILN_API kiln_status kiln_reduce(kiln_ctx *ctx, kiln_reduce_op op, kiln_axis axis,
                                 const kiln_buf *x, kiln_buf *y, size_t rows, size_t cols,
                                 size_t ld)
{
    CHECK(check_ctx(ctx));
    CHECK(check_reduce_op(ctx, op));
    CHECK(check_axis(ctx, axis));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    size_t results = axis == KILN_PER_ROW ? rows : cols;
    size_t length = axis == KILN_PER_ROW ? cols : rows;
    if (op == KILN_REDUCE_ARGMAX && results > 0)
        CHECK(check_argmax_length(ctx, axis, length));
    CHECK(check_rows(ctx, x, "x", rows, cols, ld));
    CHECK(check_vector(ctx, y, "y", results));
    CHECK(check_apart(ctx, y, "y", x, "x"));
    if (results == 0)
        return KILN_OK;

    char options[64];
    snprintf(options, sizeof(options), "-DOP=%d -DINDEX=%s -DUNROLL=%u", (int)op,
             row_index_type(length), row_params_for(&ctx->limits)->unroll);
    if (axis == KILN_PER_ROW)
        return reduce_rows_enqueue(ctx, options, x, y, rows, cols, ld);
    return reduce_columns_enqueue(ctx, options, x, y, rows, cols, ld);
}

kiln_status partials_combine(kiln_ctx *ctx, int op, size_t groups, kiln_buf *y)
{
    char options[32];
    snprintf(options, sizeof(options), "-DOP=%d -DINDEX=uint", op);
    struct kernel *kernel;
    size_t local;
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_rows", REDUCE_BYTES_PER_ITEM, &kernel,
                         &local));
    kiln_buf *partials = ctx->sum_partials;
    cl_ulong one = 1, count = groups, zero = 0, y_offset = buf_elements_offset(y);
    struct launch plan = plan_rows(local, 1);
    const struct kernel_arg args[] = {
        KERNEL_ARG(one),  KERNEL_ARG(count),  KERNEL_ARG(count),   KERNEL_ARG_BUF(partials),
        KERNEL_ARG(zero), KERNEL_ARG_BUF(y), KERNEL_ARG(y_offset),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}

/* Both passes on the context's partials, under its sum lock so another thread's sum
 * cannot write them in between. */
static kiln_status sum_enqueue(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t n)
{
    const struct sum_lanes lanes = plan_sum_lanes(&ctx->limits);
    char options[96];
    snprintf(options, sizeof(options),
             "-DOP=0 -DINDEX=%s -DSUM_WIDTH=%u -DCHUNKED=%d -DUNROLL=%u", row_index_type(n),
             lanes.width, lanes.chunked, row_params_for(&ctx->limits)->unroll);
    struct kernel *first;
    size_t local;
    CHECK(row_kernel_get(ctx, "reduce", options, "reduce_vector", REDUCE_BYTES_PER_ITEM, &first,
                         &local));
    if (ctx->sum_partials == NULL)
        CHECK(kiln_buf_create(ctx, SUM_MAX_PARTIALS * sizeof(float), &ctx->sum_partials));
    kiln_buf *partials = ctx->sum_partials;

    struct launch plan = plan_sum(&ctx->limits, local, n, true);
    cl_ulong count = n, x_offset = buf_elements_offset(x);
    const struct kernel_arg first_args[] = {
        KERNEL_ARG(count),
        KERNEL_ARG_BUF(x),
        KERNEL_ARG(x_offset),
        KERNEL_ARG_BUF(partials),
    };
    CHECK(kernel_launch(ctx, first, &plan, first_args,
                        sizeof(first_args) / sizeof(first_args[0])));
    return partials_combine(ctx, 0, plan.global[0] / plan.local[0], y);
}

KILN_API kiln_status kiln_sum(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t n)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    CHECK(check_vector(ctx, x, "x", n));
    CHECK(check_vector(ctx, y, "y", 1));
    CHECK(check_apart(ctx, y, "y", x, "x"));

    pthread_mutex_lock(&ctx->sum_lock);
    kiln_status status = sum_enqueue(ctx, x, y, n);
    pthread_mutex_unlock(&ctx->sum_lock);
    return status;
}
