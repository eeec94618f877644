/* kiln_mpi_allreduce_sum: device -> host -> MPI_Allreduce -> host -> device, a chunk at
 * a time. */
#include "internal.h"

/* Floats staged at once: 16 MiB of host memory per rank, well inside MPI's int count. */
enum { CHUNK_FLOATS = 1 << 22 };

/* Each rank's own checks, then its staging memory, so that a rank short of memory is
 * known to all before any of them starts. */
static kiln_status allreduce_prepare(kiln_ctx *ctx, kiln_buf *buf, size_t n, float **host)
{
    CHECK(check_context(ctx));
    CHECK(check_floats(ctx, buf, "buf", n));
    if (n == 0)
        return KILN_OK;
    size_t floats = n < CHUNK_FLOATS ? n : CHUNK_FLOATS;
    return kiln_host_alloc(ctx, floats * sizeof(float), (void **)host);
}

/* Sums the floats [first, first + count) of buf over comm. After a device failure this
 * rank still takes part in the reduction (the others wait for it); *status keeps the
 * failure. An MPI failure ends the call. */
static kiln_status chunk_reduce(kiln_ctx *ctx, kiln_buf *buf, size_t first, size_t count,
                                float *host, MPI_Comm comm, kiln_status *status)
{
    size_t offset = first * sizeof(float), bytes = count * sizeof(float);
    if (*status == KILN_OK)
        *status = kiln_buf_read(buf, offset, host, bytes);
    CHECK(mpi_result(ctx, "MPI_Allreduce",
                     MPI_Allreduce(MPI_IN_PLACE, host, (int)count, MPI_FLOAT, MPI_SUM, comm)));
    if (*status == KILN_OK)
        *status = kiln_buf_write(buf, offset, host, bytes);
    return KILN_OK;
}

KILN_API kiln_status kiln_mpi_allreduce_sum(kiln_ctx *ctx, kiln_buf *buf, size_t n,
                                            MPI_Comm comm)
{
    int rank = 0, size = 0;
    CHECK(comm_open(ctx, comm, &rank, &size));
    float *host = NULL;
    kiln_status status = allreduce_prepare(ctx, buf, n, &host);
    const struct shared_value values[] = {{"n", n}};
    kiln_status agreed = agree_on_arguments(ctx, comm, status, values, 1);
    for (size_t first = 0; agreed == KILN_OK && first < n; first += CHUNK_FLOATS) {
        size_t count = n - first < CHUNK_FLOATS ? n - first : CHUNK_FLOATS;
        agreed = chunk_reduce(ctx, buf, first, count, host, comm, &status);
    }
    kiln_host_free(ctx, host);
    if (agreed != KILN_OK || n == 0)
        return agreed;
    return agree_on_outcome(ctx, comm, status);
}
