/* interop: kiln on OpenCL objects the program made itself. The program opens its own
 * context and in-order queue, allocates its own cl_mem buffers and runs a kernel of its
 * own, squares = a·a; kiln, wrapped around the same context, queue and buffers
 * (kiln_ctx_wrap, kiln_buf_wrap), then adds b: c = a·a + b. Both kernels go to the one
 * in-order queue, so the addition sees the squares without any event. */
#include "common.h"

#include <float.h>
#include <stdio.h>

enum { MAX_IDS = 64 };

static const char *const square_source =
    "__kernel void square(__global const float *x, __global float *y)\n"
    "{\n"
    "    const size_t i = get_global_id(0);\n"
    "    y[i] = x[i] * x[i];\n"
    "}\n";

typedef struct {
    example e; /* first, so that the example's callbacks can reach the rest */
    cl_context context;
    cl_command_queue queue;
    cl_program program;
    cl_kernel square;
    cl_mem a, b, squares, c;
    kiln_buf *squares_buf;
} interop;

static bool cl_ok(cl_int err, const char *call)
{
    if (err != CL_SUCCESS)
        fprintf(stderr, "%s failed: OpenCL error %d\n", call, (int)err);
    return err == CL_SUCCESS;
}

static void interop_size(example *e)
{
    e->input_count[0] = e->input_count[1] = e->count = e->n;
    printf("interop: c = a·a + b, %zu floats, a kernel of its own then kiln_vadd\n", e->n);
}

static void square_add_on_cpu(example *e)
{
    for (size_t i = 0; i < e->n; i++)
        e->want[i] = e->in[0][i] * e->in[0][i] + e->in[1][i];
}

static bool square_add_on_device(example *e)
{
    interop *it = (interop *)e;
    const size_t global = e->n;
    return cl_ok(clEnqueueNDRangeKernel(it->queue, it->square, 1, NULL, &global, NULL, 0,
                                        NULL, NULL),
                 "clEnqueueNDRangeKernel") &&
           CHECK(e->ctx, kiln_vadd(e->ctx, it->squares_buf, e->in_buf[1], e->result, e->n));
}

/* The cl_device_id of a kiln device spec, through the platform and device indices that
 * kiln reports. */
static bool find_device(const char *spec, cl_device_id *device)
{
    size_t index;
    kiln_device_info info = {.struct_size = sizeof info};
    cl_platform_id platforms[MAX_IDS];
    cl_device_id devices[MAX_IDS];
    cl_uint platform_count = 0, device_count = 0;
    if (!CHECK(NULL, kiln_device_find(spec, &index)) ||
        !CHECK(NULL, kiln_device_get(index, &info)) ||
        !cl_ok(clGetPlatformIDs(MAX_IDS, platforms, &platform_count), "clGetPlatformIDs") ||
        info.platform_index >= platform_count ||
        !cl_ok(clGetDeviceIDs(platforms[info.platform_index], CL_DEVICE_TYPE_ALL, MAX_IDS,
                              devices, &device_count),
               "clGetDeviceIDs") ||
        info.device_index >= device_count)
        return false;
    printf("device: %s\n", info.name);
    *device = devices[info.device_index];
    return true;
}

/* The program's own OpenCL objects: context, queue, kernel and buffers. */
static bool make_opencl(interop *it, cl_device_id device)
{
    cl_int err;
    const size_t bytes = it->e.n * sizeof(float);
    it->context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (!cl_ok(err, "clCreateContext"))
        return false;
    it->queue = clCreateCommandQueue(it->context, device, 0, &err);
    if (!cl_ok(err, "clCreateCommandQueue"))
        return false;
    const char *source = square_source;
    it->program = clCreateProgramWithSource(it->context, 1, &source, NULL, &err);
    if (!cl_ok(err, "clCreateProgramWithSource") ||
        !cl_ok(clBuildProgram(it->program, 1, &device, NULL, NULL, NULL), "clBuildProgram"))
        return false;
    it->square = clCreateKernel(it->program, "square", &err);
    if (!cl_ok(err, "clCreateKernel"))
        return false;
    cl_mem *buffers[] = {&it->a, &it->b, &it->squares, &it->c};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++) {
        *buffers[i] = clCreateBuffer(it->context, CL_MEM_READ_WRITE, bytes, NULL, &err);
        if (!cl_ok(err, "clCreateBuffer"))
            return false;
    }
    return cl_ok(clSetKernelArg(it->square, 0, sizeof it->a, &it->a), "clSetKernelArg") &&
           cl_ok(clSetKernelArg(it->square, 1, sizeof it->squares, &it->squares),
                 "clSetKernelArg");
}

/* kiln's context and buffers over the program's objects; kiln retains them. */
static bool wrap_in_kiln(interop *it, cl_device_id device)
{
    example *e = &it->e;
    return CHECK(NULL, kiln_ctx_wrap(&e->ctx, it->context, device, it->queue)) &&
           CHECK(e->ctx, kiln_buf_wrap(e->ctx, it->a, &e->in_buf[0])) &&
           CHECK(e->ctx, kiln_buf_wrap(e->ctx, it->b, &e->in_buf[1])) &&
           CHECK(e->ctx, kiln_buf_wrap(e->ctx, it->squares, &it->squares_buf)) &&
           CHECK(e->ctx, kiln_buf_wrap(e->ctx, it->c, &e->result));
}

/* kiln's references first (its wraps retained the objects), then the program's own. */
static void release(interop *it)
{
    kiln_buf_destroy(it->squares_buf);
    example_free(&it->e);
    cl_mem buffers[] = {it->a, it->b, it->squares, it->c};
    for (size_t i = 0; i < sizeof buffers / sizeof *buffers; i++)
        if (buffers[i])
            clReleaseMemObject(buffers[i]);
    if (it->square)
        clReleaseKernel(it->square);
    if (it->program)
        clReleaseProgram(it->program);
    if (it->queue)
        clReleaseCommandQueue(it->queue);
    if (it->context)
        clReleaseContext(it->context);
}

int main(int argc, char **argv)
{
    /* Two roundings, each within half an ulp of the result's size or less. */
    interop it = {.e = {.name = "interop",
                        .summary = "c = a·a + b over N floats: a kernel of its own, then\n"
                                   "kiln_vadd, on OpenCL objects the program made itself.",
                        .size = interop_size, .cpu = square_add_on_cpu,
                        .compute = square_add_on_device, .inputs = 2,
                        .tolerance = 2 * FLT_EPSILON, .n = 1 << 22}};
    int status = example_start(&it.e, argc, argv);
    cl_device_id device;
    if (status < 0)
        status = find_device(it.e.device, &device) && make_opencl(&it, device) &&
                         wrap_in_kiln(&it, device)
                     ? example_run(&it.e)
                     : 1;
    release(&it);
    return status;
}
