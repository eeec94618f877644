/* stream: y = sigmoid(x) over host data larger than one would upload at once, a chunk at
 * a time. Each chunk's copy in, sigmoid and copy out are enqueued without waiting
 * (kiln_buf_write_async, kiln_sigmoid, kiln_buf_read_async) on three device buffers in
 * turn, and one kiln_finish waits for all; x and y live in kiln_host_alloc memory, which
 * the device copies at the bus's speed (--pageable: malloc'd memory, staged by kiln).
 * On GPUs kiln runs the copies on queues of their own, ordered with the sigmoids by
 * buffer, so a chunk travels while another is computed: the total comes close to the
 * copies alone rather than to copies plus compute. Prints the three times, and checks y
 * against a C loop. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *device;
    size_t n, chunk;
    bool pageable;
} options;

static int parse(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: stream [-d SPEC] [-n N] [-c C] [--pageable]\n"
                   "y = sigmoid(x) over N floats (default 2^26) streamed through the device\n"
                   "C floats (default 2^22) at a time, copies and compute enqueued at once.\n");
            return 0;
        }
        if (strcmp(argv[i], "--pageable") == 0) {
            o->pageable = true;
        } else if (strcmp(argv[i], "-d") == 0 && value != NULL) {
            o->device = argv[++i];
        } else if (strcmp(argv[i], "-n") == 0 && value != NULL) {
            if (!example_parse_size("-n", argv[++i], (size_t)1 << 40, &o->n))
                return 2;
        } else if (strcmp(argv[i], "-c") == 0 && value != NULL) {
            if (!example_parse_size("-c", argv[++i], (size_t)1 << 32, &o->chunk))
                return 2;
        } else {
            fprintf(stderr, "stream: unknown option or missing value: %s\n", argv[i]);
            return 2;
        }
    }
    return -1;
}

/* Host memory of n floats: pinned by kiln, or malloc'd with --pageable. */
static float *host_floats(kiln_ctx *ctx, const options *o)
{
    void *p = NULL;
    if (o->pageable)
        return malloc(o->n * sizeof(float));
    return CHECK(ctx, kiln_host_alloc(ctx, o->n * sizeof(float), &p)) ? p : NULL;
}

static void host_free(kiln_ctx *ctx, const options *o, float *p)
{
    if (o->pageable)
        free(p);
    else
        kiln_host_free(ctx, p);
}

/* Three buffers: while chunk i is computed, chunk i + 1 comes in and chunk i - 1 goes
 * out; chunk i + 3's copy in waits for chunk i's copy out. */
enum { BUFFERS = 3 };
typedef enum { COPIES = 1, COMPUTE = 2, BOTH = 3 } work;

/* Every chunk through one of the buffers, in turn: its copies, its sigmoid or both. */
static bool stream(kiln_ctx *ctx, const options *o, kiln_buf *bufs[BUFFERS], const float *x,
                   float *y, work what)
{
    bool ok = true;
    for (size_t start = 0, i = 0; ok && start < o->n; start += o->chunk, i++) {
        size_t count = o->n - start < o->chunk ? o->n - start : o->chunk;
        size_t bytes = count * sizeof(float);
        kiln_buf *buf = bufs[i % BUFFERS];
        ok = (!(what & COPIES) || CHECK(ctx, kiln_buf_write_async(buf, 0, x + start, bytes))) &&
             (!(what & COMPUTE) || CHECK(ctx, kiln_sigmoid(ctx, buf, buf, count))) &&
             (!(what & COPIES) || CHECK(ctx, kiln_buf_read_async(buf, 0, y + start, bytes)));
    }
    return CHECK(ctx, kiln_finish(ctx)) && ok;
}

/* Seconds of one stream of the work, or a negative number when it failed. */
static double timed(kiln_ctx *ctx, const options *o, kiln_buf *bufs[BUFFERS], const float *x,
                    float *y, work what)
{
    double start = example_seconds();
    return stream(ctx, o, bufs, x, y, what) ? example_seconds() - start : -1.0;
}

/* The largest difference from the C loop's sigmoid. */
static double worst_error(const float *x, const float *y, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)y[i] - 1.0 / (1.0 + exp(-(double)x[i]))));
    return worst;
}

static void report(const options *o, double copies, double compute, double both)
{
    double gigabytes = 2e-9 * (double)(o->n * sizeof(float));
    printf("copies alone  %9.2f ms (%.1f GB/s in and out)\n", copies * 1e3,
           gigabytes / copies);
    printf("sigmoid alone %9.2f ms\n", compute * 1e3);
    printf("both          %9.2f ms: %.3fx the copies alone (one after the other: %.3fx)\n",
           both * 1e3, both / copies, (copies + compute) / copies);
}

static int run(kiln_ctx *ctx, const options *o, float *x, float *y)
{
    kiln_buf *bufs[BUFFERS] = {NULL};
    bool ok = true;
    for (int b = 0; b < BUFFERS && ok; ++b)
        ok = CHECK(ctx, kiln_buf_create(ctx, o->chunk * sizeof(float), &bufs[b]));
    example_fill(x, o->n, 1);
    /* A warm-up builds the kernel and makes kiln's staging ring and copy queues. */
    ok = ok && stream(ctx, o, bufs, x, y, BOTH);
    double copies = ok ? timed(ctx, o, bufs, x, y, COPIES) : -1.0;
    double compute = copies >= 0 ? timed(ctx, o, bufs, x, y, COMPUTE) : -1.0;
    double both = compute >= 0 ? timed(ctx, o, bufs, x, y, BOTH) : -1.0;
    double error = both >= 0 ? worst_error(x, y, o->n) : 0;
    if (both >= 0) {
        report(o, copies, compute, both);
        printf("largest error %.2g: %s\n", error, error <= 2e-6 ? "ok" : "WRONG");
    }
    for (int b = 0; b < BUFFERS; ++b)
        kiln_buf_destroy(bufs[b]);
    return both >= 0 && error <= 2e-6 ? 0 : 1;
}

int main(int argc, char **argv)
{
    options o = {NULL, (size_t)1 << 26, (size_t)1 << 22, false};
    int parsed = parse(argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    if (o.chunk > o.n)
        o.chunk = o.n;
    kiln_ctx *ctx = example_open(o.device);
    if (ctx == NULL)
        return 1;
    printf("stream: y = sigmoid(x) over %zu floats, %zu at a time, from %s memory\n", o.n,
           o.chunk, o.pageable ? "pageable" : "pinned");
    float *x = host_floats(ctx, &o), *y = host_floats(ctx, &o);
    int status = x != NULL && y != NULL ? run(ctx, &o, x, y) : 1;
    if (x == NULL || y == NULL)
        fprintf(stderr, "stream: out of host memory\n");
    host_free(ctx, &o, x);
    host_free(ctx, &o, y);
    kiln_ctx_destroy(ctx);
    return status;
}
