/*
 * The device's peaks, measured in the same run with kiln-bench's own kernels built on
 * kiln's context (through the interop accessors): a float4 copy over a large buffer for
 * bandwidth, and chains of independent multiply-adds in registers for FP32 FLOP/s.
 * Each is the best of a few trials of back-to-back launches.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>

enum { TRIALS = 5, LAUNCHES_PER_TRIAL = 10, LOCAL_SIZE = 256, CHAINS = 8, ITERATIONS = 1024 };

static const char probe_source[] =
    "__kernel void copy4(__global const float4 *restrict src,\n"
    "                    __global float4 *restrict dst, ulong n)\n"
    "{\n"
    "    size_t i = get_global_id(0);\n"
    "    if (i < n)\n"
    "        dst[i] = src[i];\n"
    "}\n"
    "\n"
    "/* 8 independent chains hide the latency of each multiply-add; x and y come from\n"
    " * the host so nothing folds. Unrolled by 4 so loop overhead is small. A CPU device\n"
    " * does not vectorise across work-items around a loop, so each chain is a vector of\n"
    " * the device's native width (1 on GPUs). */\n"
    "#ifndef WIDTH\n"
    "#define WIDTH 1\n"
    "#endif\n"
    "#define JOIN(a, b) a##b\n"
    "#define VECTOR(w) JOIN(float, w)\n"
    "#if WIDTH == 1\n"
    "typedef float chain;\n"
    "#define SUM(v) (v)\n"
    "#else\n"
    "typedef VECTOR(WIDTH) chain;\n"
    "#define SUM(v) dot((v).s0123, (float4)(1.0f))\n"
    "#endif\n"
    "#define STEP a0 = mad(a0, x, y); a1 = mad(a1, x, y); a2 = mad(a2, x, y); \\\n"
    "             a3 = mad(a3, x, y); a4 = mad(a4, x, y); a5 = mad(a5, x, y); \\\n"
    "             a6 = mad(a6, x, y); a7 = mad(a7, x, y);\n"
    "__kernel void mad_chains(__global float *out, float x_in, float y_in, int iterations)\n"
    "{\n"
    "    chain x = (chain)(x_in), y = (chain)(y_in);\n"
    "    chain a0 = (chain)((float)get_global_id(0) * 1e-9f), a1 = a0 + 0.1f,\n"
    "          a2 = a0 + 0.2f, a3 = a0 + 0.3f, a4 = a0 + 0.4f, a5 = a0 + 0.5f,\n"
    "          a6 = a0 + 0.6f, a7 = a0 + 0.7f;\n"
    "    for (int i = 0; i < iterations; i += 4) {\n"
    "        STEP STEP STEP STEP\n"
    "    }\n"
    "    out[get_global_id(0)] = SUM(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7);\n"
    "}\n";

typedef struct {
    cl_command_queue queue;
    cl_kernel kernel;
    size_t global, local;
} probe_launch;

static bool cl_ok(cl_int err, const char *what)
{
    if (err != CL_SUCCESS)
        fprintf(stderr, "kiln-bench: peak probe: %s failed (OpenCL error %d)\n", what,
                (int)err);
    return err == CL_SUCCESS;
}

static bool probe_call(void *arg)
{
    const probe_launch *l = arg;
    return cl_ok(clEnqueueNDRangeKernel(l->queue, l->kernel, 1, NULL, &l->global, &l->local,
                                        0, NULL, NULL),
                 "clEnqueueNDRangeKernel");
}

/* The best rate (work per second) over a few trials; 0 when a launch failed. */
static double best_rate(kiln_ctx *ctx, probe_launch *launch, double work)
{
    double best = 0;
    bench_timing t;
    if (!probe_call(launch) || !bench_report(ctx, kiln_finish(ctx), "peak probe warm-up"))
        return 0;
    for (int trial = 0; trial < TRIALS; ++trial) {
        if (!bench_time_queue(ctx, probe_call, launch, LAUNCHES_PER_TRIAL, &t))
            return 0;
        if (work / t.seconds > best)
            best = work / t.seconds;
    }
    return best;
}

static void print_build_log(cl_program program, cl_device_id device)
{
    size_t size = 0;
    clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, 0, NULL, &size);
    char *log = malloc(size + 1);
    if (log && clGetProgramBuildInfo(program, device, CL_PROGRAM_BUILD_LOG, size, log,
                                     NULL) == CL_SUCCESS) {
        log[size] = '\0';
        fprintf(stderr, "%s\n", log);
    }
    free(log);
}

static bool gpu_like(const kiln_device_info *info)
{
    return info->type == KILN_DEVICE_GPU || info->type == KILN_DEVICE_ACCELERATOR;
}

/* The width of each mad chain: the device's native float vector width, 1 on GPUs. */
static unsigned chain_width(const kiln_device_info *info)
{
    unsigned width = info->native_vector_width[KILN_SCALAR_FLOAT];
    return gpu_like(info) || (width != 4 && width != 8 && width != 16) ? 1 : width;
}

static cl_program build_probes(kiln_ctx *ctx, unsigned width)
{
    const char *source = probe_source;
    cl_device_id device = kiln_ctx_device(ctx);
    char options[32];
    cl_int err;
    cl_program program = clCreateProgramWithSource(kiln_ctx_context(ctx), 1, &source, NULL,
                                                   &err);
    if (!cl_ok(err, "clCreateProgramWithSource"))
        return NULL;
    snprintf(options, sizeof(options), "-DWIDTH=%u", width);
    err = clBuildProgram(program, 1, &device, options, NULL, NULL);
    if (!cl_ok(err, "clBuildProgram")) {
        print_build_log(program, device);
        clReleaseProgram(program);
        return NULL;
    }
    return program;
}

static size_t round_up(size_t x, size_t to)
{
    return (x + to - 1) / to * to;
}

/* Bytes read plus written per second by a float4 copy between two large buffers. */
static double measure_bandwidth(kiln_ctx *ctx, cl_kernel kernel, probe_launch *launch,
                                size_t bytes)
{
    kiln_buf *src = NULL, *dst = NULL;
    double rate = 0;
    if (bench_report(ctx, kiln_buf_create(ctx, bytes, &src), "probe buffer") &&
        bench_report(ctx, kiln_buf_create(ctx, bytes, &dst), "probe buffer") &&
        bench_report(ctx, kiln_buf_fill(src, 1.0f), "kiln_buf_fill")) {
        cl_mem src_mem = kiln_buf_mem(src), dst_mem = kiln_buf_mem(dst);
        cl_ulong n = bytes / 16;
        launch->global = round_up((size_t)n, launch->local);
        if (cl_ok(clSetKernelArg(kernel, 0, sizeof(cl_mem), &src_mem), "clSetKernelArg") &&
            cl_ok(clSetKernelArg(kernel, 1, sizeof(cl_mem), &dst_mem), "clSetKernelArg") &&
            cl_ok(clSetKernelArg(kernel, 2, sizeof(n), &n), "clSetKernelArg"))
            rate = best_rate(ctx, launch, 2.0 * (double)bytes);
    }
    kiln_buf_destroy(src);
    kiln_buf_destroy(dst);
    return rate;
}

static double measure_flops(kiln_ctx *ctx, cl_kernel kernel, probe_launch *launch,
                            size_t items, unsigned width)
{
    kiln_buf *out = NULL;
    double rate = 0;
    if (bench_report(ctx, kiln_buf_create(ctx, items * sizeof(float), &out), "probe buffer")) {
        cl_mem out_mem = kiln_buf_mem(out);
        cl_float x = 0.999f, y = 0.001f;
        cl_int iterations = ITERATIONS;
        launch->global = items;
        if (cl_ok(clSetKernelArg(kernel, 0, sizeof(cl_mem), &out_mem), "clSetKernelArg") &&
            cl_ok(clSetKernelArg(kernel, 1, sizeof(x), &x), "clSetKernelArg") &&
            cl_ok(clSetKernelArg(kernel, 2, sizeof(y), &y), "clSetKernelArg") &&
            cl_ok(clSetKernelArg(kernel, 3, sizeof(iterations), &iterations), "clSetKernelArg"))
            rate = best_rate(ctx, launch, 2.0 * CHAINS * ITERATIONS * width * (double)items);
    }
    kiln_buf_destroy(out);
    return rate;
}

/* A GPU gets 1 GiB per copy buffer (far beyond its caches), a CPU device 256 MiB. */
static size_t probe_bytes(const kiln_device_info *info)
{
    unsigned long long bytes = gpu_like(info) ? 1ULL << 30 : 1ULL << 28;
    if (info->max_alloc_bytes && bytes > info->max_alloc_bytes)
        bytes = info->max_alloc_bytes;
    if (info->global_mem_bytes && bytes > info->global_mem_bytes / 4)
        bytes = info->global_mem_bytes / 4;
    return (size_t)(bytes / (16 * LOCAL_SIZE) * (16 * LOCAL_SIZE));
}

bool bench_measure_peaks(kiln_ctx *ctx, const kiln_device_info *info, bench_peaks *peaks)
{
    const unsigned width = chain_width(info);
    cl_program program = build_probes(ctx, width);
    if (!program)
        return false;
    cl_int copy_err, mad_err;
    cl_kernel copy = clCreateKernel(program, "copy4", &copy_err);
    cl_kernel mad = clCreateKernel(program, "mad_chains", &mad_err);
    size_t local = info->max_work_group_size < LOCAL_SIZE ? info->max_work_group_size
                                                          : LOCAL_SIZE;
    probe_launch launch = {kiln_ctx_queue(ctx), copy, 0, local ? local : 1};
    bool ok = cl_ok(copy_err, "clCreateKernel copy4") && cl_ok(mad_err, "clCreateKernel mad");
    if (ok) {
        peaks->probe_bytes = probe_bytes(info);
        peaks->bytes_per_second = measure_bandwidth(ctx, copy, &launch, peaks->probe_bytes);
        peaks->probe_items = round_up((size_t)(info->compute_units ? info->compute_units : 1) *
                                          (gpu_like(info) ? 8192 : 1024), launch.local);
        launch.kernel = mad;
        peaks->chain_width = width;
        peaks->flops_per_second = measure_flops(ctx, mad, &launch, peaks->probe_items, width);
        ok = peaks->bytes_per_second > 0 && peaks->flops_per_second > 0;
    }
    if (copy_err == CL_SUCCESS)
        clReleaseKernel(copy);
    if (mad_err == CL_SUCCESS)
        clReleaseKernel(mad);
    clReleaseProgram(program);
    return ok;
}
