/* Helpers of the MPI tests: MPI's start and end, the rank's context, its place. */
#include "mpi_common.h"

#include <math.h>
#include <stdio.h>

int mpi_tests_start(int *argc, char ***argv)
{
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "MPI_Init failed\n");
        return 1;
    }
    return 0;
}

int mpi_tests_end(int failed)
{
    return MPI_Finalize() != MPI_SUCCESS ? 1 : failed;
}

int mpi_context_open(void **state)
{
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD);
    if (status != KILN_OK) {
        fprintf(stderr, "rank %d: kiln_mpi_ctx_create: %s: %s\n", world_rank(),
                kiln_status_str(status), kiln_last_error(NULL));
        return -1;
    }
    *state = ctx;
    return 0;
}

int world_rank(void)
{
    int rank = -1;
    assert_int_equal(MPI_Comm_rank(MPI_COMM_WORLD, &rank), MPI_SUCCESS);
    return rank;
}

int world_size(void)
{
    int size = 0;
    assert_int_equal(MPI_Comm_size(MPI_COMM_WORLD, &size), MPI_SUCCESS);
    return size;
}

void assert_failure_says(const kiln_ctx *ctx, kiln_status status, kiln_status expected,
                         const char *needle)
{
    assert_status(ctx, status, expected);
    assert_contains(kiln_last_error(ctx), needle);
}

void assert_rank_one_at_fault(const kiln_ctx *ctx, kiln_status status, kiln_status own,
                              const char *own_needle, kiln_status others,
                              const char *others_needle)
{
    if (world_rank() == 1)
        assert_failure_says(ctx, status, own, own_needle);
    else
        assert_failure_says(ctx, status, others, others_needle);
}

/* A rows×cols matrix, the same on every rank: random from seed, or NaN. */
static float *whole_matrix(size_t rows, size_t cols, fill_kind fill, uint32_t seed)
{
    return fill == FILL_NAN ? scratch_filled(rows * cols, NAN)
                            : scratch_random(rows * cols, seed);
}

/* A buffer holding block (row, col) of rows×cols floats of a matrix of row length ld. */
static kiln_buf *block_upload(kiln_ctx *ctx, const float *whole, size_t ld, size_t row,
                              size_t col, size_t rows, size_t cols)
{
    float *block = scratch_floats(rows * cols);
    for (size_t i = 0; i < rows; ++i)
        for (size_t j = 0; j < cols; ++j)
            block[i * cols + j] = whole[(row * rows + i) * ld + col * cols + j];
    return scratch_upload(ctx, block, rows * cols > 0 ? rows * cols : 1);
}

summa_blocks summa_blocks_make(kiln_ctx *ctx, int rank, grid g, sgemm_case c)
{
    summa_blocks s = {.row = (size_t)(rank / g.cols), .col = (size_t)(rank % g.cols),
                      .mb = c.m / (size_t)g.rows, .nb = c.n / (size_t)g.cols,
                      .ka = c.k / (size_t)g.cols, .kb = c.k / (size_t)g.rows};
    s.a = whole_matrix(c.m, c.k, c.fill_ab, 1);
    s.b = whole_matrix(c.k, c.n, c.fill_ab, 2);
    s.c = whole_matrix(c.m, c.n, c.fill_c, 3);
    s.a_block = block_upload(ctx, s.a, c.k, s.row, s.col, s.mb, s.ka);
    s.b_block = block_upload(ctx, s.b, c.n, s.row, s.col, s.kb, s.nb);
    s.c_block = block_upload(ctx, s.c, c.n, s.row, s.col, s.mb, s.nb);
    return s;
}

void summa_verify(const summa_blocks *s, sgemm_case c)
{
    reference r = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, s->mb, s->nb, c.k, c.alpha,
                                  s->a + s->row * s->mb * c.k, c.k, s->b + s->col * s->nb,
                                  c.n, c.beta, s->c + s->row * s->mb * c.n + s->col * s->nb,
                                  c.n);
    assert_matrix_near(scratch_download(s->c_block, s->mb * s->nb), s->nb, &r);
}

void summa_check(kiln_ctx *ctx, MPI_Comm comm, grid g, sgemm_case c)
{
    summa_blocks s = summa_blocks_make(ctx, world_rank(), g, c);
    assert_ok(ctx, kiln_mpi_sgemm(ctx, comm, g.rows, g.cols, c.m, c.n, c.k, c.alpha,
                                  s.a_block, s.b_block, c.beta, s.c_block));
    summa_verify(&s, c);
}

static size_t gcd(size_t a, size_t b)
{
    return b == 0 ? a : gcd(b, a % b);
}

size_t grid_lcm(grid g)
{
    size_t rows = (size_t)g.rows, cols = (size_t)g.cols;
    return rows * cols / gcd(rows, cols);
}

sgemm_case shape_for(grid g, float alpha, float beta)
{
    return (sgemm_case){.m = 7 * (size_t)g.rows, .n = 5 * (size_t)g.cols,
                        .k = 15 * grid_lcm(g), .alpha = alpha, .beta = beta};
}

void for_each_grid(kiln_ctx *ctx, void (*check)(kiln_ctx *ctx, grid g))
{
    static const grid grids[] = {{1, 1}, {1, 2}, {2, 1}, {2, 2}, {1, 4},
                                 {4, 1}, {2, 3}, {3, 2}};
    size_t ran = 0;
    for (size_t i = 0; i < sizeof(grids) / sizeof(grids[0]); ++i) {
        if (grids[i].rows * grids[i].cols != world_size())
            continue;
        check(ctx, grids[i]);
        ++ran;
    }
    assert_true(ran > 0);
}
