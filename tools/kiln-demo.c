/* kiln-demo: lists the OpenCL devices, opens one, runs every kiln operation on it,
 * checks each result against a reference computed in double on the CPU, and times it,
 * with and without the transfers, against the same operation as a float32 C loop on one
 * core (and OpenBLAS's sgemm for the GEMMs, when built with it). An ordinary client of
 * the public header. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <kiln/kiln.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef KILN_DEMO_CBLAS
#include <cblas.h>
#endif

/* MAX_MATRIX_SIZE keeps dense's (2·s)² doubles within size_t on 32-bit hosts too. */
enum { MAX_INPUTS = 3, MAX_CL_IDS = 64, MAX_MATRIX_SIZE = 4096 };

typedef struct {
    const char *device; /* NULL: kiln's default ($KILN_DEVICE, else the best GPU) */
    size_t vector_size;
    size_t matrix_size;
} options;

typedef struct problem problem;

/* Runs the operation of p on host arrays (the _host convenience) or device buffers. */
typedef kiln_status (*host_run)(kiln_ctx *ctx, const problem *p, float *const *in,
                                float *out);
typedef kiln_status (*device_run)(kiln_ctx *ctx, const problem *p, kiln_buf *const *in,
                                  kiln_buf *out);
/* The operation on the CPU in float32, what kiln is timed against. */
typedef void (*cpu_run)(const problem *p, float *const *in, float *out);

/* One operation at one size: vectors use n; matrices are m×k times k×n. */
struct problem {
    const char *name;
    char size_label[40];
    size_t m, n, k;
    size_t input_count;
    size_t input_size[MAX_INPUTS]; /* floats */
    size_t output_size;
    float input_scale; /* inputs are uniform in [-scale, scale] */
    double tolerance;  /* of the largest absolute error */
    void (*reference)(const problem *p, float *const *in, double *out);
    cpu_run run_loop; /* one thread */
    cpu_run run_blas; /* OpenBLAS, its own threads; NULL: none */
    host_run run_host;
    device_run run_device;
};

/* Host arrays and device buffers of one problem. */
typedef struct {
    float *in[MAX_INPUTS];
    float *out;
    double *ref;
    kiln_buf *in_buf[MAX_INPUTS];
    kiln_buf *out_buf;
} workspace;

typedef struct {
    double loop_seconds, blas_seconds, host_seconds, device_seconds;
    double host_error, device_error;
} measurement;

/* ---------------------------------------------------------------- helpers */

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Prints what failed and why; false when status is not KILN_OK. */
static bool kiln_succeeded(const kiln_ctx *ctx, kiln_status status, const char *call,
                           const char *op)
{
    if (status == KILN_OK)
        return true;
    fprintf(stderr, "kiln-demo: %s%s%s failed: %s\n    %s\n", op ? op : "", op ? ": " : "",
            call, kiln_status_str(status), kiln_last_error(ctx));
    return false;
}

/* The same for an operation's own call: kiln_<name><suffix>. */
static bool op_succeeded(kiln_ctx *ctx, kiln_status status, const problem *p,
                         const char *suffix)
{
    char call[64];
    snprintf(call, sizeof call, "kiln_%s%s", p->name, suffix);
    return kiln_succeeded(ctx, status, call, p->name);
}

static double sigmoid(double v)
{
    return 1.0 / (1.0 + exp(-v));
}

static float sigmoid_float(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* Deterministic uniform floats in [-scale, scale] (xorshift64). */
static void fill_random(float *v, size_t count, float scale, uint64_t seed)
{
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < count; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        v[i] = scale * (float)((double)(s >> 11) * 0x1p-52 - 1.0);
    }
}

/* Largest |got - want|; a NaN anywhere makes it infinite so that it cannot pass. */
static double max_abs_error(const float *got, const double *want, size_t count)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (isnan(e))
            return INFINITY;
        if (e > worst)
            worst = e;
    }
    return worst;
}

/* "1.5 GiB", "512 MiB", "64 KiB". */
static const char *format_bytes(unsigned long long bytes, char *text, size_t size)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof units / sizeof *units) {
        v /= 1024;
        u++;
    }
    snprintf(text, size, v < 10 && u > 0 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return text;
}

/* ---------------------------------------------------------------- references */

/* c = a·b, a m×k, b k×n, row-major, in i-k-j order for the cache: in double for the
 * reference, in float for the C loop kiln is timed against. */
#define DEFINE_MATMUL(name, real)                                                         \
    static void name(size_t m, size_t n, size_t k, const float *a, const float *b,        \
                     real *c)                                                             \
    {                                                                                     \
        for (size_t i = 0; i < m; i++) {                                                  \
            real *row = c + i * n;                                                        \
            for (size_t j = 0; j < n; j++)                                                \
                row[j] = 0;                                                               \
            for (size_t l = 0; l < k; l++) {                                              \
                const real a_il = a[i * k + l];                                           \
                const float *b_row = b + l * n;                                           \
                for (size_t j = 0; j < n; j++)                                            \
                    row[j] += a_il * b_row[j];                                            \
            }                                                                             \
        }                                                                                 \
    }
DEFINE_MATMUL(matmul_double, double)
DEFINE_MATMUL(matmul_float, float)

static void reference_vadd(const problem *p, float *const *in, double *out)
{
    for (size_t i = 0; i < p->n; i++)
        out[i] = (double)in[0][i] + in[1][i];
}

static void reference_sigmoid(const problem *p, float *const *in, double *out)
{
    for (size_t i = 0; i < p->n; i++)
        out[i] = sigmoid(in[0][i]);
}

static void reference_matmul(const problem *p, float *const *in, double *out)
{
    matmul_double(p->m, p->n, p->k, in[0], in[1], out);
}

/* y = σ(W·x + bias): W is m×k, x k×n, bias m. */
static void reference_dense(const problem *p, float *const *in, double *out)
{
    matmul_double(p->m, p->n, p->k, in[0], in[1], out);
    for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++)
            out[i * p->n + j] = sigmoid(out[i * p->n + j] + in[2][i]);
}

/* ---------------------------------------------------------------- CPU baselines */

static void loop_vadd(const problem *p, float *const *in, float *out)
{
    for (size_t i = 0; i < p->n; i++)
        out[i] = in[0][i] + in[1][i];
}

static void loop_sigmoid(const problem *p, float *const *in, float *out)
{
    for (size_t i = 0; i < p->n; i++)
        out[i] = sigmoid_float(in[0][i]);
}

static void loop_matmul(const problem *p, float *const *in, float *out)
{
    matmul_float(p->m, p->n, p->k, in[0], in[1], out);
}

/* dense's epilogue on the CPU: y = σ(y + bias), bias per row. */
static void bias_sigmoid_float(const problem *p, const float *bias, float *y)
{
    for (size_t i = 0; i < p->m; i++)
        for (size_t j = 0; j < p->n; j++)
            y[i * p->n + j] = sigmoid_float(y[i * p->n + j] + bias[i]);
}

static void loop_dense(const problem *p, float *const *in, float *out)
{
    loop_matmul(p, in, out);
    bias_sigmoid_float(p, in[2], out);
}

#ifdef KILN_DEMO_CBLAS
static void blas_matmul(const problem *p, float *const *in, float *out)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->m, (int)p->n, (int)p->k,
                1.0f, in[0], (int)p->k, in[1], (int)p->n, 0.0f, out, (int)p->n);
}

static void blas_dense(const problem *p, float *const *in, float *out)
{
    blas_matmul(p, in, out);
    bias_sigmoid_float(p, in[2], out);
}
#define BLAS_RUN(run) run
#else
#define BLAS_RUN(run) NULL
#endif

/* ---------------------------------------------------------------- kiln calls */

static kiln_status host_vadd(kiln_ctx *ctx, const problem *p, float *const *in, float *out)
{
    return kiln_vadd_host(ctx, in[0], in[1], out, p->n);
}

static kiln_status device_vadd(kiln_ctx *ctx, const problem *p, kiln_buf *const *in,
                               kiln_buf *out)
{
    return kiln_vadd(ctx, in[0], in[1], out, p->n);
}

static kiln_status host_sigmoid(kiln_ctx *ctx, const problem *p, float *const *in,
                                float *out)
{
    return kiln_sigmoid_host(ctx, in[0], out, p->n);
}

static kiln_status device_sigmoid(kiln_ctx *ctx, const problem *p, kiln_buf *const *in,
                                  kiln_buf *out)
{
    return kiln_sigmoid(ctx, in[0], out, p->n);
}

static kiln_status host_matmul(kiln_ctx *ctx, const problem *p, float *const *in,
                               float *out)
{
    return kiln_matmul_host(ctx, p->m, p->n, p->k, in[0], in[1], out);
}

static kiln_status device_matmul(kiln_ctx *ctx, const problem *p, kiln_buf *const *in,
                                 kiln_buf *out)
{
    return kiln_matmul(ctx, p->m, p->n, p->k, in[0], in[1], out);
}

static kiln_status host_dense(kiln_ctx *ctx, const problem *p, float *const *in, float *out)
{
    return kiln_dense_host(ctx, in[0], in[1], in[2], out, p->m, p->k, p->n,
                           KILN_ACT_SIGMOID);
}

static kiln_status device_dense(kiln_ctx *ctx, const problem *p, kiln_buf *const *in,
                                kiln_buf *out)
{
    return kiln_dense(ctx, in[0], in[1], in[2], out, p->m, p->k, p->n, KILN_ACT_SIGMOID);
}

/* ---------------------------------------------------------------- problems */

/* fp32 accumulation of k products of inputs in [-1, 1], in any order, with or without
 * FMA, stays well inside 2·k·ε; what a wrong index or a lost tile gives is far above. */
static double gemm_tolerance(size_t k)
{
    return 2.0 * (double)k * FLT_EPSILON;
}

static problem problem_vadd(size_t n)
{
    problem p = {.name = "vadd", .n = n, .input_count = 2, .input_size = {n, n},
                 .output_size = n, .input_scale = 1, .tolerance = 2 * FLT_EPSILON,
                 .reference = reference_vadd, .run_loop = loop_vadd, .run_host = host_vadd,
                 .run_device = device_vadd};
    snprintf(p.size_label, sizeof p.size_label, "n=%zu", n);
    return p;
}

/* Inputs in [-8, 8] cover the curve from its tails to its middle; the header promises
 * 1e-6 of the exact value. */
static problem problem_sigmoid(size_t n)
{
    problem p = {.name = "sigmoid", .n = n, .input_count = 1, .input_size = {n},
                 .output_size = n, .input_scale = 8, .tolerance = 1e-6,
                 .reference = reference_sigmoid, .run_loop = loop_sigmoid,
                 .run_host = host_sigmoid,
                 .run_device = device_sigmoid};
    snprintf(p.size_label, sizeof p.size_label, "n=%zu", n);
    return p;
}

static problem problem_matmul(size_t s)
{
    problem p = {.name = "matmul", .m = s, .n = s, .k = s, .input_count = 2,
                 .input_size = {s * s, s * s}, .output_size = s * s, .input_scale = 1,
                 .tolerance = gemm_tolerance(s), .reference = reference_matmul,
                 .run_loop = loop_matmul, .run_blas = BLAS_RUN(blas_matmul),
                 .run_host = host_matmul, .run_device = device_matmul};
    snprintf(p.size_label, sizeof p.size_label, "%zux%zu * %zux%zu", s, s, s, s);
    return p;
}

/* out×in weights, batch samples, sigmoid, with bias; σ' ≤ 1/4 only shrinks the error. */
static problem problem_dense(size_t out, size_t in, size_t batch)
{
    problem p = {.name = "dense", .m = out, .n = batch, .k = in, .input_count = 3,
                 .input_size = {out * in, in * batch, out}, .output_size = out * batch,
                 .input_scale = 1, .tolerance = gemm_tolerance(in) + 1e-6,
                 .reference = reference_dense, .run_loop = loop_dense,
                 .run_blas = BLAS_RUN(blas_dense), .run_host = host_dense,
                 .run_device = device_dense};
    snprintf(p.size_label, sizeof p.size_label, "%zux%zu, batch %zu", out, in, batch);
    return p;
}

/* ---------------------------------------------------------------- measuring */

static void workspace_destroy(workspace *w)
{
    for (size_t i = 0; i < MAX_INPUTS; i++) {
        kiln_buf_destroy(w->in_buf[i]);
        free(w->in[i]);
    }
    kiln_buf_destroy(w->out_buf);
    free(w->out);
    free(w->ref);
}

/* Random inputs on the host and their copies on the device. */
static bool workspace_create(kiln_ctx *ctx, const problem *p, workspace *w)
{
    w->out = malloc(p->output_size * sizeof *w->out);
    w->ref = malloc(p->output_size * sizeof *w->ref);
    if (!w->out || !w->ref)
        goto out_of_memory;
    for (size_t i = 0; i < p->input_count; i++) {
        const size_t bytes = p->input_size[i] * sizeof(float);
        if (!(w->in[i] = malloc(bytes)))
            goto out_of_memory;
        fill_random(w->in[i], p->input_size[i], p->input_scale, i + 1);
        if (!kiln_succeeded(ctx, kiln_buf_create(ctx, bytes, &w->in_buf[i]),
                            "kiln_buf_create", p->name) ||
            !kiln_succeeded(ctx, kiln_buf_write(w->in_buf[i], 0, w->in[i], bytes),
                            "kiln_buf_write", p->name))
            return false;
    }
    return kiln_succeeded(ctx,
                          kiln_buf_create(ctx, p->output_size * sizeof(float), &w->out_buf),
                          "kiln_buf_create", p->name);
out_of_memory:
    fprintf(stderr, "kiln-demo: %s: out of host memory\n", p->name);
    return false;
}

/* The second of two runs into w->out: the first pays for page faults and for
 * OpenBLAS starting its threads, as kiln's warm-up call pays for building its kernel. */
static double time_cpu(const problem *p, cpu_run run, workspace *w)
{
    run(p, w->in, w->out);
    const double start = now_seconds();
    run(p, w->in, w->out);
    return now_seconds() - start;
}

/* Output poisoned with NaN, the operation, and a wait: the kernel is built and the
 * buffers are touched before anything is timed. */
static bool run_on_device(kiln_ctx *ctx, const problem *p, workspace *w, double *seconds)
{
    if (!kiln_succeeded(ctx, kiln_buf_fill(w->out_buf, NAN), "kiln_buf_fill", p->name) ||
        !kiln_succeeded(ctx, kiln_finish(ctx), "kiln_finish", p->name))
        return false;
    const double start = now_seconds();
    if (!op_succeeded(ctx, p->run_device(ctx, p, w->in_buf, w->out_buf), p, "") ||
        !kiln_succeeded(ctx, kiln_finish(ctx), "kiln_finish", p->name))
        return false;
    *seconds = now_seconds() - start;
    return true;
}

static bool time_host(kiln_ctx *ctx, const problem *p, workspace *w, measurement *m)
{
    for (size_t i = 0; i < p->output_size; i++)
        w->out[i] = NAN;
    const double start = now_seconds();
    if (!op_succeeded(ctx, p->run_host(ctx, p, w->in, w->out), p, "_host"))
        return false;
    m->host_seconds = now_seconds() - start;
    m->host_error = max_abs_error(w->out, w->ref, p->output_size);
    return true;
}

static bool time_device(kiln_ctx *ctx, const problem *p, workspace *w, measurement *m)
{
    double warm_up;
    if (!run_on_device(ctx, p, w, &warm_up) || !run_on_device(ctx, p, w, &m->device_seconds))
        return false;
    const size_t bytes = p->output_size * sizeof(float);
    if (!kiln_succeeded(ctx, kiln_buf_read(w->out_buf, 0, w->out, bytes), "kiln_buf_read",
                        p->name))
        return false;
    m->device_error = max_abs_error(w->out, w->ref, p->output_size);
    return true;
}

static bool measure(kiln_ctx *ctx, const problem *p, measurement *m)
{
    workspace w = {0};
    bool ok = workspace_create(ctx, p, &w);
    if (ok) {
        p->reference(p, w.in, w.ref);
        m->loop_seconds = time_cpu(p, p->run_loop, &w);
        m->blas_seconds = p->run_blas ? time_cpu(p, p->run_blas, &w) : 0;
        ok = time_device(ctx, p, &w, m) && time_host(ctx, p, &w, m);
    }
    workspace_destroy(&w);
    return ok;
}

/* ---------------------------------------------------------------- printing */

static const char *type_name(kiln_device_type type)
{
    switch (type) {
    case KILN_DEVICE_CPU: return "cpu";
    case KILN_DEVICE_GPU: return "gpu";
    case KILN_DEVICE_ACCELERATOR: return "accel";
    default: return "other";
    }
}

static void print_device_header(void)
{
    printf("%5s  %-5s  %-5s  %6s  %4s  %10s  %s\n", "index", "P:D", "type", "max wg", "CUs",
           "global mem", "name");
}

static void print_device_row(size_t index, const kiln_device_info *info)
{
    char pd[24], memory[16];
    snprintf(pd, sizeof pd, "%zu:%zu", info->platform_index, info->device_index);
    printf("%5zu  %-5s  %-5s  %6zu  %4u  %10s  %s\n", index, pd, type_name(info->type),
           info->max_work_group_size, info->compute_units,
           format_bytes(info->global_mem_bytes, memory, sizeof memory), info->name);
}

static bool device_info(size_t index, kiln_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->struct_size = sizeof *info;
    return kiln_succeeded(NULL, kiln_device_get(index, info), "kiln_device_get", NULL);
}

static bool list_devices(void)
{
    size_t count = 0;
    if (!kiln_succeeded(NULL, kiln_device_count(&count), "kiln_device_count", NULL))
        return false;
    printf("OpenCL devices: %zu\n", count);
    if (count > 0)
        print_device_header();
    for (size_t i = 0; i < count; i++) {
        kiln_device_info info;
        if (!device_info(i, &info))
            return false;
        print_device_row(i, &info);
    }
    return true;
}

/* The "P:D" of an OpenCL device, by walking the platforms as kiln numbers them. */
static bool find_platform_device(cl_device_id id, size_t *platform, size_t *device)
{
    cl_platform_id platforms[MAX_CL_IDS];
    cl_uint platform_count = 0;
    if (clGetPlatformIDs(MAX_CL_IDS, platforms, &platform_count) != CL_SUCCESS)
        return false;
    for (cl_uint p = 0; p < platform_count && p < MAX_CL_IDS; p++) {
        cl_device_id devices[MAX_CL_IDS];
        cl_uint device_count = 0;
        if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, MAX_CL_IDS, devices,
                           &device_count) != CL_SUCCESS)
            continue;
        for (cl_uint d = 0; d < device_count && d < MAX_CL_IDS; d++) {
            if (devices[d] == id) {
                *platform = p;
                *device = d;
                return true;
            }
        }
    }
    return false;
}

/* Prints the context's device as a row of the list above. */
static void print_context_device(const kiln_ctx *ctx)
{
    size_t platform, device, count = 0;
    kiln_device_info info;
    if (find_platform_device(kiln_ctx_device(ctx), &platform, &device) &&
        kiln_device_count(&count) == KILN_OK) {
        for (size_t i = 0; i < count; i++) {
            if (device_info(i, &info) && info.platform_index == platform &&
                info.device_index == device) {
                print_device_row(i, &info);
                return;
            }
        }
    }
    printf("       (not found in the list above)\n");
}

#ifdef KILN_DEMO_CBLAS
static const bool have_blas = true;
#else
static const bool have_blas = false;
#endif

static void print_result_header(void)
{
    printf("%-8s %-22s %10s %10s %-8s %10s %10s %10s %9s", "op", "size", "max error",
           "tolerance", "check", "C loop ms", "+copy ms", "kiln ms", "speed-up");
    if (have_blas)
        printf(" %10s %9s", "BLAS ms", "vs BLAS");
    printf("\n");
}

/* How many times faster kiln ran than a CPU baseline. */
static double speed_up(double cpu_seconds, const measurement *m)
{
    return cpu_seconds / fmax(m->device_seconds, 1e-9);
}

static bool print_result(const problem *p, const measurement *m)
{
    const double error = fmax(m->host_error, m->device_error);
    const bool ok = error <= p->tolerance;
    printf("%-8s %-22s %10.2e %10.2e %-8s %10.3f %10.3f %10.3f %8.1fx", p->name,
           p->size_label, error, p->tolerance, ok ? "ok" : "MISMATCH", m->loop_seconds * 1e3,
           m->host_seconds * 1e3, m->device_seconds * 1e3, speed_up(m->loop_seconds, m));
    if (p->run_blas)
        printf(" %10.3f %8.1fx", m->blas_seconds * 1e3, speed_up(m->blas_seconds, m));
    printf("\n");
    fflush(stdout);
    return ok;
}

/* ---------------------------------------------------------------- main */

static void print_usage(FILE *to)
{
    fprintf(to,
            "usage: kiln-demo [-d SPEC] [-n N] [-s N]\n"
            "       kiln-demo --help | --version\n"
            "Lists the OpenCL devices, then runs vadd, sigmoid, matmul and dense on one,\n"
            "checks each against a double-precision CPU reference and times it.\n"
            "  -d SPEC  device: gpu, cpu, an index, P:D or part of the name\n"
            "           (default: $KILN_DEVICE, else the best GPU, else the CPU)\n"
            "  -n N     vector size of vadd and sigmoid (default 4194304)\n"
            "  -s N     matmul is N×N·N×N; dense has 2N outputs and inputs and a batch\n"
            "           of N/8 (default 512, at most 4096)\n"
            "Columns: C loop ms = the operation as a float32 C loop (-O3) on one CPU\n"
            "core; +copy ms = the kiln_*_host call, transfers and allocation included;\n"
            "kiln ms = the operation on device buffers, after a warm-up, until\n"
            "kiln_finish; speed-up = C loop over kiln ms%s.\n"
            "Exit status: 0 every check passed, 1 a check or a kiln call failed, 2 a usage\n"
            "error.\n",
            have_blas ? ";\nBLAS ms = OpenBLAS's sgemm (its own threads) for matmul and dense,\n"
                        "vs BLAS = BLAS ms over kiln ms"
                      : "");
}

/* A decimal size in [1, max]. */
static bool parse_size(const char *text, size_t max, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text ? text : "", &end, 10);
    if (!text || errno || end == text || *end || v == 0 || v > max || text[0] == '-')
        return false;
    *out = (size_t)v;
    return true;
}

/* 0: run; 1: --help or --version was answered; 2: usage error. Every other option
 * takes a value. */
static int parse_options(int argc, char **argv, options *o)
{
    for (int i = 1; i < argc; i += 2) {
        const char *arg = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            print_usage(stdout);
            return 1;
        }
        if (!strcmp(arg, "--version")) {
            printf("kiln-demo %s\n", kiln_version());
            return 1;
        }
        bool known = true, ok = false;
        if (!strcmp(arg, "-d"))
            ok = (o->device = value) != NULL;
        else if (!strcmp(arg, "-n"))
            ok = parse_size(value, SIZE_MAX / sizeof(double), &o->vector_size);
        else if (!strcmp(arg, "-s"))
            ok = parse_size(value, MAX_MATRIX_SIZE, &o->matrix_size);
        else
            known = false;
        if (!ok) {
            if (!known)
                fprintf(stderr, "kiln-demo: unknown option '%s'\n", arg);
            else
                fprintf(stderr, "kiln-demo: %s needs %s, not '%s'\n", arg,
                        arg[1] == 'd' ? "a device spec" : "a size above 0", value ? value : "");
            print_usage(stderr);
            return 2;
        }
    }
    return 0;
}

static bool run_all(kiln_ctx *ctx, const options *o)
{
    const size_t s = o->matrix_size;
    const problem problems[] = {
        problem_vadd(o->vector_size),
        problem_sigmoid(o->vector_size),
        problem_matmul(s),
        problem_dense(2 * s, 2 * s, s / 8 > 0 ? s / 8 : 1),
    };
    size_t failures = 0;
    print_result_header();
    for (size_t i = 0; i < sizeof problems / sizeof *problems; i++) {
        measurement m = {0};
        if (!measure(ctx, &problems[i], &m) || !print_result(&problems[i], &m))
            failures++;
    }
    if (failures)
        printf("%zu of %zu operations FAILED\n", failures, sizeof problems / sizeof *problems);
    else
        printf("all operations match the reference\n");
    return failures == 0;
}

int main(int argc, char **argv)
{
    options o = {.device = NULL, .vector_size = (size_t)1 << 22, .matrix_size = 512};
    const int parsed = parse_options(argc, argv, &o);
    if (parsed)
        return parsed == 1 ? 0 : 2;
    if (!list_devices())
        return 1;

    kiln_ctx *ctx = NULL;
    if (!kiln_succeeded(NULL, kiln_ctx_create(&ctx, o.device), "kiln_ctx_create", NULL))
        return 1;
    const char *env = getenv("KILN_DEVICE");
    printf("\nusing %s%s:\n", o.device ? "-d " : env ? "KILN_DEVICE=" : "the default device",
           o.device ? o.device : env ? env : "");
    print_device_header();
    print_context_device(ctx);
    printf("\n");
    const bool ok = run_all(ctx, &o);
    kiln_ctx_destroy(ctx);
    return ok ? 0 : 1;
}
