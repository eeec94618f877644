/* kiln_softmax_xent: mean cross-entropy and its gradient against a double reference and
 * finite differences; out-of-range labels give NaN. */
#include "common.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

/* The loss and gradient in double, each element with the error it may have. */
typedef struct {
    double loss, loss_allowed;
    double *grad, *grad_allowed; /* rows×cols */
} xent_reference;

static double row_max(const float *x, size_t cols)
{
    double largest = -INFINITY;
    for (size_t j = 0; j < cols; j++)
        largest = x[j] > largest ? x[j] : largest;
    return largest;
}

/* The loss of double logits (for finite differences), labels all valid. */
static double xent_loss(const double *x, const uint32_t *labels, size_t rows, size_t cols)
{
    double total = 0;
    for (size_t i = 0; i < rows; i++) {
        const double *row = x + i * cols;
        double largest = -INFINITY, sum = 0;
        for (size_t j = 0; j < cols; j++)
            largest = row[j] > largest ? row[j] : largest;
        for (size_t j = 0; j < cols; j++)
            sum += exp(row[j] - largest);
        total += log(sum) - (row[labels[i]] - largest);
    }
    return total / (double)rows;
}

static xent_reference reference_xent(const float *x, const uint32_t *labels, size_t rows,
                                     size_t cols)
{
    size_t n = rows * cols > 0 ? rows * cols : 1;
    xent_reference r = {0, 0, NULL, NULL};
    reference values = reference_blank(1, n, 0, 0), allowed = reference_blank(1, n, 0, 0);
    r.grad = values.value, r.grad_allowed = allowed.value;
    for (size_t i = 0; i < rows; i++) {
        const float *row = x + i * cols;
        double largest = row_max(row, cols), sum = 0, size = 0;
        for (size_t j = 0; j < cols; j++)
            sum += exp(row[j] - largest);
        bool valid = labels[i] < cols;
        double picked = valid ? row[labels[i]] - largest : NAN;
        r.loss += log(sum) - picked;
        size = fabs(log(sum)) + fabs(picked) + log2((double)cols + 1);
        r.loss_allowed += 8 * FLT_EPSILON * size / (double)rows;
        for (size_t j = 0; j < cols; j++) {
            double p = exp(row[j] - largest) / sum, hot = valid && j == labels[i];
            r.grad[i * cols + j] = valid ? (p - hot) / (double)rows : NAN;
            r.grad_allowed[i * cols + j] =
                ((p + hot) * (32 + fabs(row[j] - largest)) * FLT_EPSILON) / (double)rows + 1e-30;
        }
    }
    r.loss /= (double)rows;
    r.loss_allowed += 4 * FLT_EPSILON * fabs(r.loss) + 1e-30;
    return r;
}

/* Random logits scaled by `scale`, labels in [0, cols) (or bad where asked). */
static uint32_t *random_labels(size_t rows, size_t cols, uint32_t seed)
{
    uint32_t *labels = (uint32_t *)scratch_floats(rows);
    for (size_t i = 0; i < rows; i++) {
        seed = seed * 1664525u + 1013904223u;
        labels[i] = cols > 0 ? (seed >> 8) % (uint32_t)cols : 0;
    }
    return labels;
}

static kiln_buf *upload_labels(kiln_ctx *ctx, const uint32_t *labels, size_t rows)
{
    return scratch_upload(ctx, (const float *)labels, rows > 0 ? rows : 1);
}

/* One run: logits `scale`·U[-1, 1], the loss after two canaries, dlogits (NULL, its own
 * buffer with a guard row, or over the logits). */
typedef enum { GRAD_NONE, GRAD_APART, GRAD_IN_PLACE } grad_kind;

static void check_xent(kiln_ctx *ctx, size_t rows, size_t cols, float scale, grad_kind grad,
                       const uint32_t *bad_labels)
{
    size_t mark = scratch_mark();
    operand x = tight_make(ctx, rows, cols, FILL_RANDOM, (uint32_t)(rows * 7 + cols));
    float *m = x.host;
    for (size_t i = 0; i < rows * cols; i++)
        m[i] *= scale;
    assert_ok(ctx, kiln_buf_write(x.buffer, 0, x.host, x.total * sizeof(float)));
    const uint32_t *labels = bad_labels != NULL ? bad_labels : random_labels(rows, cols, 5);
    kiln_buf *label_buf = upload_labels(ctx, labels, rows);
    operand loss = vector_make(ctx, 1, 1, 2, FILL_CANARY, 0);
    operand d = output_make(ctx, rows, cols, 0, 0, FILL_NAN, 0);
    operand *out = grad == GRAD_IN_PLACE ? &x : &d;
    xent_reference r = reference_xent(operand_data(&x), labels, rows, cols);
    assert_ok(ctx, kiln_softmax_xent(ctx, x.view, label_buf, loss.view,
                                     grad == GRAD_NONE ? NULL : out->view, rows, cols));
    float *got = operand_download(&loss);
    assert_each_near(got + loss.offset, &r.loss, &r.loss_allowed, 1, "loss");
    assert_canaries_intact(&loss, got);
    if (grad != GRAD_NONE) {
        float *g = operand_download(out);
        assert_each_near(g + out->offset, r.grad, r.grad_allowed, rows * cols, "dlogits");
        assert_canaries_intact(out, g);
    } else {
        assert_operand_unchanged(&d);
    }
    if (grad != GRAD_IN_PLACE)
        assert_operand_unchanged(&x);
    scratch_release_to(mark);
}

/* rows×cols: 1×1, 1×n beyond a group, n×1, ragged, more rows than groups. */
static const size_t shapes[][2] = {{1, 1},   {1, 5000}, {1000, 1}, {7, 13},
                                   {33, 257}, {3000, 10}, {2, 4097}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

static void softmax_xent_matches_the_reference_for_every_shape(void **state)
{
    for (size_t s = 0; s < SHAPE_COUNT; s++) {
        check_xent(*state, shapes[s][0], shapes[s][1], 8.0f, GRAD_APART, NULL);
        check_xent(*state, shapes[s][0], shapes[s][1], 8.0f, GRAD_NONE, NULL);
    }
}

static void softmax_xent_in_place_writes_the_gradient_over_the_logits(void **state)
{
    for (size_t s = 0; s < SHAPE_COUNT; s++)
        check_xent(*state, shapes[s][0], shapes[s][1], 4.0f, GRAD_IN_PLACE, NULL);
}

static void softmax_xent_is_stable_for_logits_of_a_thousand(void **state)
{
    check_xent(*state, 5, 300, 1000.0f, GRAD_APART, NULL);
    check_xent(*state, 64, 3, 1000.0f, GRAD_IN_PLACE, NULL);
}

/* Central differences of the double loss against kiln's gradient. */
static void softmax_xent_gradient_matches_finite_differences(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 6, cols = 9 };
    float *x = scratch_random(rows * cols, 61);
    uint32_t *labels = random_labels(rows, cols, 62);
    kiln_buf *xb = scratch_upload(ctx, x, rows * cols), *lb = upload_labels(ctx, labels, rows);
    kiln_buf *loss = scratch_buffer(ctx, sizeof(float));
    kiln_buf *grad = scratch_buffer(ctx, rows * cols * sizeof(float));
    assert_ok(ctx, kiln_softmax_xent(ctx, xb, lb, loss, grad, rows, cols));
    float *g = scratch_download(grad, rows * cols);
    double xd[rows * cols];
    for (size_t i = 0; i < rows * cols; i++)
        xd[i] = x[i];
    const double h = 1e-5;
    for (size_t i = 0; i < rows * cols; i++) {
        xd[i] = x[i] + h;
        double up = xent_loss(xd, labels, rows, cols);
        xd[i] = x[i] - h;
        double down = xent_loss(xd, labels, rows, cols);
        xd[i] = x[i];
        double slope = (up - down) / (2 * h);
        if (fabs(g[i] - slope) > 1e-6)
            fail_msg("dlogits %zu: %.9g, finite difference %.9g", i, (double)g[i], slope);
    }
}

static void softmax_xent_gives_nan_for_labels_beyond_cols(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 5, cols = 7 };
    uint32_t *labels = random_labels(rows, cols, 63);
    labels[2] = cols;
    check_xent(ctx, rows, cols, 2.0f, GRAD_APART, labels);
    labels[2] = 0xffffffffu;
    check_xent(ctx, rows, cols, 2.0f, GRAD_IN_PLACE, labels);
    /* A bad label in the last of many rows still reaches the loss. */
    uint32_t *many = random_labels(3000, 4, 64);
    many[2999] = 4;
    check_xent(ctx, 3000, 4, 2.0f, GRAD_NONE, many);
}

static void softmax_xent_of_no_rows_leaves_the_loss(void **state)
{
    kiln_ctx *ctx = *state;
    operand x = tight_make(ctx, 2, 2, FILL_RANDOM, 65);
    operand loss = vector_make(ctx, 1, 0, 1, FILL_CANARY, 0);
    assert_ok(ctx, kiln_softmax_xent(ctx, x.view, x.view, loss.view, NULL, 0, 2));
    assert_operand_unchanged(&loss);
}

static void softmax_xent_rejects_bad_arguments_naming_them(void **state)
{
    kiln_ctx *ctx = *state;
    enum { rows = 4, cols = 5 };
    operand x = tight_make(ctx, rows, cols, FILL_RANDOM, 66);
    kiln_buf *lb = upload_labels(ctx, random_labels(rows, cols, 67), rows);
    operand loss = vector_make(ctx, 1, 0, 0, FILL_CANARY, 0);
    operand d = tight_make(ctx, rows, cols, FILL_CANARY, 0);
    kiln_buf *xv = x.view, *lv = loss.view, *dv = d.view;
    assert_arg_error(NULL, kiln_softmax_xent(NULL, xv, lb, lv, dv, rows, cols));
    assert_arg_error(ctx, kiln_softmax_xent(ctx, NULL, lb, lv, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "logits is NULL");
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, NULL, lv, dv, 0, cols));
    assert_contains(kiln_last_error(ctx), "labels is NULL");
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, lb, NULL, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "loss is NULL");
    assert_size_error(ctx, kiln_softmax_xent(ctx, xv, lb, lv, dv, rows, cols + 1));
    assert_contains(kiln_last_error(ctx), "logits (4x6 stored, ld 6) needs 24 floats");
    assert_size_error(ctx, kiln_softmax_xent(ctx, xv, lb, lv, NULL, rows + 1, 4));
    assert_contains(kiln_last_error(ctx), "labels needs 5 uint32 labels (20 bytes)");
    kiln_buf *short_loss = scratch_view(loss.buffer, 0, 2);
    assert_size_error(ctx, kiln_softmax_xent(ctx, xv, lb, short_loss, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "loss needs 1 floats");
    kiln_buf *short_d = scratch_view(d.buffer, 0, (rows * cols - 1) * sizeof(float));
    assert_size_error(ctx, kiln_softmax_xent(ctx, xv, lb, lv, short_d, rows, cols));
    assert_contains(kiln_last_error(ctx), "dlogits (4x5 stored, ld 5) needs 20 floats");
    assert_size_error(ctx, kiln_softmax_xent(ctx, xv, lb, lv, dv, SIZE_MAX / 2, 3));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
    kiln_buf *shifted = scratch_view(x.buffer, sizeof(float), (rows * cols) * sizeof(float));
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, lb, lv, shifted, rows - 1, cols));
    assert_contains(kiln_last_error(ctx), "dlogits partly overlaps the input logits");
    kiln_buf *in_logits = scratch_view(x.buffer, 3 * sizeof(float), sizeof(float));
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, lb, in_logits, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "loss shares memory with the input logits");
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, lb, lb, NULL, rows, cols));
    assert_contains(kiln_last_error(ctx), "loss shares memory with the input labels");
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, lb, dv, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "loss shares memory with the input dlogits");
    assert_arg_error(ctx, kiln_softmax_xent(ctx, xv, dv, lv, dv, rows, cols));
    assert_contains(kiln_last_error(ctx), "dlogits shares memory with the input labels");
    assert_operand_unchanged(&x);
    assert_operand_unchanged(&loss);
    assert_operand_unchanged(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(softmax_xent_matches_the_reference_for_every_shape),
        KILN_TEST(softmax_xent_in_place_writes_the_gradient_over_the_logits),
        KILN_TEST(softmax_xent_is_stable_for_logits_of_a_thousand),
        KILN_TEST(softmax_xent_gradient_matches_finite_differences),
        KILN_TEST(softmax_xent_gives_nan_for_labels_beyond_cols),
        KILN_TEST(softmax_xent_of_no_rows_leaves_the_loss),
        KILN_TEST(softmax_xent_rejects_bad_arguments_naming_them),
    };
    return RUN_KILN_TESTS(tests);
}
