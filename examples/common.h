/* What the examples share: status checks, a clock, random numbers, option parsing and
 * the CPU comparison the classic examples print. A helper of the examples, not part of
 * kiln: everything here uses only the public header. */
#ifndef KILN_EXAMPLES_COMMON_H
#define KILN_EXAMPLES_COMMON_H

#include <kiln/kiln.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* True for KILN_OK; otherwise prints the call, the status and kiln_last_error(ctx). */
bool example_ok(const kiln_ctx *ctx, kiln_status status, const char *call);
#define CHECK(ctx, call) example_ok((ctx), (call), #call)

/* Seconds of a monotonic clock. */
double example_seconds(void);

/* xorshift64: a small generator whose sequence is the same on every machine. */
uint64_t example_random(uint64_t *state);
/* Uniform in [-1, 1). */
float example_uniform(uint64_t *state);
/* n uniform floats in [-1, 1) from seed. */
void example_fill(float *v, size_t n, uint64_t seed);

/* A decimal in [1, max] into *out; prints what was wrong with `option`'s value. */
bool example_parse_size(const char *option, const char *text, size_t max, size_t *out);

/* Opens a context on spec (NULL: $KILN_DEVICE, else the best GPU, else the CPU) and
 * prints the device's name. NULL, with the reason printed, on failure. */
kiln_ctx *example_open(const char *spec);

/* ---------------------------------------------------------------- classic examples */

enum { EXAMPLE_MAX_INPUTS = 3 };

typedef struct example example;

/* One classic example: its inputs, its C loop and its kiln call. The example sets the
 * first group (size sets the counts and tolerance that depend on n and prints what is
 * computed); -d and -n set the second; example_main, or the example, the third. */
struct example {
    const char *name;
    const char *summary;                     /* what it computes, for --help */
    void (*size)(example *e);
    void (*cpu)(example *e);                 /* fills want from in, in one thread */
    bool (*compute)(example *e);             /* enqueues kiln's work: in_buf to result */
    size_t inputs;                           /* how many of in[] there are */
    size_t input_count[EXAMPLE_MAX_INPUTS];  /* floats of each */
    size_t count;                            /* floats of the result */
    double tolerance;                        /* of |kiln - C| / max(1, |C|) */

    size_t n;                                /* the problem size; its default before -n */
    const char *device;                      /* NULL: kiln's default */

    kiln_ctx *ctx;
    float *in[EXAMPLE_MAX_INPUTS];           /* uniform in [-1, 1) */
    kiln_buf *in_buf[EXAMPLE_MAX_INPUTS];    /* their device copies */
    float *want;                             /* the C loop's result */
    kiln_buf *result;                        /* kiln's */
};

/* Reads -d SPEC, -n N and --help, sizes e and makes its host arrays. Returns -1 to go
 * on, else the exit status main should return (0 after --help, 2 for a bad option, 1
 * without memory). */
int example_start(example *e, int argc, char **argv);

/* example_start, then opens e's device, makes its buffers, runs it (example_run) and
 * frees everything. Returns main's exit status. */
int example_main(example *e, int argc, char **argv);

/* Times the C loop, kiln's operation alone and kiln with upload (kiln_buf_write of
 * each input) and download (each the best of a few runs, after a warm-up that builds
 * the kernels), checks kiln's result against the C loop's and prints both. Returns
 * main's exit status: 0, or 1 when a call fails or the results differ. */
int example_run(example *e);

/* Destroys e's buffers and context and frees its host arrays; NULLs are skipped. */
void example_free(example *e);

/* A device buffer of `floats` floats into *out. */
bool example_buffer(kiln_ctx *ctx, size_t floats, kiln_buf **out);

/* c = a·b in float, a m×k, b k×n, row-major: the C loop of matmul and dense. */
void example_matmul_cpu(size_t m, size_t n, size_t k, const float *restrict a,
                        const float *restrict b, float *restrict c);

#endif
