/* matmul: C = A·B for n×n matrices with kiln_matmul, checked against a plain C loop
 * and timed with and without the copies to and from the device. */
#include "common.h"

#include <float.h>
#include <stdio.h>

static void matmul_size(example *e)
{
    e->input_count[0] = e->input_count[1] = e->count = e->n * e->n;
    /* Sums of n products of [-1, 1) in any order, FMA or not, stay within 2·n·ε. */
    e->tolerance = 2.0 * (double)e->n * FLT_EPSILON;
    printf("matmul: C = A·B, %zu x %zu times %zu x %zu\n", e->n, e->n, e->n, e->n);
}

static void matmul_cpu(example *e)
{
    example_matmul_cpu(e->n, e->n, e->n, e->in[0], e->in[1], e->want);
}

static bool matmul_kiln(example *e)
{
    return CHECK(e->ctx, kiln_matmul(e->ctx, e->n, e->n, e->n, e->in_buf[0], e->in_buf[1],
                                     e->result));
}

int main(int argc, char **argv)
{
    example e = {.name = "matmul", .summary = "C = A·B for N×N matrices with kiln_matmul.",
                 .size = matmul_size, .cpu = matmul_cpu, .compute = matmul_kiln,
                 .inputs = 2, .n = 512};
    return example_main(&e, argc, argv);
}
