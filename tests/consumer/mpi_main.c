/* A program that uses kiln's MPI part as its users' programs do, through the installed
 * kiln_mpi.h and pkg-config's kiln-mpi (tools/check-install builds it where kiln-mpi.pc
 * is installed): each rank sums a vector of ones over MPI_COMM_WORLD. */
#include <kiln/kiln_mpi.h>

#include <stdio.h>

int main(int argc, char **argv)
{
    if (MPI_Init(&argc, &argv) != MPI_SUCCESS)
        return 1;
    int ranks = 0;
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    float x[4] = {1, 1, 1, 1};
    kiln_ctx *ctx = NULL;
    kiln_buf *buf = NULL;
    kiln_status status = kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD);
    if (status == KILN_OK)
        status = kiln_buf_create(ctx, sizeof(x), &buf);
    if (status == KILN_OK)
        status = kiln_buf_write(buf, 0, x, sizeof(x));
    if (status == KILN_OK)
        status = kiln_mpi_allreduce_sum(ctx, buf, 4, MPI_COMM_WORLD);
    if (status == KILN_OK)
        status = kiln_buf_read(buf, 0, x, sizeof(x));
    if (status != KILN_OK)
        fprintf(stderr, "consumer: %s: %s\n", kiln_status_str(status), kiln_last_error(ctx));
    kiln_buf_destroy(buf);
    kiln_ctx_destroy(ctx);
    printf("kiln_mpi over %d ranks: %g %g %g %g\n", ranks, x[0], x[1], x[2], x[3]);
    int wrong = x[0] != (float)ranks || x[3] != (float)ranks;
    return MPI_Finalize() != MPI_SUCCESS || status != KILN_OK || wrong ? 1 : 0;
}
