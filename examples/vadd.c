/* vadd: c = a + b over n floats with kiln_vadd, checked against a plain C loop and
 * timed with and without the copies to and from the device. */
#include "common.h"

#include <stdio.h>

static void vadd_size(example *e)
{
    e->input_count[0] = e->input_count[1] = e->count = e->n;
    printf("vadd: c = a + b, %zu floats\n", e->n);
}

static void vadd_cpu(example *e)
{
    for (size_t i = 0; i < e->n; i++)
        e->want[i] = e->in[0][i] + e->in[1][i];
}

static bool vadd_kiln(example *e)
{
    return CHECK(e->ctx, kiln_vadd(e->ctx, e->in_buf[0], e->in_buf[1], e->result, e->n));
}

int main(int argc, char **argv)
{
    /* A float sum is one rounding, the same on any IEEE device: tolerance 0. */
    example e = {.name = "vadd", .summary = "c = a + b over N floats with kiln_vadd.",
                 .size = vadd_size, .cpu = vadd_cpu, .compute = vadd_kiln, .inputs = 2,
                 .n = 1 << 22};
    return example_main(&e, argc, argv);
}
