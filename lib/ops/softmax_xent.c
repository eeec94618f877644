/* kiln_softmax_xent: mean cross-entropy of softmax(logits) against labels, and its
 * gradient (cl/softmax_xent.cl), in two passes over the context's partials. */
#include "../internal.h"

#include <stdio.h>

/* The labels buffer holds `rows` uint32 classes. */
static kiln_status check_labels(const kiln_ctx *ctx, const kiln_buf *labels, size_t rows)
{
    size_t bytes = 0;
    CHECK(size_mul(ctx, rows, sizeof(cl_uint), &bytes, "labels"));
    if (bytes > labels->size)
        return fail(ctx, KILN_ERR_SIZE,
                    "labels needs %zu uint32 labels (%zu bytes) but its buffer holds %zu bytes",
                    rows, bytes, labels->size);
    return KILN_OK;
}

/* Both passes, under the sum lock so another thread's sum or loss cannot write the
 * partials in between. */
static kiln_status xent_enqueue(kiln_ctx *ctx, const kiln_buf *logits, const kiln_buf *labels,
                                kiln_buf *loss, kiln_buf *dlogits, size_t rows, size_t cols)
{
    char options[64];
    snprintf(options, sizeof(options), "-DGRADIENT=%d -DINDEX=%s", dlogits != NULL,
             row_index_type(rows * cols));
    struct kernel *first, *second;
    size_t local, second_local;
    CHECK(row_kernel_get(ctx, "softmax_xent", options, "softmax_xent_rows", sizeof(float),
                         &first, &local));
    CHECK(row_kernel_get(ctx, "softmax_xent", "", "softmax_xent_total", sizeof(float), &second,
                         &second_local));
    if (ctx->sum_partials == NULL)
        CHECK(kiln_buf_create(ctx, SUM_MAX_PARTIALS * sizeof(float), &ctx->sum_partials));
    kiln_buf *partials = ctx->sum_partials;
    const kiln_buf *gradient = dlogits != NULL ? dlogits : logits; /* unused without */

    struct launch plan = plan_softmax_xent(&ctx->limits, local, rows);
    cl_ulong rows_arg = rows, cols_arg = cols, logits_offset = buf_elements_offset(logits),
             labels_offset = buf_elements_offset(labels),
             gradient_offset = buf_elements_offset(gradient);
    const struct kernel_arg first_args[] = {
        KERNEL_ARG(rows_arg),        KERNEL_ARG(cols_arg),      KERNEL_ARG_BUF(logits),
        KERNEL_ARG(logits_offset),   KERNEL_ARG_BUF(labels),    KERNEL_ARG(labels_offset),
        KERNEL_ARG_BUF(gradient),    KERNEL_ARG(gradient_offset), KERNEL_ARG_BUF(partials),
    };
    CHECK(kernel_launch(ctx, first, &plan, first_args,
                        sizeof(first_args) / sizeof(first_args[0])));

    cl_uint groups = (cl_uint)(plan.global[0] / plan.local[0]);
    cl_ulong loss_offset = buf_elements_offset(loss);
    struct launch last = plan_rows(second_local, 1);
    const struct kernel_arg second_args[] = {
        KERNEL_ARG(groups), KERNEL_ARG_BUF(partials), KERNEL_ARG_BUF(loss),
        KERNEL_ARG(loss_offset),
    };
    return kernel_launch(ctx, second, &last, second_args,
                         sizeof(second_args) / sizeof(second_args[0]));
}

KILN_API kiln_status kiln_softmax_xent(kiln_ctx *ctx, const kiln_buf *logits,
                                       const kiln_buf *labels, kiln_buf *loss,
                                       kiln_buf *dlogits, size_t rows, size_t cols)
{
    CHECK(check_ctx(ctx));
    CHECK(check_buf(ctx, logits, "logits"));
    CHECK(check_buf(ctx, labels, "labels"));
    CHECK(check_buf(ctx, loss, "loss"));
    if (dlogits != NULL)
        CHECK(check_buf(ctx, dlogits, "dlogits"));
    size_t ld = cols > 0 ? cols : 1;
    CHECK(check_rows(ctx, logits, "logits", rows, cols, ld));
    CHECK(check_labels(ctx, labels, rows));
    CHECK(check_vector(ctx, loss, "loss", 1));
    if (dlogits != NULL) {
        CHECK(check_rows(ctx, dlogits, "dlogits", rows, cols, ld));
        CHECK(check_same_or_apart(ctx, dlogits, "dlogits", logits, "logits"));
        CHECK(check_apart(ctx, dlogits, "dlogits", labels, "labels"));
        CHECK(check_apart(ctx, loss, "loss", dlogits, "dlogits"));
    }
    CHECK(check_apart(ctx, loss, "loss", logits, "logits"));
    CHECK(check_apart(ctx, loss, "loss", labels, "labels"));
    if (rows == 0)
        return KILN_OK;

    pthread_mutex_lock(&ctx->sum_lock);
    kiln_status status = xent_enqueue(ctx, logits, labels, loss, dlogits, rows, cols);
    pthread_mutex_unlock(&ctx->sum_lock);
    return status;
}
