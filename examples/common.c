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
enum { TIMED_RUNS = 3 };

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

int example_parse(int argc, char **argv, const char *usage, example_options *o)
{
    for (int i = 1; i < argc; i += 2) {
        const char *option = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(option, "--help") || !strcmp(option, "-h")) {
            fputs(usage, stdout);
            return 0;
        }
        if (!strcmp(option, "-d") && value)
            o->device = value;
        else if (strcmp(option, "-n") || !example_parse_size(option, value, 1 << 30, &o->size)) {
            fputs(usage, stderr);
            return 2;
        }
    }
    return -1;
}

bool example_buffer(kiln_ctx *ctx, size_t floats, kiln_buf **out)
{
    return CHECK(ctx, kiln_buf_create(ctx, floats * sizeof(float), out));
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
        if ((transfers && !e->upload(e)) || !e->compute(e))
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
    printf("  %-26s %10.3f ms  %6.2fx the C loop\n", what, seconds * 1e3,
           cpu_seconds / fmax(seconds, 1e-9));
}

int example_run(example *e)
{
    float *got = malloc(e->count * sizeof *got);
    if (!got) {
        fprintf(stderr, "%s: out of host memory\n", e->name);
        return 1;
    }
    double cpu, compute, with_transfers;
    /* The warm-up builds the kernels (or loads them from kiln's cache). */
    const bool ran = e->upload(e) && e->compute(e) && CHECK(e->ctx, kiln_finish(e->ctx)) &&
                     time_kiln(e, false, got, &compute) &&
                     time_kiln(e, true, got, &with_transfers);
    int status = 1;
    if (ran) {
        cpu = time_cpu(e);
        const double error = worst_error(got, e->want, e->count);
        printf("  %-26s %10.3f ms\n", "C loop, one thread", cpu * 1e3);
        print_time("kiln, compute only", compute, cpu);
        print_time("kiln, upload + download", with_transfers, cpu);
        printf("  largest error %.3g (tolerance %.3g): %s\n", error, e->tolerance,
               error <= e->tolerance ? "ok" : "WRONG");
        status = error <= e->tolerance ? 0 : 1;
    }
    free(got);
    return status;
}
