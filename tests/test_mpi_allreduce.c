/* kiln_mpi_allreduce_sum on every rank of MPI_COMM_WORLD (run by mpirun with 2 and 4
 * ranks): sums in place, views, more than one staging chunk, a sub-communicator, and
 * rejections that return on every rank without hanging. */
#include "mpi_common.h"

#include <string.h>

/* Rank r's value i: (r + 1)·(i mod 17), so every sum is exact in float. */
static float rank_value(int rank, size_t i)
{
    return (float)(rank + 1) * (float)(i % 17);
}

static kiln_buf *rank_values_upload(kiln_ctx *ctx, int rank, size_t n)
{
    float *x = scratch_floats(n);
    for (size_t i = 0; i < n; ++i)
        x[i] = rank_value(rank, i);
    return scratch_upload(ctx, x, n);
}

/* Fails unless got[i] is the sum over `ranks` ranks (numbered from 0) of rank_value. */
static void assert_rank_sums(const float *got, size_t n, int ranks, int first_rank)
{
    for (size_t i = 0; i < n; ++i) {
        float expected = 0;
        for (int r = first_rank; r < first_rank + ranks; ++r)
            expected += rank_value(r, i);
        if (got[i] != expected)
            fail_msg("float %zu is %g, not %g", i, (double)got[i], (double)expected);
    }
}

static void allreduce_sums_every_ranks_buffer_in_place(void **state)
{
    kiln_ctx *ctx = *state;
    size_t n = 1027;
    kiln_buf *buf = rank_values_upload(ctx, world_rank(), n);
    assert_ok(ctx, kiln_mpi_allreduce_sum(ctx, buf, n, MPI_COMM_WORLD));
    assert_rank_sums(scratch_download(buf, n), n, world_size(), 0);
}

/* 2^22 floats are staged at a time: n crosses into a second chunk. */
static void allreduce_sums_beyond_one_staging_chunk(void **state)
{
    kiln_ctx *ctx = *state;
    size_t n = ((size_t)1 << 22) + 5;
    kiln_buf *buf = rank_values_upload(ctx, world_rank(), n);
    assert_ok(ctx, kiln_mpi_allreduce_sum(ctx, buf, n, MPI_COMM_WORLD));
    assert_rank_sums(scratch_download(buf, n), n, world_size(), 0);
}

static void allreduce_of_a_view_leaves_the_rest_of_its_parent(void **state)
{
    kiln_ctx *ctx = *state;
    size_t n = 100, before = 3, after = 5;
    float *host = scratch_filled(before + n + after, CANARY);
    for (size_t i = 0; i < n; ++i)
        host[before + i] = rank_value(world_rank(), i);
    kiln_buf *parent = scratch_upload(ctx, host, before + n + after);
    kiln_buf *view = scratch_view(parent, before * sizeof(float), n * sizeof(float));
    assert_ok(ctx, kiln_mpi_allreduce_sum(ctx, view, n, MPI_COMM_WORLD));
    float *got = scratch_download(parent, before + n + after);
    assert_rank_sums(got + before, n, world_size(), 0);
    for (size_t i = 0; i < before; ++i)
        assert_float_equal(got[i], CANARY, 0);
    for (size_t i = before + n; i < before + n + after; ++i)
        assert_float_equal(got[i], CANARY, 0);
}

/* Ranks 0-1 and 2-3 (with 4 ranks; with 2, each rank alone) sum among themselves. */
static void allreduce_sums_within_a_sub_communicator(void **state)
{
    kiln_ctx *ctx = *state;
    int rank = world_rank(), pair = rank / 2;
    MPI_Comm half = MPI_COMM_NULL;
    assert_int_equal(MPI_Comm_split(MPI_COMM_WORLD, pair, rank, &half), MPI_SUCCESS);
    int members = 0;
    assert_int_equal(MPI_Comm_size(half, &members), MPI_SUCCESS);
    size_t n = 33;
    kiln_buf *buf = rank_values_upload(ctx, rank, n);
    kiln_status status = kiln_mpi_allreduce_sum(ctx, buf, n, half);
    assert_int_equal(MPI_Comm_free(&half), MPI_SUCCESS);
    assert_ok(ctx, status);
    assert_rank_sums(scratch_download(buf, n), n, members, 2 * pair);
}

static void allreduce_of_zero_floats_changes_nothing(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = rank_values_upload(ctx, world_rank(), 4);
    assert_ok(ctx, kiln_mpi_allreduce_sum(ctx, buf, 0, MPI_COMM_WORLD));
    float *got = scratch_download(buf, 4);
    for (size_t i = 0; i < 4; ++i)
        assert_float_equal(got[i], rank_value(world_rank(), i), 0);
}

/* Rank 1's buffer is a float short: it says so, and every other rank names it. */
static void allreduce_rejects_a_short_buffer_on_every_rank(void **state)
{
    kiln_ctx *ctx = *state;
    size_t n = 64;
    kiln_buf *buf = scratch_buffer(ctx, (world_rank() == 1 ? n - 1 : n) * sizeof(float));
    kiln_status status = kiln_mpi_allreduce_sum(ctx, buf, n, MPI_COMM_WORLD);
    assert_rank_one_at_fault(ctx, status, KILN_ERR_SIZE, "but its buffer holds 252 bytes",
                             KILN_ERR_ARG, "rank 1 rejected the call");
}

static void allreduce_rejects_n_differing_between_ranks(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = scratch_buffer(ctx, 64 * sizeof(float));
    size_t n = 8 + (size_t)world_rank();
    kiln_status status = kiln_mpi_allreduce_sum(ctx, buf, n, MPI_COMM_WORLD);
    assert_failure_says(ctx, status, KILN_ERR_ARG, "n differs between ranks: from 8 to");
}

/* Rank 0 passes no buffer, then every rank no context. */
static void allreduce_rejects_null_arguments_on_every_rank(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = world_rank() == 0 ? NULL : scratch_buffer(ctx, 16);
    kiln_status status = kiln_mpi_allreduce_sum(ctx, buf, 4, MPI_COMM_WORLD);
    assert_failure_says(ctx, status, KILN_ERR_ARG,
                        world_rank() == 0 ? "buf is NULL" : "rank 0 rejected the call");
    buf = scratch_buffer(ctx, 16);
    assert_failure_says(NULL, kiln_mpi_allreduce_sum(NULL, buf, 4, MPI_COMM_WORLD),
                        KILN_ERR_ARG, "ctx is NULL");
}

/* No communicator: rejected at once, without communicating. */
static void allreduce_rejects_mpi_comm_null(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *buf = scratch_buffer(ctx, 16);
    assert_failure_says(ctx, kiln_mpi_allreduce_sum(ctx, buf, 4, MPI_COMM_NULL),
                        KILN_ERR_ARG, "comm is MPI_COMM_NULL");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(allreduce_sums_every_ranks_buffer_in_place),
        KILN_TEST(allreduce_sums_beyond_one_staging_chunk),
        KILN_TEST(allreduce_of_a_view_leaves_the_rest_of_its_parent),
        KILN_TEST(allreduce_sums_within_a_sub_communicator),
        KILN_TEST(allreduce_of_zero_floats_changes_nothing),
        KILN_TEST(allreduce_rejects_a_short_buffer_on_every_rank),
        KILN_TEST(allreduce_rejects_n_differing_between_ranks),
        KILN_TEST(allreduce_rejects_null_arguments_on_every_rank),
        KILN_TEST(allreduce_rejects_mpi_comm_null),
    };
    return RUN_MPI_TESTS(argc, argv, tests);
}
