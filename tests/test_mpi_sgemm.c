/* kiln_mpi_sgemm on every grid of MPI_COMM_WORLD's ranks (run by mpirun with 2, 4 and 6
 * ranks: grids 1×2, 2×1; 2×2, 1×4, 4×1; 2×3, 3×2): each rank checks its block of C
 * against the double reference of the whole product (and, for the pipelined panels,
 * against panels multiplied one at a time, bit for bit), and every rank of a rejected
 * call returns KILN_ERR_ARG (the rank at fault its own status) without hanging. */
#include "mpi_common.h"

#include <stdlib.h>

static void product_check(kiln_ctx *ctx, grid g)
{
    summa_check(ctx, MPI_COMM_WORLD, g, shape_for(g, 1.5f, 0.5f));
}

static void sgemm_matches_the_double_reference_on_every_grid(void **state)
{
    for_each_grid(*state, product_check);
}

static void beta_zero_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, -0.75f, 0.0f);
    c.fill_c = FILL_NAN;
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_beta_zero_does_not_read_c(void **state)
{
    for_each_grid(*state, beta_zero_check);
}

static void alpha_zero_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 0.0f, 2.0f);
    c.fill_ab = FILL_NAN;
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_alpha_zero_scales_c_without_reading_a_or_b(void **state)
{
    for_each_grid(*state, alpha_zero_check);
}

static void k_zero_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 1.0f, -3.0f);
    c.k = 0;
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_k_zero_scales_c(void **state)
{
    for_each_grid(*state, k_zero_check);
}

/* k as small as the grid allows: panels one float wide on 1×R and R×1 grids, of 2, 1, 1
 * and 2 on 2×3 (k = 6), each moving while the one before is multiplied. */
static void smallest_k_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 1.25f, -0.5f);
    c.k = grid_lcm(g);
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_the_smallest_k_of_the_grid_matches_the_double_reference(void **state)
{
    for_each_grid(*state, smallest_k_check);
}

/* Blocks of prime multiples (13 × 11 of C, k = 7 · lcm: on 2×3 panels of 14, 7, 7 and
 * 14), a multiple of no kernel's tile. */
static void prime_shape_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = {.m = 13 * (size_t)g.rows, .n = 11 * (size_t)g.cols, .k = 7 * grid_lcm(g),
                    .alpha = 0.5f, .beta = 1.0f};
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_prime_block_sides_matches_the_double_reference(void **state)
{
    for_each_grid(*state, prime_shape_check);
}

/* m = 0, then n = 0: every rank's block of C is empty (sizes must divide by the grid, so
 * no rank holds an empty block alone), and the call returns on all. */
static void empty_c_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 1.0f, 0.0f);
    c.m = 0;
    summa_check(ctx, MPI_COMM_WORLD, g, c);
    c = shape_for(g, 1.0f, 0.0f);
    c.n = 0;
    summa_check(ctx, MPI_COMM_WORLD, g, c);
}

static void sgemm_with_empty_blocks_of_c_returns_on_every_rank(void **state)
{
    for_each_grid(*state, empty_c_check);
}

/* This rank's block of C as panels taken one at a time leave it: kiln_sgemm on each
 * panel (edges where A's block columns or B's block rows end), in the order of k, β with
 * the first, from c_before. */
static float *panel_by_panel(kiln_ctx *ctx, const summa_blocks *s, sgemm_case c,
                             const float *c_before)
{
    kiln_buf *product = scratch_upload(ctx, c_before, s->mb * s->nb);
    for (size_t first = 0, end = 0; first < c.k; first = end) {
        size_t a_end = (first / s->ka + 1) * s->ka, b_end = (first / s->kb + 1) * s->kb;
        end = a_end < b_end ? a_end : b_end;
        size_t width = end - first;
        float *a = scratch_floats(s->mb * width), *b = scratch_floats(width * s->nb);
        for (size_t i = 0; i < s->mb; ++i)
            for (size_t j = 0; j < width; ++j)
                a[i * width + j] = s->a[(s->row * s->mb + i) * c.k + first + j];
        for (size_t i = 0; i < width; ++i)
            for (size_t j = 0; j < s->nb; ++j)
                b[i * s->nb + j] = s->b[(first + i) * c.n + s->col * s->nb + j];
        assert_ok(ctx, kiln_sgemm(ctx, KILN_NO_TRANS, KILN_NO_TRANS, s->mb, s->nb, width,
                                  c.alpha, scratch_upload(ctx, a, s->mb * width), width,
                                  scratch_upload(ctx, b, width * s->nb), s->nb,
                                  first == 0 ? c.beta : 1.0f, product, s->nb));
    }
    return scratch_download(product, s->mb * s->nb);
}

static void panel_order_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 1.5f, 0.5f);
    summa_blocks s = summa_blocks_make(ctx, world_rank(), g, c);
    size_t floats = s.mb * s.nb;
    float *expected = panel_by_panel(ctx, &s, c, scratch_download(s.c_block, floats));
    assert_ok(ctx, kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, g.rows, g.cols, c.m, c.n, c.k,
                                  c.alpha, s.a_block, s.b_block, c.beta, s.c_block));
    assert_memory_equal(scratch_download(s.c_block, floats), expected, floats * sizeof(float));
}

/* Pipelining changes when panels move, not the sum: bit for bit the unpipelined order. */
static void sgemm_adds_the_panels_in_the_order_of_k_bit_for_bit(void **state)
{
    for_each_grid(*state, panel_order_check);
}

/* A call that every rank rejects with KILN_ERR_ARG and the same words. */
static void assert_rejected(kiln_ctx *ctx, grid g, size_t m, size_t n, size_t k,
                            const char *needle)
{
    kiln_buf *block = scratch_buffer(ctx, 4096);
    kiln_buf *c = scratch_buffer(ctx, 4096);
    assert_failure_says(ctx,
                        kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, g.rows, g.cols, m, n, k, 1.0f,
                                       block, block, 0.0f, c),
                        KILN_ERR_ARG, needle);
}

static void indivisible_check(kiln_ctx *ctx, grid g)
{
    sgemm_case c = shape_for(g, 1.0f, 0.0f);
    if (g.rows > 1)
        assert_rejected(ctx, g, c.m + 1, c.n, c.k, "m is");
    if (g.cols > 1)
        assert_rejected(ctx, g, c.m, c.n + 1, c.k, "n is");
    assert_rejected(ctx, g, c.m, c.n, c.k + 1, "k is");
}

static void sgemm_rejects_sizes_not_divisible_by_the_grid_on_every_rank(void **state)
{
    for_each_grid(*state, indivisible_check);
}

static void sgemm_rejects_a_grid_other_than_the_communicators_size(void **state)
{
    kiln_ctx *ctx = *state;
    assert_rejected(ctx, (grid){1, 1}, 4, 4, 4, "comm has");
    assert_rejected(ctx, (grid){world_size(), 2}, 4, 4, 4, "comm has");
    assert_rejected(ctx, (grid){0, world_size()}, 4, 4, 4, "must be >= 1");
    assert_rejected(ctx, (grid){-1, -world_size()}, 4, 4, 4, "must be >= 1");
}

static void sgemm_rejects_sizes_differing_between_ranks(void **state)
{
    grid g = {1, world_size()};
    size_t k = 4 * (size_t)world_size();
    assert_rejected(*state, g, 4 + (size_t)world_rank(), 4 * (size_t)world_size(), k,
                    "m differs between ranks");
}

/* Rank 1's A is a float short of its block: it says so, and every other rank names it. */
static void sgemm_rejects_a_short_block_on_every_rank(void **state)
{
    kiln_ctx *ctx = *state;
    grid g = {1, world_size()};
    sgemm_case c = shape_for(g, 1.0f, 0.0f);
    size_t mb = c.m, ka = c.k / (size_t)g.cols, nb = c.n / (size_t)g.cols;
    size_t a_floats = mb * ka - (world_rank() == 1 ? 1 : 0);
    kiln_buf *a = scratch_buffer(ctx, a_floats * sizeof(float));
    kiln_buf *b = scratch_buffer(ctx, c.k * nb * sizeof(float));
    kiln_buf *cb = scratch_buffer(ctx, mb * nb * sizeof(float));
    kiln_status status = kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, g.rows, g.cols, c.m, c.n, c.k,
                                        1.0f, a, b, 0.0f, cb);
    assert_rank_one_at_fault(ctx, status, KILN_ERR_SIZE, "a needs", KILN_ERR_ARG,
                             "rank 1 rejected the call");
}

/* 2^31 rows of A's block of one column: one float beyond MPI's int count, on every
 * rank before any buffer is looked at. */
static void sgemm_rejects_a_block_beyond_mpis_int_count(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *block = scratch_buffer(ctx, 4096), *c = scratch_buffer(ctx, 4096);
    size_t m = (size_t)1 << 31, k = (size_t)world_size();
    assert_failure_says(ctx,
                        kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, 1, world_size(), m, k, k, 1.0f,
                                       block, block, 0.0f, c),
                        KILN_ERR_SIZE, "beyond MPI's int count");
}

static void sgemm_rejects_c_sharing_memory_with_a(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *block = scratch_buffer(ctx, 4096), *b = scratch_buffer(ctx, 4096);
    assert_failure_says(ctx,
                        kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, 1, world_size(), 4,
                                       4 * (size_t)world_size(), 4 * (size_t)world_size(),
                                       1.0f, block, b, 0.0f, block),
                        KILN_ERR_ARG, "c shares memory with the input a");
}

/* Rank 1's device fails once panels move: on a fresh context its kernels come from
 * $KILN_CL_DIR, which names no folder, so its first kiln_sgemm cannot build. It keeps
 * taking part in the broadcasts, and every rank learns of the failure at the end. */
static void sgemm_failing_on_one_rank_while_panels_move_fails_on_every_rank(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    grid g = {1, world_size()};
    sgemm_case c = shape_for(g, 1.0f, 0.0f);
    size_t nb = c.n / (size_t)g.cols, ka = c.k / (size_t)g.cols;
    kiln_buf *a = scratch_upload(ctx, scratch_random(c.m * ka, 1), c.m * ka);
    kiln_buf *b = scratch_upload(ctx, scratch_random(c.k * nb, 2), c.k * nb);
    kiln_buf *cb = scratch_buffer(ctx, c.m * nb * sizeof(float));
    if (world_rank() == 1)
        assert_int_equal(setenv("KILN_CL_DIR", "/no-such-folder-of-kernels", 1), 0);
    kiln_status status = kiln_mpi_sgemm(ctx, MPI_COMM_WORLD, g.rows, g.cols, c.m, c.n, c.k,
                                        1.0f, a, b, 0.0f, cb);
    assert_int_equal(unsetenv("KILN_CL_DIR"), 0);
    assert_rank_one_at_fault(ctx, status, KILN_ERR_BUILD, "cannot read kernel source",
                             KILN_ERR_BUILD, "rank 1 failed (KILN_ERR_BUILD");
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(sgemm_matches_the_double_reference_on_every_grid),
        KILN_TEST(sgemm_with_beta_zero_does_not_read_c),
        KILN_TEST(sgemm_with_alpha_zero_scales_c_without_reading_a_or_b),
        KILN_TEST(sgemm_with_k_zero_scales_c),
        KILN_TEST(sgemm_with_the_smallest_k_of_the_grid_matches_the_double_reference),
        KILN_TEST(sgemm_with_prime_block_sides_matches_the_double_reference),
        KILN_TEST(sgemm_with_empty_blocks_of_c_returns_on_every_rank),
        KILN_TEST(sgemm_adds_the_panels_in_the_order_of_k_bit_for_bit),
        KILN_TEST(sgemm_rejects_sizes_not_divisible_by_the_grid_on_every_rank),
        KILN_TEST(sgemm_rejects_a_grid_other_than_the_communicators_size),
        KILN_TEST(sgemm_rejects_sizes_differing_between_ranks),
        KILN_TEST(sgemm_rejects_a_short_block_on_every_rank),
        KILN_TEST(sgemm_rejects_a_block_beyond_mpis_int_count),
        KILN_TEST(sgemm_rejects_c_sharing_memory_with_a),
        KILN_TEST(sgemm_failing_on_one_rank_while_panels_move_fails_on_every_rank),
    };
    return RUN_MPI_TESTS(argc, argv, tests);
}
