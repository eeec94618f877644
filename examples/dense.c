/* dense: y = σ(W·x + b), a layer of n outputs and n inputs over a batch of samples (a
 * column each) with kiln_dense, checked against a plain C loop and timed with and
 * without the copies to and from the device. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdio.h>

enum { BATCH = 64 };

static void dense_size(example *e)
{
    e->input_count[0] = e->n * e->n;
    e->input_count[1] = e->count = e->n * BATCH;
    e->input_count[2] = e->n;
    /* matmul's bound for the sums (σ' <= 1/4 only shrinks it), and σ's own 2e-6. */
    e->tolerance = 2.0 * (double)e->n * FLT_EPSILON + 2e-6;
    printf("dense: y = sigmoid(W·x + b), %zu outputs, %zu inputs, batch %d\n", e->n, e->n,
           BATCH);
}

static void dense_cpu(example *e)
{
    example_matmul_cpu(e->n, BATCH, e->n, e->in[0], e->in[1], e->want);
    for (size_t i = 0; i < e->n; i++) {
        float *y = e->want + i * BATCH;
        for (size_t j = 0; j < BATCH; j++)
            y[j] = 1.0f / (1.0f + expf(-(y[j] + e->in[2][i])));
    }
}

static bool dense_kiln(example *e)
{
    return CHECK(e->ctx, kiln_dense(e->ctx, e->in_buf[0], e->in_buf[1], e->in_buf[2],
                                    e->result, e->n, e->n, BATCH, KILN_ACT_SIGMOID));
}

int main(int argc, char **argv)
{
    example e = {.name = "dense",
                 .summary = "y = sigmoid(W·x + b) with kiln_dense: W is N×N, x is N×64\n"
                            "(a column per sample), b has N floats.",
                 .size = dense_size, .cpu = dense_cpu, .compute = dense_kiln, .inputs = 3,
                 .n = 1024};
    return example_main(&e, argc, argv);
}
