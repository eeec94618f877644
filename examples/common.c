#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Short operations are noisy on a busy machine: each time is the best of this many. */
enum { TIMED_RUNS = 10 };

bool example_ok(const kiln_ctx *ctx, kiln_status status, const char *call)
{
    if (status == KILN_OK)
        return true;
    fprintf(stderr, "%s failed: %s\n    %s\n", call, kiln_status_str(status),
            kiln_last_error(ctx));
    return false;
}

double example_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

uint64_t example_random(uint64_t *state)
{
    uint64_t s = *state ? *state : 0x9E3779B97F4A7C15ull; /* 0 would stay 0 */
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return *state = s;
}

float example_uniform(uint64_t *state)
{
    return (float)((double)(example_random(state) >> 11) * 0x1p-52 - 1.0);
}

void example_fill(float *v, size_t n, uint64_t seed)
{
    uint64_t state = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++)
        v[i] = example_uniform(&state);
}

bool example_parse_size(const char *option, const char *text, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    const unsigned long long v = strtoull(text ? text : "", &end, 10);
    if (!text || errno || end == text || *end || v == 0 || v > max || text[0] == '-') {
        fprintf(stderr, "%s needs a whole number from 1 to %zu, not '%s'\n", option, max,
                text ? text : "");
        return false;
    }
    *out = (size_t)v;
    return true;
}

kiln_ctx *example_open(const char *spec)
{
    kiln_ctx *ctx = NULL;
    if (!CHECK(NULL, kiln_ctx_create(&ctx, spec)))
        return NULL;
    size_t index;
    kiln_device_info info = {.struct_size = sizeof info};
    if (kiln_device_find(spec, &index) == KILN_OK && kiln_device_get(index, &info) == KILN_OK)
        printf("device: %s\n", info.name);
    return ctx;
}

/* ---------------------------------------------------------------- classic examples */

static void print_usage(const example *e, FILE *to)
{
    fprintf(to,
            "usage: %s [-d SPEC] [-n N]\n"
            "%s\n"
            "Prints the time of a one-thread C loop, of kiln's operation alone and of kiln\n"
            "with the copies to and from the device, and checks kiln against the loop.\n"
            "  -d SPEC  device: gpu, cpu, an index, P:D or part of the name\n"
            "           (default: $KILN_DEVICE, else the best GPU, else the CPU)\n"
            "  -n N     the size (default %zu)\n"
            "Exit status 1 when a result is wrong or a call fails, 2 for a bad option.\n",
            e->name, e->summary, e->n);
}

/* -1 to go on, else main's exit status. */
static int parse_options(example *e, int argc, char **argv)
{
    for (int i = 1; i < argc; i += 2) {
        const char *option = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(option, "--help") || !strcmp(option, "-h")) {
            print_usage(e, stdout);
            return 0;
        }
        if (!strcmp(option, "-d") && value)
            e->device = value;
        else if (strcmp(option, "-n") || !example_parse_size(option, value, 1 << 24, &e->n)) {
            print_usage(e, stderr);
            return 2;
        }
    }
    return -1;
}

int example_start(example *e, int argc, char **argv)
{
    const int parsed = parse_options(e, argc, argv);
    if (parsed >= 0)
        return parsed;
    e->size(e);
    bool ok = (e->want = malloc(e->count * sizeof *e->want)) != NULL;
    for (size_t i = 0; ok && i < e->inputs; i++) {
        ok = (e->in[i] = malloc(e->input_count[i] * sizeof *e->in[i])) != NULL;
        if (ok)
            example_fill(e->in[i], e->input_count[i], i + 1);
    }
    if (!ok)
        fprintf(stderr, "%s: out of host memory\n", e->name);
    return ok ? -1 : 1;
}

bool example_buffer(kiln_ctx *ctx, size_t floats, kiln_buf **out)
{
    return CHECK(ctx, kiln_buf_create(ctx, floats * sizeof(float), out));
}

void example_free(example *e)
{
    for (size_t i = 0; i < EXAMPLE_MAX_INPUTS; i++) {
        kiln_buf_destroy(e->in_buf[i]);
        free(e->in[i]);
    }
    kiln_buf_destroy(e->result);
    kiln_ctx_destroy(e->ctx);
    free(e->want);
}

int example_main(example *e, int argc, char **argv)
{
    int status = example_start(e, argc, argv);
    if (status < 0) {
        bool ok = (e->ctx = example_open(e->device)) != NULL &&
                  example_buffer(e->ctx, e->count, &e->result);
        for (size_t i = 0; ok && i < e->inputs; i++)
            ok = example_buffer(e->ctx, e->input_count[i], &e->in_buf[i]);
        status = ok ? example_run(e) : 1;
    }
    example_free(e);
    return status;
}

/* i-k-j order, so that the inner loop runs along rows and vectorises. */
void example_matmul_cpu(size_t m, size_t n, size_t k, const float *restrict a,
                        const float *restrict b, float *restrict c)
{
    for (size_t i = 0; i < m; i++) {
        float *restrict row = c + i * n;
        for (size_t j = 0; j < n; j++)
            row[j] = 0;
        for (size_t l = 0; l < k; l++)
            for (size_t j = 0; j < n; j++)
                row[j] += a[i * k + l] * b[l * n + j];
    }
}

static bool upload(example *e)
{
    for (size_t i = 0; i < e->inputs; i++) {
        if (!CHECK(e->ctx, kiln_buf_write(e->in_buf[i], 0, e->in[i],
                                          e->input_count[i] * sizeof *e->in[i])))
            return false;
    }
    return true;
}

static double time_cpu(example *e)
{
    double best = INFINITY;
    for (int run = 0; run < TIMED_RUNS; run++) {
        const double start = example_seconds();
        e->cpu(e);
        best = fmin(best, example_seconds() - start);
    }
    return best;
}

/* The best of TIMED_RUNS runs of the operation until its result is ready: with
 * transfers, from the upload to the download into got; without, to kiln_finish. */
static bool time_kiln(example *e, bool transfers, float *got, double *best)
{
    *best = INFINITY;
    for (int run = 0; run < TIMED_RUNS; run++) {
        const double start = example_seconds();
        if ((transfers && !upload(e)) || !e->compute(e))
            return false;
        if (transfers ? !CHECK(e->ctx, kiln_buf_read(e->result, 0, got,
                                                     e->count * sizeof *got))
                      : !CHECK(e->ctx, kiln_finish(e->ctx)))
            return false;
        *best = fmin(*best, example_seconds() - start);
    }
    return true;
}

/* The largest |got - want| / max(1, |want|); infinite for a NaN so it cannot pass. */
static double worst_error(const float *got, const float *want, size_t count)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        const double e = fabs((double)got[i] - want[i]) / fmax(1.0, fabs(want[i]));
        if (isnan(e))
            return INFINITY;
        worst = fmax(worst, e);
    }
    return worst;
}

static void print_time(const char *what, double seconds, double cpu_seconds)
{
    printf("  %-24s %10.3f ms  %7.2fx the C loop's speed\n", what, seconds * 1e3,
           cpu_seconds / fmax(seconds, 1e-9));
}

int example_run(example *e)
{
    float *got = malloc(e->count * sizeof *got);
    double compute, with_transfers;
    /* The warm-up builds the kernels (or loads them from kiln's cache). */
    const bool ran = got && upload(e) && e->compute(e) && CHECK(e->ctx, kiln_finish(e->ctx)) &&
                     time_kiln(e, false, got, &compute) &&
                     time_kiln(e, true, got, &with_transfers);
    if (!got)
        fprintf(stderr, "%s: out of host memory\n", e->name);
    int status = 1;
    if (ran) {
        const double cpu = time_cpu(e), error = worst_error(got, e->want, e->count);
        printf("  %-24s %10.3f ms\n", "C loop, one thread", cpu * 1e3);
        print_time("kiln, compute only", compute, cpu);
        print_time("kiln, with the copies", with_transfers, cpu);
        printf("  largest error %.3g (tolerance %.3g): %s\n", error, e->tolerance,
               error <= e->tolerance ? "ok" : "WRONG");
        status = error <= e->tolerance ? 0 : 1;
    }
    free(got);
    return status;
}
