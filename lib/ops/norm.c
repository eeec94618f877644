/* kiln_layernorm and kiln_rmsnorm: per row, with optional gamma and beta (cl/norm.cl). */
#include "../internal.h"

#include <math.h>

/* A count, a mean and a sum of squares per work-item in local memory. */
enum { NORM_BYTES_PER_ITEM = 3 * sizeof(float) };

/* An optional per-column vector: NULL, or a buffer of ctx holding cols floats that y
 * does not overlap. */
static kiln_status check_row_vector(const kiln_ctx *ctx, const kiln_buf *buf,
                                    const char *name, const kiln_buf *y, size_t cols)
{
    if (buf == NULL)
        return KILN_OK;
    CHECK(check_buf(ctx, buf, name));
    CHECK(check_vector(ctx, buf, name, cols));
    return check_apart(ctx, y, "y", buf, name);
}

static kiln_status norm_run(kiln_ctx *ctx, bool rms, const kiln_buf *x, const kiln_buf *gamma,
                            const kiln_buf *beta, kiln_buf *y, size_t rows, size_t cols,
                            size_t ld, float eps)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, x, "x"));
    CHECK(check_buf(ctx, y, "y"));
    if (!isfinite(eps) || eps < 0)
        return fail(ctx, KILN_ERR_ARG, "eps is %g: it must be finite and >= 0", (double)eps);
    CHECK(check_row_map(ctx, x, y, rows, cols, ld));
    CHECK(check_row_vector(ctx, gamma, "gamma", y, cols));
    CHECK(check_row_vector(ctx, beta, "beta", y, cols));
    if (rows == 0 || cols == 0)
        return KILN_OK;

    struct kernel *kernel;
    struct launch plan;
    cl_uint vectors;
    CHECK(row_map_kernel(ctx, "norm", "norm_rows", rms ? "-DRMS=1" : "-DRMS=0",
                         NORM_BYTES_PER_ITEM, x, y, rows, cols, &kernel, &plan, &vectors));
    /* An absent gamma or beta is never read: x stands in for the argument. */
    const kiln_buf *gamma_arg = gamma != NULL ? gamma : x, *beta_arg = beta != NULL ? beta : x;
    cl_ulong gamma_offset = gamma != NULL ? buf_elements_offset(gamma) : 0,
             beta_offset = beta != NULL ? buf_elements_offset(beta) : 0;
    cl_uint has_gamma = gamma != NULL, has_beta = beta != NULL;
    const struct kernel_arg extra[] = {
        KERNEL_ARG(vectors),
        KERNEL_ARG_BUF(gamma_arg), KERNEL_ARG(gamma_offset), KERNEL_ARG(has_gamma),
        KERNEL_ARG_BUF(beta_arg),  KERNEL_ARG(beta_offset),  KERNEL_ARG(has_beta),
        KERNEL_ARG(eps),
    };
    return row_kernel_launch(ctx, kernel, &plan, rows, cols, ld, x, y, extra,
                             sizeof(extra) / sizeof(extra[0]));
}

KILN_API kiln_status kiln_layernorm(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *gamma,
                                    const kiln_buf *beta, kiln_buf *y, size_t rows,
                                    size_t cols, size_t ld, float eps)
{
    return norm_run(ctx, false, x, gamma, beta, y, rows, cols, ld, eps);
}

KILN_API kiln_status kiln_rmsnorm(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *gamma,
                                  kiln_buf *y, size_t rows, size_t cols, size_t ld, float eps)
{
    return norm_run(ctx, true, x, gamma, NULL, y, rows, cols, ld, eps);
}
