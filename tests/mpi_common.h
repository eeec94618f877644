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

#endif /* KILN_TESTS_MPI_COMMON_H */
