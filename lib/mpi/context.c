/* A rank's device: $KILN_DEVICE, else the host's GPUs dealt out by node-local rank. */
#include "internal.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

/* The rank's number among the ranks of its host: Open MPI's OMPI_COMM_WORLD_LOCAL_RANK,
 * else the rank within comm's ranks that share memory with it. */
static kiln_status local_rank_get(MPI_Comm comm, int *local)
{
    const char *text = getenv("OMPI_COMM_WORLD_LOCAL_RANK");
    if (text != NULL && *text != '\0') {
        char *end = NULL;
        errno = 0;
        long value = strtol(text, &end, 10);
        if (errno != 0 || *end != '\0' || value < 0 || value > INT_MAX)
            return kiln_error_set(NULL, KILN_ERR_ARG,
                                  "OMPI_COMM_WORLD_LOCAL_RANK is \"%s\", not a rank", text);
        *local = (int)value;
        return KILN_OK;
    }
    int rank = 0, size = 0;
    CHECK(comm_open(NULL, comm, &rank, &size));
    MPI_Comm node = MPI_COMM_NULL;
    CHECK(mpi_result(NULL, "MPI_Comm_split_type",
                     MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL,
                                         &node)));
    kiln_status status = mpi_result(NULL, "MPI_Comm_rank", MPI_Comm_rank(node, local));
    kiln_status freed = mpi_result(NULL, "MPI_Comm_free", MPI_Comm_free(&node));
    return status != KILN_OK ? status : freed;
}

/* The index (kiln_device_get's) of GPU number `which` modulo the GPU count; *found is
 * false when there is no GPU. */
static kiln_status gpu_pick(int which, size_t *index, bool *found)
{
    size_t devices = 0, gpus = 0;
    CHECK(kiln_device_count(&devices));
    size_t *gpu_indices = malloc((devices > 0 ? devices : 1) * sizeof(*gpu_indices));
    if (gpu_indices == NULL)
        return kiln_error_set(NULL, KILN_ERR_NOMEM, "out of host memory for the GPU list");
    kiln_status status = KILN_OK;
    for (size_t i = 0; i < devices && status == KILN_OK; ++i) {
        kiln_device_info info = {.struct_size = sizeof(info)};
        status = kiln_device_get(i, &info);
        if (status == KILN_OK && info.type == KILN_DEVICE_GPU)
            gpu_indices[gpus++] = i;
    }
    *found = status == KILN_OK && gpus > 0;
    if (*found)
        *index = gpu_indices[(size_t)which % gpus];
    free(gpu_indices);
    return status;
}

KILN_API kiln_status kiln_mpi_ctx_create(kiln_ctx **out, MPI_Comm comm)
{
    if (out == NULL)
        return kiln_error_set(NULL, KILN_ERR_ARG, "out is NULL");
    const char *chosen = getenv("KILN_DEVICE");
    if (chosen != NULL && *chosen != '\0')
        return kiln_ctx_create(out, NULL);
    int local = 0;
    size_t index = 0;
    bool found = false;
    CHECK(local_rank_get(comm, &local));
    CHECK(gpu_pick(local, &index, &found));
    if (!found)
        return kiln_ctx_create(out, NULL);
    char spec[32];
    snprintf(spec, sizeof(spec), "%zu", index);
    return kiln_ctx_create(out, spec);
}
