/* mlp_mpi: mlp's training, data-parallel over the ranks of MPI_COMM_WORLD (mpirun -np R
 * mlp_mpi ...): every rank holds the whole network and data, trains on its slice of
 * each batch (batch / R samples), and the ranks' gradients and losses are summed with
 * kiln_mpi_allreduce_sum before each update, so every rank takes the same step as one
 * process on the whole batch. Only the sums' rounding differs: the loss curve matches
 * mlp's with the same options to within the tolerance tests/meson.build states. Rank 0
 * prints. Each rank's device is kiln_mpi_ctx_create's (or -d's). */
#include "perceptron.h"

#include <kiln/kiln_mpi.h>

#include <stdio.h>

static bool ranks_sum(kiln_ctx *ctx, kiln_buf *buf, size_t n, void *data)
{
    (void)data;
    return CHECK(ctx, kiln_mpi_allreduce_sum(ctx, buf, n, MPI_COMM_WORLD));
}

/* -d's device, else the rank's by kiln_mpi.h's rule; rank 0 names its own. */
static kiln_ctx *rank_open(const char *spec, void *data)
{
    const perceptron_parallel *parallel = data;
    kiln_ctx *ctx = NULL;
    kiln_status status = spec != NULL ? kiln_ctx_create(&ctx, spec)
                                      : kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD);
    if (!CHECK(NULL, status))
        return NULL;
    char name[256] = "";
    if (parallel->worker == 0 &&
        clGetDeviceInfo(kiln_ctx_device(ctx), CL_DEVICE_NAME, sizeof(name), name, NULL) ==
            CL_SUCCESS)
        printf("device: %s (rank 0 of %zu)\n", name, parallel->workers);
    return ctx;
}

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS) {
        fprintf(stderr, "mlp_mpi: MPI_Init failed\n");
        return 1;
    }
    int rank = 0, ranks = 1;
    if (MPI_Comm_rank(MPI_COMM_WORLD, &rank) != MPI_SUCCESS ||
        MPI_Comm_size(MPI_COMM_WORLD, &ranks) != MPI_SUCCESS) {
        fprintf(stderr, "mlp_mpi: MPI_COMM_WORLD has no rank for this process\n");
        MPI_Abort(MPI_COMM_WORLD, 1);
    }
    perceptron_parallel parallel = {
        .worker = (size_t)rank, .workers = (size_t)ranks, .sum = ranks_sum, .open = rank_open,
        .usage = "\nData-parallel: each MPI rank trains on its slice of every batch (batch /"
                 "\nranks samples) and the ranks' gradients are summed before each step."};
    parallel.data = &parallel;
    int status = perceptron_main(argc, argv, "mlp_mpi", &parallel);
    return MPI_Finalize() != MPI_SUCCESS ? 1 : status;
}
