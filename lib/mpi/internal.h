/* Private declarations shared by the files of lib/mpi/ (libkiln_mpi). libkiln_mpi is a
 * client of kiln's public API: it reaches kiln only through kiln.h. */
#ifndef KILN_MPI_INTERNAL_H
#define KILN_MPI_INTERNAL_H

#include "kiln/kiln_mpi.h"
#include "../status_check.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* ---------------------------------------------------------------- error.c */

/* KILN_ERR_MPI for an MPI call that returned code, naming the call and MPI's string for
 * the code, or KILN_OK when code is MPI_SUCCESS: `CHECK(mpi_result(ctx, "MPI_Bcast",
 * MPI_Bcast(...)))`. */
kiln_status mpi_result(const kiln_ctx *ctx, const char *call, int code);

/* ---------------------------------------------------------------- agreement.c */

/* KILN_ERR_ARG unless MPI is initialised, not finalised, and comm is not MPI_COMM_NULL;
 * then comm's size and this rank's number in it. Communicates nothing. */
kiln_status comm_open(const kiln_ctx *ctx, MPI_Comm comm, int *rank, int *size);

/* A value every rank of a collective call must pass alike, for the agreement. */
struct shared_value {
    const char *name;
    unsigned long long value;
};

enum { SHARED_VALUES_MAX = 8 };

/* The agreement before data moves: every rank's verdict on its own arguments (`local`)
 * and the `count` (<= SHARED_VALUES_MAX) values all must share, compared in one
 * MPI_Allreduce. Returns local itself where it failed (its message stays); else
 * KILN_ERR_ARG naming the highest rank that failed, or the first value that differs
 * between ranks with its smallest and largest; else KILN_OK, on every rank alike. */
kiln_status agree_on_arguments(const kiln_ctx *ctx, MPI_Comm comm, kiln_status local,
                               const struct shared_value *values, size_t count);

/* The agreement after data moved: every rank's status of its own part. Returns local
 * where it failed, else the largest status of a rank that failed, naming that rank;
 * KILN_OK when all succeeded. */
kiln_status agree_on_outcome(const kiln_ctx *ctx, MPI_Comm comm, kiln_status local);

/* ---------------------------------------------------------------- check.c */

/* KILN_ERR_ARG, naming the argument, when ctx is NULL. */
kiln_status check_context(const kiln_ctx *ctx);

/* KILN_ERR_ARG when buf is NULL or of another context than ctx; KILN_ERR_SIZE when it
 * holds fewer than `floats` floats (or their bytes overflow size_t). */
kiln_status check_floats(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         size_t floats);

/* KILN_ERR_ARG when the buffers named out and in share memory. */
kiln_status check_apart(const kiln_ctx *ctx, const kiln_buf *out, const char *out_name,
                        const kiln_buf *in, const char *in_name);

/* KILN_ERR_SIZE when `floats` do not fit MPI's int count. */
kiln_status check_count(const kiln_ctx *ctx, const char *what, size_t floats);

/* ---------------------------------------------------------------- sgemm_cache.c */

/* Host memory of kiln_host_alloc, or a device buffer, that only grows. */
struct host_area {
    float *floats;
    size_t capacity; /* floats */
};
struct device_area {
    kiln_buf *buf;
    size_t capacity; /* floats */
};

/* Makes area hold at least `floats` (> 0) floats, its contents lost when it grows. */
kiln_status host_area_reserve(kiln_ctx *ctx, struct host_area *area, size_t floats);
kiln_status device_area_reserve(kiln_ctx *ctx, struct device_area *area, size_t floats);

/* kiln_mpi_sgemm's memory on one context: this rank's blocks of A and B copied to the
 * host (owners send their panels from there), two of each panel on the host, so that one
 * panel moves while the other is copied to the device and multiplied, and one on the
 * device (blocking copies wait for the product before them). */
struct summa_memory {
    kiln_ctx *ctx;
    pthread_mutex_t lock; /* held by the call using the kept memory */
    bool kept;            /* attached to ctx, else the call's own */
    struct host_area a_block, b_block, a_panel[2], b_panel[2];
    struct device_area a_device, b_device;
};

/* The memory kept with ctx (attached at first use, freed by kiln_ctx_destroy) for one
 * call; while another thread's call holds it, memory of this call's own, starting empty.
 * Hand it back with summa_memory_give. */
kiln_status summa_memory_take(kiln_ctx *ctx, struct summa_memory **out);
void summa_memory_give(struct summa_memory *memory);

/* The communicators of a grid of grid_cols columns over a communicator: its rows (ranked
 * by column) and its columns (ranked by row); MPI_COMM_NULL until split. */
struct grid_comms {
    int grid_cols;
    MPI_Comm row, col;
    struct grid_comms *next;
};

/* comm's grid of grid_cols columns, kept with comm (an attribute: freed with comm, or by
 * MPI_Finalize), added unsplit if new. Local: call it before the agreement, so that a
 * rank short of memory fails the call on all and every rank's grids stay alike. */
kiln_status grid_comms_find(const kiln_ctx *ctx, MPI_Comm comm, int grid_cols,
                            struct grid_comms **out);

/* Splits what of grid is unsplit (collective over comm: after the agreement, every rank's
 * grid is alike) and gives both communicators comm's error handler. */
kiln_status grid_comms_split(const kiln_ctx *ctx, MPI_Comm comm, struct grid_comms *grid,
                             int row, int col);

#endif /* KILN_MPI_INTERNAL_H */
