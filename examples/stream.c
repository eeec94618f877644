/* stream: y = sigmoid(x) over host data larger than one would upload at once, a chunk at
 * a time. Each chunk's copy in, sigmoid and copy out are enqueued without waiting
 * (kiln_buf_write_async, kiln_sigmoid, kiln_buf_read_async) on two device buffers in
 * turn, and one kiln_finish waits for all; x and y live in kiln_host_alloc memory, which
 * the device copies at the bus's speed (--pageable: malloc'd memory, staged by kiln).
 * Prints the time beside that of the copies alone, and checks y against a C loop. */
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

/* Every chunk through one of the two buffers, in turn: the in-order queue runs chunk
 * i + 2's copy in after chunk i's copy out. With compute false, the copies alone. */
static bool stream(kiln_ctx *ctx, const options *o, kiln_buf *bufs[2], const float *x,
                   float *y, bool compute)
{
    bool ok = true;
    for (size_t start = 0, i = 0; ok && start < o->n; start += o->chunk, i++) {
        size_t count = o->n - start < o->chunk ? o->n - start : o->chunk;
        size_t bytes = count * sizeof(float);
        kiln_buf *buf = bufs[i % 2];
        ok = CHECK(ctx, kiln_buf_write_async(buf, 0, x + start, bytes)) &&
             (!compute || CHECK(ctx, kiln_sigmoid(ctx, buf, buf, count))) &&
             CHECK(ctx, kiln_buf_read_async(buf, 0, y + start, bytes));
    }
    return CHECK(ctx, kiln_finish(ctx)) && ok;
}

/* The largest difference from the C loop's sigmoid. */
static double worst_error(const float *x, const float *y, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)y[i] - 1.0 / (1.0 + exp(-(double)x[i]))));
    return worst;
}

static int run(kiln_ctx *ctx, const options *o, float *x, float *y)
{
    kiln_buf *bufs[2] = {NULL, NULL};
    int status = 1;
    if (CHECK(ctx, kiln_buf_create(ctx, o->chunk * sizeof(float), &bufs[0])) &&
        CHECK(ctx, kiln_buf_create(ctx, o->chunk * sizeof(float), &bufs[1]))) {
        example_fill(x, o->n, 1);
        /* A warm-up builds the kernel and makes kiln's staging ring. */
        double copies = 0, streamed = 0, start = 0;
        bool ok = stream(ctx, o, bufs, x, y, true);
        start = example_seconds();
        ok = ok && stream(ctx, o, bufs, x, y, false);
        copies = example_seconds() - start;
        start = example_seconds();
        ok = ok && stream(ctx, o, bufs, x, y, true);
        streamed = example_seconds() - start;
        double error = ok ? worst_error(x, y, o->n) : 0;
        if (ok) {
            double gigabytes = 2e-9 * (double)(o->n * sizeof(float));
            printf("copies alone %.2f ms (%.1f GB/s), with sigmoid %.2f ms (%.2fx)\n",
                   copies * 1e3, gigabytes / copies, streamed * 1e3, streamed / copies);
            printf("largest error %.2g: %s\n", error, error <= 2e-6 ? "ok" : "WRONG");
        }
        status = ok && error <= 2e-6 ? 0 : 1;
    }
    kiln_buf_destroy(bufs[0]);
    kiln_buf_destroy(bufs[1]);
    return status;
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
