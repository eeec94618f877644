/* What kiln_mpi_sgemm keeps between calls (lib/mpi/sgemm_cache.c), run by mpirun with 1,
 * 2 and 4 ranks: memory kept with the context and communicators kept with comm, reused
 * by calls whose shapes grow and shrink, on several grids, on communicators freed and
 * made again and on contexts destroyed and made again; every result is checked against
 * the double reference. */
#include "mpi_common.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

/* What calls split and allocate, counted on their way to MPI (its profiling interface)
 * and to kiln (the dynamic linker's next definition): this program's definitions come
 * before libmpi's and libkiln's for libkiln_mpi too. */
static atomic_ulong splits, device_allocations, host_allocations;

int MPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm *newcomm)
{
    ++splits;
    return PMPI_Comm_split(comm, color, key, newcomm);
}

kiln_status kiln_buf_create(kiln_ctx *ctx, size_t bytes, kiln_buf **out)
{
    static kiln_status (*next)(kiln_ctx *, size_t, kiln_buf **);
    if (next == NULL)
        *(void **)&next = dlsym(RTLD_NEXT, "kiln_buf_create");
    ++device_allocations;
    return next(ctx, bytes, out);
}

kiln_status kiln_host_alloc(kiln_ctx *ctx, size_t bytes, void **ptr)
{
    static kiln_status (*next)(kiln_ctx *, size_t, void **);
    if (next == NULL)
        *(void **)&next = dlsym(RTLD_NEXT, "kiln_host_alloc");
    ++host_allocations;
    return next(ctx, bytes, ptr);
}

/* (m, n, k) in units of the grid's sides (m of its rows, n of its columns, k of both):
 * growing, shrinking back to the smallest (k = 1 on one rank), an empty C and k = 0 in
 * between, so that the kept memory grows, is reused larger than a call needs, and is
 * left alone by calls that move no panel. */
static const size_t shape_units[][3] = {
    {1, 1, 1}, {3, 2, 5}, {9, 8, 7}, {2, 1, 1}, {0, 3, 2}, {5, 4, 0},
    {1, 6, 12}, {4, 4, 3}, {1, 1, 1}, {10, 9, 13},
};

static void shapes_check(kiln_ctx *ctx, grid g)
{
    enum { SHAPES = sizeof(shape_units) / sizeof(shape_units[0]) };
    for (size_t i = 0; i < SHAPES; ++i) {
        size_t mark = scratch_mark();
        sgemm_case c = {.m = 2 * shape_units[i][0] * (size_t)g.rows,
                        .n = 2 * shape_units[i][1] * (size_t)g.cols,
                        .k = shape_units[i][2] * grid_lcm(g), .alpha = i % 2 ? -0.5f : 1.5f,
                        .beta = i % 3 ? 0.25f : 0.0f, .fill_c = i % 3 ? FILL_RANDOM : FILL_NAN};
        summa_check(ctx, MPI_COMM_WORLD, g, c);
        scratch_release_to(mark);
    }
}

/* Twice over every grid of the world's size: the second round finds every grid's
 * communicators and the largest call's memory kept. */
static void sgemm_repeated_with_shapes_growing_and_shrinking_stays_exact(void **state)
{
    for (int round = 0; round < 2; ++round)
        for_each_grid(*state, shapes_check);
}

static void duplicate_check(kiln_ctx *ctx, grid g)
{
    for (int round = 0; round < 3; ++round) {
        MPI_Comm comm = MPI_COMM_NULL;
        assert_int_equal(MPI_Comm_dup(MPI_COMM_WORLD, &comm), MPI_SUCCESS);
        summa_check(ctx, comm, g, shape_for(g, 1.0f, 0.5f));
        summa_check(ctx, comm, g, shape_for(g, -2.0f, 0.0f));
        assert_int_equal(MPI_Comm_free(&comm), MPI_SUCCESS);
    }
}

/* Each duplicate has grids of its own, freed with it: the next duplicate (which MPI may
 * give the same handle) splits its own. */
static void sgemm_on_communicators_freed_and_made_again_stays_exact(void **state)
{
    for_each_grid(*state, duplicate_check);
}

static void fresh_context_check(kiln_ctx *ctx, grid g)
{
    (void)ctx;
    for (int round = 0; round < 3; ++round) {
        size_t mark = scratch_mark();
        kiln_ctx *fresh = scratch_context(NULL);
        summa_check(fresh, MPI_COMM_WORLD, g, shape_for(g, 0.75f, 1.0f));
        scratch_release_to(mark); /* destroys fresh, and the memory kept with it */
    }
}

/* Memory kept with a context goes with it: the next context (which may get the same
 * address) starts with none. */
static void sgemm_on_contexts_destroyed_and_made_again_stays_exact(void **state)
{
    for_each_grid(*state, fresh_context_check);
}

typedef struct {
    unsigned long splits, device, host;
} counts;

/* What one kiln_mpi_sgemm of case c with the blocks of s split and allocated. */
static counts call_counted(kiln_ctx *ctx, MPI_Comm comm, grid g, sgemm_case c,
                           const summa_blocks *s)
{
    counts before = {splits, device_allocations, host_allocations};
    assert_ok(ctx, kiln_mpi_sgemm(ctx, comm, g.rows, g.cols, c.m, c.n, c.k, c.alpha,
                                  s->a_block, s->b_block, c.beta, s->c_block));
    return (counts){splits - before.splits, device_allocations - before.device,
                    host_allocations - before.host};
}

/* On a fresh context and communicator: the first call splits the row and column
 * communicators and allocates; calls again, of that shape or smaller, do neither; a
 * larger one allocates again but splits nothing. */
static void sgemm_called_again_splits_and_allocates_nothing_until_a_shape_grows(void **state)
{
    (void)state;
    kiln_ctx *ctx = scratch_context(NULL);
    MPI_Comm comm = MPI_COMM_NULL;
    assert_int_equal(MPI_Comm_dup(MPI_COMM_WORLD, &comm), MPI_SUCCESS);
    grid g = {1, world_size()};
    sgemm_case small = {.m = 2, .n = 2 * (size_t)g.cols, .k = grid_lcm(g), .alpha = 1.0f};
    sgemm_case middle = shape_for(g, 1.0f, 0.0f), large = middle;
    large.m *= 2;
    large.k *= 2;
    summa_blocks small_blocks = summa_blocks_make(ctx, world_rank(), g, small);
    summa_blocks middle_blocks = summa_blocks_make(ctx, world_rank(), g, middle);
    summa_blocks large_blocks = summa_blocks_make(ctx, world_rank(), g, large);
    counts first = call_counted(ctx, comm, g, middle, &middle_blocks);
    assert_int_equal(first.splits, 2);
    assert_true(first.device > 0 && first.host > 0);
    for (int round = 0; round < 3; ++round) {
        counts again = call_counted(ctx, comm, g, middle, &middle_blocks);
        counts smaller = call_counted(ctx, comm, g, small, &small_blocks);
        assert_int_equal(again.splits + again.device + again.host, 0);
        assert_int_equal(smaller.splits + smaller.device + smaller.host, 0);
    }
    counts grown = call_counted(ctx, comm, g, large, &large_blocks);
    assert_int_equal(grown.splits, 0);
    assert_true(grown.device > 0 && grown.host > 0);
    assert_int_equal(MPI_Comm_free(&comm), MPI_SUCCESS);
}

/* MPI_Init_thread gave MPI_THREAD_MULTIPLE: calls may come from several threads. */
static bool threads_allowed;

/* One thread's calls: C = α·A·B (β = 0, so every call leaves the same C) on its own
 * duplicate of MPI_COMM_WORLD, on the context both threads share. */
typedef struct {
    kiln_ctx *ctx;
    MPI_Comm comm;
    grid g;
    sgemm_case c;
    summa_blocks blocks;
    kiln_status status;
} thread_calls;

static void *calls_run(void *argument)
{
    thread_calls *t = argument;
    for (int i = 0; i < 4 && t->status == KILN_OK; ++i)
        t->status = kiln_mpi_sgemm(t->ctx, t->comm, t->g.rows, t->g.cols, t->c.m, t->c.n,
                                   t->c.k, t->c.alpha, t->blocks.a_block, t->blocks.b_block,
                                   t->c.beta, t->blocks.c_block);
    return NULL;
}

/* Two threads call at once on one context (on two communicators, as MPI asks): the one
 * that finds the kept memory taken uses its own, and neither waits for the other, which
 * could deadlock across ranks. */
static void sgemm_from_two_threads_on_one_context_stays_exact(void **state)
{
    if (!threads_allowed)
        skip(); /* MPI gave less than MPI_THREAD_MULTIPLE */
    kiln_ctx *ctx = *state;
    grid g = {1, world_size()};
    thread_calls calls[2];
    for (int i = 0; i < 2; ++i) {
        calls[i] = (thread_calls){.ctx = ctx, .g = g, .c = shape_for(g, i ? 2.0f : 1.0f, 0)};
        calls[i].c.m *= (size_t)(i + 1);
        calls[i].blocks = summa_blocks_make(ctx, world_rank(), g, calls[i].c);
        assert_int_equal(MPI_Comm_dup(MPI_COMM_WORLD, &calls[i].comm), MPI_SUCCESS);
    }
    pthread_t threads[2];
    for (int i = 0; i < 2; ++i)
        assert_int_equal(pthread_create(&threads[i], NULL, calls_run, &calls[i]), 0);
    for (int i = 0; i < 2; ++i)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    for (int i = 0; i < 2; ++i) {
        assert_int_equal(calls[i].status, KILN_OK);
        summa_verify(&calls[i].blocks, calls[i].c);
        assert_int_equal(MPI_Comm_free(&calls[i].comm), MPI_SUCCESS);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(sgemm_called_again_splits_and_allocates_nothing_until_a_shape_grows),
        KILN_TEST(sgemm_repeated_with_shapes_growing_and_shrinking_stays_exact),
        KILN_TEST(sgemm_on_communicators_freed_and_made_again_stays_exact),
        KILN_TEST(sgemm_on_contexts_destroyed_and_made_again_stays_exact),
        KILN_TEST(sgemm_from_two_threads_on_one_context_stays_exact),
    };
    int provided = MPI_THREAD_SINGLE;
    if (MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
        return 1;
    threads_allowed = provided == MPI_THREAD_MULTIPLE;
    return mpi_tests_end(cmocka_run_group_tests(tests, mpi_context_open, context_close));
}
