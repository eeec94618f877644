/*
 * kiln-startup: how long a fresh process takes from main() to its first GEMM result,
 * split into the driver's part (listing devices, creating the context and queue) and
 * kiln's own part (loading or building the program, the first launch and its wait).
 * Run it twice: the first run is cold when the caches are empty (KILN_CACHE_DIR points
 * at an empty folder; CUDA_CACHE_DISABLE=1 on NVIDIA, POCL_KERNEL_CACHE=0 on PoCL),
 * the second warm. The cache counters printed say which it was.
 */
#include <kiln/kiln.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { SIDE = 64 };

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

static int report_failure(const kiln_ctx *ctx, kiln_status status, const char *what)
{
    fprintf(stderr, "kiln-startup: %s: %s: %s\n", what, kiln_status_str(status),
            kiln_last_error(ctx));
    return 1;
}

/* Uploads A and B, runs C = A·B and reads C back: the first result. */
static kiln_status first_sgemm(kiln_ctx *ctx, float *c, double *enqueued_ms)
{
    static float a[SIDE * SIDE], b[SIDE * SIDE];
    for (int i = 0; i < SIDE * SIDE; ++i) {
        a[i] = 1.0f;
        b[i] = 2.0f;
    }
    kiln_buf *da = NULL, *db = NULL, *dc = NULL;
    const size_t bytes = sizeof(a);
    kiln_status status = kiln_buf_create(ctx, bytes, &da);
    if (status == KILN_OK)
        status = kiln_buf_create(ctx, bytes, &db);
    if (status == KILN_OK)
        status = kiln_buf_create(ctx, bytes, &dc);
    if (status == KILN_OK)
        status = kiln_buf_write(da, 0, a, bytes);
    if (status == KILN_OK)
        status = kiln_buf_write(db, 0, b, bytes);
    double start = now_ms();
    if (status == KILN_OK)
        status = kiln_matmul(ctx, SIDE, SIDE, SIDE, da, db, dc);
    *enqueued_ms = now_ms() - start;
    if (status == KILN_OK)
        status = kiln_buf_read(dc, 0, c, bytes);
    kiln_buf_destroy(da);
    kiln_buf_destroy(db);
    kiln_buf_destroy(dc);
    return status;
}

static const char usage_text[] =
    "usage: kiln-startup [-d SPEC]\n"
    "       kiln-startup --help | --version\n"
    "Times a fresh process from main() to its first 64x64 GEMM result: the driver's\n"
    "part (devices, context, queue) and kiln's (program load or build, launch, wait),\n"
    "with kiln's cache counters. Run it twice, cold then warm.\n"
    "  -d SPEC  device: gpu, cpu, an index, P:D or part of its name\n"
    "           (default: $KILN_DEVICE, else the best GPU, else any)\n"
    "Exit status: 0 a right result, 1 a wrong one or a failure, 2 a usage error.\n";

enum { RUN = -1 };

/* RUN with *device set, or the exit status of answering the arguments. */
static int parse_args(int argc, char **argv, const char **device)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return fputs(usage_text, stdout) < 0 ? 1 : 0;
    if (argc == 2 && !strcmp(argv[1], "--version"))
        return printf("kiln-startup %s\n", kiln_version()) < 0 ? 1 : 0;
    if (argc == 3 && !strcmp(argv[1], "-d")) {
        *device = argv[2];
        return RUN;
    }
    if (argc == 1)
        return RUN;
    fprintf(stderr, "kiln-startup: unknown arguments\n%s", usage_text);
    return 2;
}

int main(int argc, char **argv)
{
    double start = now_ms();
    const char *device = NULL;
    int answered = parse_args(argc, argv, &device);
    if (answered != RUN)
        return answered;
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, device);
    if (status != KILN_OK)
        return report_failure(NULL, status, "kiln_ctx_create");
    double context_ms = now_ms() - start;

    static float c[SIDE * SIDE];
    double before = now_ms(), build_and_enqueue_ms;
    status = first_sgemm(ctx, c, &build_and_enqueue_ms);
    double kiln_ms = now_ms() - before;
    if (status != KILN_OK) {
        report_failure(ctx, status, "first sgemm");
        kiln_ctx_destroy(ctx);
        return 1;
    }
    int wrong = c[0] != 2.0f * SIDE || c[SIDE * SIDE - 1] != 2.0f * SIDE;

    kiln_cache_stats stats = {.struct_size = sizeof(stats)};
    kiln_cache_stats_get(&stats);
    printf("context (driver) %8.2f ms\n", context_ms);
    printf("kiln own part    %8.2f ms  (program load + enqueue %.2f ms, then transfers, "
           "run and read)\n",
           kiln_ms, build_and_enqueue_ms);
    printf("total            %8.2f ms  from main() to the first %dx%d sgemm result%s\n",
           now_ms() - start, SIDE, SIDE, wrong ? " (WRONG RESULT)" : "");
    printf("kiln cache       %llu hits, %llu misses, %llu stores\n", stats.hits,
           stats.misses, stats.stores);
    kiln_ctx_destroy(ctx);
    return wrong;
}
