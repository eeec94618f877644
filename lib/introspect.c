/* Introspection for tools: each kiln kernel's own limits, and the dispatcher's plan for
 * an operation and shape with the reasons behind it. The choices themselves come from
 * dispatch.c's pure functions; this file only rebuilds their inputs and puts the
 * outcome into words. */
#include "introspect.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One operation: how its kernel is built and how its shape is written. */
struct op_kind {
    const char *name;    /* as --plan takes it */
    const char *label;   /* of its kernel */
    const char *source;  /* embedded source and kernel name */
    const char *options; /* NULL: GEMM or geam, whose options carry the tile */
    const char *block_label; /* GEMM: of cl/gemm_block.cl's kernel */
    const char *cpu_label;   /* GEMM: of cl/gemm_cpu.cl's kernel */
    kiln_act act;        /* GEMM epilogue */
    unsigned dims;
    const char *shape;   /* for messages */
};

/* The options are the ones lib/ops/ build with: vadd and sigmoid on float4-aligned
 * operands, geam with A transposed (without transposes on contiguous matrices it is the
 * elementwise kernel), dense with its sigmoid epilogue, which makes it a kernel of its
 * own. */
static const struct op_kind op_kinds[PLAN_OP_COUNT] = {
    [PLAN_VADD] = {"vadd", "elementwise (vadd)", "elementwise",
                   "-DOP=1 -DVECTOR_ALIGNED=1 -DINDEX=uint", NULL, NULL, KILN_ACT_NONE, 1, "N"},
    [PLAN_SIGMOID] = {"sigmoid", "elementwise (sigmoid)", "elementwise",
                      "-DOP=2 -DVECTOR_ALIGNED=1 -DINDEX=uint", NULL, NULL, KILN_ACT_NONE, 1,
                      "N"},
    [PLAN_GEAM] = {"geam", "geam (A transposed)", "geam", NULL, NULL, NULL, KILN_ACT_NONE, 2,
                   "MxN"},
    [PLAN_SGEMM] = {"sgemm", "gemm (sgemm)", "gemm", NULL, "gemm_block (sgemm)",
                    "gemm_cpu (sgemm)", KILN_ACT_NONE, 3, "MxNxK"},
    [PLAN_DENSE] = {"dense", "gemm (dense, sigmoid)", "gemm", NULL,
                    "gemm_block (dense, sigmoid)", "gemm_cpu (dense, sigmoid)",
                    KILN_ACT_SIGMOID, 3, "OUTxINxBATCH"},
    [PLAN_GEMM_EX] = {"gemm_ex", "gemm (gemm_ex)", "gemm", NULL, "gemm_block (gemm_ex)",
                      "gemm_cpu (gemm_ex)", KILN_ACT_NONE, 3, "MxNxK"},
};

/* The --kernels entry of cl/gemm_block.cl, after one entry per plan_op. */
static const char block_kernel_label[] = "gemm_block (sgemm, largest tile)";

const char plan_usage[] =
    "vadd N, sigmoid N, geam MxN, sgemm MxNxK, dense OUTxINxBATCH, gemm_ex MxNxK";

static struct gemm_table block_table(const kiln_ctx *ctx)
{
    return gemm_block_table(&ctx->limits);
}

/* Steps of the float4 loop of cl/elementwise.cl (the tail rides on the first). */
static size_t float4_count(size_t n)
{
    return n / 4 + (n % 4 != 0);
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t ceil_div(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

/* ---------------------------------------------------------------- building kernels */

/* A kernel as an operation builds it; for GEMM also the tile and the work-item bound
 * the tile search ended with, and for a plan whether cl/gemm_block.cl took the shape. */
struct built {
    const char *label;
    enum gemm_kind kind; /* of a GEMM kernel */
    struct kernel *kernel; /* NULL: no tile of the block table fits the device */
    char options[192];
    const struct gemm_config *config;
    const struct geam_config *geam;
    size_t max_threads;
    enum gemm_block_verdict verdict; /* plans of GEMM operations */
    struct gemm_kernel block;        /* when the verdict is GEMM_BLOCK_KERNEL_LIMIT */
    struct gemm_tc_plan tc;          /* gemm_ex: the tensor-core family's plan */
};

/* The product a GEMM operation makes of its shape: C is M x N, summed over K. */
struct gemm_dims {
    size_t m, n, k;
};

static struct gemm_dims gemm_dims_of(const struct plan_request *request)
{
    const size_t *shape = request->shape;
    if (request->op == PLAN_DENSE) /* OUT x IN x BATCH: y is OUT x BATCH */
        return (struct gemm_dims){shape[0], shape[2], shape[1]};
    return (struct gemm_dims){shape[0], shape[1], shape[2]};
}

static void take_gemm(const struct gemm_kernel *picked, const char *label, struct built *out)
{
    out->label = label;
    out->kind = picked->kind;
    out->kernel = picked->kernel;
    out->config = picked->config;
    out->max_threads = picked->max_threads;
    snprintf(out->options, sizeof(out->options), "%s", picked->options);
}

/* The operation's product with tight matrices (ld the row length) starting at offset 0,
 * alpha 1; a stand-in buffer carries the offset. */
static struct gemm_call plan_call(const struct plan_request *request, kiln_buf *standin)
{
    const struct gemm_dims dims = gemm_dims_of(request);
    return (struct gemm_call){KILN_NO_TRANS, KILN_NO_TRANS, dims.m, dims.n, dims.k, 1.0f,
                              standin, dims.k, standin, dims.n, 0.0f, standin, dims.n, NULL,
                              op_kinds[request->op].act, 1, 0, 0, 0, request->dtype,
                              request->dtype, request->math};
}

static kiln_status build_gemm(kiln_ctx *ctx, const struct plan_request *request,
                              struct built *out)
{
    struct gemm_kernel picked;
    kiln_buf standin = {0};
    const struct gemm_call call = plan_call(request, &standin);
    CHECK(gemm_portable_pick(ctx, &call, &picked));
    take_gemm(&picked, op_kinds[request->op].label, out);
    return KILN_OK;
}

/* The request of --kernels for a GEMM operation: gemm_ex's in bf16, so the list shows
 * a kernel that converts. */
static struct plan_request kernel_request(enum plan_op op)
{
    struct plan_request request = {op, 3, {1, 1, 1}, KILN_DTYPE_F32, KILN_MATH_STRICT};
    if (op == PLAN_GEMM_EX)
        request.dtype = KILN_DTYPE_BF16;
    return request;
}

/* gemm_block_pick's verdict on the request's product. */
static kiln_status block_pick(kiln_ctx *ctx, const struct plan_request *request,
                              struct gemm_kernel *out, enum gemm_block_verdict *verdict)
{
    kiln_buf standin = {0};
    const struct gemm_call call = plan_call(request, &standin);
    return gemm_block_pick(ctx, &call, out, verdict);
}

/* The kernel gemm_portable_enqueue would launch for the request. */
static kiln_status build_plan_gemm(kiln_ctx *ctx, const struct plan_request *request,
                                   struct built *out)
{
    struct gemm_kernel picked;
    if (ctx->limits.family == FAMILY_CPU) {
        kiln_buf standin = {0};
        const struct gemm_call call = plan_call(request, &standin);
        bool used;
        CHECK(gemm_cpu_pick(ctx, &call, &picked, &used));
        if (used) {
            take_gemm(&picked, op_kinds[request->op].cpu_label, out);
            return KILN_OK;
        }
    }
    CHECK(block_pick(ctx, request, &picked, &out->verdict));
    if (out->verdict == GEMM_BLOCK_USED) {
        take_gemm(&picked, op_kinds[request->op].block_label, out);
        return KILN_OK;
    }
    if (out->verdict == GEMM_BLOCK_KERNEL_LIMIT)
        out->block = picked;
    return build_gemm(ctx, request, out);
}

/* m x n x k of compute-units blocks of the tile: plan_gemm_block_config takes the first
 * tile of its table that fits the device and divides this, and enough blocks stop its
 * search there. That is this tile when it fits and no larger one does both. */
static struct gemm_dims block_tile_dims(const kiln_ctx *ctx, const struct gemm_config *tile)
{
    size_t units = ctx->limits.compute_units > 0 ? ctx->limits.compute_units : 1;
    return (struct gemm_dims){tile->tile_m * units, tile->tile_n, tile->tile_k};
}

/* Whether a block tile fits the device as plan_gemm_block_config judges it (work-items,
 * work-item sizes, local memory). Should a larger tile both fit and divide this one's
 * dimensions, it cannot tell and says true. */
static bool block_tile_fits(const kiln_ctx *ctx, const struct gemm_config *tile)
{
    struct gemm_dims dims = block_tile_dims(ctx, tile);
    const struct gemm_config *got = plan_gemm_block_config(
        &ctx->limits, ctx->limits.max_work_group_size, dims.m, dims.n, dims.k);
    return got != NULL && got <= tile;
}

/* cl/gemm_block.cl as sgemm builds it with the largest tile of its table that fits the
 * device (the first that fits: every larger one was found not to). */
static kiln_status build_block(kiln_ctx *ctx, struct built *out)
{
    out->label = block_kernel_label;
    for (size_t i = 0; i < block_table(ctx).count; ++i) {
        const struct gemm_config *tile = &block_table(ctx).configs[i];
        if (!block_tile_fits(ctx, tile))
            continue;
        struct gemm_kernel picked;
        enum gemm_block_verdict verdict;
        const struct gemm_dims dims = block_tile_dims(ctx, tile);
        const struct plan_request request = {PLAN_SGEMM, 3, {dims.m, dims.n, dims.k},
                                             KILN_DTYPE_F32, KILN_MATH_STRICT};
        CHECK(block_pick(ctx, &request, &picked, &verdict));
        if (verdict == GEMM_BLOCK_USED || verdict == GEMM_BLOCK_KERNEL_LIMIT)
            take_gemm(&picked, block_kernel_label, out);
        return KILN_OK;
    }
    return KILN_OK;
}

static kiln_status build_geam(kiln_ctx *ctx, struct built *out)
{
    struct geam_kernel picked;
    CHECK(geam_pick(ctx, KILN_TRANS, KILN_NO_TRANS, &picked));
    out->label = op_kinds[PLAN_GEAM].label;
    out->kernel = picked.kernel;
    out->geam = picked.config;
    snprintf(out->options, sizeof(out->options), "%s", picked.options);
    return KILN_OK;
}

/* Kernel `which` (a plan_op or KERNEL_GEMM_BLOCK) as --kernels lists it. */
static kiln_status build_kernel(kiln_ctx *ctx, unsigned which, struct built *out)
{
    memset(out, 0, sizeof(*out));
    if (which == KERNEL_GEMM_BLOCK)
        return build_block(ctx, out);
    const struct op_kind *kind = &op_kinds[which];
    if (which == PLAN_GEAM)
        return build_geam(ctx, out);
    if (kind->options == NULL) {
        const struct plan_request request = kernel_request((enum plan_op)which);
        return build_gemm(ctx, &request, out);
    }
    out->label = kind->label;
    snprintf(out->options, sizeof(out->options), "%s", kind->options);
    return kernel_get(ctx, kind->source, kind->options, kind->source, &out->kernel);
}

/* The kernel the request's operation would launch for its shape. */
static kiln_status build_plan(kiln_ctx *ctx, const struct plan_request *request,
                              struct built *out)
{
    if (request->op != PLAN_SGEMM && request->op != PLAN_DENSE && request->op != PLAN_GEMM_EX)
        return build_kernel(ctx, request->op, out);
    memset(out, 0, sizeof(*out));
    if (request->op == PLAN_GEMM_EX) { /* gemm_enqueue's first choice, as it builds it */
        kiln_buf standin = {0};
        const struct gemm_call call = plan_call(request, &standin);
        CHECK(gemm_tc_build(ctx, &call, &out->tc));
    }
    if (out->tc.path == GEMM_TC_NONE)
        return build_plan_gemm(ctx, request, out);
    out->label = out->tc.tile->kernel;
    out->kernel = out->tc.kernel;
    snprintf(out->options, sizeof(out->options), "%s", out->tc.options);
    return KILN_OK;
}

static kiln_status report_read(kiln_ctx *ctx, const struct built *built,
                               struct kernel_report *report)
{
    memset(report, 0, sizeof(*report));
    report->label = built->label;
    snprintf(report->options, sizeof(report->options), "%s", built->options);
    if (built->kernel == NULL)
        return KILN_OK;
    report->work_group_size = built->kernel->limits.work_group_size;
    report->preferred_multiple = built->kernel->limits.preferred_multiple;
    cl_ulong local = 0, private_bytes = 0;
    cl_int err = clGetKernelWorkGroupInfo(built->kernel->kernel, ctx->device,
                                          CL_KERNEL_LOCAL_MEM_SIZE, sizeof(local), &local,
                                          NULL);
    if (err == CL_SUCCESS)
        err = clGetKernelWorkGroupInfo(built->kernel->kernel, ctx->device,
                                       CL_KERNEL_PRIVATE_MEM_SIZE, sizeof(private_bytes),
                                       &private_bytes, NULL);
    if (err != CL_SUCCESS)
        return fail_cl(ctx, "clGetKernelWorkGroupInfo", err);
    report->local_mem_bytes = local;
    report->private_mem_bytes = private_bytes;
    return KILN_OK;
}

kiln_status introspect_kernel(kiln_ctx *ctx, unsigned which, struct kernel_report *report)
{
    CHECK(check_ctx(ctx));
    if (which >= KERNEL_COUNT || report == NULL)
        return fail(ctx, KILN_ERR_ARG, "no such kernel (%u) or report is NULL", which);
    struct built built;
    CHECK(build_kernel(ctx, which, &built));
    return report_read(ctx, &built, report);
}

kiln_status introspect_kernels(kiln_ctx *ctx, struct kernel_report *reports)
{
    for (unsigned which = 0; which < KERNEL_COUNT; ++which)
        CHECK(introspect_kernel(ctx, which, &reports[which]));
    return KILN_OK;
}

/* ---------------------------------------------------------------- requests */

/* One size of a shape: digits, at least 1, within size_t; *end after them. */
static bool parse_size(const char *text, const char **end, size_t *out)
{
    if (*text < '0' || *text > '9')
        return false;
    errno = 0;
    char *stop;
    unsigned long long value = strtoull(text, &stop, 10);
    *end = stop;
    *out = (size_t)value;
    return errno == 0 && value >= 1 && value <= (size_t)-1;
}

static kiln_status parse_shape(const struct op_kind *kind, const char *shape,
                               struct plan_request *out)
{
    const char *at = shape;
    for (unsigned d = 0; d < kind->dims; ++d) {
        if (d > 0 && (*at == 'x' || *at == 'X'))
            ++at;
        else if (d > 0)
            break;
        if (!parse_size(at, &at, &out->shape[d]))
            break;
        if (d + 1 == kind->dims && *at == '\0')
            return KILN_OK;
    }
    return fail(NULL, KILN_ERR_ARG,
                "bad shape \"%s\" for %s: expected %s, sizes of at least 1 (%s)", shape,
                kind->name, kind->shape, plan_usage);
}

const char map_plan_usage[] =
    "map EXPR ROWS COLS NAME=KIND..., KIND array, array@N (N floats into its buffer), row, "
    "col or scalar";

kiln_status map_request_parse(const char *expr, const char *rows, const char *cols,
                              struct map_request *out)
{
    memset(out, 0, sizeof(*out));
    out->expr = expr;
    const char *end = "";
    if (!parse_size(rows, &end, &out->rows) || *end != '\0' ||
        !parse_size(cols, &end, &out->cols) || *end != '\0')
        return fail(NULL, KILN_ERR_ARG, "bad size \"%s\" or \"%s\" for map: ROWS and COLS "
                    "are digits, at least 1 (%s)", rows, cols, map_plan_usage);
    return KILN_OK;
}

/* The kind `text` names (kiln_bind_kind's order), and an ARRAY's offset in floats. */
static bool parse_kind(const char *text, kiln_bind_kind *kind, size_t *offset)
{
    static const char *const kinds[] = {"array", "scalar", "row", "col"};
    const char *end = "";
    *offset = 0;
    for (int k = 0; k < 4; ++k)
        if (strcmp(text, kinds[k]) == 0) {
            *kind = (kiln_bind_kind)k;
            return true;
        }
    *kind = KILN_BIND_ARRAY;
    return strncmp(text, "array@", 6) == 0 && parse_size(text + 6, &end, offset) &&
           *end == '\0';
}

kiln_status map_request_bind(struct map_request *request, const char *spec)
{
    const size_t at = request->count, length = strcspn(spec, "=");
    if (at == MAP_REQUEST_MAX_BINDINGS)
        return fail(NULL, KILN_ERR_ARG, "%s: more than %d bindings", spec,
                    MAP_REQUEST_MAX_BINDINGS);
    if (spec[length] != '=' || length == 0 || length >= sizeof(request->names[at]) ||
        !parse_kind(spec + length + 1, &request->kinds[at], &request->offsets[at]))
        return fail(NULL, KILN_ERR_ARG, "bad binding \"%s\": NAME=KIND, KIND array, array@N "
                    "(N floats into its buffer), row, col or scalar", spec);
    memcpy(request->names[at], spec, length);
    request->names[at][length] = '\0';
    request->count++;
    return KILN_OK;
}

static const char *const dtype_names[] = {"f32", "f16", "bf16"};
static const char *const math_names[] = {"strict", "tf32x3", "tf32", "fast"};

/* The index of name in names[count], or -1. */
static int name_index(const char *name, const char *const *names, int count)
{
    for (int i = 0; i < count; ++i)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

kiln_status plan_request_types(struct plan_request *request, const char *dtype,
                               const char *math)
{
    int type = dtype != NULL ? name_index(dtype, dtype_names, 3) : (int)request->dtype;
    int level = math != NULL ? name_index(math, math_names, 4) : (int)request->math;
    if (type < 0)
        return fail(NULL, KILN_ERR_ARG, "unknown type \"%s\": f32, f16 or bf16", dtype);
    if (level < 0)
        return fail(NULL, KILN_ERR_ARG,
                    "unknown math level \"%s\": strict, tf32x3, tf32 or fast", math);
    request->dtype = (kiln_dtype)type;
    request->math = (kiln_math)level;
    return KILN_OK;
}

kiln_status plan_request_parse(const char *op, const char *shape, struct plan_request *out)
{
    if (op == NULL || shape == NULL || out == NULL)
        return fail(NULL, KILN_ERR_ARG, "op, shape or out is NULL");
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < PLAN_OP_COUNT; ++i)
        if (strcmp(op, op_kinds[i].name) == 0) {
            out->op = (enum plan_op)i;
            out->dims = op_kinds[i].dims;
            return parse_shape(&op_kinds[i], shape, out);
        }
    return fail(NULL, KILN_ERR_ARG, "unknown operation \"%s\": plans exist for %s", op,
                plan_usage);
}

/* ---------------------------------------------------------------- reasons */

static void KILN_PRINTF_LIKE(2, 3) why_add(struct plan_report *report, const char *fmt, ...)
{
    size_t used = strlen(report->why);
    if (used + 1 >= sizeof(report->why))
        return;
    va_list args;
    va_start(args, fmt);
    vsnprintf(report->why + used, sizeof(report->why) - used, fmt, args);
    va_end(args);
}

/* What bound a local size of one dimension that the dispatcher took at most `limit`
 * (min of the device's and the kernel's work-group sizes) and item_size. */
static const char *local_bound(size_t local, size_t limit, size_t item_size,
                               const struct device_limits *device)
{
    if (local == item_size && item_size < limit)
        return "the device's max work-item size in this dimension";
    if (local == limit && limit == device->max_work_group_size)
        return "the device's max work-group size";
    if (local == limit)
        return "the kernel's CL_KERNEL_WORK_GROUP_SIZE";
    return "the dispatcher's own size, below every limit";
}

static void explain_limits(const kiln_ctx *ctx, const struct kernel_report *kernel,
                           struct plan_report *report)
{
    why_add(report,
            "limits: device max work-group %zu, kernel CL_KERNEL_WORK_GROUP_SIZE %zu, "
            "preferred multiple %zu, %zu compute units\n",
            ctx->limits.max_work_group_size, kernel->work_group_size,
            kernel->preferred_multiple, ctx->limits.compute_units);
}

/* How many work-groups one dimension has, against how many one element per work-item
 * would need. */
static void explain_groups(const char *what, size_t groups, size_t needed,
                           struct plan_report *report)
{
    if (groups < needed)
        why_add(report,
                "%s: %zu work-groups, not the %zu that one element per work-item needs: "
                "capped to fill the compute units a few times over; each work-item "
                "loops over several elements (grid-stride)\n",
                what, groups, needed);
    else
        why_add(report, "%s: %zu work-groups, one element per work-item\n", what, groups);
}

/* A flat grid-stride launch over `items` steps, each a float4 or an element (`what`). */
static void explain_flat(const kiln_ctx *ctx, const char *what, size_t items,
                         struct plan_report *report)
{
    const struct device_limits *device = &ctx->limits;
    size_t local = report->launch.local[0], multiple = report->kernel.preferred_multiple;
    size_t limit = min_size(device->max_work_group_size, report->kernel.work_group_size);
    why_add(report, "local %zu: bound by %s%s\n", local,
            local_bound(local, limit, device->max_work_item_sizes[0], device),
            multiple > 1 && local % multiple == 0 ? ", a multiple of the preferred multiple"
                                                  : "");
    explain_groups(what, report->groups[0], ceil_div(items, local), report);
}

static void explain_elementwise(const kiln_ctx *ctx, size_t n, struct plan_report *report)
{
    explain_flat(ctx, "grid (a float4 per work-item per step)", float4_count(n), report);
}

/* geam's work-items each move TILE / TILE_ROWS elements of a TILE×TILE block. */
static void explain_geam(const kiln_ctx *ctx, const struct built *built, size_t rows,
                         size_t cols, struct plan_report *report)
{
    unsigned tile = built->geam->tile;
    why_add(report, "tile %u x %u, each work-item moving %u elements of it\n", tile, tile,
            tile / built->geam->rows);
    const struct device_limits *device = &ctx->limits;
    const size_t *local = report->launch.local;
    size_t limit = min_size(device->max_work_group_size, report->kernel.work_group_size);
    why_add(report, "local %zu x %zu = %zu work-items (columns x rows): bound by %s\n",
            local[0], local[1], local[0] * local[1],
            local_bound(local[0] * local[1], limit, (size_t)-1, device));
    explain_groups("columns (blocks)", report->groups[0], ceil_div(cols, tile), report);
    explain_groups("rows (blocks)", report->groups[1], ceil_div(rows, tile), report);
}

/* Why the search passed over a tile larger than the one it chose. */
static void explain_skipped_tile(const kiln_ctx *ctx, const struct gemm_config *config,
                                 size_t max_threads, struct plan_report *report)
{
    const struct device_limits *device = &ctx->limits;
    size_t threads = gemm_config_threads(config), bytes = gemm_config_local_bytes(config);
    size_t lx = config->tile_n / config->wpt_n, ly = config->tile_m / config->wpt_m;
    why_add(report, "skipped tile %ux%ux%u: ", config->tile_m, config->tile_n,
            config->tile_k);
    if (threads > device->max_work_group_size)
        why_add(report, "%zu work-items, the device allows %zu\n", threads,
                device->max_work_group_size);
    else if (lx > device->max_work_item_sizes[0] || ly > device->max_work_item_sizes[1])
        why_add(report, "a %zu x %zu work-group exceeds max work-item sizes %zu x %zu\n", lx,
                ly, device->max_work_item_sizes[0], device->max_work_item_sizes[1]);
    else if (bytes > device->local_mem_bytes)
        why_add(report, "%zu bytes of local memory, the device has %zu\n", bytes,
                device->local_mem_bytes);
    else if (threads > max_threads)
        why_add(report, "its built kernel accepts fewer than its %zu work-items\n", threads);
    else
        why_add(report, "not chosen by the dispatcher\n");
}

/* The launch grid of either GEMM kernel over C's tiles. */
static void explain_gemm_grid(const struct gemm_config *config, struct gemm_dims dims,
                              struct plan_report *report)
{
    size_t tiles_x = ceil_div(dims.n, config->tile_n), tiles_y = ceil_div(dims.m, config->tile_m);
    why_add(report, "grid: %zu x %zu work-groups for the %zu x %zu tiles of C%s; each loops "
                    "over k = %zu in steps of %u\n",
            report->groups[0], report->groups[1], tiles_x, tiles_y,
            report->groups[0] < tiles_x || report->groups[1] < tiles_y
                ? " (capped: work-groups stride over the other tiles)"
                : ", one each",
            dims.k, config->tile_k);
}

/* Why a tile of the block table does not serve the product: which of
 * plan_gemm_block_config's conditions it misses. */
static void explain_block_tile(const kiln_ctx *ctx, const char *what,
                               const struct gemm_config *tile, struct gemm_dims dims,
                               struct plan_report *report)
{
    why_add(report, "%s %ux%ux%u: ", what, tile->tile_m, tile->tile_n, tile->tile_k);
    size_t blocks = (dims.m / tile->tile_m) * (dims.n / tile->tile_n);
    if (dims.m % tile->tile_m != 0 || dims.n % tile->tile_n != 0 || dims.k % tile->tile_k != 0)
        why_add(report, "does not divide the shape (M %% %u = %zu, N %% %u = %zu, K %% %u = "
                        "%zu)\n",
                tile->tile_m, dims.m % tile->tile_m, tile->tile_n, dims.n % tile->tile_n,
                tile->tile_k, dims.k % tile->tile_k);
    else if (!block_tile_fits(ctx, tile))
        why_add(report, "does not fit the device (%zu work-items, max work-group %zu; work-item "
                        "sizes or local memory)\n",
                gemm_config_threads(tile), ctx->limits.max_work_group_size);
    else if (blocks < ctx->limits.compute_units)
        why_add(report, "%zu block(s), fewer than the %zu compute units\n", blocks,
                ctx->limits.compute_units);
    else
        why_add(report, "too many blocks in one dimension of the grid\n");
}

/* The portable kernel runs: why the block kernel does not. */
static void explain_no_block(const kiln_ctx *ctx, const struct built *built,
                             struct gemm_dims dims, struct plan_report *report)
{
    const char *intro = "not cl/gemm_block.cl: ";
    if (built->verdict == GEMM_BLOCK_ON_CPU)
        why_add(report, "%sf16 or bf16 operands on a CPU, where cl/gemm.cl runs them about "
                        "3 times faster (PoCL)\n", intro);
    else if (built->verdict == GEMM_BLOCK_ALPHA_ZERO)
        why_add(report, "%salpha is 0\n", intro);
    else if (built->verdict == GEMM_BLOCK_UNALIGNED)
        why_add(report, "%sit needs every ld a multiple of 4 (float4 rows); lda = %zu, "
                        "ldb = ldc = %zu\n", intro, dims.k, dims.n);
    else if (built->verdict == GEMM_BLOCK_KERNEL_LIMIT)
        why_add(report, "%sbuilt with tile %ux%ux%u it allows %zu work-items, the tile "
                        "needs %zu\n", intro, built->block.config->tile_m,
                built->block.config->tile_n, built->block.config->tile_k,
                built->block.kernel->limits.work_group_size,
                gemm_config_threads(built->block.config));
    else if (built->verdict == GEMM_BLOCK_NO_TILE) {
        why_add(report, "%sno tile of its table divides %zux%zux%zu and fits the device\n",
                intro, dims.m, dims.n, dims.k);
        for (size_t i = 0; i < block_table(ctx).count; ++i)
            explain_block_tile(ctx, "block tile", &block_table(ctx).configs[i], dims, report);
    }
}

static void explain_gemm(const kiln_ctx *ctx, const struct built *built,
                         struct gemm_dims dims, struct plan_report *report)
{
    const struct gemm_config *config = built->config;
    size_t chosen = (size_t)(config - gemm_portable_configs);
    explain_no_block(ctx, built, dims, report);
    why_add(report,
            "tile %ux%ux%u (M x N x K), %ux%u results per work-item: %zu work-items, %zu "
            "bytes of local memory (device: %zu)\n",
            config->tile_m, config->tile_n, config->tile_k, config->wpt_m, config->wpt_n,
            gemm_config_threads(config), gemm_config_local_bytes(config),
            ctx->limits.local_mem_bytes);
    if (chosen == 0)
        why_add(report, "the largest tile of the table: it fits every limit\n");
    for (size_t i = 0; i < chosen; ++i)
        explain_skipped_tile(ctx, &gemm_portable_configs[i], built->max_threads, report);
    explain_gemm_grid(config, dims, report);
}

static void explain_gemm_block(const kiln_ctx *ctx, const struct built *built,
                               struct gemm_dims dims, struct plan_report *report)
{
    const struct gemm_config *config = built->config;
    size_t chosen = (size_t)(config - block_table(ctx).configs);
    size_t blocks = (dims.m / config->tile_m) * (dims.n / config->tile_n);
    why_add(report, "cl/gemm_block.cl: every ld a multiple of 4 (lda = %zu, ldb = ldc = %zu), "
                    "offsets 0, and a tile of its table divides %zux%zux%zu\n",
            dims.k, dims.n, dims.m, dims.n, dims.k);
    why_add(report, "block tile %ux%ux%u (%zu of %zu in its table), %ux%u results per "
                    "work-item: %zu work-items; %zu blocks for %zu compute units\n",
            config->tile_m, config->tile_n, config->tile_k, chosen + 1,
            block_table(ctx).count, config->wpt_m, config->wpt_n,
            gemm_config_threads(config), blocks, ctx->limits.compute_units);
    if (blocks < ctx->limits.compute_units)
        why_add(report, "no tile that fits gives every compute unit a block: the smallest "
                        "that fits, for the most blocks\n");
    else if (chosen == 0)
        why_add(report, "the largest tile of the table: it divides the shape, fits the "
                        "device and gives every compute unit a block\n");
    for (size_t i = 0; i < chosen; ++i)
        explain_block_tile(ctx, "skipped block tile", &block_table(ctx).configs[i], dims, report);
    explain_gemm_grid(config, dims, report);
}

/* cl/gemm_cpu.cl runs: its blocks, register tile and vectors. */
static void explain_gemm_cpu(const kiln_ctx *ctx, const struct built *built,
                             struct gemm_dims dims, struct plan_report *report)
{
    const struct gemm_config *config = built->config;
    size_t blocks = ceil_div(dims.m, config->tile_m) * ceil_div(dims.n, config->tile_n);
    why_add(report, "cl/gemm_cpu.cl: a CPU device, which runs a work-group as one thread; a "
                    "work-group is one work-item that packs slices of op(A) and op(B) and "
                    "runs a register tile over them\n");
    why_add(report, "block %ux%u (M x N) over k slices of %u: %zu bytes of local memory "
                    "(device: %zu); register tile %ux%u of %u-float vectors (device native "
                    "%u)\n",
            config->tile_m, config->tile_n, config->tile_k,
            sizeof(float) * config->tile_k * ((size_t)config->tile_m + config->tile_n),
            ctx->limits.local_mem_bytes, config->wpt_m, config->wpt_n,
            gemm_cpu_vector_width(&ctx->limits, config), ctx->limits.vector_width);
    why_add(report, "%zu blocks for %zu compute units: %s\n", blocks,
            ctx->limits.compute_units,
            config == plan_gemm_cpu_config(&ctx->limits, (size_t)-1 / 2, (size_t)-1 / 2)
                ? "the largest block of the table for the device's vectors"
                : "a smaller block, so every compute unit gets a few");
    explain_gemm_grid(config, dims, report);
}

/* ---------------------------------------------------------------- plans */

/* The plan's launch in report: its global and local sizes and work-groups. */
static void take_launch(const struct launch *launch, struct plan_report *report)
{
    report->launch = *launch;
    for (unsigned d = 0; d < 2; ++d)
        report->groups[d] = launch->global[d] / launch->local[d];
}

/* The launch, as the operation's code computes it. */
static void plan_of(const kiln_ctx *ctx, const struct plan_request *request,
                    const struct built *built, struct plan_report *report)
{
    const size_t *shape = request->shape;
    const struct gemm_dims dims = gemm_dims_of(request);
    struct launch launch;
    if (request->op == PLAN_VADD || request->op == PLAN_SIGMOID)
        launch = plan_elementwise(&ctx->limits, &built->kernel->limits, float4_count(shape[0]));
    else if (request->op == PLAN_GEAM)
        launch = plan_geam(&ctx->limits, built->geam, shape[0], shape[1]);
    else if (built->tc.path != GEMM_TC_NONE)
        launch = built->tc.launch;
    else if (built->kind == GEMM_KIND_CPU)
        launch = plan_gemm_cpu(built->config, dims.m, dims.n, 1);
    else
        launch = plan_gemm(built->config, dims.m, dims.n, 1);
    take_launch(&launch, report);
}

static const char *const tc_path_names[] = {
    [GEMM_TC_NONE] = "none", [GEMM_TC_MMA] = "mma.sync", [GEMM_TC_WGMMA] = "wgmma"};

const char *plan_tc_path_name(enum gemm_tc_path path)
{
    return tc_path_names[path];
}

/* Why the plan's row of its kernel's table: the large tile where it gives every compute
 * unit a block. */
static void explain_tc_tile(const kiln_ctx *ctx, const struct gemm_tc_plan *plan,
                            struct plan_report *report)
{
    const struct gemm_tc_tile *large = &plan->table[0], *small = &plan->table[1];
    why_add(report, "tile %ux%u of its table's %ux%u and %ux%u: %zu block(s) of %ux%u %s "
                    "the %zu compute units\n",
            plan->tile->tile_m, plan->tile->tile_n, large->tile_m, large->tile_n,
            small->tile_m, small->tile_n, plan->large_blocks, large->tile_m, large->tile_n,
            plan->tile == large ? "give a block to each of" : "would leave idle some of",
            ctx->limits.compute_units);
    why_add(report, "%u work-items a work-group, %u stages (k slices in flight in local "
                    "memory)\n",
            plan->tile->threads, plan->tile->stages);
}

/* The tensor-core plan in words: path, kernel, tile and grid, or why there is none. */
static void explain_tc(const kiln_ctx *ctx, const struct plan_request *request,
                       const struct gemm_tc_plan *plan, struct plan_report *report)
{
    why_add(report, "gemm_ex: A, B and C %s, math %s (the most precision it may give up)\n",
            dtype_name(request->dtype), math_names[request->math]);
    if (gemm_tc_refusal(ctx) != NULL)
        why_add(report, "the driver refused the sm_90a wgmma kernel, so it is not tried: %s\n",
                gemm_tc_refusal(ctx));
    if (plan->path == GEMM_TC_NONE) {
        why_add(report, "no tensor-core kernel: %s; the portable kernel below runs it%s\n",
                plan->why, request->dtype == KILN_DTYPE_F32
                               ? ""
                               : ", widening on load, fp32 accumulation");
        return;
    }
    why_add(report, "tensor cores run it: cl/%s.cl on the %s path (%s), NVIDIA sm_%u\n",
            plan->tile->kernel, plan_tc_path_name(plan->path), plan->method,
            ctx->limits.nv_compute_capability);
    explain_tc_tile(ctx, plan, report);
    if (plan->pack_a || plan->pack_b)
        why_add(report, "first cl/tf32_pack.cl %s %s K-major into %zu bytes of the context's "
                        "workspace (wgmma reads tf32 only so)\n",
                request->math == KILN_MATH_TF32X3 ? "splits" : "copies",
                plan->pack_a && plan->pack_b ? "op(A) and op(B)ᵀ" : plan->pack_a ? "op(A)" : "op(B)ᵀ",
                plan->workspace);
    why_add(report, "grid: %zu x %zu work-groups over C's %zu x %zu blocks of %ux%u (block "
                    "rows walked in bands for L2 reuse)\n",
            report->groups[0], report->groups[1],
            ceil_div(gemm_dims_of(request).n, plan->tile->tile_n),
            ceil_div(gemm_dims_of(request).m, plan->tile->tile_m), plan->tile->tile_m,
            plan->tile->tile_n);
}

void introspect_gemm_tc(const kiln_ctx *ctx, const struct plan_request *request,
                        struct plan_report *report)
{
    kiln_buf standin = {0};
    const struct gemm_call call = plan_call(request, &standin);
    report->has_tc = true;
    report->tc = gemm_tc_plan_for(ctx, &call);
    if (report->tc.path != GEMM_TC_NONE)
        take_launch(&report->tc.launch, report);
    explain_tc(ctx, request, &report->tc, report);
}

/* kiln_map's path and grid in words. */
static void explain_map(const kiln_ctx *ctx, const struct map_request *request,
                        struct plan_report *report)
{
    const size_t n = request->rows * request->cols;
    explain_limits(ctx, &report->kernel, report);
    if (!report->map_vector)
        why_add(report, "scalar path, an element a work-item: an ARRAY the expression uses "
                        "starts off a 16-byte boundary\n");
    if (report->map_vector) {
        why_add(report, "float4 path: every ARRAY starts on a 16-byte boundary; %zu float4s "
                        "and a tail of %zu elements%s\n", n / 4, n % 4,
                report->map_2d ? ", ROW and COL read per lane" : "");
        explain_flat(ctx, "grid (a float4 per work-item per step)", float4_count(n), report);
    } else if (report->map_2d) {
        why_add(report, "2-D grid of %zu x %zu (columns x rows) for the ROW and COL bindings, "
                        "as kiln_bias_act's; items stride over the rest\n",
                report->launch.global[0], report->launch.global[1]);
    } else {
        explain_flat(ctx, "grid (an element per work-item per step)", n, report);
    }
}

kiln_status introspect_map(kiln_ctx *ctx, const struct map_request *request,
                           struct plan_report *report, char **source)
{
    *source = NULL;
    CHECK(check_ctx(ctx));
    memset(report, 0, sizeof(*report));
    kiln_buf standins[MAP_REQUEST_MAX_BINDINGS];
    kiln_binding bindings[MAP_REQUEST_MAX_BINDINGS];
    for (size_t i = 0; i < request->count; ++i) {
        standins[i] = (kiln_buf){.ctx = ctx, .offset = request->offsets[i] * sizeof(float)};
        bindings[i] = (kiln_binding){request->names[i], request->kinds[i], &standins[i], 0};
    }
    struct map_plan plan;
    CHECK(map_plan_for(ctx, request->expr, request->rows, request->cols, bindings,
                       request->count, &plan, source));
    struct built built = {.label = "map (generated from the expression)", .kernel = plan.kernel};
    snprintf(built.options, sizeof(built.options), "%s", plan.options);
    kiln_status status = report_read(ctx, &built, &report->kernel);
    take_launch(&plan.launch, report);
    report->is_map = true;
    report->map_vector = plan.vector;
    report->map_2d = plan.two_dimensional;
    map_plan_release(ctx, &plan);
    if (status == KILN_OK)
        explain_map(ctx, request, report);
    return status;
}

static void explain(const kiln_ctx *ctx, const struct plan_request *request,
                    const struct built *built, struct plan_report *report)
{
    const size_t *shape = request->shape;
    explain_limits(ctx, &report->kernel, report);
    if (request->op == PLAN_GEMM_EX)
        explain_tc(ctx, request, &built->tc, report);
    if (built->tc.path != GEMM_TC_NONE)
        return;
    if (request->op == PLAN_VADD || request->op == PLAN_SIGMOID)
        explain_elementwise(ctx, shape[0], report);
    else if (request->op == PLAN_GEAM)
        explain_geam(ctx, built, shape[0], shape[1], report);
    else if (built->kind == GEMM_KIND_CPU)
        explain_gemm_cpu(ctx, built, gemm_dims_of(request), report);
    else if (built->verdict == GEMM_BLOCK_USED)
        explain_gemm_block(ctx, built, gemm_dims_of(request), report);
    else
        explain_gemm(ctx, built, gemm_dims_of(request), report);
}

kiln_status introspect_plan(kiln_ctx *ctx, const struct plan_request *request,
                            struct plan_report *report)
{
    CHECK(check_ctx(ctx));
    if (request == NULL || report == NULL || (unsigned)request->op >= PLAN_OP_COUNT)
        return fail(ctx, KILN_ERR_ARG, "request or report is NULL, or the op unknown");
    memset(report, 0, sizeof(*report));
    struct built built;
    CHECK(build_plan(ctx, request, &built));
    CHECK(report_read(ctx, &built, &report->kernel));
    report->is_gemm = built.config != NULL;
    if (report->is_gemm)
        report->gemm = *built.config;
    report->has_tc = request->op == PLAN_GEMM_EX;
    report->tc = built.tc;
    plan_of(ctx, request, &built, report);
    explain(ctx, request, &built, report);
    return KILN_OK;
}
