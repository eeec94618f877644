/* kiln_map and kiln_map_reduce: the bindings checked, the expression compiled by
 * lib/expr into cl/map.cl's element function, and the launches. */
#include "../internal.h"
#include "../expr/expr.h"

#include <stdio.h>
#include <string.h>

/* One expression through every stage; all of it in the arena but the key. */
struct compiled {
    struct arena arena;
    struct expr_tree tree;
    struct expr_variables variables;
    struct expr_code *code;
    char *key;
};

static void compiled_free(struct compiled *compiled)
{
    arena_free(&compiled->arena);
    free(compiled->key);
}

/* ---------------------------------------------------------------- checks */

/* [A-Za-z_][A-Za-z0-9_]* of at most EXPR_MAX_NAME characters. */
static bool is_language_name(const char *name)
{
    size_t length = strnlen(name, EXPR_MAX_NAME + 1);
    if (length == 0 || length > EXPR_MAX_NAME || (name[0] >= '0' && name[0] <= '9'))
        return false;
    for (size_t i = 0; i < length; ++i) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return false;
    }
    return true;
}

static kiln_status check_binding(const kiln_ctx *ctx, const kiln_binding *binding,
                                 size_t index)
{
    if (binding->name == NULL)
        return fail(ctx, KILN_ERR_ARG, "bindings[%zu].name is NULL", index);
    if (!is_language_name(binding->name))
        return fail(ctx, KILN_ERR_ARG, "bindings[%zu].name \"%.*s\" is not a name: "
                    "[A-Za-z_][A-Za-z0-9_]*, at most %d characters", index, EXPR_MAX_NAME + 1,
                    binding->name, EXPR_MAX_NAME);
    if (binding->kind < KILN_BIND_ARRAY || binding->kind > KILN_BIND_COL)
        return fail(ctx, KILN_ERR_ARG, "bindings[%zu].kind is %d, not a kiln_bind_kind "
                    "(KILN_BIND_ARRAY, _SCALAR, _ROW or _COL)", index, (int)binding->kind);
    if (binding->kind != KILN_BIND_SCALAR)
        CHECK(check_buf(ctx, binding->buf, binding->name));
    return KILN_OK;
}

static kiln_status check_bindings(const kiln_ctx *ctx, const kiln_binding *bindings,
                                  size_t count)
{
    if (count > EXPR_MAX_BINDINGS)
        return fail(ctx, KILN_ERR_ARG, "count is %zu: at most %d bindings", count,
                    EXPR_MAX_BINDINGS);
    if (bindings == NULL && count > 0)
        return fail(ctx, KILN_ERR_ARG, "bindings is NULL");
    for (size_t i = 0; i < count; ++i) {
        CHECK(check_binding(ctx, &bindings[i], i));
        for (size_t j = 0; j < i; ++j)
            if (strcmp(bindings[i].name, bindings[j].name) == 0)
                return fail(ctx, KILN_ERR_ARG, "bindings[%zu] and [%zu] are both named '%s'",
                            j, i, bindings[i].name);
    }
    return KILN_OK;
}

/* Parses, checks and lowers expr; *compiled is to be freed whatever the result. */
static kiln_status compile(const kiln_ctx *ctx, const char *expr, enum expr_mode mode,
                           const kiln_binding *bindings, size_t count,
                           struct compiled *compiled)
{
    memset(compiled, 0, sizeof(*compiled));
    if (expr == NULL)
        return fail(ctx, KILN_ERR_ARG, "expr is NULL");
    size_t length = strnlen(expr, EXPR_MAX_LENGTH + 1);
    if (length > EXPR_MAX_LENGTH)
        return fail(ctx, KILN_ERR_ARG, "expr is longer than %d bytes", EXPR_MAX_LENGTH);
    struct expr_error error = {KILN_OK, ""};
    if (!expr_parse(expr, length, mode, &compiled->arena, &compiled->tree, &error) ||
        !expr_check(&compiled->tree, bindings, count, &compiled->variables, &error,
                    &compiled->arena) ||
        !expr_lower(&compiled->tree, &compiled->variables, &compiled->arena, &compiled->code,
                    &error))
        return fail(ctx, error.status, "%s", error.message);
    if ((compiled->key = expr_key(compiled->code)) == NULL)
        return fail(ctx, KILN_ERR_NOMEM, "out of host memory compiling an expression");
    return KILN_OK;
}

/* Each used buffer holds what its kind reads or writes over rows×cols. */
static kiln_status check_sizes(const kiln_ctx *ctx, const struct expr_variables *variables,
                               const kiln_binding *bindings, size_t rows, size_t cols)
{
    size_t elements;
    CHECK(size_mul(ctx, rows, cols, &elements, "rows x cols"));
    for (size_t v = 0; v < variables->count; ++v) {
        const kiln_binding *binding = &bindings[variables->list[v].binding];
        size_t needed = binding->kind == KILN_BIND_ARRAY ? elements
                        : binding->kind == KILN_BIND_ROW ? cols
                                                         : rows;
        if (binding->kind != KILN_BIND_SCALAR)
            CHECK(check_vector(ctx, binding->buf, binding->name, needed));
    }
    return KILN_OK;
}

/* Outputs share no memory with each other; with an input only elementwise (the very
 * same range of an ARRAY), never with a ROW or COL, which other elements read too. */
static kiln_status check_outputs(const kiln_ctx *ctx, const struct expr_variables *variables,
                                 const kiln_binding *bindings)
{
    for (size_t w = 0; w < variables->count; ++w) {
        if (!variables->list[w].written)
            continue;
        const kiln_binding *out = &bindings[variables->list[w].binding];
        for (size_t v = 0; v < variables->count; ++v) {
            const kiln_binding *in = &bindings[variables->list[v].binding];
            if (v == w || in->kind == KILN_BIND_SCALAR)
                continue;
            if (variables->list[v].written && ranges_overlap(out->buf, in->buf))
                return fail(ctx, KILN_ERR_ARG, "the outputs %s and %s share memory",
                            out->name, in->name);
            if (in->kind == KILN_BIND_ARRAY)
                CHECK(check_same_or_apart(ctx, out->buf, out->name, in->buf, in->name));
            else
                CHECK(check_apart(ctx, out->buf, out->name, in->buf, in->name));
        }
    }
    return KILN_OK;
}

/* ---------------------------------------------------------------- launches */

static char *generate(const void *code)
{
    return expr_opencl(code);
}

/* The kernel's arguments: rows, cols, then `extra`, then each variable's buffer and
 * element offset (offsets fills in) or scalar value. */
enum { MAP_MAX_ARGS = 3 + 2 * EXPR_MAX_BINDINGS };
static size_t map_arguments(const struct expr_variables *variables,
                            const kiln_binding *bindings, const cl_ulong *sizes,
                            const kiln_buf *extra, cl_ulong *offsets, struct kernel_arg *args)
{
    size_t count = 0;
    args[count++] = KERNEL_ARG(sizes[0]);
    args[count++] = KERNEL_ARG(sizes[1]);
    if (extra != NULL)
        args[count++] = KERNEL_ARG_BUF(extra);
    for (size_t v = 0; v < variables->count; ++v) {
        const kiln_binding *binding = &bindings[variables->list[v].binding];
        if (binding->kind == KILN_BIND_SCALAR) {
            args[count++] = KERNEL_ARG(binding->value);
            continue;
        }
        offsets[v] = buf_elements_offset(binding->buf);
        args[count++] = KERNEL_ARG_BUF(binding->buf);
        args[count++] = KERNEL_ARG(offsets[v]);
    }
    return count;
}

/* Every ARRAY starts on a 16-byte boundary: cl/map.cl's MAP_VECTOR path applies. */
static bool arrays_on_float4(const struct expr_variables *variables,
                             const kiln_binding *bindings)
{
    for (size_t v = 0; v < variables->count; ++v) {
        const kiln_binding *binding = &bindings[variables->list[v].binding];
        if (binding->kind == KILN_BIND_ARRAY && !buf_on_float4(binding->buf))
            return false;
    }
    return true;
}

/* The plan: the float4 path when every ARRAY starts on a 16-byte boundary, the kernel
 * built for the path, and a launch over float4s (flat, ROW and COL too), else over
 * elements (2-D with ROW or COL). */
static kiln_status map_plan_make(kiln_ctx *ctx, const struct compiled *compiled,
                                 const kiln_binding *bindings, size_t rows, size_t cols,
                                 struct map_plan *plan)
{
    size_t n = rows * cols;
    plan->vector = arrays_on_float4(&compiled->variables, bindings);
    plan->two_dimensional = compiled->variables.per_row_or_col;
    snprintf(plan->options, sizeof(plan->options), "-DINDEX=%s -DMAP_VECTOR=%d",
             row_index_type(n), plan->vector);
    const struct generated_request request = {"map", "map_expression", compiled->key,
                                              plan->options, "map", generate, compiled->code};
    CHECK(generated_kernel_get(ctx, &request, &plan->kernel));
    const struct kernel_limits *limits = &plan->kernel->limits;
    plan->launch = plan->vector ? plan_elementwise(&ctx->limits, limits, n / 4 + (n % 4 != 0))
                   : plan->two_dimensional ? plan_bias_act(&ctx->limits, limits, rows, cols)
                                           : plan_elementwise(&ctx->limits, limits, n);
    return KILN_OK;
}

void map_plan_release(kiln_ctx *ctx, struct map_plan *plan)
{
    generated_kernel_put(ctx, plan->kernel);
    plan->kernel = NULL;
}

static kiln_status map_enqueue(kiln_ctx *ctx, const struct compiled *compiled,
                               const kiln_binding *bindings, size_t rows, size_t cols)
{
    struct map_plan plan;
    CHECK(map_plan_make(ctx, compiled, bindings, rows, cols, &plan));
    const cl_ulong sizes[2] = {rows, cols};
    cl_ulong offsets[EXPR_MAX_BINDINGS];
    struct kernel_arg args[MAP_MAX_ARGS];
    size_t count = map_arguments(&compiled->variables, bindings, sizes, NULL, offsets, args);
    kiln_status status = kernel_launch(ctx, plan.kernel, &plan.launch, args, count);
    map_plan_release(ctx, &plan);
    return status;
}

kiln_status map_plan_for(kiln_ctx *ctx, const char *expr, size_t rows, size_t cols,
                         const kiln_binding *bindings, size_t count, struct map_plan *plan,
                         char **source)
{
    CHECK(check_bindings(ctx, bindings, count));
    struct compiled compiled;
    kiln_status status = compile(ctx, expr, EXPR_MAP, bindings, count, &compiled);
    if (status == KILN_OK)
        status = map_plan_make(ctx, &compiled, bindings, rows, cols, plan);
    if (status == KILN_OK && (*source = expr_opencl(compiled.code)) == NULL) {
        map_plan_release(ctx, plan);
        status = fail(ctx, KILN_ERR_NOMEM, "out of host memory for the generated source");
    }
    compiled_free(&compiled);
    return status;
}

KILN_API kiln_status kiln_map(kiln_ctx *ctx, const char *expr, size_t rows, size_t cols,
                              const kiln_binding *bindings, size_t count)
{
    CHECK(check_ctx(ctx));
    CHECK(check_bindings(ctx, bindings, count));
    struct compiled compiled;
    kiln_status status = compile(ctx, expr, EXPR_MAP, bindings, count, &compiled);
    if (status == KILN_OK)
        status = check_sizes(ctx, &compiled.variables, bindings, rows, cols);
    if (status == KILN_OK)
        status = check_outputs(ctx, &compiled.variables, bindings);
    if (status == KILN_OK && rows > 0 && cols > 0)
        status = map_enqueue(ctx, &compiled, bindings, rows, cols);
    compiled_free(&compiled);
    return status;
}

/* The first pass with -DLOCAL_SIZE: the dispatcher's group, smaller when the built
 * kernel allows fewer work-items (as row_kernel_get). Held: generated_kernel_put. */
static kiln_status reduce_kernel_get(kiln_ctx *ctx, const struct compiled *compiled,
                                     size_t elements, bool vector, struct kernel **kernel,
                                     size_t *local)
{
    size_t items = plan_row_local(&ctx->limits, SIZE_MAX, sizeof(float));
    bool chunked = plan_sum_lanes(&ctx->limits).chunked;
    for (;;) {
        char options[96];
        snprintf(options, sizeof(options),
                 "-DINDEX=%s -DLOCAL_SIZE=%zu -DMAP_VECTOR=%d -DCHUNKED=%d",
                 row_index_type(elements), items, vector, chunked);
        const struct generated_request request = {"map", "map_expression", compiled->key,
                                                  options, "map_reduce", generate,
                                                  compiled->code};
        CHECK(generated_kernel_get(ctx, &request, kernel));
        if ((*kernel)->limits.work_group_size >= items || items == 1)
            break;
        generated_kernel_put(ctx, *kernel);
        items = plan_row_local(&ctx->limits, (*kernel)->limits.work_group_size, sizeof(float));
    }
    *local = items;
    return KILN_OK;
}

/* Both passes on the context's partials, under its sum lock (as kiln_sum). */
static kiln_status map_reduce_enqueue(kiln_ctx *ctx, const struct compiled *compiled,
                                      const kiln_binding *bindings, size_t rows, size_t cols,
                                      kiln_buf *result)
{
    if (ctx->sum_partials == NULL)
        CHECK(kiln_buf_create(ctx, SUM_MAX_PARTIALS * sizeof(float), &ctx->sum_partials));
    struct kernel *kernel;
    size_t local;
    CHECK(reduce_kernel_get(ctx, compiled, rows * cols,
                            arrays_on_float4(&compiled->variables, bindings), &kernel, &local));
    struct launch plan = plan_sum(&ctx->limits, local, rows * cols, false);
    const cl_ulong sizes[2] = {rows, cols};
    cl_ulong offsets[EXPR_MAX_BINDINGS];
    struct kernel_arg args[MAP_MAX_ARGS];
    size_t count = map_arguments(&compiled->variables, bindings, sizes, ctx->sum_partials,
                                 offsets, args);
    kiln_status status = kernel_launch(ctx, kernel, &plan, args, count);
    generated_kernel_put(ctx, kernel);
    if (status != KILN_OK)
        return status;
    return partials_combine(ctx, (int)compiled->tree.reduction,
                            plan.global[0] / plan.local[0], result);
}

/* result overlaps no buffer the expression reads. */
static kiln_status check_result(const kiln_ctx *ctx, const struct expr_variables *variables,
                                const kiln_binding *bindings, const kiln_buf *result)
{
    CHECK(check_vector(ctx, result, "result", 1));
    for (size_t v = 0; v < variables->count; ++v) {
        const kiln_binding *in = &bindings[variables->list[v].binding];
        if (in->kind != KILN_BIND_SCALAR)
            CHECK(check_apart(ctx, result, "result", in->buf, in->name));
    }
    return KILN_OK;
}

KILN_API kiln_status kiln_map_reduce(kiln_ctx *ctx, const char *expr, size_t rows,
                                     size_t cols, const kiln_binding *bindings,
                                     size_t count, kiln_buf *result)
{
    CHECK(check_ctx(ctx));
    CHECK(check_bindings(ctx, bindings, count));
    CHECK(check_buf(ctx, result, "result"));
    struct compiled compiled;
    kiln_status status = compile(ctx, expr, EXPR_REDUCE, bindings, count, &compiled);
    if (status == KILN_OK)
        status = check_sizes(ctx, &compiled.variables, bindings, rows, cols);
    if (status == KILN_OK)
        status = check_result(ctx, &compiled.variables, bindings, result);
    if (status == KILN_OK) {
        pthread_mutex_lock(&ctx->sum_lock);
        status = map_reduce_enqueue(ctx, &compiled, bindings, rows, cols, result);
        pthread_mutex_unlock(&ctx->sum_lock);
    }
    compiled_free(&compiled);
    return status;
}
