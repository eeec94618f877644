/* kiln_mpi.h compiles alone: it is the first thing this file includes. Built as C99
 * and C11. */
#include <kiln/kiln_mpi.h>

int main(void)
{
    kiln_status (*allreduce)(kiln_ctx *, kiln_buf *, size_t, MPI_Comm) =
        kiln_mpi_allreduce_sum;
    return allreduce != NULL && kiln_status_str(KILN_ERR_MPI)[0] == 'K' ? 0 : 1;
}
