// kiln_mpi.h compiles alone in C++: it is the first thing this file includes.
#include <kiln/kiln_mpi.h>

int main()
{
    kiln_status (*allreduce)(kiln_ctx *, kiln_buf *, size_t, MPI_Comm) =
        kiln_mpi_allreduce_sum;
    return allreduce != nullptr && kiln_status_str(KILN_ERR_MPI)[0] == 'K' ? 0 : 1;
}
