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

/* The options of the classic examples: -d SPEC, -n SIZE, --help. */
typedef struct {
    const char *device;
    size_t size;
} example_options;

/* Parses argv; usage is the text --help prints. Returns -1 to go on, else the exit
 * status main should return (0 after --help, 2 for a bad option). */
int example_parse(int argc, char **argv, const char *usage, example_options *o);

typedef struct example example;

/* One classic example: its C loop and its kiln steps, which run_example times. */
struct example {
    const char *name;
    kiln_ctx *ctx;
    size_t count;                 /* floats of the result */
    double tolerance;             /* of |kiln - C| over max(1, |C|) */
    float *want;                  /* count floats: the C loop's result */
    kiln_buf *result;             /* count floats: kiln's result on the device */
    void (*cpu)(example *e);      /* fills want, in one thread */
    bool (*upload)(example *e);   /* copies the inputs to the device */
    bool (*compute)(example *e);  /* enqueues kiln's operation */
};

/* Times the C loop, kiln's operation alone and kiln with upload and download (each the
 * best of a few runs, after a warm-up that builds the kernels), checks kiln's result
 * against the C loop's and prints both. Returns main's exit status: 0, or 1 when a
 * call fails or the results differ. */
int example_run(example *e);

/* A device buffer of `floats` floats into *out. */
bool example_buffer(kiln_ctx *ctx, size_t floats, kiln_buf **out);

#endif
