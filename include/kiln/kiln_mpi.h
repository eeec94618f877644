/*
 * kiln_mpi — kiln on many hosts through MPI (Open MPI): its own header, library
 * (libkiln_mpi) and pkg-config file (kiln-mpi, which requires kiln and Open MPI's
 * ompi-c). kiln.h and libkiln never need MPI; this part is built when meson finds MPI
 * (-Dmpi=auto, the default, or enabled).
 *
 * Conventions, on top of kiln.h's:
 * - Every function taking an MPI_Comm is collective: every rank of comm calls it, with
 *   the same sizes, grid and scalars, each with its own context and buffers. MPI must be
 *   initialised (MPI_Init) and not finalised. With several threads, MPI's thread level
 *   must allow the calls the caller lets happen at once (MPI_THREAD_MULTIPLE for calls
 *   on several communicators from several threads).
 * - A rejected call returns on every rank, so no rank waits for one that gave up: each
 *   rank checks its own arguments first (the checks kiln makes, and the divisibility of
 *   sizes by the grid), then all ranks compare their verdicts and the values they must
 *   share in one small MPI_Allreduce before any data moves. The rank at fault returns its
 *   own status and message; the others return KILN_ERR_ARG, their kiln_last_error naming
 *   that rank. A failure while data moves (a device running out of memory, say) also
 *   reaches every rank, after the exchange ends: the rank that failed returns its own
 *   status, the others the largest status of a failed rank, with a message naming it
 *   (their results are wrong).
 * - A failed MPI call is KILN_ERR_MPI, with the call and MPI's own error string, when
 *   comm's error handler returns errors (MPI_ERRORS_RETURN); under MPI's default,
 *   MPI_ERRORS_ARE_FATAL, MPI ends the job instead.
 * - Messages are in kiln_last_error(ctx), or kiln_last_error(NULL) when ctx is NULL.
 * - Data goes device -> host -> MPI -> host -> device through memory of kiln_host_alloc
 *   (the fast path of kiln_buf_read and kiln_buf_write), so any MPI works, without
 *   GPU-aware transports. Every call waits for its result.
 */
#ifndef KILN_KILN_MPI_H
#define KILN_KILN_MPI_H

#include <kiln/kiln.h>
#include <mpi.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Opens a context for this rank: on the device $KILN_DEVICE names when it is set (as
 * kiln_ctx_create with NULL), else on GPU number L mod G, where L is the rank's number
 * among the ranks of its host and G the host's GPU count, GPUs counted in
 * kiln_device_get's order; with no GPU, on kiln_ctx_create's default (PoCL's CPU). L is
 * $OMPI_COMM_WORLD_LOCAL_RANK, which Open MPI's mpirun sets; without it, the rank within
 * comm's ranks that share this host (MPI_Comm_split_type), which makes the call collective
 * over comm. Failures as kiln_ctx_create's. The caller owns *out (kiln_ctx_destroy). */
KILN_API kiln_status kiln_mpi_ctx_create(kiln_ctx **out, MPI_Comm comm);

/* Replaces the first n floats of buf, on every rank, by their sum over all ranks of
 * comm (MPI_Allreduce with MPI_SUM, in the order MPI adds them), staged through host
 * memory a few MiB at a time. buf is a buffer or view of ctx holding at least n floats
 * (else KILN_ERR_SIZE); n must be the same on every rank (else KILN_ERR_ARG on all).
 * n = 0 is a no-op after the checks. Waits. */
KILN_API kiln_status kiln_mpi_allreduce_sum(kiln_ctx *ctx, kiln_buf *buf, size_t n,
                                            MPI_Comm comm);

/* C = α·A·B + β·C, distributed (SUMMA): the ranks of comm form a grid_rows × grid_cols
 * grid in row-major order (rank r·grid_cols + q is at row r, column q), and that rank
 * holds block (r, q) of A (m/grid_rows × k/grid_cols), of B (k/grid_rows × n/grid_cols)
 * and of C (m/grid_rows × n/grid_cols), each tightly packed in its buffer of ctx. The k
 * dimension is walked in panels that each lie inside one block column of A and one block
 * row of B (at most grid_rows + grid_cols - 1 of them): the owners broadcast them along
 * grid rows (A) and columns (B), and every rank adds its product with kiln_sgemm on its
 * own device, β applied with the first; the next panel moves while the device multiplies
 * this one, and products are added in the order of k, panel by panel, so the result does
 * not depend on the timing. The same semantics as kiln_sgemm: k = 0 or
 * α = 0 is C = β·C, with no panel moving and A and B unread; β = 0: C is not read.
 * KILN_ERR_ARG on every rank, before any data moves, when grid_rows · grid_cols is not
 * comm's size or m, n or k is not a multiple of the grid sides it is split by; a block
 * of A or B beyond MPI's int count (2^31 - 1 floats): KILN_ERR_SIZE. Waits.
 * Kept between calls: host and device memory with ctx, grown to the largest call and
 * freed by kiln_ctx_destroy; the communicators of each grid's rows and columns with comm
 * (an MPI attribute), freed by MPI_Comm_free(comm) or MPI_Finalize. Threads: calls on one
 * ctx may overlap (one uses the kept memory, the others memory of their own for the
 * call); calls on one comm must not (MPI's rule for collectives). */
KILN_API kiln_status kiln_mpi_sgemm(kiln_ctx *ctx, MPI_Comm comm, int grid_rows,
                                    int grid_cols, size_t m, size_t n, size_t k, float alpha,
                                    const kiln_buf *a, const kiln_buf *b, float beta,
                                    kiln_buf *c);

#ifdef __cplusplus
}
#endif
#endif /* KILN_KILN_MPI_H */
