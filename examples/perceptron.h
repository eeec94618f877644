/* The perceptron of mlp and mlp_mpi: options, data, the network on the device and its
 * training (perceptron.c). A helper of the examples, not part of kiln. */
#ifndef KILN_EXAMPLES_PERCEPTRON_H
#define KILN_EXAMPLES_PERCEPTRON_H

#include "common.h"

/* Data-parallel training: `workers` workers each train on their slice of every batch
 * (worker w the w-th of `workers` equal slices), with the same parameters. */
typedef struct {
    size_t worker, workers;
    /* Replaces the first n floats of buf by their sum over all workers; false, with the
     * reason printed, on failure. */
    bool (*sum)(kiln_ctx *ctx, kiln_buf *buf, size_t n, void *data);
    /* Opens this worker's context (spec: -d's value, or NULL) as example_open does. */
    kiln_ctx *(*open)(const char *spec, void *data);
    void *data;        /* given to sum and open */
    const char *usage; /* a line for --help: how the work is shared */
} perceptron_parallel;

/* Parses the options (name is the program's, for messages), trains and evaluates; only
 * worker 0 prints. parallel NULL: one process, one worker. Returns main's exit status:
 * 0, 1 when a kiln call fails, 2 for a bad option (or a batch the workers cannot split
 * evenly). */
int perceptron_main(int argc, char **argv, const char *name,
                    const perceptron_parallel *parallel);

#endif /* KILN_EXAMPLES_PERCEPTRON_H */
