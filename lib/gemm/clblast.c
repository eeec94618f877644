/* The CLBlast GEMM back end: CLBlastSgemm on kiln's buffers and queue. Built only where
 * meson found CLBlast. */
#include "internal.h"

#include <clblast_c.h>

/* CLBlast's own statuses (its OpenCL ones are named by cl_error_name). */
static const struct {
    CLBlastStatusCode code;
    const char *name;
} clblast_status_names[] = {
    {CLBlastNotImplemented, "CLBlastNotImplemented"},
    {CLBlastInvalidMatrixA, "CLBlastInvalidMatrixA"},
    {CLBlastInvalidMatrixB, "CLBlastInvalidMatrixB"},
    {CLBlastInvalidMatrixC, "CLBlastInvalidMatrixC"},
    {CLBlastInvalidDimension, "CLBlastInvalidDimension"},
    {CLBlastInvalidLeadDimA, "CLBlastInvalidLeadDimA"},
    {CLBlastInvalidLeadDimB, "CLBlastInvalidLeadDimB"},
    {CLBlastInvalidLeadDimC, "CLBlastInvalidLeadDimC"},
    {CLBlastInsufficientMemoryA, "CLBlastInsufficientMemoryA"},
    {CLBlastInsufficientMemoryB, "CLBlastInsufficientMemoryB"},
    {CLBlastInsufficientMemoryC, "CLBlastInsufficientMemoryC"},
    {CLBlastInsufficientMemoryTemp, "CLBlastInsufficientMemoryTemp"},
    {CLBlastInvalidLocalMemUsage, "CLBlastInvalidLocalMemUsage"},
    {CLBlastDatabaseError, "CLBlastDatabaseError"},
    {CLBlastUnknownError, "CLBlastUnknownError"},
    {CLBlastUnexpectedError, "CLBlastUnexpectedError"},
};

static const char *clblast_status_name(CLBlastStatusCode status)
{
    size_t count = sizeof clblast_status_names / sizeof clblast_status_names[0];
    for (size_t i = 0; i < count; ++i)
        if (clblast_status_names[i].code == status)
            return clblast_status_names[i].name;
    /* OpenCL's own codes are above -1000, CLBlast's below. */
    return status > -1000 ? cl_error_name((cl_int)status) : "an unknown CLBlast status";
}

/* The kiln status of a failed CLBlast call: its argument statuses (-1022 .. -1007)
 * mean a check kiln should have made, memory and build failures keep their kind. */
static kiln_status clblast_status_kind(CLBlastStatusCode status)
{
    if (status >= CLBlastInvalidMatrixA && status <= CLBlastInsufficientMemoryY)
        return KILN_ERR_ARG;
    switch ((int)status) {
    case CL_MEM_OBJECT_ALLOCATION_FAILURE:
    case CL_OUT_OF_HOST_MEMORY:
    case CLBlastInsufficientMemoryTemp:
        return KILN_ERR_NOMEM;
    case CL_BUILD_PROGRAM_FAILURE:
        return KILN_ERR_BUILD;
    default:
        return KILN_ERR_CL;
    }
}

static CLBlastTranspose clblast_transpose(kiln_trans trans)
{
    return trans == KILN_TRANS ? CLBlastTransposeYes : CLBlastTransposeNo;
}

/* CLBlastSgemm, or CLBlastSgemmStridedBatched for a batch, under the context's lock,
 * which orders it with kiln's own enqueues; done (NULL: none) gets its last command's
 * event. */
static CLBlastStatusCode clblast_sgemm(kiln_ctx *ctx, const struct gemm_call *call,
                                       cl_event *done)
{
    pthread_mutex_lock(&ctx->lock);
    atomic_store(&ctx->clblast_used, true);
    CLBlastStatusCode status;
    if (call->batch == 1)
        status = CLBlastSgemm(
            CLBlastLayoutRowMajor, clblast_transpose(call->ta), clblast_transpose(call->tb),
            call->m, call->n, call->k, call->alpha, call->a->mem, buf_elements_offset(call->a),
            call->lda, call->b->mem, buf_elements_offset(call->b), call->ldb, call->beta,
            call->c->mem, buf_elements_offset(call->c), call->ldc, &ctx->queue, done);
    else
        status = CLBlastSgemmStridedBatched(
            CLBlastLayoutRowMajor, clblast_transpose(call->ta), clblast_transpose(call->tb),
            call->m, call->n, call->k, call->alpha, call->a->mem, buf_elements_offset(call->a),
            call->lda, call->stride_a, call->b->mem, buf_elements_offset(call->b), call->ldb,
            call->stride_b, call->beta, call->c->mem, buf_elements_offset(call->c), call->ldc,
            call->stride_c, call->batch, &ctx->queue, done);
    pthread_mutex_unlock(&ctx->lock);
    return status;
}

kiln_status gemm_clblast_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    /* CLBlast refuses k = 0 (CLBlastInvalidDimension) and with α = 0 still reads A and
     * B, so NaN there reaches C; kiln's kernels scale C alone. (β = 0 is safe: CLBlast
     * 1.5.3 then does not read C, which tests/test_gemm_clblast.c checks.) */
    if (call->k == 0 || call->alpha == 0.0f)
        return gemm_portable_enqueue(ctx, call);
    const cl_mem roots[] = {call->a->root, call->b->root, call->c->root};
    bool track = false;
    CHECK(copies_fence(ctx, roots, 3, &track));
    cl_event done = NULL;
    CLBlastStatusCode status = clblast_sgemm(ctx, call, track ? &done : NULL);
    if (status == CLBlastSuccess)
        return copies_track(ctx, roots, 3, done);
    return fail(ctx, clblast_status_kind(status),
                "CLBlastSgemm%s (m %zu, n %zu, k %zu, batch %zu) failed: %s (%d)",
                call->batch == 1 ? "" : "StridedBatched", call->m, call->n, call->k,
                call->batch, clblast_status_name(status), (int)status);
}

void gemm_clblast_release(kiln_ctx *ctx)
{
    if (atomic_load(&ctx->clblast_used))
        CLBlastClearCache();
}
