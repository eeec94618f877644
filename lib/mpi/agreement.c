/* How the ranks of a collective call agree, so that a call one rank rejects or fails
 * returns on all of them: one MPI_Allreduce (MPI_MAX) over each rank's verdict and the
 * values all must share. A value's smallest comes back as the largest of its bitwise
 * complements, so one reduction gives both ends of every value. */
#include "internal.h"

kiln_status comm_open(const kiln_ctx *ctx, MPI_Comm comm, int *rank, int *size)
{
    int initialized = 0, finalized = 0;
    CHECK(mpi_result(ctx, "MPI_Initialized", MPI_Initialized(&initialized)));
    CHECK(mpi_result(ctx, "MPI_Finalized", MPI_Finalized(&finalized)));
    if (!initialized || finalized)
        return kiln_error_set(ctx, KILN_ERR_ARG, "MPI is %s", finalized ? "finalized"
                                                                 : "not initialized");
    if (comm == MPI_COMM_NULL)
        return kiln_error_set(ctx, KILN_ERR_ARG, "comm is MPI_COMM_NULL");
    CHECK(mpi_result(ctx, "MPI_Comm_rank", MPI_Comm_rank(comm, rank)));
    return mpi_result(ctx, "MPI_Comm_size", MPI_Comm_size(comm, size));
}

/* The reduced verdicts: the highest failing rank + 1 (0: none), the largest failing
 * status, then each value and its complement. */
enum { VERDICT_RANK, VERDICT_STATUS, VERDICT_VALUES };
typedef unsigned long long verdicts[VERDICT_VALUES + 2 * SHARED_VALUES_MAX];

static kiln_status verdicts_reduce(const kiln_ctx *ctx, MPI_Comm comm, kiln_status local,
                                   const struct shared_value *values, size_t count,
                                   verdicts all)
{
    int rank = 0;
    CHECK(mpi_result(ctx, "MPI_Comm_rank", MPI_Comm_rank(comm, &rank)));
    verdicts mine = {0};
    mine[VERDICT_RANK] = local != KILN_OK ? (unsigned long long)rank + 1 : 0;
    mine[VERDICT_STATUS] = (unsigned long long)local;
    for (size_t i = 0; i < count; ++i) {
        mine[VERDICT_VALUES + 2 * i] = values[i].value;
        mine[VERDICT_VALUES + 2 * i + 1] = ~values[i].value;
    }
    int used = VERDICT_VALUES + 2 * (int)count;
    return mpi_result(ctx, "MPI_Allreduce",
                      MPI_Allreduce(mine, all, used, MPI_UNSIGNED_LONG_LONG, MPI_MAX, comm));
}

kiln_status agree_on_arguments(const kiln_ctx *ctx, MPI_Comm comm, kiln_status local,
                               const struct shared_value *values, size_t count)
{
    verdicts all = {0};
    CHECK(verdicts_reduce(ctx, comm, local, values, count, all));
    if (local != KILN_OK)
        return local;
    if (all[VERDICT_RANK] != 0)
        return kiln_error_set(ctx, KILN_ERR_ARG,
                              "rank %llu rejected the call (its kiln_last_error says why)",
                              all[VERDICT_RANK] - 1);
    for (size_t i = 0; i < count; ++i) {
        unsigned long long largest = all[VERDICT_VALUES + 2 * i];
        unsigned long long smallest = ~all[VERDICT_VALUES + 2 * i + 1];
        if (largest != smallest)
            return kiln_error_set(ctx, KILN_ERR_ARG,
                                  "%s differs between ranks: from %llu to %llu",
                                  values[i].name, smallest, largest);
    }
    return KILN_OK;
}

kiln_status agree_on_outcome(const kiln_ctx *ctx, MPI_Comm comm, kiln_status local)
{
    verdicts all = {0};
    CHECK(verdicts_reduce(ctx, comm, local, NULL, 0, all));
    if (local != KILN_OK || all[VERDICT_RANK] == 0)
        return local;
    kiln_status worst = (kiln_status)all[VERDICT_STATUS];
    return kiln_error_set(ctx, worst, "rank %llu failed (%s), so this rank's result is wrong",
                          all[VERDICT_RANK] - 1, kiln_status_str(worst));
}
