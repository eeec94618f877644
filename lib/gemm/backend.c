/* The GEMM switches of a context: the back end ($KILN_GEMM at context creation,
 * kiln_ctx_set_gemm_backend after) and the math level (kiln_ctx_set_math). kiln_sgemm
 * reads each once per call. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef KILN_HAVE_CLBLAST
static const bool clblast_built = true;
#else
static const bool clblast_built = false;

/* Never reached: without CLBlast no context can hold KILN_GEMM_CLBLAST. */
kiln_status gemm_clblast_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    (void)call;
    return fail(ctx, KILN_ERR_ARG, "kiln was built without CLBlast");
}

void gemm_clblast_release(kiln_ctx *ctx)
{
    (void)ctx;
}
#endif

/* Why backend cannot be used here, or NULL when it can. */
static const char *backend_refusal(int backend)
{
    if (backend < KILN_GEMM_AUTO || backend > KILN_GEMM_CLBLAST)
        return "is not a kiln_gemm_backend";
    if (backend == KILN_GEMM_CLBLAST && !clblast_built)
        return "needs CLBlast, which this kiln was built without (configure with "
               "-Dclblast=enabled where libclblast-dev is installed)";
    return NULL;
}

kiln_gemm_backend gemm_backend_from_env(void)
{
    const char *value = getenv("KILN_GEMM");
    if (value == NULL || *value == '\0')
        return KILN_GEMM_AUTO;
    int backend = strcmp(value, "clblast") == 0    ? KILN_GEMM_CLBLAST
                  : strcmp(value, "portable") == 0 ? KILN_GEMM_PORTABLE
                  : strcmp(value, "auto") == 0     ? KILN_GEMM_AUTO
                                                   : -1;
    const char *refusal = backend_refusal(backend);
    if (refusal == NULL)
        return (kiln_gemm_backend)backend;
    fprintf(stderr, "kiln: ignoring KILN_GEMM=%s: %s\n", value,
            backend < 0 ? "expected clblast, portable or auto" : refusal);
    return KILN_GEMM_AUTO;
}

KILN_API kiln_status kiln_ctx_set_gemm_backend(kiln_ctx *ctx, kiln_gemm_backend backend)
{
    CHECK(check_ctx(ctx));
    const char *refusal = backend_refusal((int)backend);
    if (refusal != NULL)
        return fail(ctx, KILN_ERR_ARG, "backend %d %s", (int)backend, refusal);
    atomic_store(&ctx->gemm_backend, (int)backend);
    return KILN_OK;
}

KILN_API kiln_gemm_backend kiln_ctx_gemm_backend(const kiln_ctx *ctx)
{
    if (ctx == NULL)
        return KILN_GEMM_AUTO;
    return (kiln_gemm_backend)atomic_load(&ctx->gemm_backend);
}

KILN_API kiln_status kiln_ctx_set_math(kiln_ctx *ctx, kiln_math math)
{
    CHECK(check_ctx(ctx));
    CHECK(check_math(ctx, math));
    atomic_store(&ctx->math, (int)math);
    return KILN_OK;
}

KILN_API kiln_math kiln_ctx_math(const kiln_ctx *ctx)
{
    if (ctx == NULL)
        return KILN_MATH_STRICT;
    return (kiln_math)atomic_load(&ctx->math);
}
