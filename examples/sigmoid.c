/* sigmoid: y = 1 / (1 + exp(-x)) over n floats with kiln_sigmoid, checked against a
 * plain C loop and timed with and without the copies to and from the device. */
#include "common.h"

#include <math.h>
#include <stdio.h>

static void sigmoid_size(example *e)
{
    e->input_count[0] = e->count = e->n;
    printf("sigmoid: y = 1 / (1 + exp(-x)), %zu floats\n", e->n);
}

static void sigmoid_cpu(example *e)
{
    for (size_t i = 0; i < e->n; i++)
        e->want[i] = 1.0f / (1.0f + expf(-e->in[0][i]));
}

static bool sigmoid_kiln(example *e)
{
    return CHECK(e->ctx, kiln_sigmoid(e->ctx, e->in_buf[0], e->result, e->n));
}

int main(int argc, char **argv)
{
    /* kiln is within 1e-6 of the exact value, the C loop's expf within a few ulps. */
    example e = {.name = "sigmoid",
                 .summary = "y = 1 / (1 + exp(-x)) over N floats with kiln_sigmoid.",
                 .size = sigmoid_size, .cpu = sigmoid_cpu, .compute = sigmoid_kiln,
                 .inputs = 1, .tolerance = 2e-6, .n = 1 << 22};
    return example_main(&e, argc, argv);
}
