/*
 * kiln-startup: how long a fresh process takes from main() to its first GEMM result,
 * split into the driver's part (listing devices, creating the context and queue) and
 * kiln's own part (loading or building the program, the first launch and its wait).
 * Run it twice: the first run is cold when the caches are empty (KILN_CACHE_DIR points
 * at an empty folder; CUDA_CACHE_DISABLE=1 on NVIDIA, POCL_KERNEL_CACHE=0 on PoCL),
 * the second warm. The cache counters printed say which it was.
 *
 * --map times a process's first kiln_map instead, from the call to kiln_finish, the
 * context already made: in two fresh processes of itself (--map-once) on one new cache
 * folder, the first finding it empty (uncached) and the second finding the expression
 * there (cached), with the drivers' own caches off in both.
 */
#define _XOPEN_SOURCE 700 /* mkdtemp, nftw, setenv */
#include <kiln/kiln.h>

#include <ftw.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { SIDE = 64, MAP_N = 1 << 20 };
static const char map_expr[] = "y = sigmoid(a + b) * c";

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

static void print_cache_counters(void)
{
    kiln_cache_stats stats = {.struct_size = sizeof(stats)};
    kiln_cache_stats_get(&stats);
    printf("%llu hits, %llu misses, %llu stores", stats.hits, stats.misses, stats.stores);
}

/* ---------------------------------------------------------------- the first kiln_map */

/* a, b and c uploaded (and the upload waited for) into bufs[1..3], y made in bufs[0]. */
static kiln_status map_buffers(kiln_ctx *ctx, kiln_buf **bufs)
{
    static float values[MAP_N];
    const size_t bytes = sizeof(values);
    kiln_status status = KILN_OK;
    for (int i = 0; i < 4 && status == KILN_OK; ++i) {
        for (size_t e = 0; e < MAP_N; ++e)
            values[e] = (float)i;
        status = kiln_buf_create(ctx, bytes, &bufs[i]);
        if (status == KILN_OK)
            status = kiln_buf_write(bufs[i], 0, values, bytes);
    }
    return status == KILN_OK ? kiln_finish(ctx) : status;
}

/* The first kiln_map of the process, timed from the call to kiln_finish; *right when
 * y's first and last elements are sigmoid(1 + 2) * 3 (sigmoid within 1e-6, times 3, and
 * roundings). */
static kiln_status first_map(kiln_ctx *ctx, double *map_ms, bool *right)
{
    kiln_buf *bufs[4] = {NULL, NULL, NULL, NULL};
    kiln_status status = map_buffers(ctx, bufs);
    const kiln_binding binds[] = {{"y", KILN_BIND_ARRAY, bufs[0], 0},
                                  {"a", KILN_BIND_ARRAY, bufs[1], 0},
                                  {"b", KILN_BIND_ARRAY, bufs[2], 0},
                                  {"c", KILN_BIND_ARRAY, bufs[3], 0}};
    double start = now_ms();
    if (status == KILN_OK)
        status = kiln_map(ctx, map_expr, 1, MAP_N, binds, 4);
    if (status == KILN_OK)
        status = kiln_finish(ctx);
    *map_ms = now_ms() - start;
    float ends[2] = {0, 0};
    if (status == KILN_OK)
        status = kiln_buf_read(bufs[0], 0, &ends[0], sizeof(float));
    if (status == KILN_OK)
        status = kiln_buf_read(bufs[0], (MAP_N - 1) * sizeof(float), &ends[1], sizeof(float));
    const float want = 3.0f / (1.0f + expf(-3.0f));
    *right = fabsf(ends[0] - want) <= 4e-6f && fabsf(ends[1] - want) <= 4e-6f;
    for (int i = 0; i < 4; ++i)
        kiln_buf_destroy(bufs[i]);
    return status;
}

/* --map-once: one line of this process's first kiln_map. */
static int map_once(const char *device)
{
    double start = now_ms();
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, device);
    if (status != KILN_OK)
        return report_failure(NULL, status, "kiln_ctx_create");
    double context_ms = now_ms() - start, map_ms;
    bool right = false;
    status = first_map(ctx, &map_ms, &right);
    if (status != KILN_OK) {
        report_failure(ctx, status, "first kiln_map");
        kiln_ctx_destroy(ctx);
        return 1;
    }
    printf("context %8.2f ms, kiln_map to kiln_finish %8.2f ms%s; kiln cache ", context_ms,
           map_ms, right ? "" : " (WRONG RESULT)");
    print_cache_counters();
    printf("\n");
    kiln_ctx_destroy(ctx);
    return right ? 0 : 1;
}

/* This program again with --map-once (and -d device), its exit status; -1 if it could
 * not run. */
static int run_map_once(const char *device)
{
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        char *args[] = {"kiln-startup", "--map-once", "-d", (char *)device, NULL};
        if (device == NULL)
            args[2] = NULL;
        execv("/proc/self/exe", args);
        perror("kiln-startup: execv /proc/self/exe");
        _exit(127);
    }
    int status;
    if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

static int remove_entry(const char *path, const struct stat *info, int flag, struct FTW *at)
{
    (void)info;
    (void)flag;
    (void)at;
    return remove(path);
}

/* --map: uncached, then cached, in fresh processes on a new cache folder. */
static int map_startup(const char *device)
{
    char folder[] = "/tmp/kiln-startup-XXXXXX";
    if (mkdtemp(folder) == NULL || setenv("KILN_CACHE_DIR", folder, 1) != 0 ||
        setenv("CUDA_CACHE_DISABLE", "1", 1) != 0 || setenv("POCL_KERNEL_CACHE", "0", 1) != 0) {
        perror("kiln-startup: a new cache folder");
        return 1;
    }
    printf("first kiln_map of a process, \"%s\" at n = 2^20, from the call to kiln_finish;\n"
           "kiln's cache in %s, CUDA_CACHE_DISABLE=1 POCL_KERNEL_CACHE=0\n",
           map_expr, folder);
    printf("uncached: ");
    int uncached = run_map_once(device);
    printf("cached:   ");
    int cached = uncached == 0 ? run_map_once(device) : -1;
    if (cached != 0)
        printf("\n");
    nftw(folder, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    return uncached == 0 && cached == 0 ? 0 : 1;
}

/* ---------------------------------------------------------------- arguments */

static const char usage_text[] =
    "usage: kiln-startup [-d SPEC] [--map | --map-once]\n"
    "       kiln-startup --help | --version\n"
    "Times a fresh process from main() to its first 64x64 GEMM result: the driver's\n"
    "part (devices, context, queue) and kiln's (program load or build, launch, wait),\n"
    "with kiln's cache counters. Run it twice, cold then warm.\n"
    "  -d SPEC     device: gpu, cpu, an index, P:D or part of its name\n"
    "              (default: $KILN_DEVICE, else the best GPU, else any)\n"
    "  --map       the first kiln_map of y = sigmoid(a + b) * c at n = 2^20 instead,\n"
    "              from the call to kiln_finish, the context made: in two fresh\n"
    "              processes on a new cache folder, uncached then cached, with\n"
    "              CUDA_CACHE_DISABLE=1 and POCL_KERNEL_CACHE=0\n"
    "  --map-once  one such process, with the caches as it finds them\n"
    "Exit status: 0 a right result, 1 a wrong one or a failure, 2 a usage error.\n";

enum { RUN = -1 };
typedef enum { MODE_SGEMM, MODE_MAP, MODE_MAP_ONCE } startup_mode;

/* RUN with *device and *mode set, or the exit status of answering the arguments. */
static int parse_args(int argc, char **argv, const char **device, startup_mode *mode)
{
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")))
        return fputs(usage_text, stdout) < 0 ? 1 : 0;
    if (argc == 2 && !strcmp(argv[1], "--version"))
        return printf("kiln-startup %s\n", kiln_version()) < 0 ? 1 : 0;
    for (int i = 1; i < argc; ++i) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc)
            *device = argv[++i];
        else if (!strcmp(argv[i], "--map") && *mode == MODE_SGEMM)
            *mode = MODE_MAP;
        else if (!strcmp(argv[i], "--map-once") && *mode == MODE_SGEMM)
            *mode = MODE_MAP_ONCE;
        else {
            fprintf(stderr, "kiln-startup: unknown arguments\n%s", usage_text);
            return 2;
        }
    }
    return RUN;
}

int main(int argc, char **argv)
{
    double start = now_ms();
    const char *device = NULL;
    startup_mode mode = MODE_SGEMM;
    int answered = parse_args(argc, argv, &device, &mode);
    if (answered != RUN)
        return answered;
    if (mode != MODE_SGEMM)
        return mode == MODE_MAP ? map_startup(device) : map_once(device);
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

    printf("context (driver) %8.2f ms\n", context_ms);
    printf("kiln own part    %8.2f ms  (program load + enqueue %.2f ms, then transfers, "
           "run and read)\n",
           kiln_ms, build_and_enqueue_ms);
    printf("total            %8.2f ms  from main() to the first %dx%d sgemm result%s\n",
           now_ms() - start, SIDE, SIDE, wrong ? " (WRONG RESULT)" : "");
    printf("kiln cache       ");
    print_cache_counters();
    printf("\n");
    kiln_ctx_destroy(ctx);
    return wrong;
}
