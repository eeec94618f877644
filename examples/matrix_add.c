/* matrix_add: C = A + B for n×n matrices with kiln_geam, C = α·op(A) + β·op(B) (op
 * transposes or not, as in BLAS), checked against a plain C loop and timed with and
 * without the copies to and from the device. */
#include "common.h"

#include <float.h>
#include <stdio.h>

static void matrix_add_size(example *e)
{
    e->input_count[0] = e->input_count[1] = e->count = e->n * e->n;
    printf("matrix_add: C = A + B, %zu x %zu\n", e->n, e->n);
}

static void matrix_add_cpu(example *e)
{
    const size_t n = e->n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            e->want[i * n + j] = e->in[0][i * n + j] + e->in[1][i * n + j];
}

static bool matrix_add_kiln(example *e)
{
    const size_t n = e->n;
    return CHECK(e->ctx, kiln_geam(e->ctx, KILN_NO_TRANS, KILN_NO_TRANS, n, n, 1.0f,
                                   e->in_buf[0], n, 1.0f, e->in_buf[1], n, e->result, n));
}

int main(int argc, char **argv)
{
    /* One rounding of the sum, through an FMA with α = 1 or not: an ulp covers both. */
    example e = {.name = "matrix_add",
                 .summary = "C = A + B for N×N matrices with kiln_geam.",
                 .size = matrix_add_size, .cpu = matrix_add_cpu, .compute = matrix_add_kiln,
                 .inputs = 2, .tolerance = FLT_EPSILON, .n = 2048};
    return example_main(&e, argc, argv);
}
