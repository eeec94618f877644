/* kiln-query: what kiln sees of each OpenCL device (max work-group size first, then the
 * rest of its facts), each kiln kernel's own limits there, and the launch the dispatcher
 * chooses for an operation and shape, as text or as one JSON document. Device facts come
 * from the public API; kernel limits and plans from the private lib/introspect.h, which
 * this tool includes on purpose (it links the library's objects, not its exports). */
#include "introspect.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Exit statuses: 0 success, 1 a failure on the machine (no device, a build), 2 usage. */
enum { EXIT_USAGE = 2, CONTINUE = -1 };

/* Text output: values start in this column; long lists wrap before this width. */
enum { VALUE_COLUMN = 34, TEXT_WIDTH = 100 };

typedef enum { MODE_DESCRIBE, MODE_LIST, MODE_KERNELS, MODE_PLAN } query_mode;

typedef struct {
    query_mode mode;
    bool json;
    const char *device; /* a spec as KILN_DEVICE takes it; NULL: every device */
    const char *plan_text[2];
    const char *dtype, *math; /* --plan gemm_ex's type and math level; NULL: f32, strict */
    struct plan_request plan;
    bool is_map;              /* --plan map: the request is `map` */
    struct map_request map;
} options;

static const char usage_text[] =
    "Usage: kiln-query [-d SPEC] [-l | --kernels | --plan OP SHAPE [--dtype T] [--math M]\n"
    "                  | --plan map EXPR ROWS COLS NAME=KIND...] [--json]\n"
    "\n"
    "Reports every OpenCL device as kiln sees it, max work-group size first.\n"
    "\n"
    "  -l, --list         one line a device: index, P:D, name, max work-group size\n"
    "  -d, --device SPEC  only the device SPEC names, as KILN_DEVICE does: gpu, cpu,\n"
    "                     an index, P:D (platform:device), or a piece of its name\n"
    "      --kernels      each kiln kernel's own limits on the device(s)\n"
    "      --plan OP SHAPE\n"
    "                     the global and local sizes the dispatcher chooses, and why;\n"
    "                     OP SHAPE is one of: %s\n"
    "      --plan map EXPR ROWS COLS NAME=KIND...\n"
    "                     kiln_map's plan for the expression over ROWS x COLS: the\n"
    "                     OpenCL C generated from it, the float4 or scalar path, the\n"
    "                     global and local sizes, and why; every name the expression\n"
    "                     uses needs a NAME=KIND, KIND one of array, array@N (its buffer\n"
    "                     starts N floats into a 16-byte aligned one), row, col, scalar\n"
    "      --dtype T      for --plan gemm_ex: the type of A, B and C: f32 (default),\n"
    "                     f16 or bf16\n"
    "      --math M       for --plan gemm_ex: strict (default), tf32x3, tf32 or fast\n"
    "      --json         the same facts as one JSON document\n"
    "  -h, --help         this text\n"
    "      --version      kiln's version\n"
    "\n"
    "Exit status: 0 success, 1 no device or a failure on it, 2 a usage error.\n";

/* ---------------------------------------------------------------- emitter */

/* Writes the same facts as aligned text or as JSON: members of objects and arrays, each
 * with a JSON key and a text label. */
typedef struct {
    FILE *out;
    bool json;
    int depth;
    bool first; /* JSON: the next member is the first of its object or array */
} emitter;

static void indent(const emitter *e, int depth)
{
    fprintf(e->out, "%*s", 2 * depth, "");
}

/* A byte of a UTF-8 sequence after the first. */
static bool is_continuation(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/* Length of the valid UTF-8 sequence at text (at most length bytes); 0 if invalid. */
static size_t utf8_length(const unsigned char *text, size_t length)
{
    size_t need = text[0] >= 0xF0 && text[0] < 0xF5   ? 4
                  : text[0] >= 0xE0                   ? 3
                  : text[0] >= 0xC2 && text[0] < 0xE0 ? 2
                                                      : 0;
    if (need == 0 || need > length)
        return 0;
    for (size_t i = 1; i < need; ++i)
        if (!is_continuation(text[i]))
            return 0;
    return need;
}

/* A JSON string of text[0 .. length): quotes, backslashes and control characters
 * escaped; a byte that is not valid UTF-8 becomes U+FFFD, so the document stays valid. */
static void json_string(FILE *out, const char *text, size_t length)
{
    const unsigned char *at = (const unsigned char *)text, *end = at + length;
    fputc('"', out);
    while (at < end) {
        size_t sequence = *at < 0x80 ? 1 : utf8_length(at, (size_t)(end - at));
        if (*at == '"' || *at == '\\')
            fprintf(out, "\\%c", *at);
        else if (*at < 0x20)
            fprintf(out, "\\u%04x", *at);
        else if (sequence == 0)
            fputs("\\ufffd", out);
        else
            fwrite(at, 1, sequence, out);
        at += sequence > 0 ? sequence : 1;
    }
    fputc('"', out);
}

/* Starts a member: in JSON the separator, indentation and key (none in an array); in
 * text the label, padded to the value column. */
static void member(emitter *e, const char *key, const char *label)
{
    if (e->json) {
        fputs(e->first ? "\n" : ",\n", e->out);
        e->first = false;
        indent(e, e->depth);
        if (key != NULL) {
            json_string(e->out, key, strlen(key));
            fputs(": ", e->out);
        }
        return;
    }
    indent(e, e->depth);
    fprintf(e->out, "%-*s", VALUE_COLUMN - 2 * e->depth, label);
}

static void end_value(const emitter *e)
{
    if (!e->json)
        fputc('\n', e->out);
}

static void emit_open(emitter *e, const char *key, const char *label, char bracket)
{
    if (e->json) {
        member(e, key, label);
        fputc(bracket, e->out);
        e->first = true;
    } else {
        indent(e, e->depth);
        fprintf(e->out, "%s\n", label);
    }
    e->depth++;
}

static void emit_close(emitter *e, char bracket)
{
    e->depth--;
    if (e->json) {
        if (!e->first) {
            fputc('\n', e->out);
            indent(e, e->depth);
        }
        fputc(bracket, e->out);
        e->first = false;
    }
}

static void emit_number(emitter *e, const char *key, const char *label,
                        unsigned long long value)
{
    member(e, key, label);
    fprintf(e->out, "%llu", value);
    end_value(e);
}

/* A byte count: a plain number in JSON, with KiB/MiB/GiB in text. */
static void emit_bytes(emitter *e, const char *key, const char *label,
                       unsigned long long bytes)
{
    static const char *const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB"};
    member(e, key, label);
    fprintf(e->out, e->json ? "%llu" : "%llu bytes", bytes);
    double scaled = (double)bytes;
    size_t unit = 0;
    while (scaled >= 1024.0 && unit + 1 < sizeof(units) / sizeof(units[0])) {
        scaled /= 1024.0;
        ++unit;
    }
    if (!e->json && unit > 0)
        fprintf(e->out, " (%.4g %s)", scaled, units[unit]);
    end_value(e);
}

static void emit_text(emitter *e, const char *key, const char *label, const char *text)
{
    member(e, key, label);
    if (e->json)
        json_string(e->out, text, strlen(text));
    else
        fputs(*text != '\0' ? text : "(none)", e->out);
    end_value(e);
}

static void emit_flag(emitter *e, const char *key, const char *label, bool value)
{
    member(e, key, label);
    fputs(e->json ? (value ? "true" : "false") : (value ? "yes" : "no"), e->out);
    end_value(e);
}

/* What a device does not report: null in JSON, the reason in text. */
static void emit_missing(emitter *e, const char *key, const char *label, const char *reason)
{
    member(e, key, label);
    fputs(e->json ? "null" : reason, e->out);
    end_value(e);
}

/* Sizes: a JSON array, "4096 x 4096 x 4096" in text. */
static void emit_sizes(emitter *e, const char *key, const char *label, const size_t *values,
                       size_t count)
{
    member(e, key, label);
    fputs(e->json ? "[" : "", e->out);
    for (size_t i = 0; i < count; ++i)
        fprintf(e->out, "%s%zu", i == 0 ? "" : e->json ? ", " : " x ", values[i]);
    fputs(e->json ? "]" : "", e->out);
    end_value(e);
}

/* One item of a text list: on the current line, or on a new one aligned under the
 * first when it would pass `width` (0: every item on its own line). */
static void text_item(emitter *e, const char *item, size_t length, size_t width,
                      size_t *column)
{
    if (*column > 0 && (width == 0 || *column + 1 + length > width)) {
        fprintf(e->out, "\n%*s", VALUE_COLUMN, "");
        *column = 0;
    } else if (*column > 0) {
        fputc(' ', e->out);
        ++*column;
    }
    fwrite(item, 1, length, e->out);
    *column += length;
}

/* Items of text separated by `separator`: a JSON array of strings; in text, lines no
 * wider than `width` (with width 0, one item a line). */
static void emit_list(emitter *e, const char *key, const char *label, const char *text,
                      char separator, size_t width)
{
    member(e, key, label);
    fputs(e->json ? "[" : "", e->out);
    size_t column = 0, items = 0;
    for (const char *at = text; *at != '\0';) {
        const char *end = strchr(at, separator);
        size_t length = end != NULL ? (size_t)(end - at) : strlen(at);
        if (length > 0 && e->json) {
            fputs(items > 0 ? ", " : "", e->out);
            json_string(e->out, at, length);
        } else if (length > 0) {
            text_item(e, at, length, width, &column);
        }
        items += length > 0;
        at += length + (end != NULL);
    }
    fputs(e->json ? "]" : items == 0 ? "(none)" : "", e->out);
    end_value(e);
}

static void document_begin(emitter *e)
{
    if (e->json) {
        fputc('{', e->out);
        e->first = true;
        e->depth = 1;
        emit_text(e, "kiln_version", "kiln", KILN_VERSION_STRING);
    }
}

static void document_end(emitter *e)
{
    if (e->json)
        fputs("\n}\n", e->out);
}

/* ---------------------------------------------------------------- device facts */

static const char *type_name(kiln_device_type type)
{
    switch (type) {
    case KILN_DEVICE_CPU: return "CPU";
    case KILN_DEVICE_GPU: return "GPU";
    case KILN_DEVICE_ACCELERATOR: return "accelerator";
    default: return "other";
    }
}

static const char *local_mem_type_name(kiln_local_mem_type type)
{
    return type == KILN_LOCAL_MEM_DEDICATED ? "dedicated"
           : type == KILN_LOCAL_MEM_GLOBAL  ? "global"
                                            : "none";
}

static const char *cache_type_name(kiln_cache_type type)
{
    return type == KILN_CACHE_READ_WRITE  ? "read-write"
           : type == KILN_CACHE_READ_ONLY ? "read-only"
                                          : "none";
}

/* A device's facts, with the preferred multiple of a kernel built on it. */
typedef struct {
    size_t index;
    kiln_device_info info;
    bool has_multiple;
    size_t preferred_multiple;
    char multiple_error[512];
} device_report;

/* The device's context; on failure the reason goes into error[size]. */
static kiln_status open_device(size_t index, kiln_ctx **ctx, char *error, size_t size)
{
    char spec[32];
    snprintf(spec, sizeof(spec), "%zu", index);
    kiln_status status = kiln_ctx_create(ctx, spec);
    if (status != KILN_OK)
        snprintf(error, size, "%s: %s", kiln_status_str(status), kiln_last_error(NULL));
    return status;
}

/* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE of kiln's vadd, built on the device. */
static void read_kernel_multiple(device_report *report)
{
    kiln_ctx *ctx = NULL;
    char *error = report->multiple_error;
    if (open_device(report->index, &ctx, error, sizeof(report->multiple_error)) != KILN_OK)
        return;
    struct kernel_report kernel;
    kiln_status status = introspect_kernel(ctx, PLAN_VADD, &kernel);
    if (status == KILN_OK) {
        report->has_multiple = true;
        report->preferred_multiple = kernel.preferred_multiple;
    } else {
        snprintf(error, sizeof(report->multiple_error), "%s: %s", kiln_status_str(status),
                 kiln_last_error(ctx));
    }
    kiln_ctx_destroy(ctx);
}

/* JSON only: where the device is in kiln's order (text shows it in the heading). */
static void describe_position(emitter *e, const device_report *report)
{
    if (!e->json)
        return;
    emit_number(e, "index", "index", report->index);
    emit_number(e, "platform_index", "platform", report->info.platform_index);
    emit_number(e, "device_index", "device", report->info.device_index);
}

static void describe_identity(emitter *e, const kiln_device_info *info)
{
    emit_text(e, "name", "name", info->name);
    emit_text(e, "vendor", "vendor", info->vendor);
    emit_text(e, "platform", "platform", info->platform_name);
    emit_text(e, "type", "type", type_name(info->type));
    emit_text(e, "driver_version", "driver version", info->driver_version);
    emit_text(e, "opencl_version", "OpenCL version", info->opencl_version);
    emit_text(e, "opencl_c_version", "OpenCL C version", info->opencl_c_version);
    emit_text(e, "profile", "profile", info->profile);
}

static void describe_compute(emitter *e, const device_report *report)
{
    const kiln_device_info *info = &report->info;
    emit_number(e, "compute_units", "compute units", info->compute_units);
    emit_number(e, "clock_mhz", "clock (MHz)", info->clock_mhz);
    emit_number(e, "max_work_item_dimensions", "max work-item dimensions",
                info->max_work_item_dimensions);
    size_t dims = info->max_work_item_dimensions < 3 ? info->max_work_item_dimensions : 3;
    emit_sizes(e, "max_work_item_sizes", "max work-item sizes", info->max_work_item_sizes,
               dims);
    if (report->has_multiple)
        emit_number(e, "preferred_work_group_size_multiple",
                    "preferred work-group multiple", report->preferred_multiple);
    else
        emit_missing(e, "preferred_work_group_size_multiple", "preferred work-group multiple",
                     report->multiple_error);
}

static void describe_memory(emitter *e, const kiln_device_info *info)
{
    emit_bytes(e, "local_mem_bytes", "local memory", info->local_mem_bytes);
    emit_text(e, "local_mem_type", "local memory type", local_mem_type_name(info->local_mem_type));
    emit_bytes(e, "global_mem_bytes", "global memory", info->global_mem_bytes);
    emit_bytes(e, "max_alloc_bytes", "max single allocation", info->max_alloc_bytes);
    emit_flag(e, "unified_memory", "shares host memory", info->unified_memory != 0);
    emit_text(e, "global_mem_cache_type", "global memory cache",
              cache_type_name(info->global_mem_cache_type));
    emit_bytes(e, "global_mem_cache_bytes", "global memory cache size",
               info->global_mem_cache_bytes);
    emit_bytes(e, "global_mem_cacheline_bytes", "global memory cache line",
               info->global_mem_cacheline_bytes);
    emit_bytes(e, "max_constant_buffer_bytes", "max constant buffer",
               info->max_constant_buffer_bytes);
    emit_number(e, "mem_base_addr_align_bits", "buffer base alignment (bits)",
                info->mem_base_addr_align_bits);
}

static void describe_widths(emitter *e, const char *key, const char *label,
                            const unsigned *widths)
{
    static const char *const scalars[KILN_SCALAR_COUNT] = {
        [KILN_SCALAR_CHAR] = "char",   [KILN_SCALAR_SHORT] = "short",
        [KILN_SCALAR_INT] = "int",     [KILN_SCALAR_LONG] = "long",
        [KILN_SCALAR_FLOAT] = "float", [KILN_SCALAR_DOUBLE] = "double",
        [KILN_SCALAR_HALF] = "half"};
    emit_open(e, key, label, '{');
    for (int s = 0; s < KILN_SCALAR_COUNT; ++s)
        emit_number(e, scalars[s], scalars[s], widths[s]);
    emit_close(e, '}');
}

static void describe_arithmetic(emitter *e, const kiln_device_info *info)
{
    describe_widths(e, "preferred_vector_widths", "preferred vector widths",
                    info->preferred_vector_width);
    describe_widths(e, "native_vector_widths", "native vector widths",
                    info->native_vector_width);
    emit_flag(e, "fp16", "fp16 (half)", info->fp16 != 0);
    emit_flag(e, "fp64", "fp64 (double)", info->fp64 != 0);
}

/* Vendor facts: an object where the device reports them; JSON null, no text, else. */
static void describe_vendor(emitter *e, const kiln_device_info *info)
{
    if (info->nv_warp_size != 0 || info->nv_compute_capability_major != 0) {
        emit_open(e, "nvidia", "NVIDIA (cl_nv_device_attribute_query)", '{');
        emit_number(e, "compute_capability_major", "compute capability major",
                    info->nv_compute_capability_major);
        emit_number(e, "compute_capability_minor", "compute capability minor",
                    info->nv_compute_capability_minor);
        emit_number(e, "warp_size", "warp size", info->nv_warp_size);
        emit_number(e, "registers_per_block", "registers per block",
                    info->nv_registers_per_block);
        emit_close(e, '}');
    } else if (e->json) {
        emit_missing(e, "nvidia", "NVIDIA", "");
    }
    if (info->amd_wavefront_width != 0 || info->amd_board_name[0] != '\0') {
        emit_open(e, "amd", "AMD (cl_amd_device_attribute_query)", '{');
        emit_number(e, "wavefront_width", "wavefront width", info->amd_wavefront_width);
        emit_number(e, "simds_per_compute_unit", "SIMDs per compute unit",
                    info->amd_simds_per_compute_unit);
        emit_text(e, "board_name", "board name", info->amd_board_name);
        emit_close(e, '}');
    } else if (e->json) {
        emit_missing(e, "amd", "AMD", "");
    }
}

static void heading(size_t index, const kiln_device_info *info, char *text, size_t size)
{
    snprintf(text, size, "Device %zu (%zu:%zu): %s", index, info->platform_index,
             info->device_index, info->name);
}

static void describe_device(emitter *e, const device_report *report)
{
    const kiln_device_info *info = &report->info;
    char title[400];
    heading(report->index, info, title, sizeof(title));
    emit_open(e, NULL, title, '{');
    emit_number(e, "max_work_group_size", "max work-group size", info->max_work_group_size);
    describe_position(e, report);
    describe_identity(e, info);
    describe_compute(e, report);
    describe_memory(e, info);
    describe_arithmetic(e, info);
    describe_vendor(e, info);
    emit_list(e, "extensions", "extensions", info->extensions, ' ', TEXT_WIDTH - VALUE_COLUMN);
    emit_close(e, '}');
    if (!e->json)
        fputc('\n', e->out);
}

/* ---------------------------------------------------------------- modes */

/* Reports one device in the chosen mode; false when something failed on it. */
typedef bool (*device_action)(emitter *e, const options *opts, size_t index,
                              const kiln_device_info *info);

static bool describe_action(emitter *e, const options *opts, size_t index,
                            const kiln_device_info *info)
{
    (void)opts;
    static device_report report; /* large; one at a time */
    memset(&report, 0, sizeof(report));
    report.index = index;
    report.info = *info;
    read_kernel_multiple(&report);
    describe_device(e, &report);
    return true;
}

static bool list_action(emitter *e, const options *opts, size_t index,
                        const kiln_device_info *info)
{
    (void)opts;
    if (!e->json) {
        fprintf(e->out, "%zu  %zu:%zu  %s  max work-group size %zu\n", index,
                info->platform_index, info->device_index, info->name,
                info->max_work_group_size);
        return true;
    }
    emit_open(e, NULL, "", '{');
    emit_number(e, "index", "index", index);
    emit_number(e, "platform_index", "platform", info->platform_index);
    emit_number(e, "device_index", "device", info->device_index);
    emit_text(e, "name", "name", info->name);
    emit_number(e, "max_work_group_size", "max work-group size", info->max_work_group_size);
    emit_close(e, '}');
    return true;
}

static void emit_kernel(emitter *e, const char *key, const struct kernel_report *kernel)
{
    emit_open(e, key, kernel->label, '{');
    if (e->json) /* text has it in the heading */
        emit_text(e, "kernel", "kernel", kernel->label);
    emit_text(e, "options", "options", kernel->options);
    emit_number(e, "work_group_size", "CL_KERNEL_WORK_GROUP_SIZE", kernel->work_group_size);
    emit_number(e, "preferred_work_group_size_multiple", "preferred multiple",
                kernel->preferred_multiple);
    emit_bytes(e, "local_mem_bytes", "local memory", kernel->local_mem_bytes);
    emit_bytes(e, "private_mem_bytes", "private memory", kernel->private_mem_bytes);
    emit_close(e, '}');
}

/* gemm_ex's tensor-core plan: what runs on them, or why nothing does. */
static void emit_tc(emitter *e, const struct gemm_tc_plan *tc)
{
    emit_open(e, "tensor_cores", "tensor cores", '{');
    emit_text(e, "path", "path", plan_tc_path_name(tc->path));
    if (tc->path == GEMM_TC_NONE) {
        emit_text(e, "why_not", "why not", tc->why);
        emit_close(e, '}');
        return;
    }
    const size_t tile[] = {tc->tile->tile_m, tc->tile->tile_n};
    emit_text(e, "kernel", "kernel", tc->tile->kernel);
    emit_text(e, "method", "method", tc->method);
    emit_sizes(e, "tile", "tile (M x N)", tile, 2);
    emit_number(e, "work_items", "work-items", tc->tile->threads);
    emit_number(e, "stages", "stages", tc->tile->stages);
    emit_number(e, "workspace_bytes", "workspace bytes", tc->workspace);
    emit_close(e, '}');
}

static void emit_plan(emitter *e, const struct plan_report *plan)
{
    emit_kernel(e, "kernel", &plan->kernel);
    unsigned dims = plan->launch.dims;
    emit_sizes(e, "global", "global size", plan->launch.global, dims);
    emit_sizes(e, "local", "local size", plan->launch.local, dims);
    emit_sizes(e, "work_groups", "work-groups", plan->groups, dims);
    if (plan->is_gemm) {
        const struct gemm_config *tile = &plan->gemm;
        const size_t shape[] = {tile->tile_m, tile->tile_n, tile->tile_k};
        const size_t per_item[] = {tile->wpt_m, tile->wpt_n};
        emit_sizes(e, "tile", "tile (M x N x K)", shape, 3);
        emit_sizes(e, "work_per_item", "results per work-item", per_item, 2);
    }
    if (plan->has_tc)
        emit_tc(e, &plan->tc);
    emit_list(e, "why", "why", plan->why, '\n', 0);
}

/* Opens the device, runs what on it, closes it; a failure is reported as the device's
 * "error" member and on stderr. */
typedef kiln_status (*context_work)(emitter *e, const options *opts, kiln_ctx *ctx);

static bool with_context(emitter *e, const options *opts, size_t index,
                         const kiln_device_info *info, context_work work)
{
    char title[400], error[1024] = "";
    heading(index, info, title, sizeof(title));
    emit_open(e, NULL, title, '{');
    if (e->json) { /* text has both in the heading */
        emit_number(e, "index", "index", index);
        emit_text(e, "name", "name", info->name);
    }
    kiln_ctx *ctx = NULL;
    kiln_status status = open_device(index, &ctx, error, sizeof(error));
    if (status == KILN_OK && (status = work(e, opts, ctx)) != KILN_OK)
        snprintf(error, sizeof(error), "%s: %s", kiln_status_str(status), kiln_last_error(ctx));
    kiln_ctx_destroy(ctx);
    if (status != KILN_OK) {
        emit_text(e, "error", "error", error);
        fprintf(stderr, "kiln-query: device %zu: %s\n", index, error);
    }
    emit_close(e, '}');
    return status == KILN_OK;
}

static kiln_status kernels_work(emitter *e, const options *opts, kiln_ctx *ctx)
{
    (void)opts;
    struct kernel_report kernels[KERNEL_COUNT];
    CHECK(introspect_kernels(ctx, kernels));
    emit_open(e, "kernels", "kernels", '[');
    for (int which = 0; which < KERNEL_COUNT; ++which)
        emit_kernel(e, NULL, &kernels[which]);
    emit_close(e, ']');
    return KILN_OK;
}

/* kiln_map's plan: its path, grid and reasons, and the generated source a line each. */
static kiln_status map_plan_work(emitter *e, const options *opts, kiln_ctx *ctx)
{
    struct plan_report plan;
    char *source;
    kiln_status status = introspect_map(ctx, &opts->map, &plan, &source);
    if (status == KILN_OK) {
        emit_open(e, "plan", "plan", '{');
        emit_text(e, "path", "path", plan.map_vector ? "float4" : "scalar");
        emit_flag(e, "two_dimensional", "2-D (ROW or COL)", plan.map_2d);
        emit_plan(e, &plan);
        emit_list(e, "source", "generated source", source, '\n', 0);
        emit_close(e, '}');
    }
    free(source);
    return status;
}

static kiln_status plan_work(emitter *e, const options *opts, kiln_ctx *ctx)
{
    if (opts->is_map)
        return map_plan_work(e, opts, ctx);
    struct plan_report plan;
    CHECK(introspect_plan(ctx, &opts->plan, &plan));
    emit_open(e, "plan", "plan", '{');
    emit_plan(e, &plan);
    emit_close(e, '}');
    return KILN_OK;
}

static bool kernels_action(emitter *e, const options *opts, size_t index,
                           const kiln_device_info *info)
{
    return with_context(e, opts, index, info, kernels_work);
}

static bool plan_action(emitter *e, const options *opts, size_t index,
                        const kiln_device_info *info)
{
    return with_context(e, opts, index, info, plan_work);
}

/* In text, a platform's name before its first device. */
static void platform_heading(const emitter *e, const options *opts,
                             const kiln_device_info *info, size_t *last_platform)
{
    if (e->json || opts->mode == MODE_LIST || info->platform_index == *last_platform)
        return;
    *last_platform = info->platform_index;
    fprintf(e->out, "Platform %zu: %s\n", info->platform_index, info->platform_name);
}

/* Binding i's kind as --plan map takes it, into text. */
static const char *map_kind_text(const struct map_request *map, size_t i, char *text,
                                 size_t size)
{
    static const char *const kinds[] = {"array", "scalar", "row", "col"};
    if (map->offsets[i] > 0)
        snprintf(text, size, "array@%zu", map->offsets[i]);
    else
        snprintf(text, size, "%s", kinds[map->kinds[i]]);
    return text;
}

/* The request itself, before the devices: op and shape. */
static void describe_request(emitter *e, const options *opts)
{
    if (opts->mode != MODE_PLAN)
        return;
    emit_text(e, "op", "plan for", opts->plan_text[0]);
    if (opts->is_map) {
        const size_t shape[] = {opts->map.rows, opts->map.cols};
        emit_text(e, "expression", "expression", opts->map.expr);
        emit_sizes(e, "shape", "shape (rows x cols)", shape, 2);
        emit_open(e, "bindings", "bindings", '{');
        char kind[32];
        for (size_t i = 0; i < opts->map.count; ++i)
            emit_text(e, opts->map.names[i], opts->map.names[i],
                      map_kind_text(&opts->map, i, kind, sizeof(kind)));
        emit_close(e, '}');
        return;
    }
    emit_sizes(e, "shape", "shape", opts->plan.shape, opts->plan.dims);
    if (opts->plan.op == PLAN_GEMM_EX) {
        emit_text(e, "dtype", "type", opts->dtype != NULL ? opts->dtype : "f32");
        emit_text(e, "math", "math", opts->math != NULL ? opts->math : "strict");
    }
}

static int run(const options *opts, size_t first, size_t end)
{
    static const device_action actions[] = {
        [MODE_DESCRIBE] = describe_action, [MODE_LIST] = list_action,
        [MODE_KERNELS] = kernels_action, [MODE_PLAN] = plan_action};
    emitter e = {stdout, opts->json, 0, true};
    static kiln_device_info info; /* large; one at a time */
    size_t last_platform = (size_t)-1;
    bool ok = true;
    document_begin(&e);
    describe_request(&e, opts);
    if (e.json)
        emit_open(&e, "devices", "devices", '[');
    for (size_t index = first; index < end; ++index) {
        info.struct_size = sizeof(info);
        kiln_status status = kiln_device_get(index, &info);
        if (status != KILN_OK) {
            fprintf(stderr, "kiln-query: device %zu: %s: %s\n", index,
                    kiln_status_str(status), kiln_last_error(NULL));
            ok = false;
            continue;
        }
        platform_heading(&e, opts, &info, &last_platform);
        ok = actions[opts->mode](&e, opts, index, &info) && ok;
    }
    if (e.json)
        emit_close(&e, ']');
    document_end(&e);
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

/* ---------------------------------------------------------------- arguments */

static int KILN_PRINTF_LIKE(1, 2) usage_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    fputs("kiln-query: ", stderr);
    vfprintf(stderr, fmt, args);
    va_end(args);
    fputs("\nTry 'kiln-query --help'.\n", stderr);
    return EXIT_USAGE;
}

static int set_mode(options *opts, query_mode mode, const char *option)
{
    if (opts->mode != MODE_DESCRIBE && opts->mode != mode)
        return usage_error("%s: choose one of -l, --kernels and --plan", option);
    opts->mode = mode;
    return CONTINUE;
}

static bool is_option(const char *arg, const char *short_name, const char *long_name)
{
    return (short_name != NULL && strcmp(arg, short_name) == 0) ||
           strcmp(arg, long_name) == 0;
}

/* --plan map EXPR ROWS COLS and the NAME=KIND arguments after them; CONTINUE, or the
 * exit status. */
static int parse_map_plan(int argc, char **argv, int *i, options *opts)
{
    const char *option = argv[*i];
    if (argc - *i - 1 < 4)
        return usage_error("%s map needs EXPR ROWS COLS NAME=KIND...: %s", option,
                           map_plan_usage);
    opts->plan_text[0] = argv[*i + 1];
    if (map_request_parse(argv[*i + 2], argv[*i + 3], argv[*i + 4], &opts->map) != KILN_OK)
        return usage_error("%s", kiln_last_error(NULL));
    for (*i += 4; *i + 1 < argc && argv[*i + 1][0] != '-'; ++*i)
        if (map_request_bind(&opts->map, argv[*i + 1]) != KILN_OK)
            return usage_error("%s", kiln_last_error(NULL));
    opts->is_map = true;
    return set_mode(opts, MODE_PLAN, option);
}

/* The option at argv[*i] and the arguments it takes; CONTINUE, or the exit status. */
static int parse_option(int argc, char **argv, int *i, options *opts)
{
    const char *arg = argv[*i];
    int left = argc - *i - 1;
    if (is_option(arg, "-h", "--help"))
        return printf(usage_text, plan_usage) < 0 ? EXIT_FAILURE : EXIT_SUCCESS;
    if (is_option(arg, NULL, "--version"))
        return printf("kiln-query %s\n", KILN_VERSION_STRING) < 0 ? EXIT_FAILURE
                                                                  : EXIT_SUCCESS;
    if (is_option(arg, NULL, "--json")) {
        opts->json = true;
        return CONTINUE;
    }
    if (is_option(arg, "-l", "--list"))
        return set_mode(opts, MODE_LIST, arg);
    if (is_option(arg, NULL, "--kernels"))
        return set_mode(opts, MODE_KERNELS, arg);
    if (is_option(arg, "-d", "--device") && left >= 1) {
        opts->device = argv[++*i];
        return CONTINUE;
    }
    if (is_option(arg, NULL, "--plan") && left >= 1 && strcmp(argv[*i + 1], "map") == 0)
        return parse_map_plan(argc, argv, i, opts);
    if (is_option(arg, NULL, "--plan") && left >= 2) {
        opts->plan_text[0] = argv[++*i];
        opts->plan_text[1] = argv[++*i];
        if (plan_request_parse(opts->plan_text[0], opts->plan_text[1], &opts->plan) != KILN_OK)
            return usage_error("%s", kiln_last_error(NULL));
        return set_mode(opts, MODE_PLAN, arg);
    }
    if (is_option(arg, NULL, "--dtype") && left >= 1) {
        opts->dtype = argv[++*i];
        return CONTINUE;
    }
    if (is_option(arg, NULL, "--math") && left >= 1) {
        opts->math = argv[++*i];
        return CONTINUE;
    }
    if (is_option(arg, "-d", "--device"))
        return usage_error("%s needs a device spec", arg);
    if (is_option(arg, NULL, "--dtype") || is_option(arg, NULL, "--math"))
        return usage_error("%s needs a value", arg);
    if (is_option(arg, NULL, "--plan"))
        return usage_error("%s needs OP and SHAPE: one of %s", arg, plan_usage);
    return usage_error("unknown option \"%s\"", arg);
}

static int parse_arguments(int argc, char **argv, options *opts)
{
    for (int i = 1; i < argc; ++i) {
        int status = parse_option(argc, argv, &i, opts);
        if (status != CONTINUE)
            return status;
    }
    if ((opts->dtype != NULL || opts->math != NULL) &&
        (opts->mode != MODE_PLAN || opts->plan.op != PLAN_GEMM_EX))
        return usage_error("--dtype and --math are for --plan gemm_ex");
    if (plan_request_types(&opts->plan, opts->dtype, opts->math) != KILN_OK)
        return usage_error("%s", kiln_last_error(NULL));
    return CONTINUE;
}

/* The devices to report, [*first, *end): the one -d names, else all. */
static int choose_devices(const options *opts, size_t *first, size_t *end)
{
    size_t count = 0;
    kiln_status status = kiln_device_count(&count);
    if (status == KILN_OK && count == 0) {
        fputs("kiln-query: no OpenCL device found: no OpenCL platform is installed, or none "
              "has a device (the ICD loader reads /etc/OpenCL/vendors, or the folder "
              "$OCL_ICD_VENDORS names)\n",
              stderr);
        return EXIT_FAILURE;
    }
    size_t index = 0;
    if (status == KILN_OK && opts->device != NULL)
        status = kiln_device_find(opts->device, &index);
    if (status != KILN_OK) {
        fprintf(stderr, "kiln-query: %s: %s\n", kiln_status_str(status),
                kiln_last_error(NULL));
        return EXIT_FAILURE;
    }
    *first = opts->device != NULL ? index : 0;
    *end = opts->device != NULL ? index + 1 : count;
    return CONTINUE;
}

int main(int argc, char **argv)
{
    options opts = {.mode = MODE_DESCRIBE};
    int status = parse_arguments(argc, argv, &opts);
    size_t first = 0, end = 0;
    if (status == CONTINUE)
        status = choose_devices(&opts, &first, &end);
    return status == CONTINUE ? run(&opts, first, end) : status;
}
