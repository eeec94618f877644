/* Helpers of the MPI tests: MPI's start and end, the rank's context, its place. */
#include "mpi_common.h"

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
