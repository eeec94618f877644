/* Failed MPI calls as kiln statuses. */
#include "internal.h"

kiln_status mpi_result(const kiln_ctx *ctx, const char *call, int code)
{
    if (code == MPI_SUCCESS)
        return KILN_OK;
    char text[MPI_MAX_ERROR_STRING] = "";
    int length = 0;
    if (MPI_Error_string(code, text, &length) != MPI_SUCCESS)
        return kiln_error_set(ctx, KILN_ERR_MPI, "%s failed: MPI error %d", call, code);
    return kiln_error_set(ctx, KILN_ERR_MPI, "%s failed: %s (%d)", call, text, code);
}
