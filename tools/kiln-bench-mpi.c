/*
 * kiln-bench-mpi: how kiln_mpi_sgemm scales with ranks. Run it as mpirun -np R
 * kiln-bench-mpi for R = 1, 2, 4, ...: for each size n it times C = A·B (n×n by n×n) on
 * the most square grid of the R ranks, and apart from it each rank's share of the
 * arithmetic alone (kiln_sgemm of its block of C over the whole k), so that the rest,
 * staging through the host and MPI, shows as the difference. Each time is the slowest
 * rank's best of --runs, after a warm-up run. A and B hold ones, so every element of C is
 * n: each rank checks its first. Rank 0 prints one row per size.
 *
 * A tool for kiln's developers, built with the MPI part and not installed.
 */
#include <kiln/kiln_mpi.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { SIZES_MAX = 16 };

typedef struct {
    size_t sizes[SIZES_MAX], size_count, runs;
} options;

/* One size's buffers on this rank: its blocks, and the operands of its share alone. */
typedef struct {
    kiln_ctx *ctx;
    int grid_rows, grid_cols;
    size_t n, mb, nb;
    kiln_buf *a, *b, *c, *a_share, *b_share;
} bench;

/* Ends the job: a rank that stops alone would leave the others waiting in a collective. */
static void check(const kiln_ctx *ctx, kiln_status status, const char *what)
{
    if (status == KILN_OK)
        return;
    fprintf(stderr, "kiln-bench-mpi: %s: %s: %s\n", what, kiln_status_str(status),
            kiln_last_error(ctx));
    MPI_Abort(MPI_COMM_WORLD, 1);
}

static void mpi_check(int code, const char *call)
{
    if (code == MPI_SUCCESS)
        return;
    fprintf(stderr, "kiln-bench-mpi: %s failed (%d)\n", call, code);
    MPI_Abort(MPI_COMM_WORLD, 1);
}

/* ---------------------------------------------------------------- options */

static void usage(FILE *to)
{
    fprintf(to, "usage: kiln-bench-mpi [--sizes N,N,...] [--runs N]\n"
                "Times kiln_mpi_sgemm (C = A·B, n×n) over the ranks of mpirun -np R, and\n"
                "each rank's share of the arithmetic alone; the difference is staging and MPI.\n"
                "  --sizes LIST    n of each row, rounded down to the grid (default 256,512,1024)\n"
                "  --runs N        timed runs per figure, the best kept (default 5)\n"
                "Exit status 1 when a call fails or C is wrong, 2 for a bad option.\n");
}

/* A decimal in [1, 65536] at text, ended by a comma or the string's end: the digits'
 * length, or -1. */
static int parse_size(const char *text, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long value = strtoull(text, &end, 10);
    if (errno != 0 || end == text || (*end != '\0' && *end != ',') || value == 0 ||
        value > 65536)
        return -1;
    *out = (size_t)value;
    return (int)(end - text);
}

static int parse_sizes(const char *text, options *o)
{
    o->size_count = 0;
    for (const char *at = text; o->size_count < SIZES_MAX;) {
        int used = parse_size(at, &o->sizes[o->size_count]);
        if (used < 0)
            return -1;
        ++o->size_count;
        if (at[used] == '\0')
            return 0;
        at += used + 1;
    }
    return -1;
}

/* One option and its value; false for anything unknown or bad. */
static bool parse_option(const char *option, const char *value, options *o)
{
    if (!strcmp(option, "--sizes"))
        return parse_sizes(value, o) == 0;
    if (!strcmp(option, "--runs"))
        return parse_size(value, &o->runs) == (int)strlen(value);
    return false;
}

/* -1 to go on, else main's exit status. */
static int parse_options(int argc, char **argv, options *o)
{
    int i = 1;
    while (i < argc) {
        const char *value = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--version")) {
            printf("kiln-bench-mpi %s\n", kiln_version());
            return 0;
        }
        if (!parse_option(argv[i], value, o)) {
            fprintf(stderr, "kiln-bench-mpi: bad option or value: %s %s\n", argv[i], value);
            usage(stderr);
            return 2;
        }
        i += 2;
    }
    return -1;
}

/* ---------------------------------------------------------------- one size */

static kiln_buf *ones(kiln_ctx *ctx, size_t floats)
{
    kiln_buf *buf = NULL;
    check(ctx, kiln_buf_create(ctx, floats * sizeof(float), &buf), "kiln_buf_create");
    check(ctx, kiln_buf_fill(buf, 1.0f), "kiln_buf_fill");
    return buf;
}

/* The most square grid of `ranks`: rows the largest divisor not above its square root. */
static void grid_choose(int ranks, int *rows, int *cols)
{
    *rows = 1;
    for (int r = 1; r * r <= ranks; ++r)
        if (ranks % r == 0)
            *rows = r;
    *cols = ranks / *rows;
}

static size_t gcd(size_t a, size_t b)
{
    return b == 0 ? a : gcd(b, a % b);
}

static void bench_make(bench *b, size_t n, int ranks)
{
    grid_choose(ranks, &b->grid_rows, &b->grid_cols);
    size_t rows = (size_t)b->grid_rows, cols = (size_t)b->grid_cols;
    size_t step = rows * cols / gcd(rows, cols); /* every side divides n */
    b->n = n / step * step > 0 ? n / step * step : step;
    b->mb = b->n / rows;
    b->nb = b->n / cols;
    b->a = ones(b->ctx, b->mb * (b->n / cols));
    b->b = ones(b->ctx, (b->n / rows) * b->nb);
    b->c = ones(b->ctx, b->mb * b->nb);
    b->a_share = ones(b->ctx, b->mb * b->n);
    b->b_share = ones(b->ctx, b->n * b->nb);
}

static void bench_free(bench *b)
{
    kiln_buf *buffers[] = {b->a, b->b, b->c, b->a_share, b->b_share};
    for (size_t i = 0; i < sizeof(buffers) / sizeof(buffers[0]); ++i)
        kiln_buf_destroy(buffers[i]);
}

static void run_summa(const bench *b)
{
    check(b->ctx,
          kiln_mpi_sgemm(b->ctx, MPI_COMM_WORLD, b->grid_rows, b->grid_cols, b->n, b->n, b->n,
                         1.0f, b->a, b->b, 0.0f, b->c),
          "kiln_mpi_sgemm");
}

static void run_share(const bench *b)
{
    check(b->ctx,
          kiln_sgemm(b->ctx, KILN_NO_TRANS, KILN_NO_TRANS, b->mb, b->nb, b->n, 1.0f,
                     b->a_share, b->n, b->b_share, b->nb, 0.0f, b->c, b->nb),
          "kiln_sgemm");
    check(b->ctx, kiln_finish(b->ctx), "kiln_finish");
}

/* The slowest rank's best of `runs` runs, in seconds, after one that warms up. */
static double best_time(const bench *b, void (*run)(const bench *), size_t runs)
{
    double best = 0;
    for (size_t i = 0; i <= runs; ++i) {
        mpi_check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
        double start = MPI_Wtime();
        run(b);
        double took = MPI_Wtime() - start;
        if (i > 0 && (best == 0 || took < best))
            best = took;
    }
    double slowest = 0;
    mpi_check(MPI_Allreduce(&best, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD),
              "MPI_Allreduce");
    return slowest;
}

/* True when every rank's first element of C is n. */
static bool result_right(const bench *b)
{
    float first = 0;
    check(b->ctx, kiln_buf_read(b->c, 0, &first, sizeof(first)), "kiln_buf_read");
    int right = first == (float)b->n, all = 0;
    mpi_check(MPI_Allreduce(&right, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD),
              "MPI_Allreduce");
    return all != 0;
}

/* Times one size and prints its row on rank 0; false when C is wrong. */
static bool size_run(kiln_ctx *ctx, size_t n, const options *o, int rank, int ranks)
{
    bench b = {.ctx = ctx};
    bench_make(&b, n, ranks);
    double share = best_time(&b, run_share, o->runs);
    double total = best_time(&b, run_summa, o->runs);
    bool right = result_right(&b);
    if (rank == 0)
        printf("%6d %4dx%-4d %6zu %11.3f %11.3f %11.3f %9.1f%s\n", ranks, b.grid_rows,
               b.grid_cols, b.n, total * 1e3, share * 1e3, (total - share) * 1e3,
               2.0 * (double)b.n * (double)b.n * (double)b.n / total * 1e-9,
               right ? "" : "  WRONG");
    bench_free(&b);
    return right;
}

int main(int argc, char **argv)
{
    options o = {.sizes = {256, 512, 1024}, .size_count = 3, .runs = 5};
    int parsed = parse_options(argc, argv, &o);
    if (parsed >= 0)
        return parsed;
    mpi_check(MPI_Init(&argc, &argv), "MPI_Init");
    int rank = 0, ranks = 0;
    mpi_check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    mpi_check(MPI_Comm_size(MPI_COMM_WORLD, &ranks), "MPI_Comm_size");
    kiln_ctx *ctx = NULL;
    check(NULL, kiln_mpi_ctx_create(&ctx, MPI_COMM_WORLD), "kiln_mpi_ctx_create");
    if (rank == 0)
        printf("%6s %9s %6s %11s %11s %11s %9s\n", "ranks", "grid", "n", "total ms",
               "compute ms", "staging+MPI", "GFLOP/s");
    bool right = true;
    for (size_t i = 0; i < o.size_count; ++i)
        right = size_run(ctx, o.sizes[i], &o, rank, ranks) && right;
    kiln_ctx_destroy(ctx);
    mpi_check(MPI_Finalize(), "MPI_Finalize");
    return right ? 0 : 1;
}
