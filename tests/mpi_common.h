/*
 * Helpers of the MPI tests (tests/test_mpi_*.c), which mpirun starts as several ranks:
 * every rank runs every test, in the same order, since the calls under test are
 * collective. Each rank's context comes from kiln_mpi_ctx_create.
 */
#ifndef KILN_TESTS_MPI_COMMON_H
#define KILN_TESTS_MPI_COMMON_H

#include "common.h"

#include <kiln/kiln_mpi.h>

/* Group fixture: *state becomes this rank's context, from kiln_mpi_ctx_create on
 * MPI_COMM_WORLD. */
int mpi_context_open(void **state);

/* MPI_Init, the tests under mpi_context_open, MPI_Finalize: the value main returns. */
#define RUN_MPI_TESTS(argc, argv, tests)                                               \
    mpi_tests_end(mpi_tests_start(&(argc), &(argv)) != 0                                \
                      ? 1                                                              \
                      : cmocka_run_group_tests(tests, mpi_context_open, context_close))

int mpi_tests_start(int *argc, char ***argv);
int mpi_tests_end(int failed);

/* This rank's number and the rank count in MPI_COMM_WORLD. */
int world_rank(void);
int world_size(void);

/* Fails unless status is expected and kiln_last_error(ctx) contains needle. */
void assert_failure_says(const kiln_ctx *ctx, kiln_status status, kiln_status expected,
                         const char *needle);

/* For a call rank 1 alone fails: rank 1 gets `own` and words containing own_needle, every
 * other rank `others` and words containing others_needle. */
void assert_rank_one_at_fault(const kiln_ctx *ctx, kiln_status status, kiln_status own,
                              const char *own_needle, kiln_status others,
                              const char *others_needle);

/* ---------------------------------------------------------------- SUMMA cases */

typedef struct {
    int rows, cols;
} grid;

typedef struct {
    size_t m, n, k;
    float alpha, beta;
    fill_kind fill_ab, fill_c;
} sgemm_case;

/* One rank's part of a case on grid g: the whole matrices, the same on every rank
 * (random from fixed seeds, or NaN), and this rank's blocks of them, tightly packed in
 * buffers of ctx (of at least one float: buffers cannot be empty). */
typedef struct {
    size_t row, col, mb, nb, ka, kb;
    float *a, *b, *c;
    kiln_buf *a_block, *b_block, *c_block;
} summa_blocks;

summa_blocks summa_blocks_make(kiln_ctx *ctx, int rank, grid g, sgemm_case c);

/* Fails unless s's block of C is that of c's product, by the double reference. */
void summa_verify(const summa_blocks *s, sgemm_case c);

/* Runs c on grid g over comm (whose ranks are MPI_COMM_WORLD's) and checks this rank's
 * block of C against the double reference of the whole product. */
void summa_check(kiln_ctx *ctx, MPI_Comm comm, grid g, sgemm_case c);

/* A shape that every side of g divides, with k split into blocks of A and of B whose
 * edges differ where the sides do (2×3: A's block columns of 45, B's block rows of 30,
 * so panels of 30, 15, 15 and 30). */
sgemm_case shape_for(grid g, float alpha, float beta);

/* The least common multiple of g's sides: the smallest k > 0 the grid accepts. */
size_t grid_lcm(grid g);

/* check on each grid of the world's size among 1×1, 1×2, 2×1, 2×2, 1×4, 4×1, 2×3, 3×2;
 * fails when there is none. */
void for_each_grid(kiln_ctx *ctx, void (*check)(kiln_ctx *ctx, grid g));

#endif /* KILN_TESTS_MPI_COMMON_H */
