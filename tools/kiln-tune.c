/* kiln-tune: searches the GEMM tiles of kiln's kernels on the present device for given
 * shapes, checks each candidate's result against a double reference before timing it,
 * and stores the winners in the cache folder, where later processes' GEMMs of those
 * shapes find them (lib/gemm/tuning.c). Running one given tile is internal
 * (gemm_run_config), so this tool links the library's objects and includes
 * lib/internal.h on purpose; checks and clocks are kiln-bench's (bench_verify.c,
 * bench_time.c). */
#include "internal.h"
#include "introspect.h" /* gemm_ex's type and math names, as kiln-query reads them */

#include "bench.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_SHAPES = 32, MAX_CANDIDATES = 2048, TRIALS = 3 };
static const double trial_seconds = 0.05; /* a timed trial repeats the call this long */

struct options {
    const char *device;
    bench_shape shapes[MAX_SHAPES];
    size_t shape_count;
    double budget;
    bool kinds[GEMM_KIND_COUNT]; /* indexed by enum gemm_kind */
    bool kinds_given;            /* else the kernels the dispatcher picks from here */
    bool tc;                     /* --kernel tc: the tensor-core tables instead */
    struct plan_request types;   /* --dtype and --math of the tensor-core calls */
    bool types_given;
    bool dry_run;
};

struct candidate {
    enum gemm_kind kind;
    struct gemm_config config;
};

/* One kernel's outcome at one shape: the table's tile and the best found. */
struct result {
    bench_shape shape;
    enum gemm_kind kind;
    struct gemm_config table, best;
    double table_rate, best_rate; /* flop/s; 0: not measured */
};

/* The buffers and host copies of one shape. */
struct problem {
    kiln_ctx *ctx;
    bench_case check; /* in[0] A m×k, in[1] B k×n, out C m×n: what bench_verify reads */
    kiln_buf *a, *b, *c;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: kiln-tune [-d SPEC] [--shapes 1024,4096,MxNxK...] [--budget SECONDS]\n"
            "                 [--kernel block|portable|cpu|both|all|tc] [--dtype T]\n"
            "                 [--math M] [--dry-run]\n"
            "       kiln-tune --help | --version\n"
            "Searches GEMM tiles for each shape (C = A·B, no transposes) on the device,\n"
            "checks and times each, and stores the winners in the cache folder\n"
            "($KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln or ~/.cache/kiln), where kiln's\n"
            "GEMMs of those shapes (and shapes within 2x of them) use them.\n"
            "  -d SPEC     device: gpu, cpu, an index, P:D or part of its name\n"
            "              (default: $KILN_DEVICE, else the best GPU, else any)\n"
            "  --shapes    N (N×N×N) or MxNxK, comma-separated (default 1024)\n"
            "  --budget    seconds for the whole search (default 300); the best so far\n"
            "              is kept when it runs out\n"
            "  --kernel    cl/gemm_block.cl (whole blocks), cl/gemm.cl, cl/gemm_cpu.cl,\n"
            "              block and portable (both) or all three; default: the ones the\n"
            "              library picks from on the device (cpu and portable on CPUs);\n"
            "              tc: the tensor-core kernel's table of tiles (NVIDIA sm_80 and\n"
            "              later), each row timed and the winner reported, not stored\n"
            "  --dtype T   with --kernel tc: A, B and C in f32, f16 (default) or bf16\n"
            "  --math M    with --kernel tc: strict, tf32x3, tf32 or fast (default)\n"
            "  --dry-run   list the candidates; build, time and store nothing\n"
            "  -h, --help  this text\n"
            "  --version   kiln's version\n"
            "Exit status: 0 winners stored, listed or reported, or tensor cores skipped\n"
            "(saying why); 1 no device or a failure on it; 2 a usage error.\n");
}

/* ---- arguments */

static bool parse_size(const char *text, char **end, size_t *out)
{
    unsigned long long value = strtoull(text, end, 10);
    *out = (size_t)value;
    return *end != text && value > 0 && value <= (1ull << 20);
}

static bool parse_shape(const char *text, bench_shape *shape)
{
    char *end;
    if (!parse_size(text, &end, &shape->m))
        return false;
    if (*end == '\0' || *end == ',') {
        shape->n = shape->k = shape->m;
        return true;
    }
    return *end == 'x' && parse_size(end + 1, &end, &shape->n) && *end == 'x' &&
           parse_size(end + 1, &end, &shape->k) && (*end == '\0' || *end == ',');
}

static bool parse_shapes(const char *text, struct options *o)
{
    o->shape_count = 0;
    for (const char *p = text; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL) {
        if (o->shape_count == MAX_SHAPES || !parse_shape(p, &o->shapes[o->shape_count++]))
            return false;
    }
    return o->shape_count > 0;
}

static bool parse_kernel(const char *text, struct options *o)
{
    o->tc = strcmp(text, "tc") == 0;
    if (o->tc)
        return true;
    bool all = strcmp(text, "all") == 0, both = all || strcmp(text, "both") == 0;
    o->kinds[GEMM_KIND_BLOCK] = both || strcmp(text, "block") == 0;
    o->kinds[GEMM_KIND_PORTABLE] = both || strcmp(text, "portable") == 0;
    o->kinds[GEMM_KIND_CPU] = all || strcmp(text, "cpu") == 0;
    o->kinds_given = true;
    return o->kinds[GEMM_KIND_BLOCK] || o->kinds[GEMM_KIND_PORTABLE] || o->kinds[GEMM_KIND_CPU];
}

/* Without --kernel: the kernels the dispatcher picks from on this device. */
static void default_kinds(const kiln_ctx *ctx, struct options *o)
{
    if (o->kinds_given)
        return;
    bool cpu = ctx->limits.family == FAMILY_CPU;
    o->kinds[GEMM_KIND_CPU] = cpu;
    o->kinds[GEMM_KIND_BLOCK] = !cpu;
    o->kinds[GEMM_KIND_PORTABLE] = true;
}

/* --dtype or --math, named as kiln-query --plan gemm_ex takes them. */
static bool parse_type(const char *arg, const char *value, struct options *o)
{
    bool dtype = strcmp(arg, "--dtype") == 0;
    o->types_given = true;
    return plan_request_types(&o->types, dtype ? value : NULL, dtype ? NULL : value) ==
           KILN_OK;
}

enum args_outcome { ARGS_RUN, ARGS_BAD, ARGS_HELP, ARGS_VERSION };

static enum args_outcome parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.budget = 300.0, .shape_count = 1,
                          .shapes = {{1024, 1024, 1024}},
                          .types = {.dtype = KILN_DTYPE_F16, .math = KILN_MATH_FAST}};
    for (int i = 1; i < argc; ++i) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        bool typed = strcmp(arg, "--dtype") == 0 || strcmp(arg, "--math") == 0;
        bool takes_value = strcmp(arg, "-d") == 0 || strcmp(arg, "--shapes") == 0 ||
                           strcmp(arg, "--budget") == 0 || strcmp(arg, "--kernel") == 0 ||
                           typed;
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            return ARGS_HELP;
        if (strcmp(arg, "--version") == 0)
            return ARGS_VERSION;
        if (strcmp(arg, "--dry-run") == 0) {
            o->dry_run = true;
            continue;
        }
        if (!takes_value || value == NULL) {
            fprintf(stderr, "kiln-tune: %s %s\n", arg, takes_value ? "needs a value" : "is unknown");
            return ARGS_BAD;
        }
        ++i;
        bool ok = true;
        if (strcmp(arg, "-d") == 0)
            o->device = value;
        else if (strcmp(arg, "--shapes") == 0)
            ok = parse_shapes(value, o);
        else if (strcmp(arg, "--budget") == 0)
            ok = (o->budget = strtod(value, &end)) > 0 && *end == '\0';
        else if (typed)
            ok = parse_type(arg, value, o);
        else
            ok = parse_kernel(value, o);
        if (!ok) {
            fprintf(stderr, "kiln-tune: bad value for %s: %s\n", arg, value);
            return ARGS_BAD;
        }
    }
    if (o->types_given && !o->tc) {
        fprintf(stderr, "kiln-tune: --dtype and --math are for --kernel tc\n");
        return ARGS_BAD;
    }
    return ARGS_RUN;
}

/* ---- the parameter space */

#define COUNT(array) (sizeof(array) / sizeof((array)[0]))
#define VALUES(array) {array, COUNT(array)}

struct values {
    const unsigned *value;
    size_t count;
};

/* A kernel's candidates: every combination of these tile_m, tile_n, tile_k, wpt_m and
 * wpt_n that fits. */
struct space {
    struct values tile_m, tile_n, tile_k, wpt_m, wpt_n;
};

static const unsigned tile_sizes[] = {32, 64, 128, 256};
static const unsigned tile_ks[] = {4, 8, 16, 32, 64};
static const unsigned block_wpts[] = {4, 8};
static const unsigned portable_wpts[] = {1, 2, 4, 8};
/* cl/gemm_cpu.cl: cache blocks (L2-sized packed slices) and register tiles. */
static const unsigned cpu_blocks_m[] = {48, 96, 192};
static const unsigned cpu_blocks_n[] = {128, 256, 512};
static const unsigned cpu_ks[] = {128, 256, 512};
static const unsigned cpu_wpts_m[] = {4, 6, 8, 12};
static const unsigned cpu_wpts_n[] = {16, 32, 64};

static const struct space spaces[GEMM_KIND_COUNT] = {
    [GEMM_KIND_PORTABLE] = {VALUES(tile_sizes), VALUES(tile_sizes), VALUES(tile_ks),
                            VALUES(portable_wpts), VALUES(portable_wpts)},
    [GEMM_KIND_BLOCK] = {VALUES(tile_sizes), VALUES(tile_sizes), VALUES(tile_ks),
                         VALUES(block_wpts), VALUES(block_wpts)},
    [GEMM_KIND_CPU] = {VALUES(cpu_blocks_m), VALUES(cpu_blocks_n), VALUES(cpu_ks),
                       VALUES(cpu_wpts_m), VALUES(cpu_wpts_n)},
};

/* The tile the library's table picks for the shape (NULL: none serves it). */
static const struct gemm_config *table_config(const kiln_ctx *ctx, enum gemm_kind kind,
                                              bench_shape s)
{
    size_t limit = ctx->limits.max_work_group_size;
    switch (kind) {
    case GEMM_KIND_BLOCK:
        return plan_gemm_block_config(&ctx->limits, limit, s.m, s.n, s.k);
    case GEMM_KIND_CPU:
        return plan_gemm_cpu_config(&ctx->limits, s.m, s.n);
    default:
        return plan_gemm_config(&ctx->limits, limit);
    }
}

static bool candidate_fits(const kiln_ctx *ctx, enum gemm_kind kind,
                           const struct gemm_config *c, bench_shape s)
{
    size_t limit = ctx->limits.max_work_group_size;
    if (!gemm_config_valid(c, kind))
        return false;
    switch (kind) {
    case GEMM_KIND_BLOCK:
        return gemm_block_fits(&ctx->limits, limit, c, s.m, s.n, s.k);
    case GEMM_KIND_CPU:
        return gemm_cpu_fits(&ctx->limits, c);
    default:
        return gemm_config_fits(&ctx->limits, limit, c);
    }
}

static bool same_config(const struct gemm_config *a, const struct gemm_config *b)
{
    return a->tile_m == b->tile_m && a->tile_n == b->tile_n && a->tile_k == b->tile_k &&
           a->wpt_m == b->wpt_m && a->wpt_n == b->wpt_n;
}

static void candidate_add(struct candidate *list, size_t *count, enum gemm_kind kind,
                          const struct gemm_config *c)
{
    for (size_t i = 0; i < *count; ++i)
        if (list[i].kind == kind && same_config(&list[i].config, c))
            return;
    if (*count < MAX_CANDIDATES)
        list[(*count)++] = (struct candidate){kind, *c};
}

/* Every tile of the kernel that fits the device and the shape, the table's first (so
 * the winner is never slower than what the library runs untuned). */
static void enumerate(const kiln_ctx *ctx, enum gemm_kind kind, bench_shape s,
                      struct candidate *list, size_t *count)
{
    const struct gemm_config *table = table_config(ctx, kind, s);
    if (table != NULL)
        candidate_add(list, count, kind, table);
    const struct space *sp = &spaces[kind];
    for (size_t tm = 0; tm < sp->tile_m.count; ++tm)
        for (size_t tn = 0; tn < sp->tile_n.count; ++tn)
            for (size_t tk = 0; tk < sp->tile_k.count; ++tk)
                for (size_t wm = 0; wm < sp->wpt_m.count; ++wm)
                    for (size_t wn = 0; wn < sp->wpt_n.count; ++wn) {
                        struct gemm_config c = {sp->tile_m.value[tm], sp->tile_n.value[tn],
                                                sp->tile_k.value[tk], sp->wpt_m.value[wm],
                                                sp->wpt_n.value[wn]};
                        if (candidate_fits(ctx, kind, &c, s))
                            candidate_add(list, count, kind, &c);
                    }
}

/* ---- one shape's data */

static void problem_free(struct problem *p)
{
    kiln_buf_destroy(p->a);
    kiln_buf_destroy(p->b);
    kiln_buf_destroy(p->c);
    for (int i = 0; i < 3; ++i)
        kiln_buf_destroy(p->check.dev_typed[i]);
    for (int i = 0; i < 2; ++i)
        free(p->check.in[i]);
    free(p->check.out);
}

static bool problem_make(kiln_ctx *ctx, bench_shape s, struct problem *p)
{
    *p = (struct problem){.ctx = ctx, .check = {.ctx = ctx, .shape = s,
                                                .expect = {.alpha = 1.0f, .act = KILN_ACT_NONE}}};
    size_t lengths[3] = {s.m * s.k, s.k * s.n, s.m * s.n};
    kiln_buf **bufs[3] = {&p->a, &p->b, &p->c};
    for (int i = 0; i < 3; ++i)
        if (kiln_buf_create(ctx, lengths[i] * sizeof(float), bufs[i]) != KILN_OK)
            return bench_report(ctx, KILN_ERR_NOMEM, "kiln_buf_create");
    p->check.in[0] = malloc(lengths[0] * sizeof(float));
    p->check.in[1] = malloc(lengths[1] * sizeof(float));
    p->check.out = malloc(lengths[2] * sizeof(float));
    p->check.out_len = lengths[2];
    if (!p->check.in[0] || !p->check.in[1] || !p->check.out)
        return false;
    for (int i = 0; i < 2; ++i) {
        bench_random_fill(p->check.in[i], lengths[i], 1234 + i);
        if (!bench_report(ctx, kiln_buf_write(*bufs[i], 0, p->check.in[i],
                                              lengths[i] * sizeof(float)), "kiln_buf_write"))
            return false;
    }
    return true;
}

/* C = A·B of the shape, tight matrices, on these buffers (f32, STRICT). */
static struct gemm_call shape_call(bench_shape s, const kiln_buf *a, const kiln_buf *b,
                                   kiln_buf *c)
{
    return (struct gemm_call){.ta = KILN_NO_TRANS, .tb = KILN_NO_TRANS, .m = s.m, .n = s.n,
                              .k = s.k, .alpha = 1.0f, .a = a, .lda = s.k, .b = b,
                              .ldb = s.n, .beta = 0.0f, .c = c, .ldc = s.n,
                              .act = KILN_ACT_NONE, .batch = 1};
}

static struct gemm_call problem_call(const struct problem *p)
{
    return shape_call(p->check.shape, p->a, p->b, p->c);
}

/* ---- one candidate */

struct run_arg {
    struct problem *problem;
    const struct candidate *candidate;
};

static bool run_once(void *arg)
{
    struct run_arg *r = arg;
    struct gemm_call call = problem_call(r->problem);
    return gemm_run_config(r->problem->ctx, &call, r->candidate->kind,
                           &r->candidate->config) == KILN_OK;
}

/* C poisoned with NaN, so a kernel that writes nothing cannot pass: in both 16-bit
 * halves of each word for a typed C. */
static kiln_status result_poison(const struct problem *p)
{
    const uint32_t nan_pair = 0x7fc07fc0u; /* a quiet NaN in f16 and in bf16 */
    float poison;
    memcpy(&poison, &nan_pair, sizeof poison);
    if (p->check.expect.dtype != KILN_DTYPE_F32)
        return kiln_buf_fill(p->check.dev_typed[2], poison);
    return kiln_buf_fill(p->c, NAN);
}

/* Runs the candidate once (run(arg)) on a poisoned C and checks C; false with why. */
static bool candidate_check(struct problem *p, bench_call run, void *arg, char *why,
                            size_t why_len)
{
    kiln_ctx *ctx = p->ctx;
    bench_case *c = &p->check;
    bool ran = result_poison(p) == KILN_OK && run(arg) && kiln_finish(ctx) == KILN_OK &&
               (c->expect.dtype != KILN_DTYPE_F32 || /* a typed C the check reads itself */
                kiln_buf_read(p->c, 0, c->out, c->out_len * sizeof(float)) == KILN_OK);
    if (!ran) {
        snprintf(why, why_len, "%s", kiln_last_error(ctx));
        return false;
    }
    return bench_verify_gemm_ex(c, why, why_len);
}

/* Seconds per call: the best of a few trials, each long enough to time. */
static double candidate_time(kiln_ctx *ctx, bench_call run, void *arg)
{
    bench_timing t;
    if (!bench_time_queue(ctx, run, arg, 1, &t))
        return -1.0;
    double once = t.kernel_seconds > 0 ? t.kernel_seconds : t.seconds, best = once;
    int repeats = once >= trial_seconds ? 1 : (int)fmin(trial_seconds / once, 50.0) + 1;
    for (int i = 0; i < TRIALS && once < 1.0; ++i) { /* a slow tile is not worth more */
        if (!bench_time_queue(ctx, run, arg, repeats, &t))
            return -1.0;
        best = fmin(best, t.kernel_seconds > 0 ? t.kernel_seconds : t.seconds);
    }
    return best;
}

/* Checks and times a candidate: flop/s, or 0 after printing why it failed. */
static double candidate_rate(struct problem *p, bench_call run, void *arg)
{
    char why[512];
    bench_shape s = p->check.shape;
    if (!candidate_check(p, run, arg, why, sizeof(why))) {
        printf(": rejected: %s\n", why);
        return 0;
    }
    double seconds = candidate_time(p->ctx, run, arg);
    if (seconds <= 0) {
        printf(": timing failed\n");
        return 0;
    }
    return 2.0 * s.m * s.n * s.k / seconds;
}

static void rate_print(double flops)
{
    if (flops >= 1e12)
        printf("%.1f TFLOP/s", flops * 1e-12);
    else
        printf("%.1f GFLOP/s", flops * 1e-9);
}

static void config_print(enum gemm_kind kind, const struct gemm_config *c)
{
    printf("%s %ux%ux%u %ux%u", gemm_kind_name(kind), c->tile_m, c->tile_n, c->tile_k,
           c->wpt_m, c->wpt_n);
}

/* ---- the search */


static void candidate_run(struct problem *p, const struct candidate *cand, size_t i,
                          size_t count, struct result *result)
{
    struct run_arg r = {p, cand};
    bench_shape s = p->check.shape;
    printf("[%zu/%zu] ", i + 1, count);
    config_print(cand->kind, &cand->config);
    fflush(stdout);
    double rate = candidate_rate(p, run_once, &r);
    if (rate <= 0)
        return;
    const struct gemm_config *table = table_config(p->ctx, cand->kind, s);
    if (table != NULL && same_config(table, &cand->config))
        result->table_rate = rate;
    printf(": ");
    rate_print(rate);
    if (rate > result->best_rate) {
        result->best_rate = rate;
        result->best = cand->config;
        printf(" (best so far)");
    }
    printf("\n");
}

/* Lists the kernel's candidates, or under --dry-run prints them. */
static size_t kind_candidates(kiln_ctx *ctx, const struct options *o, enum gemm_kind kind,
                              bench_shape s, struct candidate *list)
{
    size_t count = 0;
    if (o->kinds[kind])
        enumerate(ctx, kind, s, list, &count);
    printf("%zux%zux%zu %s: %zu candidates\n", s.m, s.n, s.k, gemm_kind_name(kind), count);
    for (size_t i = 0; o->dry_run && i < count; ++i) {
        printf("  ");
        config_print(list[i].kind, &list[i].config);
        printf("\n");
    }
    return count;
}

/* The order kernels are tried in: the fast ones first. */
static const enum gemm_kind kind_order[GEMM_KIND_COUNT] = {GEMM_KIND_CPU, GEMM_KIND_BLOCK,
                                                           GEMM_KIND_PORTABLE};

/* Tunes one shape until its share of the budget runs out, shared between the kernels. */
static void shape_tune(kiln_ctx *ctx, const struct options *o, bench_shape s,
                       double deadline, struct result *results, size_t base,
                       struct candidate *list)
{
    struct problem p;
    bool ready = o->dry_run || problem_make(ctx, s, &p);
    for (int order = 0; ready && order < GEMM_KIND_COUNT; ++order) {
        enum gemm_kind kind = kind_order[order];
        struct result *result = &results[base + (size_t)kind];
        *result = (struct result){.shape = s, .kind = kind};
        const struct gemm_config *table = table_config(ctx, kind, s);
        if (table != NULL)
            result->table = *table;
        size_t count = kind_candidates(ctx, o, kind, s, list);
        double now = bench_now(), share = 0; /* this kernel and those after it */
        for (int j = order; j < GEMM_KIND_COUNT; ++j)
            share += o->kinds[kind_order[j]];
        double kind_deadline = count > 0 ? now + (deadline - now) / share : now;
        for (size_t i = 0; !o->dry_run && i < count && bench_now() < kind_deadline; ++i)
            candidate_run(&p, &list[i], i, count, result);
        if (!o->dry_run && count > 0 && bench_now() >= kind_deadline)
            printf("budget for %s at %zux%zux%zu spent: keeping the best so far\n",
                   gemm_kind_name(kind), s.m, s.n, s.k);
    }
    if (!o->dry_run)
        problem_free(&p);
}

/* ---- winners */

/* The winners, the faster kernel first: the library takes the first entry that matches. */
static size_t winners_of(const struct result *results, size_t shape_count,
                         struct tuned_entry *winners)
{
    size_t count = 0;
    for (size_t i = 0; i < shape_count; ++i) {
        const struct result *shape = &results[GEMM_KIND_COUNT * i];
        bool taken[GEMM_KIND_COUNT] = {false};
        for (;;) { /* the fastest kernel not yet taken */
            int best = -1;
            for (int j = 0; j < GEMM_KIND_COUNT; ++j)
                if (!taken[j] && shape[j].best_rate > 0 &&
                    (best < 0 || shape[j].best_rate > shape[best].best_rate))
                    best = j;
            if (best < 0)
                break;
            taken[best] = true;
            const struct result *r = &shape[best];
            winners[count++] = (struct tuned_entry){r->kind, r->shape.m, r->shape.n,
                                                    r->shape.k, r->best, false};
        }
    }
    return count;
}

static void table_print(const struct result *results, size_t count)
{
    printf("\n%-18s %-9s %-26s %-26s %s\n", "shape", "kernel", "table tile", "tuned tile",
           "speed-up");
    for (size_t i = 0; i < count; ++i) {
        const struct result *r = &results[i];
        if (r->best_rate <= 0)
            continue;
        char shape[64], table[64], best[64];
        snprintf(shape, sizeof(shape), "%zux%zux%zu", r->shape.m, r->shape.n, r->shape.k);
        snprintf(table, sizeof(table), "%ux%ux%u %ux%u %.1f GF", r->table.tile_m,
                 r->table.tile_n, r->table.tile_k, r->table.wpt_m, r->table.wpt_n,
                 r->table_rate * 1e-9);
        snprintf(best, sizeof(best), "%ux%ux%u %ux%u %.1f GF", r->best.tile_m, r->best.tile_n,
                 r->best.tile_k, r->best.wpt_m, r->best.wpt_n, r->best_rate * 1e-9);
        printf("%-18s %-9s %-26s %-26s ", shape, gemm_kind_name(r->kind),
               r->table_rate > 0 ? table : "-", best);
        if (r->table_rate > 0)
            printf("%.2fx\n", r->best_rate / r->table_rate);
        else
            printf("-\n");
    }
}

static int store_winners(kiln_ctx *ctx, const struct result *results, size_t shape_count)
{
    struct tuned_entry winners[GEMM_KIND_COUNT * MAX_SHAPES];
    size_t count = winners_of(results, shape_count, winners);
    char path[4096];
    if (count == 0) {
        printf("no candidate passed: nothing stored\n");
        return 1;
    }
    if (!bench_report(ctx, tuning_store(ctx, winners, count, path, sizeof(path)),
                      "storing the winners"))
        return 1;
    printf("stored %zu winner(s) in %s\n", count, path);
    return 0;
}

/* ---- the tensor-core tiles (--kernel tc) */

/* A and B converted on the device to the calls' type, and C in it, for 16-bit types. */
static bool problem_type(struct problem *p, const struct plan_request *types)
{
    bench_case *c = &p->check;
    c->expect.dtype = types->dtype;
    c->expect.math = types->math;
    if (types->dtype == KILN_DTYPE_F32)
        return true;
    const size_t lengths[3] = {c->shape.m * c->shape.k, c->shape.k * c->shape.n, c->out_len};
    for (int i = 0; i < 3; ++i) /* whole floats, for kiln_buf_fill */
        if (!bench_report(p->ctx, kiln_buf_create(p->ctx, lengths[i] / 2 * 4 + 4,
                                                  &c->dev_typed[i]), "kiln_buf_create"))
            return false;
    return bench_report(p->ctx, kiln_convert(p->ctx, p->a, KILN_DTYPE_F32, c->dev_typed[0],
                                             types->dtype, lengths[0]), "kiln_convert") &&
           bench_report(p->ctx, kiln_convert(p->ctx, p->b, KILN_DTYPE_F32, c->dev_typed[1],
                                             types->dtype, lengths[1]), "kiln_convert");
}

/* The call in the type and math of --dtype and --math. */
static struct gemm_call typed_call(struct gemm_call call, const struct plan_request *types)
{
    call.a_type = call.c_type = types->dtype;
    call.math = types->math;
    return call;
}

/* The problem's C = A·B in those, on its typed buffers for 16-bit types. */
static struct gemm_call tc_problem_call(const struct problem *p, const struct plan_request *types)
{
    const bench_case *c = &p->check;
    if (types->dtype == KILN_DTYPE_F32)
        return typed_call(problem_call(p), types);
    return typed_call(shape_call(c->shape, c->dev_typed[0], c->dev_typed[1], c->dev_typed[2]),
                      types);
}

struct tc_run {
    kiln_ctx *ctx;
    struct gemm_call call;
    struct gemm_tc_plan plan; /* with one row of its table, built */
};

static bool tc_run_once(void *arg)
{
    struct tc_run *r = arg;
    return gemm_tc_enqueue(r->ctx, &r->call, &r->plan) == KILN_OK;
}

static void tc_row_print(const struct gemm_tc_plan *plan, size_t row)
{
    const struct gemm_tc_tile *tile = &plan->table[row];
    printf("%s %ux%u, %u work-items, %u stages%s", tile->kernel, tile->tile_m, tile->tile_n,
           tile->threads, tile->stages, tile == plan->tile ? " (the table's choice)" : "");
}

/* Checks and times each row of the plan's table on the problem: flop/s, 0 for a row
 * that failed. */
static void tc_rows_time(struct problem *p, const struct plan_request *types,
                         const struct gemm_tc_plan *plan, double rates[GEMM_TC_TILES])
{
    for (size_t row = 0; row < GEMM_TC_TILES; ++row) {
        struct tc_run r = {p->ctx, tc_problem_call(p, types), *plan};
        gemm_tc_plan_tile(&r.call, row, &r.plan);
        printf("[%zu/%d] ", row + 1, GEMM_TC_TILES);
        tc_row_print(plan, row);
        fflush(stdout);
        rates[row] = 0;
        if (gemm_tc_kernel_get(p->ctx, &r.plan) != KILN_OK) {
            printf(": not built: %s\n", kiln_last_error(p->ctx));
            continue;
        }
        rates[row] = candidate_rate(p, tc_run_once, &r);
        if (rates[row] > 0) {
            printf(": ");
            rate_print(rates[row]);
            printf("\n");
        }
    }
}

static size_t tc_best_row(const double rates[GEMM_TC_TILES])
{
    size_t best = 0;
    for (size_t row = 1; row < GEMM_TC_TILES; ++row)
        if (rates[row] > rates[best])
            best = row;
    return best;
}

/* Which row won, against the row the table picks for the shape. */
static void tc_winner_print(const struct gemm_tc_plan *plan, const double *rates)
{
    size_t best = tc_best_row(rates), chosen = (size_t)(plan->tile - plan->table);
    printf("winner: ");
    tc_row_print(plan, best);
    if (best != chosen && rates[chosen] > 0)
        printf(", %.2fx the table's choice", rates[best] / rates[chosen]);
    printf(" (reported, not stored: the library runs the table's choice)\n");
}

/* Times both rows of the tensor-core table for one shape; false when tensor cores take
 * the call and no row passed. */
static bool tc_shape_tune(kiln_ctx *ctx, const struct options *o, bench_shape s)
{
    kiln_buf standin = {0}; /* offset 0, as the problem's buffers: the plan reads no more */
    struct gemm_call call = typed_call(shape_call(s, &standin, &standin, &standin), &o->types);
    struct gemm_tc_plan plan = gemm_tc_plan_for(ctx, &call);
    printf("%zux%zux%zu tc: ", s.m, s.n, s.k);
    if (plan.path == GEMM_TC_NONE) {
        printf("tensor cores skipped: %s\n", plan.why);
        return true;
    }
    printf("%s, %d rows\n", plan.method, GEMM_TC_TILES);
    for (size_t row = 0; o->dry_run && row < GEMM_TC_TILES; ++row) {
        printf("  ");
        tc_row_print(&plan, row);
        printf("\n");
    }
    struct problem p;
    double rates[GEMM_TC_TILES] = {0};
    if (!o->dry_run && problem_make(ctx, s, &p) && problem_type(&p, &o->types))
        tc_rows_time(&p, &o->types, &plan, rates);
    if (!o->dry_run)
        problem_free(&p);
    bool timed = rates[tc_best_row(rates)] > 0;
    if (timed)
        tc_winner_print(&plan, rates);
    return o->dry_run || timed;
}

/* Tensor-core tiles are reported, not stored: the store's entries are portable-kernel
 * tiles (kernel, shape, tile_m tile_n tile_k wpt_m wpt_n), and a table row would need
 * its own kind of entry, keyed by type and math too. */
static int tune_tc(kiln_ctx *ctx, const struct options *o)
{
    bool ok = true;
    for (size_t i = 0; i < o->shape_count; ++i)
        ok = tc_shape_tune(ctx, o, o->shapes[i]) && ok;
    return ok ? 0 : 1;
}

static int tune(kiln_ctx *ctx, const struct options *o)
{
    static struct result results[GEMM_KIND_COUNT * MAX_SHAPES];
    struct candidate *list = malloc(MAX_CANDIDATES * sizeof(*list));
    if (list == NULL)
        return 1;
    double start = bench_now();
    for (size_t i = 0; i < o->shape_count; ++i) {
        double deadline = start + o->budget * (double)(i + 1) / (double)o->shape_count;
        shape_tune(ctx, o, o->shapes[i], deadline, results, GEMM_KIND_COUNT * i, list);
    }
    free(list);
    if (o->dry_run)
        return 0;
    table_print(results, GEMM_KIND_COUNT * o->shape_count);
    return store_winners(ctx, results, o->shape_count);
}

int main(int argc, char **argv)
{
    struct options o;
    enum args_outcome parsed = parse_args(argc, argv, &o);
    if (parsed == ARGS_VERSION)
        return printf("kiln-tune %s\n", kiln_version()) < 0 ? 1 : 0;
    if (parsed != ARGS_RUN) {
        usage(parsed == ARGS_HELP ? stdout : stderr);
        return parsed == ARGS_HELP ? 0 : 2;
    }
    kiln_ctx *ctx;
    if (!bench_report(NULL, kiln_ctx_create(&ctx, o.device), "kiln_ctx_create"))
        return 1;
    default_kinds(ctx, &o);
    printf("device: %.*s (%s table), budget %.0f s\n",
           (int)strcspn(ctx->device_identity, "\n"), ctx->device_identity,
           ctx->limits.family == FAMILY_CPU ? gemm_cpu_table().family
                                            : gemm_block_table(&ctx->limits).family,
           o.budget);
    int rc = o.tc ? tune_tc(ctx, &o) : tune(ctx, &o);
    kiln_ctx_destroy(ctx);
    return rc;
}
