/* kiln_sgemm_batched: C_i = α·op(A_i)·op(B_i) + β·C_i for every product i of a batch,
 * each against the double reference, with CANARY in the gaps between and after the
 * matrices of C. Shapes reach every kernel path: cl/gemm.cl (ragged), cl/gemm_block.cl
 * (128s with float4-aligned strides) and cl/gemv.cl (n or m 1). */
#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

/* One batched call. Fields an initialiser does not name are 0: no transpose,
 * FILL_RANDOM, tight leading dimensions, matrices right after one another. */
typedef struct {
    kiln_trans ta, tb;
    size_t m, n, k, batch;
    float alpha, beta;
    size_t pad;                 /* floats of ld beyond each row */
    size_t gap_a, gap_b, gap_c; /* floats between one matrix's end and the next's start */
    bool share_a, share_b;      /* stride 0: one matrix for every product */
    fill_kind fill_a, fill_b, fill_c;
} batch_case;

/* batch stored rows×cols matrices, stride floats apart, then TAIL canaries; everything
 * outside the matrices is CANARY. host mirrors the buffer as uploaded. */
typedef struct {
    size_t rows, cols, ld, span, stride, batch, total;
    float *host;
    kiln_buf *buf;
} stack;

enum { TAIL = 5 };

/* Whether float p of the stack belongs to one of its matrices. */
static bool stack_holds(const stack *s, size_t p)
{
    size_t i = s->stride > 0 ? p / s->stride : 0;
    if (i >= s->batch)
        i = s->batch - 1;
    size_t at = p - i * s->stride;
    return at < s->span && at % s->ld < s->cols;
}

static stack stack_make(kiln_ctx *ctx, kiln_trans t, size_t rows, size_t cols, size_t pad,
                        size_t gap, bool shared, size_t batch, fill_kind fill, uint32_t seed)
{
    stack s = {0};
    s.rows = t == KILN_TRANS ? cols : rows;
    s.cols = t == KILN_TRANS ? rows : cols;
    s.ld = (s.cols > 0 ? s.cols : 1) + pad;
    s.span = s.rows > 0 && s.cols > 0 ? (s.rows - 1) * s.ld + s.cols : 0;
    s.stride = shared ? 0 : s.span + gap;
    s.batch = batch;
    s.total = s.stride * (batch > 0 ? batch - 1 : 0) + s.span + TAIL;
    s.host = scratch_random(s.total, seed);
    for (size_t p = 0; p < s.total; p++)
        if (!stack_holds(&s, p))
            s.host[p] = CANARY;
        else if (fill != FILL_RANDOM)
            s.host[p] = fill == FILL_NAN ? NAN : CANARY;
    s.buf = scratch_upload(ctx, s.host, s.total);
    return s;
}

/* Fails unless the buffer still holds exactly what was uploaded. */
static void assert_stack_unchanged(const stack *s)
{
    float *got = scratch_download(s->buf, s->total);
    assert_memory_equal(got, s->host, s->total * sizeof(float));
}

static void assert_product_near(const batch_case *g, const stack *a, const stack *b,
                                const stack *c, const float *got, size_t i)
{
    size_t mark = scratch_mark();
    reference r = reference_sgemm(g->ta, g->tb, g->m, g->n, g->k, g->alpha,
                                  a->host + i * a->stride, a->ld, b->host + i * b->stride,
                                  b->ld, g->beta, c->host + i * c->stride, c->ld);
    assert_matrix_near(got + i * c->stride, c->ld, &r);
    scratch_release_to(mark);
}

static void check_batched(kiln_ctx *ctx, batch_case g)
{
    size_t mark = scratch_mark();
    stack a = stack_make(ctx, g.ta, g.m, g.k, g.pad, g.gap_a, g.share_a, g.batch, g.fill_a, 1);
    stack b = stack_make(ctx, g.tb, g.k, g.n, g.pad, g.gap_b, g.share_b, g.batch, g.fill_b, 2);
    stack c = stack_make(ctx, KILN_NO_TRANS, g.m, g.n, g.pad, g.gap_c, false, g.batch,
                         g.fill_c, 3);
    assert_ok(ctx, kiln_sgemm_batched(ctx, g.ta, g.tb, g.m, g.n, g.k, g.alpha, a.buf, a.ld,
                                      a.stride, b.buf, b.ld, b.stride, g.beta, c.buf, c.ld,
                                      c.stride, g.batch));
    float *got = scratch_download(c.buf, c.total);
    for (size_t i = 0; i < g.batch; i++)
        assert_product_near(&g, &a, &b, &c, got, i);
    for (size_t p = 0; p < c.total; p++)
        if (!stack_holds(&c, p) && got[p] != CANARY)
            fail_msg("float %zu of C, outside every matrix, is %g", p, (double)got[p]);
    assert_stack_unchanged(&a);
    assert_stack_unchanged(&b);
    scratch_release_to(mark);
}

static void check_every_transpose(kiln_ctx *ctx, batch_case g)
{
    const kiln_trans both[] = {KILN_NO_TRANS, KILN_TRANS};
    for (size_t i = 0; i < 4; i++) {
        g.ta = both[i / 2], g.tb = both[i % 2];
        check_batched(ctx, g);
    }
}

/* (m, n, k, batch) from {1, 7, 17, 64, 128, 255} and {1, 3, 17}. */
static const size_t ragged_shapes[][4] = {
    {1, 1, 1, 1},   {7, 17, 1, 17},  {17, 7, 64, 3},   {64, 17, 7, 17},
    {255, 7, 17, 3}, {7, 255, 128, 3}, {17, 64, 255, 1}, {128, 7, 64, 17},
};

static void check_shapes(kiln_ctx *ctx, batch_case g, const size_t (*shapes)[4], size_t count)
{
    for (size_t s = 0; s < count; s++) {
        g.m = shapes[s][0], g.n = shapes[s][1], g.k = shapes[s][2], g.batch = shapes[s][3];
        check_every_transpose(ctx, g);
    }
}

#define CHECK_SHAPES(ctx, g, shapes) \
    check_shapes((ctx), (g), (shapes), sizeof(shapes) / sizeof(shapes[0]))

static void sgemm_batched_multiplies_each_product_of_ragged_shapes(void **state)
{
    batch_case g = {.alpha = 0.75f, .beta = -1.25f};
    CHECK_SHAPES(*state, g, ragged_shapes);
}

static void sgemm_batched_honours_strides_beyond_the_span_and_padded_rows(void **state)
{
    batch_case g = {.alpha = 1.5f, .beta = 0.5f, .pad = 3, .gap_a = 5, .gap_b = 11, .gap_c = 7};
    CHECK_SHAPES(*state, g, ragged_shapes);
}

/* Whole blocks of every table tile with float4-aligned rows and strides: gemm_block.cl. */
static const size_t block_shapes[][4] = {{128, 128, 128, 3}, {128, 64, 128, 17},
                                         {64, 128, 64, 1}};

static void sgemm_batched_runs_whole_blocks_with_aligned_strides(void **state)
{
    batch_case g = {.alpha = -0.5f, .beta = 2.0f, .gap_a = 4, .gap_b = 8, .gap_c = 12};
    CHECK_SHAPES(*state, g, block_shapes);
    g.share_a = true;
    CHECK_SHAPES(*state, g, block_shapes);
    g.share_a = false, g.share_b = true, g.beta = 0.0f, g.fill_c = FILL_NAN;
    CHECK_SHAPES(*state, g, block_shapes);
}

/* n 1 or m 1: gemv.cl, float4 rows where strides are aligned and not where they are not. */
static const size_t vector_shapes[][4] = {{128, 1, 64, 17}, {1, 255, 128, 3},
                                          {255, 1, 17, 3},  {1, 7, 255, 17},
                                          {1, 1, 64, 3}};

static void sgemm_batched_runs_matrix_vector_products(void **state)
{
    batch_case g = {.alpha = 1.25f, .beta = -0.5f, .gap_a = 4, .gap_b = 4, .gap_c = 4};
    CHECK_SHAPES(*state, g, vector_shapes);
    g.gap_a = 1, g.gap_b = 3, g.pad = 1;
    CHECK_SHAPES(*state, g, vector_shapes);
    g.share_a = true, g.gap_c = 0;
    CHECK_SHAPES(*state, g, vector_shapes);
}

static void sgemm_batched_broadcasts_a_or_b_with_stride_zero(void **state)
{
    batch_case g = {.alpha = 0.5f, .beta = 1.0f, .share_a = true, .gap_c = 2};
    CHECK_SHAPES(*state, g, ragged_shapes);
    g.share_a = false, g.share_b = true;
    CHECK_SHAPES(*state, g, ragged_shapes);
}

static void sgemm_batched_with_alpha_zero_does_not_read_a_or_b(void **state)
{
    batch_case g = {.m = 17, .n = 64, .k = 7, .batch = 17, .beta = 0.5f, .gap_c = 3};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    check_every_transpose(*state, g);
    g.m = g.n = g.k = 128, g.batch = 3, g.gap_c = 4; /* shaped for gemm_block.cl */
    check_every_transpose(*state, g);
    g.fill_c = FILL_NAN, g.beta = 0.0f; /* neither α nor β: C becomes 0 */
    check_every_transpose(*state, g);
}

static void sgemm_batched_with_beta_zero_does_not_read_c(void **state)
{
    batch_case g = {.m = 7, .n = 255, .k = 17, .batch = 17, .alpha = 1.0f, .gap_c = 1};
    g.fill_c = FILL_NAN;
    check_every_transpose(*state, g);
    g.n = 1;
    check_every_transpose(*state, g);
}

static void sgemm_batched_with_k_zero_scales_each_c(void **state)
{
    batch_case g = {.m = 17, .n = 7, .k = 0, .batch = 3, .alpha = 2.0f, .beta = -3.0f};
    g.fill_a = FILL_NAN, g.fill_b = FILL_NAN;
    check_every_transpose(*state, g);
}

/* More products than the 65535 work-groups a launch may have in dimension 2: the
 * kernels stride over the rest. */
static void sgemm_batched_runs_batches_beyond_one_launch_dimension(void **state)
{
    batch_case g = {.m = 2, .n = 3, .k = 2, .batch = 70001, .alpha = 1.0f, .beta = 0.5f};
    check_batched(*state, g);
    g.n = 1; /* gemv.cl */
    check_batched(*state, g);
}

static void sgemm_batched_of_nothing_leaves_c(void **state)
{
    kiln_ctx *ctx = *state;
    stack a = stack_make(ctx, KILN_NO_TRANS, 7, 7, 0, 0, false, 3, FILL_NAN, 4);
    stack c = stack_make(ctx, KILN_NO_TRANS, 7, 7, 0, 0, false, 3, FILL_RANDOM, 5);
    const kiln_trans no = KILN_NO_TRANS;
    kiln_buf *av = a.buf, *cv = c.buf;
    assert_ok(ctx, kiln_sgemm_batched(ctx, no, no, 7, 7, 7, 1, av, 7, 49, av, 7, 49, 0, cv, 7,
                                      49, 0));
    assert_ok(ctx, kiln_sgemm_batched(ctx, no, no, 0, 7, 7, 1, av, 7, 49, av, 7, 49, 0, cv, 7,
                                      49, 3));
    assert_ok(ctx, kiln_sgemm_batched(ctx, no, no, 7, 0, 7, 1, av, 7, 49, av, 1, 49, 0, cv, 1,
                                      49, 3));
    assert_stack_unchanged(&c);
}

/* The arguments of one call with α 1 and β 0. */
typedef struct {
    kiln_trans ta, tb;
    size_t m, n, k;
    kiln_buf *a;
    size_t lda, stride_a;
    kiln_buf *b;
    size_t ldb, stride_b;
    kiln_buf *c;
    size_t ldc, stride_c, batch;
} call_args;

static kiln_status call_run(kiln_ctx *ctx, call_args x)
{
    return kiln_sgemm_batched(ctx, x.ta, x.tb, x.m, x.n, x.k, 1.0f, x.a, x.lda, x.stride_a,
                              x.b, x.ldb, x.stride_b, 0.0f, x.c, x.ldc, x.stride_c, x.batch);
}

/* The operands of the error cases: three 3×3 matrices, tight, for A and B (one stack)
 * and for C; `valid` is a call that would succeed. */
typedef struct {
    stack a, c;
    call_args valid;
} error_operands;

static error_operands error_operands_make(kiln_ctx *ctx)
{
    error_operands e;
    e.a = stack_make(ctx, KILN_NO_TRANS, 3, 3, 0, 0, false, 3, FILL_RANDOM, 6);
    e.c = stack_make(ctx, KILN_NO_TRANS, 3, 3, 0, 0, false, 3, FILL_RANDOM, 7);
    e.valid = (call_args){KILN_NO_TRANS, KILN_NO_TRANS, 3, 3, 3, e.a.buf, 3, 9, e.a.buf, 3, 9,
                          e.c.buf, 3, 9, 3};
    return e;
}

static void sgemm_batched_rejects_null_arguments_and_bad_transposes(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    call_args x = e.valid;
    assert_arg_error(NULL, call_run(NULL, x));
    x = e.valid, x.a = NULL;
    assert_arg_error(ctx, call_run(ctx, x));
    x.batch = 0; /* checked before the no-op */
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.b = NULL;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.c = NULL;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.ta = (kiln_trans)2;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.tb = (kiln_trans)2;
    assert_arg_error(ctx, call_run(ctx, x));
    assert_stack_unchanged(&e.c);
}

static void sgemm_batched_rejects_ld_below_the_row(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    call_args x = e.valid;
    x.lda = 2;
    assert_ld_rejected(ctx, call_run(ctx, x), 0, 0);
    x = e.valid, x.ldb = 2;
    assert_ld_rejected(ctx, call_run(ctx, x), 1, 1);
    x = e.valid, x.ldc = 2;
    assert_ld_rejected(ctx, call_run(ctx, x), 2, 2);
    assert_stack_unchanged(&e.c);
}

static void sgemm_batched_rejects_c_matrices_that_overlap(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    call_args x = e.valid;
    x.stride_c = 0, x.batch = 2;
    assert_arg_error(ctx, call_run(ctx, x));
    assert_contains(kiln_last_error(ctx), "stride_c is 0"); /* not just "below the span" */
    x = e.valid, x.stride_c = 8; /* one float short of a whole C */
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.ldc = 4, x.stride_c = 3, x.batch = 2; /* interleaved rows */
    assert_arg_error(ctx, call_run(ctx, x));
    assert_stack_unchanged(&e.c);
    /* One C may have any stride, 0 included; A and B may share matrices. */
    x = e.valid, x.stride_a = 0, x.stride_b = 1, x.stride_c = 0, x.batch = 1;
    assert_ok(ctx, call_run(ctx, x));
    assert_ok(ctx, kiln_finish(ctx));
}

static void sgemm_batched_rejects_c_sharing_memory_with_a_or_b(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    /* C's last matrix is the first of A's through two views of one buffer */
    kiln_buf *whole = scratch_buffer(ctx, 36 * sizeof(float));
    kiln_buf *low = scratch_view(whole, 0, 27 * sizeof(float));
    kiln_buf *high = scratch_view(whole, 18 * sizeof(float), 18 * sizeof(float));
    call_args x = e.valid;
    x.b = e.c.buf;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.a = e.c.buf;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.a = high, x.stride_a = 0, x.c = low;
    assert_arg_error(ctx, call_run(ctx, x));
    x = e.valid, x.b = high, x.stride_b = 0, x.c = low;
    assert_arg_error(ctx, call_run(ctx, x));
    assert_stack_unchanged(&e.a);
    assert_stack_unchanged(&e.c);
}

static void sgemm_batched_rejects_buffers_ending_before_the_last_matrix(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx); /* 27 floats of matrices + TAIL */
    call_args x = e.valid;
    x.stride_a = 15; /* the third A would end at float 39 */
    assert_size_error(ctx, call_run(ctx, x));
    assert_mentions_floats(kiln_last_error(ctx), 39);
    x = e.valid, x.stride_b = 15;
    assert_size_error(ctx, call_run(ctx, x));
    x = e.valid, x.stride_c = 15;
    assert_size_error(ctx, call_run(ctx, x));
    x = e.valid, x.batch = 5;
    assert_size_error(ctx, call_run(ctx, x));
    assert_stack_unchanged(&e.c);
}

static void sgemm_batched_rejects_strides_that_overflow(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    call_args x = e.valid;
    x.stride_a = SIZE_MAX / 2; /* 2·stride fits, adding the span does not */
    assert_size_error(ctx, call_run(ctx, x));
    x = e.valid, x.stride_a = x.stride_b = 0, x.batch = SIZE_MAX;
    assert_size_error(ctx, call_run(ctx, x));
    x = e.valid, x.stride_c = SIZE_MAX - 4, x.batch = 2;
    assert_size_error(ctx, call_run(ctx, x));
    assert_stack_unchanged(&e.c);
}

/* 2×2 A, 2×3 B and C, so each ld from ld_wrapping makes its span wrap past SIZE_MAX. */
static void sgemm_batched_rejects_ld_whose_span_wraps_past_size_max(void **state)
{
    kiln_ctx *ctx = *state;
    error_operands e = error_operands_make(ctx);
    call_args two_rows = e.valid;
    two_rows.m = 2, two_rows.k = 2, two_rows.lda = 2;
    for (size_t w = 0; w < WRAPPING_LDS; w++) {
        call_args x = two_rows;
        x.lda = ld_wrapping(2, w);
        assert_status_of_case(ctx, call_run(ctx, x), KILN_ERR_SIZE, w);
        x = two_rows, x.ldb = ld_wrapping(3, w);
        assert_status_of_case(ctx, call_run(ctx, x), KILN_ERR_SIZE, w);
        x = two_rows, x.ldc = ld_wrapping(3, w);
        assert_status_of_case(ctx, call_run(ctx, x), KILN_ERR_SIZE, w);
    }
    assert_stack_unchanged(&e.c);
    assert_ok(ctx, call_run(ctx, two_rows)); /* the shape itself is fine */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(sgemm_batched_multiplies_each_product_of_ragged_shapes),
        KILN_TEST(sgemm_batched_honours_strides_beyond_the_span_and_padded_rows),
        KILN_TEST(sgemm_batched_runs_whole_blocks_with_aligned_strides),
        KILN_TEST(sgemm_batched_runs_matrix_vector_products),
        KILN_TEST(sgemm_batched_broadcasts_a_or_b_with_stride_zero),
        KILN_TEST(sgemm_batched_with_alpha_zero_does_not_read_a_or_b),
        KILN_TEST(sgemm_batched_with_beta_zero_does_not_read_c),
        KILN_TEST(sgemm_batched_with_k_zero_scales_each_c),
        KILN_TEST(sgemm_batched_runs_batches_beyond_one_launch_dimension),
        KILN_TEST(sgemm_batched_of_nothing_leaves_c),
        KILN_TEST(sgemm_batched_rejects_null_arguments_and_bad_transposes),
        KILN_TEST(sgemm_batched_rejects_ld_below_the_row),
        KILN_TEST(sgemm_batched_rejects_c_matrices_that_overlap),
        KILN_TEST(sgemm_batched_rejects_c_sharing_memory_with_a_or_b),
        KILN_TEST(sgemm_batched_rejects_buffers_ending_before_the_last_matrix),
        KILN_TEST(sgemm_batched_rejects_strides_that_overflow),
        KILN_TEST(sgemm_batched_rejects_ld_whose_span_wraps_past_size_max),
    };
    return RUN_KILN_TESTS(tests);
}
