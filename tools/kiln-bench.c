/*
 * kiln-bench: times kiln's operations over a list of sizes on one device, beside a CPU
 * baseline and peer libraries in the same process, against the device's peaks measured
 * in the same run. Every result is verified before it is timed; a wrong one is
 * reported and not timed, and the exit status is then 1.
 *
 * The headline time is PyTorch's way: R launches enqueued back to back, timed from
 * before the first to kiln_finish after the last, divided by R. Beside it: the time
 * between profiling markers around those launches (the device's part), the host time
 * spent enqueueing one call, and the time with host<->device copies.
 */
#include "bench.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum { MAX_OPS = 40, MAX_SIZES = 32, DEFAULT_WARMUP = 2 };

/* Without -r, R is chosen so the timed launches last about this long. */
static const double REPEAT_BUDGET_SECONDS = 0.2;

/* ---------------------------------------------------------------- options */

typedef struct {
    const char *device;
    size_t ops[MAX_OPS]; /* indices into bench_ops, in the order asked */
    size_t op_count;
    const char *sizes_all;
    const char *sizes_for[MAX_OPS];
    int repeats; /* 0: chosen per implementation */
    int warmup;
    const char *csv, *plot;
    const char *clblast_params;
    const char *group; /* group_sgemm's members, NULL: the device twice */
    const char *dtypes, *maths; /* gemm_ex's lists, NULL: the defaults */
    bool no_cpu, no_peers, help, version;
} options;

typedef enum { OPT_STRING, OPT_COUNT, OPT_FLAG, OPT_OPS, OPT_SIZES } option_kind;

typedef struct {
    const char *short_name, *long_name, *value_name;
    option_kind kind;
    size_t offset; /* of the field in options, for the plain kinds */
    const char *help;
} option_desc;

static const option_desc option_table[] = {
    {"-d", "--device", "SPEC", OPT_STRING, offsetof(options, device),
     "device: gpu, cpu, an index, P:D or part of its name\n"
     "(default: $KILN_DEVICE, else the best GPU, else any)"},
    {"-o", "--op", "OP[,OP...]", OPT_OPS, 0, "operations to run (default: all)"},
    {"-s", "--sizes", "[OP:]LIST", OPT_SIZES, 0,
     "comma-separated sizes for every op, or with OP: for one op\n"
     "(repeatable; the forms per op are below)"},
    {"-r", "--repeats", "R", OPT_COUNT, offsetof(options, repeats),
     "launches timed back to back (default: about 0.2 s worth, 3 to 100)"},
    {"-w", "--warmup", "N", OPT_COUNT, offsetof(options, warmup),
     "untimed calls before timing (default 2)"},
    {NULL, "--csv", "FILE", OPT_STRING, offsetof(options, csv),
     "write every figure to FILE, one row per op, size and implementation"},
    {NULL, "--plot", "FILE.png", OPT_STRING, offsetof(options, plot),
     "draw rate against size with gnuplot (skipped with a note if absent)"},
    {NULL, "--dtype", "T[,T...]", OPT_STRING, offsetof(options, dtypes),
     "gemm_ex's types of A, B and C: f32, f16, bf16 (default: all)"},
    {NULL, "--math", "M[,M...]", OPT_STRING, offsetof(options, maths),
     "gemm_ex's and conv2d's math levels: strict, tf32x3, tf32,\nfast (default: strict)"},
    {NULL, "--no-cpu", NULL, OPT_FLAG, offsetof(options, no_cpu), "skip the CPU baseline"},
    {NULL, "--no-peers", NULL, OPT_FLAG, offsetof(options, no_peers),
     "skip peer GPU libraries (CLBlast)"},
    {NULL, "--clblast-params", "LIST", OPT_STRING, offsetof(options, clblast_params),
     "override CLBlast's Xgemm parameters for this device\n"
     "(CLBlastOverrideParameters: its tuner's results)"},
    {NULL, "--group", "SPECS", OPT_STRING, offsetof(options, group),
     "group_sgemm's members, device specs joined by commas\n"
     "(default: the device twice)"},
    {"-h", "--help", NULL, OPT_FLAG, offsetof(options, help), "print this text"},
    {NULL, "--version", NULL, OPT_FLAG, offsetof(options, version), "print kiln's version"},
};
enum { OPTION_COUNT = sizeof(option_table) / sizeof(option_table[0]) };

enum { HELP_COLUMN = 28 }; /* where the options' descriptions start */

static void print_help(void)
{
    printf("usage: kiln-bench [options]\n\n"
           "Times kiln's operations over a list of sizes beside a CPU baseline and peer\n"
           "libraries, against the device's bandwidth and FP32 peaks measured in the same\n"
           "run. Every result is verified first; a wrong one is reported, not timed, and\n"
           "the exit status is 1.\n\noptions:\n");
    for (size_t i = 0; i < OPTION_COUNT; ++i) {
        const option_desc *o = &option_table[i];
        char left[64];
        snprintf(left, sizeof(left), "%s%s%s %s", o->short_name ? o->short_name : "",
                 o->short_name ? ", " : "    ", o->long_name,
                 o->value_name ? o->value_name : "");
        printf("  %-*s ", HELP_COLUMN - 3, left);
        for (const char *c = o->help; *c != '\0'; ++c) { /* continuation lines line up */
            if (*c == '\n')
                printf("\n%*s", HELP_COLUMN, "");
            else
                putchar(*c);
        }
        printf("\n");
    }
    printf("\nsizes: a number is digits with an optional K, M or G (powers of 1024), or\n"
           "2^N. Operations, their sizes and defaults (GPU; CPU device):\n");
    for (size_t i = 0; i < bench_op_count; ++i)
        printf("  %-12s %s\n               default %s; %s\n", bench_ops[i].name,
               bench_ops[i].size_help, bench_ops[i].gpu_sizes, bench_ops[i].cpu_sizes);
    printf("\nexample: kiln-bench -d gpu --op vadd,sgemm --sizes vadd:2^20,2^24 "
           "--sizes sgemm:1024,4096 --csv out.csv\n");
    printf("\nexit status: 0 every result right, 1 a result wrong, a failure or no device,\n"
           "2 a usage error\n");
}

static bool find_op(const char *name, size_t length, size_t *index)
{
    for (size_t i = 0; i < bench_op_count; ++i)
        if (strlen(bench_ops[i].name) == length && strncmp(bench_ops[i].name, name, length) == 0) {
            *index = i;
            return true;
        }
    fprintf(stderr, "kiln-bench: unknown op '%.*s' (known:", (int)length, name);
    for (size_t i = 0; i < bench_op_count; ++i)
        fprintf(stderr, " %s", bench_ops[i].name);
    fprintf(stderr, ")\n");
    return false;
}

static bool add_ops(options *o, const char *list)
{
    for (const char *p = list; *p;) {
        size_t length = strcspn(p, ","), index;
        if (!find_op(p, length, &index))
            return false;
        bool seen = false;
        for (size_t i = 0; i < o->op_count; ++i)
            seen = seen || o->ops[i] == index;
        if (!seen)
            o->ops[o->op_count++] = index;
        p += length + (p[length] == ',');
    }
    return true;
}

/* "LIST" applies to every op; "OP:LIST" to that op only. Op names start with a letter,
 * sizes with a digit (conv2d's hold colons). */
static bool set_sizes(options *o, const char *value)
{
    const char *colon = strchr(value, ':');
    size_t index;
    if (!colon || isdigit((unsigned char)value[0])) {
        o->sizes_all = value;
        return true;
    }
    if (!find_op(value, (size_t)(colon - value), &index))
        return false;
    o->sizes_for[index] = colon + 1;
    return true;
}

static bool set_count(int *field, const char *value, const char *name)
{
    char *end;
    long n = strtol(value, &end, 10);
    if (*value == '\0' || *end != '\0' || n < 0 || n > 1000000) {
        fprintf(stderr, "kiln-bench: %s wants a count from 0 to 1000000, not '%s'\n", name,
                value);
        return false;
    }
    *field = (int)n;
    return true;
}

static bool apply_option(options *o, const option_desc *d, const char *value)
{
    char *field = (char *)o + d->offset;
    switch (d->kind) {
    case OPT_STRING:
        *(const char **)(void *)field = value;
        return true;
    case OPT_COUNT:
        return set_count((int *)(void *)field, value, d->long_name);
    case OPT_FLAG:
        *(bool *)(void *)field = true;
        return true;
    case OPT_OPS:
        return add_ops(o, value);
    case OPT_SIZES:
        return set_sizes(o, value);
    }
    return false;
}

/* The option named by arg ("-r", "--repeats" or "--repeats=5"); *inline_value is what
 * follows '=' or NULL. */
static const option_desc *match_option(const char *arg, const char **inline_value)
{
    const char *eq = strchr(arg, '=');
    size_t length = eq ? (size_t)(eq - arg) : strlen(arg);
    *inline_value = eq ? eq + 1 : NULL;
    for (size_t i = 0; i < OPTION_COUNT; ++i) {
        const option_desc *d = &option_table[i];
        if ((d->short_name && strlen(d->short_name) == length &&
             strncmp(arg, d->short_name, length) == 0) ||
            (strlen(d->long_name) == length && strncmp(arg, d->long_name, length) == 0))
            return d;
    }
    return NULL;
}

static bool parse_options(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; ++i) {
        const char *value;
        const option_desc *d = match_option(argv[i], &value);
        if (!d) {
            fprintf(stderr, "kiln-bench: unknown option '%s' (see --help)\n", argv[i]);
            return false;
        }
        if (d->value_name && !value && i + 1 < argc)
            value = argv[++i];
        if (d->value_name && !value) {
            fprintf(stderr, "kiln-bench: %s needs %s\n", d->long_name, d->value_name);
            return false;
        }
        if (!apply_option(o, d, value))
            return false;
    }
    if (o->op_count == 0)
        for (size_t i = 0; i < bench_op_count; ++i)
            o->ops[o->op_count++] = i;
    return true;
}

/* ---------------------------------------------------------------- sizes */

/* Digits with an optional K, M or G, or 2^N. */
static bool parse_count(const char *text, const char **end, size_t *value)
{
    char *stop;
    if (text[0] == '2' && text[1] == '^') {
        unsigned long shift = strtoul(text + 2, &stop, 10);
        if (stop == text + 2 || shift >= sizeof(size_t) * CHAR_BIT - 1)
            return false;
        *value = (size_t)1 << shift;
    } else {
        if (!isdigit((unsigned char)*text))
            return false;
        unsigned long long n = strtoull(text, &stop, 10);
        const char *units = "KMG", *unit = *stop ? strchr(units, toupper((unsigned char)*stop)) : NULL;
        int shift = unit ? 10 * (int)(unit - units + 1) : 0;
        stop += unit != NULL;
        if (n > (unsigned long long)(SIZE_MAX >> shift))
            return false;
        *value = (size_t)(n << shift);
    }
    *end = stop;
    return *value > 0;
}

/* One size of op: numbers joined by 'x' in the order of op->axes, or one number for
 * all of them. */
static bool parse_shape(const bench_op *op, const char *token, size_t length, bench_shape *s)
{
    if (strcmp(op->axes, "conv") == 0)
        return bench_conv2d_parse(token, length, s);
    size_t values[3], count = 0, axes = strlen(op->axes);
    const char *p = token, *end = token + length;
    while (p < end && count < 3) {
        if (!parse_count(p, &p, &values[count++]) || (p < end && *p != 'x' && *p != 'X'))
            return false;
        p += p < end;
    }
    if (p != end || (count != 1 && count != axes))
        return false;
    *s = (bench_shape){.m = 1, .n = 1, .k = 1};
    for (size_t a = 0; a < axes; ++a) {
        size_t v = values[count == 1 ? 0 : a];
        *(op->axes[a] == 'm' ? &s->m : op->axes[a] == 'n' ? &s->n : &s->k) = v;
    }
    /* every matrix must be countable in size_t, with room to spare */
    const double limit = 0x1p48;
    return (double)s->m * s->n <= limit && (double)s->m * s->k <= limit &&
           (double)s->k * s->n <= limit;
}

static bool parse_size_list(const bench_op *op, const char *list, bench_shape *shapes,
                            size_t *count)
{
    *count = 0;
    for (const char *p = list; *p;) {
        size_t length = strcspn(p, ",");
        if (*count == MAX_SIZES || !parse_shape(op, p, length, &shapes[*count])) {
            fprintf(stderr, "kiln-bench: bad size '%.*s' for %s: want %s (at most %d sizes)\n",
                    (int)length, p, op->name, op->size_help, MAX_SIZES);
            return false;
        }
        ++*count;
        p += length + (p[length] == ',');
    }
    return true;
}

static void size_label(const bench_op *op, bench_shape s, char *label, size_t length)
{
    if (strcmp(op->axes, "conv") == 0) {
        bench_conv2d_label(s, label, length);
        return;
    }
    if (strcmp(op->axes, "n") == 0 && (s.n & (s.n - 1)) == 0) {
        int shift = 0;
        while (((size_t)1 << shift) < s.n)
            ++shift;
        snprintf(label, length, "2^%d", shift);
        return;
    }
    size_t used = 0;
    for (const char *a = op->axes; *a && used < length; ++a)
        used += (size_t)snprintf(label + used, length - used, "%s%zu", a == op->axes ? "" : "x",
                                 *a == 'm' ? s.m : *a == 'n' ? s.n : s.k);
}

/* ---------------------------------------------------------------- a run */

typedef struct {
    const bench_op *op;
    bench_shape shape;
    kiln_dtype dtype; /* of a typed op (gemm_ex) */
    kiln_math math;
} plan_item;

typedef struct {
    options opt;
    kiln_ctx *ctx;
    kiln_device_info info;
    bench_peaks peaks;
    plan_item plan[MAX_OPS * MAX_SIZES];
    size_t plan_count;
    bench_row *rows;
    size_t row_count, row_capacity;
    int failures; /* wrong or failed results */
} bench;

static bool gpu_like(const kiln_device_info *info)
{
    return info->type == KILN_DEVICE_GPU || info->type == KILN_DEVICE_ACCELERATOR;
}

static const char *const dtype_names[] = {"f32", "f16", "bf16"};
static const char *const math_names[] = {"strict", "tf32x3", "tf32", "fast"};
enum { DTYPE_COUNT = 3, MATH_COUNT = 4 };

/* The indices into names[] of a comma-separated list, in its order; false (with a
 * message) for a name not there. */
static bool parse_names(const char *list, const char *const *names, size_t count,
                        const char *option, int *picked, size_t *picked_count)
{
    *picked_count = 0;
    for (const char *p = list; *p;) {
        size_t length = strcspn(p, ","), i = 0;
        while (i < count && (strlen(names[i]) != length || strncmp(names[i], p, length) != 0))
            ++i;
        if (i == count || *picked_count == count) {
            fprintf(stderr, "kiln-bench: %s: '%.*s' is not one of", option, (int)length, p);
            for (size_t j = 0; j < count; ++j)
                fprintf(stderr, " %s", names[j]);
            fprintf(stderr, " (each once)\n");
            return false;
        }
        picked[(*picked_count)++] = (int)i;
        p += length + (p[length] == ',');
    }
    return true;
}

/* Plan items of op at shape: one, or one per type and math level, or per math level. */
static bool plan_shape(bench *b, const bench_op *op, bench_shape shape)
{
    int dtypes[DTYPE_COUNT] = {0}, maths[MATH_COUNT] = {0};
    size_t dtype_count = 1, math_count = 1;
    const bool per_dtype = op->variants == BENCH_PER_DTYPE_AND_MATH;
    if ((per_dtype && !parse_names(b->opt.dtypes ? b->opt.dtypes : "f32,f16,bf16", dtype_names,
                                   DTYPE_COUNT, "--dtype", dtypes, &dtype_count)) ||
        (op->variants != BENCH_ONCE &&
         !parse_names(b->opt.maths ? b->opt.maths : "strict", math_names, MATH_COUNT,
                      "--math", maths, &math_count)))
        return false;
    for (size_t t = 0; t < dtype_count; ++t)
        for (size_t m = 0; m < math_count; ++m) {
            if (b->plan_count == MAX_OPS * MAX_SIZES) {
                fprintf(stderr, "kiln-bench: more than %d cases\n", MAX_OPS * MAX_SIZES);
                return false;
            }
            b->plan[b->plan_count++] =
                (plan_item){op, shape, (kiln_dtype)dtypes[t], (kiln_math)maths[m]};
        }
    return true;
}

static bool make_plan(bench *b)
{
    for (size_t i = 0; i < b->opt.op_count; ++i) {
        const bench_op *op = &bench_ops[b->opt.ops[i]];
        const char *list = b->opt.sizes_for[b->opt.ops[i]];
        if (!list)
            list = b->opt.sizes_all;
        if (!list)
            list = gpu_like(&b->info) ? op->gpu_sizes : op->cpu_sizes;
        bench_shape shapes[MAX_SIZES];
        size_t count;
        if (!parse_size_list(op, list, shapes, &count))
            return false;
        for (size_t s = 0; s < count; ++s)
            if (!plan_shape(b, op, shapes[s]))
                return false;
    }
    return true;
}

/* The size of case `index`, with its type and math where the op has variants ("4096 bf16
 * fast", "n32 c64->64 56x56 k3 tf32"). */
static void case_label(const bench *b, size_t index, char *label, size_t length)
{
    const plan_item *item = &b->plan[index];
    size_label(item->op, item->shape, label, length);
    size_t used = strlen(label);
    if (item->op->variants == BENCH_PER_DTYPE_AND_MATH)
        snprintf(label + used, length - used, " %s %s", dtype_names[item->dtype],
                 math_names[item->math]);
    else if (item->op->variants == BENCH_PER_MATH)
        snprintf(label + used, length - used, " %s", math_names[item->math]);
}

/* A zeroed row of case `index`, or NULL when out of memory. */
static bench_row *new_row(bench *b, size_t index)
{
    if (b->row_count == b->row_capacity) {
        size_t capacity = b->row_capacity ? 2 * b->row_capacity : 64;
        bench_row *rows = realloc(b->rows, capacity * sizeof(*rows));
        if (!rows)
            return NULL;
        b->rows = rows;
        b->row_capacity = capacity;
    }
    bench_row *row = &b->rows[b->row_count++];
    memset(row, 0, sizeof(*row));
    row->case_index = index;
    row->op = b->plan[index].op;
    row->shape = b->plan[index].shape;
    row->timing.kernel_seconds = row->timing.enqueue_seconds = -1.0;
    return row;
}

static void format_bytes(double bytes, char *text, size_t length)
{
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
        bytes /= 1024;
        ++u;
    }
    snprintf(text, length, "%.1f %s", bytes, units[u]);
}

static double host_memory_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? (double)pages * (double)page : 0;
}

/* Whether this case can run here; if not, why: a buffer above the device's largest
 * allocation, more than its memory, or more than half the host's memory. */
static bool case_fits(const bench *b, const bench_case *c, char *why, size_t length)
{
    double device = 0, largest = 0, host_limit = host_memory_bytes() / 2;
    for (size_t i = 0; i < BENCH_MAX_INPUTS; ++i) {
        device += 4.0 * (double)c->in_len[i];
        largest = fmax(largest, 4.0 * (double)c->in_len[i]);
    }
    device += 4.0 * (double)c->out_len;
    largest = fmax(largest, 4.0 * (double)c->out_len);
    char need[32], have[32];
    if (b->info.max_alloc_bytes && largest > (double)b->info.max_alloc_bytes) {
        format_bytes(largest, need, sizeof(need));
        format_bytes((double)b->info.max_alloc_bytes, have, sizeof(have));
        snprintf(why, length, "a %s buffer is above the device's largest allocation (%s)",
                 need, have);
    } else if (b->info.global_mem_bytes && device > 0.9 * (double)b->info.global_mem_bytes) {
        format_bytes(device, need, sizeof(need));
        format_bytes((double)b->info.global_mem_bytes, have, sizeof(have));
        snprintf(why, length, "needs %s of device memory, the device has %s", need, have);
    } else if (host_limit > 0 && device > host_limit) {
        format_bytes(device, need, sizeof(need));
        snprintf(why, length, "needs %s of host memory, more than half of this host's", need);
    } else {
        return true;
    }
    return false;
}

static bool case_alloc(bench_case *c)
{
    for (size_t i = 0; i < BENCH_MAX_INPUTS && c->in_len[i]; ++i) {
        const size_t bytes = c->in_len[i] * sizeof(float);
        c->in[i] = malloc(bytes);
        if (!c->in[i]) {
            fprintf(stderr, "kiln-bench: out of host memory for an input of %zu bytes\n", bytes);
            return false;
        }
        bench_random_fill(c->in[i], c->in_len[i], 0x5eed0000ULL + i);
        if (!bench_report(c->ctx, kiln_buf_create(c->ctx, bytes, &c->dev_in[i]), "kiln_buf_create") ||
            !bench_report(c->ctx, kiln_buf_write(c->dev_in[i], 0, c->in[i], bytes), "kiln_buf_write"))
            return false;
    }
    c->out = malloc(c->out_len * sizeof(float));
    if (!c->out)
        fprintf(stderr, "kiln-bench: out of host memory for the output\n");
    return c->out &&
           bench_report(c->ctx, kiln_buf_create(c->ctx, c->out_len * sizeof(float), &c->dev_out),
                        "kiln_buf_create");
}

static void case_free(bench_case *c)
{
    for (size_t i = 0; i < BENCH_MAX_INPUTS; ++i) {
        free(c->in[i]);
        kiln_buf_destroy(c->dev_in[i]);
    }
    free(c->out);
    kiln_buf_destroy(c->dev_out);
    for (size_t i = 0; i < 3; ++i)
        kiln_buf_destroy(c->dev_typed[i]);
    kiln_buf_destroy(c->workspace);
    for (size_t i = 0; i < 3; ++i)
        kiln_buf_destroy(c->dev_parts[i]);
}

/* ---------------------------------------------------------------- one implementation */

typedef struct {
    bench_case *c;
    const bench_impl *impl;
} impl_call;

static bool call_impl(void *arg)
{
    const impl_call *call = arg;
    return call->impl->run(call->c);
}

/* One call that has ended when this returns. */
static bool run_once(bench_case *c, const bench_impl *impl)
{
    return impl->run(c) &&
           (impl->where != BENCH_ON_QUEUE || bench_report(c->ctx, kiln_finish(c->ctx), "kiln_finish"));
}

/* NaN in the output first, so an implementation that writes nothing cannot pass. */
static bool poison_output(bench_case *c, const bench_impl *impl)
{
    memset(c->out, 0xff, c->out_len * sizeof(float));
    return impl->where != BENCH_ON_QUEUE ||
           bench_report(c->ctx, kiln_buf_fill(c->dev_out, NAN), "kiln_buf_fill");
}

static bool fetch_output(bench_case *c, const bench_impl *impl)
{
    return impl->where != BENCH_ON_QUEUE ||
           bench_report(c->ctx, kiln_buf_read(c->dev_out, 0, c->out, c->out_len * sizeof(float)),
                        "kiln_buf_read");
}

static const char *check_once(const bench_op *op, bench_case *c, const bench_impl *impl,
                              char *why, size_t length)
{
    if (!poison_output(c, impl) || (impl->prepare && !impl->prepare(c)) ||
        !run_once(c, impl) || !fetch_output(c, impl)) {
        snprintf(why, length, "a call failed (see above)");
        return "failed";
    }
    return op->verify(c, why, length) ? "ok" : "WRONG";
}

/* Verifies the output as timed; with an activation, a linear run too, so the GEMM
 * part gets Freivalds' check where the outputs are only sampled. */
static const char *check_impl(const bench_op *op, bench_case *c, const bench_impl *impl,
                              char *why, size_t length)
{
    const char *state = check_once(op, c, impl, why, length);
    kiln_act act = c->expect.act;
    if (strcmp(state, "ok") != 0 || act == KILN_ACT_NONE)
        return state;
    c->expect.act = KILN_ACT_NONE;
    state = check_once(op, c, impl, why, length);
    c->expect.act = act;
    return state;
}

static int choose_repeats(const bench *b, const bench_impl *impl, double single_seconds)
{
    if (b->opt.repeats > 0)
        return b->opt.repeats;
    const int low = impl->where == BENCH_ON_HOST ? 1 : 3;
    const int high = impl->where == BENCH_ON_QUEUE ? 100 : 20;
    double r = single_seconds > 0 ? ceil(REPEAT_BUDGET_SECONDS / single_seconds) : high;
    return r < low ? low : r > high ? high : (int)r;
}

static bool time_impl(const bench *b, bench_case *c, const bench_impl *impl, bench_timing *t)
{
    double single = 0;
    const bool estimate = b->opt.repeats == 0;
    for (int w = 0; w < b->opt.warmup || (w == 0 && estimate); ++w) {
        double start = bench_now();
        if (!run_once(c, impl))
            return false;
        single = bench_now() - start;
    }
    impl_call call = {c, impl};
    const int repeats = choose_repeats(b, impl, single);
    return impl->where == BENCH_ON_QUEUE ? bench_time_queue(c->ctx, call_impl, &call, repeats, t)
                                         : bench_time_waiting(call_impl, &call, repeats, t);
}

static bool skipped_impl(const bench *b, const bench_op *op, const bench_case *c,
                         const bench_impl *impl, char *why, size_t length)
{
    if (impl->role == BENCH_ROLE_CPU && b->opt.no_cpu)
        snprintf(why, length, "--no-cpu");
    else if (impl->role == BENCH_ROLE_PEER && b->opt.no_peers)
        snprintf(why, length, "--no-peers");
    else if (impl->role == BENCH_ROLE_CPU && op->rate == BENCH_RATE_FLOPS &&
             op->work(c->shape) > bench_cpu_max_flops)
        snprintf(why, length, "the CPU would take too long (%.3g flops)", op->work(c->shape));
    else
        return false;
    return true;
}

static void run_impl(bench *b, const bench_op *op, bench_case *c, const bench_impl *impl,
                     bench_row *row)
{
    /* kiln's rows of an op with variants are named for their type and math: the plot draws
     * a line for each */
    static const char *const variants[DTYPE_COUNT][MATH_COUNT] = {
        {"kiln f32 strict", "kiln f32 tf32x3", "kiln f32 tf32", "kiln f32 fast"},
        {"kiln f16 strict", "kiln f16 tf32x3", "kiln f16 tf32", "kiln f16 fast"},
        {"kiln bf16 strict", "kiln bf16 tf32x3", "kiln bf16 tf32", "kiln bf16 fast"}};
    const bench_expect expect = c->expect;
    row->impl = op->variants != BENCH_ONCE && impl->role == BENCH_ROLE_KILN
                    ? variants[expect.dtype][expect.math]
                    : impl->name;
    row->role = impl->role;
    row->library = impl->library;
    if (skipped_impl(b, op, c, impl, row->note, sizeof(row->note))) {
        row->state = "skipped";
        return;
    }
    row->state = check_impl(op, c, impl, row->note, sizeof(row->note));
    if (strcmp(row->state, "ok") == 0 && !time_impl(b, c, impl, &row->timing)) {
        row->state = "failed";
        snprintf(row->note, sizeof(row->note), "a timed call failed (see above)");
    }
    if (strcmp(row->state, "ok") == 0)
        row->rate = op->work(c->shape) / row->timing.seconds;
    else
        ++b->failures;
    c->expect = expect;
}

/* ---------------------------------------------------------------- the table */

typedef char cell[32];

static const bench_row *find_row(const bench *b, const bench_row *any, bench_role role)
{
    for (size_t i = 0; i < b->row_count; ++i) {
        const bench_row *r = &b->rows[i];
        if (r->case_index == any->case_index && r->role == role && r->rate > 0)
            return r;
    }
    return NULL;
}

static double peak_of(const bench *b, const bench_op *op)
{
    return op->rate == BENCH_RATE_FLOPS ? b->peaks.flops_per_second : b->peaks.bytes_per_second;
}

static void cell_ms(cell out, double seconds)
{
    if (seconds > 0)
        snprintf(out, sizeof(cell), "%.4g", seconds * 1e3);
    else
        snprintf(out, sizeof(cell), "-");
}

static void cell_ratio(cell out, double numerator, double denominator)
{
    if (numerator > 0 && denominator > 0)
        snprintf(out, sizeof(cell), "%.2f", numerator / denominator);
    else
        snprintf(out, sizeof(cell), "-");
}

static void cell_rate(cell out, const bench_op *op, double rate)
{
    if (rate <= 0)
        snprintf(out, sizeof(cell), "-");
    else if (op->rate == BENCH_RATE_BYTES)
        snprintf(out, sizeof(cell), "%.1f GB/s", rate * 1e-9);
    else if (rate >= 1e12)
        snprintf(out, sizeof(cell), "%.2f TFLOP/s", rate * 1e-12);
    else
        snprintf(out, sizeof(cell), "%.1f GFLOP/s", rate * 1e-9);
}

static void cell_percent(cell out, double rate, double peak)
{
    if (rate > 0 && peak > 0)
        snprintf(out, sizeof(cell), "%.0f%%", 100.0 * rate / peak);
    else
        snprintf(out, sizeof(cell), "-");
}

static double seconds_of(const bench_row *r)
{
    return r ? r->timing.seconds : 0;
}

static const char table_format[] =
    "%-12s %-24s %10s %10s %6s %10s %6s %10s %6s %15s %6s %8s\n";

static void print_table_header(void)
{
    printf(table_format, "op", "size", "cpu ms", "kiln ms", "x cpu", "kernel ms", "x cpu",
           "+xfer ms", "x cpu", "kiln rate", "%peak", "host us");
}

/* The kiln line: CPU, kiln, kernel-only and with-transfers times, speed-ups, rate. */
static void print_kiln_line(const bench *b, const bench_row *first, const char *label)
{
    const bench_row *cpu = find_row(b, first, BENCH_ROLE_CPU),
                    *kiln = find_row(b, first, BENCH_ROLE_KILN),
                    *xfer = find_row(b, first, BENCH_ROLE_TRANSFERS);
    const double cpu_s = seconds_of(cpu), kernel_s = kiln ? kiln->timing.kernel_seconds : 0;
    cell cpu_ms, kiln_ms, kiln_x, kernel_ms, kernel_x, xfer_ms, xfer_x, rate, percent, host;
    cell_ms(cpu_ms, cpu_s);
    cell_ms(kiln_ms, seconds_of(kiln));
    cell_ratio(kiln_x, cpu_s, seconds_of(kiln));
    cell_ms(kernel_ms, kernel_s);
    cell_ratio(kernel_x, cpu_s, kernel_s);
    cell_ms(xfer_ms, seconds_of(xfer));
    cell_ratio(xfer_x, cpu_s, seconds_of(xfer));
    cell_rate(rate, first->op, kiln ? kiln->rate : 0);
    cell_percent(percent, kiln ? kiln->rate : 0, peak_of(b, first->op));
    if (kiln && kiln->timing.enqueue_seconds >= 0)
        snprintf(host, sizeof(host), "%.1f", kiln->timing.enqueue_seconds * 1e6);
    else
        snprintf(host, sizeof(host), "-");
    printf(table_format, first->op->name, label, cpu_ms, kiln_ms, kiln_x, kernel_ms, kernel_x,
           xfer_ms, xfer_x, rate, percent, host);
}

/* A peer line: its time, kernel time, speed-ups, rate and kiln's rate over it. */
static void print_peer_line(const bench *b, const bench_row *peer)
{
    const bench_row *cpu = find_row(b, peer, BENCH_ROLE_CPU),
                    *kiln = find_row(b, peer, BENCH_ROLE_KILN);
    const double cpu_s = seconds_of(cpu);
    const bool on_device = peer->role == BENCH_ROLE_PEER;
    char label[64];
    cell ms, x, kernel_ms, kernel_x, rate, percent, versus;
    snprintf(label, sizeof(label), "  peer: %s", peer->impl);
    cell_ms(ms, peer->timing.seconds);
    cell_ratio(x, cpu_s, peer->timing.seconds);
    cell_ms(kernel_ms, peer->timing.kernel_seconds);
    cell_ratio(kernel_x, cpu_s, peer->timing.kernel_seconds);
    cell_rate(rate, peer->op, peer->rate);
    cell_percent(percent, on_device ? peer->rate : 0, peak_of(b, peer->op));
    cell_ratio(versus, kiln ? kiln->rate : 0, peer->rate);
    printf("%-37s %10s %10s %6s %10s %6s %10s %6s %15s %6s  kiln/peer %s\n", label, "", ms, x,
           kernel_ms, kernel_x, "", "", rate, percent, versus);
}

static void print_case(const bench *b, size_t first_row, const char *label)
{
    const bench_row *first = &b->rows[first_row];
    print_kiln_line(b, first, label);
    for (size_t i = first_row; i < b->row_count; ++i) {
        const bench_row *r = &b->rows[i];
        if (r->rate > 0 && r->library)
            print_peer_line(b, r);
        else if (strcmp(r->state, "ok") != 0 && strncmp(r->note, "--", 2) != 0)
            printf("  %s: %s %s %s: %s\n", r->state, r->op->name, label, r->impl, r->note);
    }
}

static void run_case(bench *b, size_t index)
{
    const plan_item *item = &b->plan[index];
    bench_case c = {.ctx = b->ctx, .shape = item->shape, .expect = item->op->expect};
    c.expect.dtype = item->dtype;
    c.expect.math = item->math;
    char label[64];
    case_label(b, index, label, sizeof(label));
    fprintf(stderr, "[%zu/%zu] %s %s ...\n", index + 1, b->plan_count, item->op->name, label);
    fflush(stderr);
    item->op->lengths(&c);
    const size_t first_row = b->row_count;
    char why[200];
    if (!case_fits(b, &c, why, sizeof(why))) {
        bench_row *row = new_row(b, index);
        if (row) {
            row->impl = "kiln";
            row->role = BENCH_ROLE_KILN;
            row->state = "skipped";
            snprintf(row->note, sizeof(row->note), "%s", why);
        }
        printf("%-12s %-24s skipped: %s\n", item->op->name, label, why);
        return;
    }
    if (!case_alloc(&c)) {
        printf("%-12s %-24s failed: could not set up the buffers (see above)\n", item->op->name,
               label);
        ++b->failures;
    } else {
        for (const bench_impl *impl = item->op->impls; impl->name; ++impl) {
            bench_row *r = new_row(b, index);
            if (!r) {
                ++b->failures;
                break;
            }
            run_impl(b, item->op, &c, impl, r);
        }
        if (b->row_count > first_row)
            print_case(b, first_row, label);
    }
    fflush(stdout);
    case_free(&c);
}

/* ---------------------------------------------------------------- CSV */

static void csv_text(FILE *f, const char *text)
{
    bench_put_quoted(f, text, '"');
}

static const char *role_name(bench_role role)
{
    static const char *names[] = {"cpu", "kiln", "kiln-transfers", "peer"};
    return names[role];
}

/* A field followed by a comma: empty when the figure does not exist. */
static void csv_number(FILE *f, double value, bool exists)
{
    if (exists)
        fprintf(f, "%.9g", value);
    fputc(',', f);
}

static void csv_row(FILE *f, const bench *b, const bench_row *r)
{
    const bench_row *cpu = find_row(b, r, BENCH_ROLE_CPU), *kiln = find_row(b, r, BENCH_ROLE_KILN);
    const bench_timing *t = &r->timing;
    const bool timed = r->rate > 0;
    const bool on_device = r->role == BENCH_ROLE_KILN || r->role == BENCH_ROLE_PEER;
    const double peak = peak_of(b, r->op);
    char label[64];
    case_label(b, r->case_index, label, sizeof(label));
    fprintf(f, "%s,%s,%zu,%zu,%zu,", r->op->name, label, r->shape.m, r->shape.n, r->shape.k);
    csv_text(f, r->impl);
    fprintf(f, ",%s,%s,", role_name(r->role), r->state);
    csv_number(f, t->repeats, timed);
    csv_number(f, t->seconds, timed);
    csv_number(f, t->kernel_seconds, timed && t->kernel_seconds >= 0);
    csv_number(f, t->enqueue_seconds, timed && t->enqueue_seconds >= 0);
    csv_number(f, r->rate * 1e-9, timed);
    fprintf(f, "%s,", r->op->rate == BENCH_RATE_FLOPS ? "GFLOP/s" : "GB/s");
    csv_number(f, timed ? 100.0 * r->rate / peak : 0, timed && peak > 0 && on_device);
    csv_number(f, cpu && timed ? cpu->timing.seconds / t->seconds : 0, cpu && timed);
    csv_number(f, kiln && timed ? kiln->rate / r->rate : 0, kiln && timed);
    csv_text(f, r->note);
    fputc('\n', f);
}

static bool write_csv(const bench *b, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "kiln-bench: cannot write %s\n", path);
        return false;
    }
    fprintf(f, "op,size,m,n,k,impl,role,state,repeats,seconds,kernel_seconds,enqueue_seconds,"
               "rate,rate_unit,percent_of_peak,speedup_vs_cpu,kiln_over_impl,note\n");
    fprintf(f, "peak,%zu,,,,\"float4 copy\",probe,ok,,,,,%.6g,GB/s,100,,,\n",
            b->peaks.probe_bytes, b->peaks.bytes_per_second * 1e-9);
    fprintf(f, "peak,%zu,,,,\"mad chains\",probe,ok,,,,,%.6g,GFLOP/s,100,,,\n",
            b->peaks.probe_items, b->peaks.flops_per_second * 1e-9);
    for (size_t i = 0; i < b->row_count; ++i)
        csv_row(f, b, &b->rows[i]);
    if (fclose(f) != 0) {
        fprintf(stderr, "kiln-bench: writing %s failed\n", path);
        return false;
    }
    printf("kiln-bench: figures written to %s\n", path);
    return true;
}

/* ---------------------------------------------------------------- main */

static const char *type_name(kiln_device_type type)
{
    switch (type) {
    case KILN_DEVICE_CPU:
        return "CPU";
    case KILN_DEVICE_GPU:
        return "GPU";
    case KILN_DEVICE_ACCELERATOR:
        return "accelerator";
    default:
        return "other";
    }
}

static bool open_device(bench *b)
{
    size_t index;
    b->info.struct_size = sizeof(b->info);
    return bench_report(NULL, kiln_device_find(b->opt.device, &index), "kiln_device_find") &&
           bench_report(NULL, kiln_device_get(index, &b->info), "kiln_device_get") &&
           bench_report(NULL, kiln_ctx_create(&b->ctx, b->opt.device), "kiln_ctx_create") &&
           (b->opt.clblast_params == NULL ||
            bench_clblast_override(b->ctx, b->opt.clblast_params));
}

static void print_preamble(const bench *b)
{
    char alloc[32], copy[32];
    format_bytes((double)b->info.max_alloc_bytes, alloc, sizeof(alloc));
    format_bytes((double)b->peaks.probe_bytes, copy, sizeof(copy));
    printf("kiln-bench %s on \"%s\" (%s, %s, %u compute units, %s largest buffer)\n",
           KILN_VERSION_STRING, b->info.name, b->info.platform_name, type_name(b->info.type),
           b->info.compute_units, alloc);
    printf("peaks, measured now: %.1f GB/s (float4 copy of %s, best of 5), "
           "%.1f GFLOP/s fp32 (8 mad chains of float%u x %zu work-items, best of 5)\n",
           b->peaks.bytes_per_second * 1e-9, copy, b->peaks.flops_per_second * 1e-9,
           b->peaks.chain_width, b->peaks.probe_items);
    printf("cpu: plain C loops, one thread, long sums in double; sgemm and dense: %s\n",
           bench_cpu_gemm_name());
#ifdef KILN_BENCH_CLBLAST
    printf("peers: CLBlast on kiln's queue and buffers (for dense: its plain sgemm of the same "
           "shape, without bias and activation)%s%s\n",
           b->opt.clblast_params ? "; Xgemm parameters overridden: " : "",
           b->opt.clblast_params ? b->opt.clblast_params : "");
#else
    printf("peers: none on the device (kiln-bench was built without CLBlast)\n");
#endif
    printf("kiln ms: R calls back to back, from before the first to kiln_finish, / R "
           "(R: %s, after %d warm-up calls)\n",
           b->opt.repeats ? "-r" : "about 0.2 s worth, 3 to 100", b->opt.warmup);
    printf("kernel ms: between profiling markers around those calls, / R; +xfer ms: with "
           "host<->device copies; host us: enqueueing one call\n");
    printf("rates count bytes read and written: 12 per element for vadd, geam, axpy and "
           "act_backward, 8 for sigmoid, scale, softmax, the norms and bias_act, 4 (read "
           "only) for sum, max and the row and column reductions, 16 for map, 8 for map_sum, "
           "28 a parameter for adam; 2*m*n*k flops for sgemm, "
           "gemm_ex and dense; every result was verified first\n\n");
}

int main(int argc, char **argv)
{
    bench b = {.opt = {.warmup = DEFAULT_WARMUP}};
    if (bench_op_count > MAX_OPS) {
        fprintf(stderr, "kiln-bench: raise MAX_OPS to %zu\n", bench_op_count);
        return 2;
    }
    if (!parse_options(argc, argv, &b.opt))
        return 2;
    if (b.opt.help) {
        print_help();
        return 0;
    }
    if (b.opt.version) {
        printf("kiln-bench %s\n", kiln_version());
        return 0;
    }
    if (!open_device(&b))
        return 1;
    if (!make_plan(&b)) {
        kiln_ctx_destroy(b.ctx);
        return 2;
    }
    fprintf(stderr, "kiln-bench: measuring the device's peaks ...\n");
    if (!bench_measure_peaks(b.ctx, &b.info, &b.peaks))
        fprintf(stderr, "kiln-bench: the peak probes failed; %%peak is left out\n");
    print_preamble(&b);
    print_table_header();
    bench_group_set(b.opt.group, b.opt.device);
    bench_stream_set(b.opt.device);
    for (size_t i = 0; i < b.plan_count; ++i)
        run_case(&b, i);
    bench_group_close();
    bench_stream_close();
    bool written = (!b.opt.csv || write_csv(&b, b.opt.csv)) &&
                   (!b.opt.plot || bench_plot(b.opt.plot, b.info.name, &b.peaks, b.rows, b.row_count));
    if (b.failures)
        printf("kiln-bench: %d result(s) wrong or failed\n", b.failures);
    free(b.rows);
    kiln_ctx_destroy(b.ctx);
    return b.failures || !written ? 1 : 0;
}
