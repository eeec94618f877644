/* The matrix-vector GEMMs (cl/gemv.cl): a call with n == 1 is y = op(A)·x down a column
 * of C; one with m == 1 is its transpose, C^T = op(B)^T·op(A)^T, along the row of C. */
#include "internal.h"

#include <stdio.h>

/* The call as cl/gemv.cl sees it: M rows×cols, element (i, p) at matrix[i·ld + p] when
 * row_major, else at matrix[p·ld + i]; x, y and bias strided. */
struct gemv_shape {
    size_t rows, cols;
    bool row_major;
    const kiln_buf *matrix;
    size_t ld;
    const kiln_buf *x;
    size_t incx, incy, bias_inc;
    size_t matrix_stride, x_stride; /* from one product of the batch to the next */
    bool f32;                       /* M and x are float */
};

bool gemv_applies(const struct gemm_call *call)
{
    return call->n == 1 || call->m == 1;
}

static struct gemv_shape gemv_shape_of(const struct gemm_call *call)
{
    if (call->n == 1) /* M = op(A); x = op(B)'s column; y = C's column */
        return (struct gemv_shape){call->m,   call->k,
                                   call->ta == KILN_NO_TRANS, call->a,
                                   call->lda, call->b,
                                   call->tb == KILN_NO_TRANS ? call->ldb : 1,
                                   call->ldc, 1,
                                   call->stride_a, call->stride_b,
                                   call->a_type == KILN_DTYPE_F32};
    /* M = op(B)^T; x = op(A)'s row; y = C's row; the one bias value is every element's. */
    return (struct gemv_shape){call->n, call->k, call->tb == KILN_TRANS, call->b, call->ldb,
                               call->a, call->ta == KILN_TRANS ? call->lda : 1, 1, 0,
                               call->stride_b, call->stride_a, call->a_type == KILN_DTYPE_F32};
}

static bool starts_on_float4(const kiln_buf *buf)
{
    return buf->offset % (4 * sizeof(float)) == 0;
}

/* float4 rows need M's rows and a contiguous x on 16-byte boundaries in every product
 * of the batch. */
static bool gemv_vector_aligned(const struct gemv_shape *shape)
{
    return shape->f32 && shape->row_major && starts_on_float4(shape->matrix) &&
           shape->ld % 4 == 0 &&
           starts_on_float4(shape->x) && shape->incx == 1 && shape->matrix_stride % 4 == 0 &&
           shape->x_stride % 4 == 0;
}

/* The largest work-group of the plan whose built kernel accepts it (a kernel may allow
 * fewer work-items than the device, for its registers). */
static kiln_status gemv_pick(kiln_ctx *ctx, const struct gemv_shape *shape,
                             const struct gemm_call *call, struct gemv_config *config,
                             struct kernel **kernel)
{
    size_t max_threads = ctx->limits.max_work_group_size;
    for (;;) {
        *config = plan_gemv_config(&ctx->limits, max_threads, shape->row_major, shape->rows,
                                   shape->cols);
        char options[160];
        snprintf(options, sizeof(options),
                 "-DROW_MAJOR=%d -DLOCAL_X=%u -DLOCAL_Y=%u -DVECTOR_ALIGNED=%d -DACT=%d",
                 shape->row_major, config->local_x, config->local_y,
                 gemv_vector_aligned(shape), (int)call->act);
        gemm_type_options(call, options, sizeof(options));
        CHECK(kernel_get(ctx, "gemv", options, "gemv", kernel));
        size_t threads = (size_t)config->local_x * config->local_y;
        if ((*kernel)->limits.work_group_size >= threads || threads == 1)
            return KILN_OK;
        max_threads = threads - 1;
    }
}

kiln_status gemv_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    const struct gemv_shape shape = gemv_shape_of(call);
    struct gemv_config config;
    struct kernel *kernel;
    CHECK(gemv_pick(ctx, &shape, call, &config, &kernel));
    struct launch plan = plan_gemv(&config, shape.row_major, shape.rows, call->batch);

    /* Without a bias the kernel never reads it; C stands in as a valid cl_mem. */
    const kiln_buf *bias = call->bias != NULL ? call->bias : call->c;
    cl_int has_bias = call->bias != NULL;
    cl_ulong rows = shape.rows, cols = shape.cols, ld = shape.ld, incx = shape.incx,
             incy = shape.incy, bias_inc = shape.bias_inc,
             a_offset = buf_offset_of(shape.matrix, call->a_type),
             x_offset = buf_offset_of(shape.x, call->a_type),
             y_offset = buf_offset_of(call->c, call->c_type),
             bias_offset = buf_elements_offset(bias), batch = call->batch,
             matrix_stride = shape.matrix_stride, x_stride = shape.x_stride,
             y_stride = call->stride_c;
    const struct kernel_arg args[] = {
        KERNEL_ARG(rows),        KERNEL_ARG(cols),          KERNEL_ARG(call->alpha),
        KERNEL_ARG_BUF(shape.matrix), KERNEL_ARG(a_offset), KERNEL_ARG(ld),
        KERNEL_ARG_BUF(shape.x), KERNEL_ARG(x_offset),      KERNEL_ARG(incx),
        KERNEL_ARG(call->beta),  KERNEL_ARG_BUF(call->c),   KERNEL_ARG(y_offset),
        KERNEL_ARG(incy),        KERNEL_ARG_BUF(bias),      KERNEL_ARG(bias_offset),
        KERNEL_ARG(bias_inc),    KERNEL_ARG(has_bias),  KERNEL_ARG(batch),
        KERNEL_ARG(matrix_stride), KERNEL_ARG(x_stride),   KERNEL_ARG(y_stride),
    };
    return kernel_launch(ctx, kernel, &plan, args, sizeof(args) / sizeof(args[0]));
}
