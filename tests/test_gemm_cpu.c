/* The CPU GEMM kernel (cl/gemm_cpu.cl): every row of its table, forced, on edge shapes of
 * its register tile, blocks and k slices under every transpose, with each row's vector
 * width; scalars, the dense epilogue and batches with broadcast operands; all against
 * the double reference with canaries around C. It links kiln's objects and includes
 * lib/internal.h on purpose, to force tiles and vector widths. The suite runs it with
 * $KILN_GEMM_TABLE=cpu, so the dispatcher's own calls take the CPU kernel too. */
#include "internal.h" /* first: cmocka's fail() macro would rename kiln's fail() */

#include "common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* One product: C = alpha·op(A)·op(B) + beta·C, batch of them (A shared when
 * broadcast_a, else B), each op(X) with ld 3 beyond its row and 5 floats before it. */
typedef struct {
    kiln_trans ta, tb;
    size_t m, n, k;
    float alpha, beta;
    fill_kind fill_c;
    size_t batch;
    bool broadcast_a;
} cpu_case;

/* op(X) of rows×cols for each of `count` matrices stacked along X's stored rows. */
static operand stacked_make(kiln_ctx *ctx, kiln_trans t, size_t rows, size_t cols,
                            size_t count, fill_kind fill, uint32_t seed)
{
    return t == KILN_TRANS ? input_make(ctx, KILN_NO_TRANS, cols * count, rows, 3, 5, fill, seed)
                           : input_make(ctx, KILN_NO_TRANS, rows * count, cols, 3, 5, fill, seed);
}

/* Floats from one stacked matrix to the next (0: one matrix shared). */
static size_t stacked_stride(const operand *x, kiln_trans t, size_t rows, size_t cols,
                             size_t count)
{
    return count > 1 ? (t == KILN_TRANS ? cols : rows) * x->ld : 0;
}

/* Runs the case with the tile forced (config) or as dispatched (NULL) and checks every
 * matrix of C against the double reference and C's canaries. */
static void check_case(kiln_ctx *ctx, const cpu_case *c, const struct gemm_config *config)
{
    size_t mark = scratch_mark(), batch = c->batch > 0 ? c->batch : 1;
    size_t a_count = c->broadcast_a ? 1 : batch, b_count = c->broadcast_a ? batch : 1;
    operand a = stacked_make(ctx, c->ta, c->m, c->k, a_count, FILL_RANDOM, 1);
    operand b = stacked_make(ctx, c->tb, c->k, c->n, b_count, FILL_RANDOM, 2);
    operand out = stacked_make(ctx, KILN_NO_TRANS, c->m, c->n, batch, c->fill_c, 3);
    struct gemm_call call = {
        .ta = c->ta, .tb = c->tb, .m = c->m, .n = c->n, .k = c->k, .alpha = c->alpha,
        .a = a.view, .lda = a.ld, .b = b.view, .ldb = b.ld, .beta = c->beta, .c = out.view,
        .ldc = out.ld, .act = KILN_ACT_NONE, .batch = batch,
        .stride_a = stacked_stride(&a, c->ta, c->m, c->k, a_count),
        .stride_b = stacked_stride(&b, c->tb, c->k, c->n, b_count),
        .stride_c = stacked_stride(&out, KILN_NO_TRANS, c->m, c->n, batch)};
    assert_ok(ctx, config != NULL ? gemm_run_config(ctx, &call, GEMM_KIND_CPU, config)
                                  : gemm_portable_enqueue(ctx, &call));
    float *got = operand_download(&out);
    assert_canaries_intact(&out, got);
    for (size_t i = 0; i < batch; ++i) {
        reference r = reference_sgemm(
            c->ta, c->tb, c->m, c->n, c->k, c->alpha, operand_data(&a) + i * call.stride_a,
            a.ld, operand_data(&b) + i * call.stride_b, b.ld, c->beta,
            operand_data(&out) + i * call.stride_c, out.ld);
        assert_matrix_near(got + out.offset + i * call.stride_c, out.ld, &r);
    }
    scratch_release_to(mark);
}

/* ---- every row of the table */

enum { MAX_EDGE_SHAPES = 32 };

/* Edge shapes of a row: 1, 7, 17; the register tile, blocks and slices ± 1 and ragged in
 * each dimension; k small except where k is the edge. */
static size_t edge_shapes(const struct gemm_config *t, size_t (*shapes)[3])
{
    const size_t mc = t->tile_m, nc = t->tile_n, kc = t->tile_k, mr = t->wpt_m,
                 nr = t->wpt_n;
    const size_t list[][3] = {
        {1, 1, 1},           {7, 17, 5},          {17, 7, 17},          {mr, nr, 3},
        {mr - 1, nr + 1, 2}, {mr + 1, nr - 1, 4}, {mc, nc, 2},          {mc - 1, nc + 1, 3},
        {mc + 1, nc - 1, 1}, {2 * mc + 1, 5, 3},  {5, 2 * nc + 1, 3},   {3, 5, kc},
        {3, 5, kc - 1},      {3, 5, kc + 1},      {mr + 1, nr + 1, 2 * kc + 1},
        {mc + 1, nc + 1, kc + 1}, {1, 2 * nc + 3, 2}, {2 * mc + 3, 1, 2}, {2 * mr, 3 * nr, 7},
        {mc / 2 + 1, nc / 2 - 1, 9}, {33, 65, 1},
    };
    size_t count = 0;
    for (size_t i = 0; i < sizeof(list) / sizeof(list[0]); ++i)
        if (list[i][0] > 0 && list[i][1] > 0 && list[i][2] > 0)
            memcpy(shapes[count++], list[i], sizeof(list[i]));
    return count;
}

static void every_cpu_tile_of_the_table_on_edge_shapes_and_transposes(void **state)
{
    kiln_ctx *ctx = *state;
    unsigned native = ctx->limits.vector_width;
    struct gemm_table table = gemm_cpu_table();
    for (size_t i = 0; i < table.count; ++i) {
        const struct gemm_config *t = &table.configs[i];
        /* each row as on the device it is for: two of its vectors a row */
        ctx->limits.vector_width = t->wpt_n / 2;
        assert_int_equal(gemm_cpu_vector_width(&ctx->limits, t), t->wpt_n / 2);
        size_t shapes[MAX_EDGE_SHAPES][3];
        size_t count = edge_shapes(t, shapes);
        assert_true(count >= 20);
        for (size_t s = 0; s < count; ++s)
            for (int tr = 0; tr < 4; ++tr) {
                const cpu_case c = {(kiln_trans)(tr & 1), (kiln_trans)(tr >> 1), shapes[s][0],
                                    shapes[s][1], shapes[s][2], 0.75f, -1.25f, FILL_RANDOM,
                                    1, false};
                check_case(ctx, &c, t);
            }
    }
    ctx->limits.vector_width = native;
}

/* ---- scalars, epilogue, batches: as the dispatcher runs them */

static void cpu_kernel_scales_and_reads_no_c_when_beta_is_zero(void **state)
{
    /* k beyond a slice: C is updated once per slice, beta only by the first. */
    const float scalars[][2] = {{1.0f, 0.0f}, {-2.0f, 1.0f}, {0.25f, 3.0f}, {0.0f, 2.0f},
                                {0.0f, 0.0f}};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; ++i)
        for (int tr = 0; tr < 4; ++tr) {
            const float beta = scalars[i][1];
            const cpu_case c = {(kiln_trans)(tr & 1), (kiln_trans)(tr >> 1), 101, 70, 300,
                                scalars[i][0], beta, beta == 0.0f ? FILL_NAN : FILL_RANDOM,
                                1, false};
            check_case(*state, &c, NULL);
        }
}

static void cpu_kernel_runs_batches_with_a_broadcast_operand(void **state)
{
    for (int broadcast_a = 0; broadcast_a < 2; ++broadcast_a)
        for (int tr = 0; tr < 4; ++tr) {
            const cpu_case c = {(kiln_trans)(tr & 1), (kiln_trans)(tr >> 1), 50, 37, 260,
                                0.5f, 0.5f, FILL_RANDOM, 3, broadcast_a};
            check_case(*state, &c, NULL);
        }
}

/* y = act(W·x + bias) through kiln_dense, in more than one slice of k. */
static void cpu_kernel_runs_the_dense_epilogue(void **state)
{
    kiln_ctx *ctx = *state;
    const size_t out = 53, in = 300, batch = 70;
    for (int act = KILN_ACT_NONE; act <= KILN_ACT_TANH; ++act)
        for (int has_bias = 0; has_bias < 2; ++has_bias) {
            size_t mark = scratch_mark();
            operand w = tight_make(ctx, out, in, FILL_RANDOM, 1);
            operand x = tight_make(ctx, in, batch, FILL_RANDOM, 2);
            operand bias = vector_make(ctx, out, 0, 0, FILL_RANDOM, 3);
            operand y = tight_make(ctx, out, batch, FILL_NAN, 4);
            assert_ok(ctx, kiln_dense(ctx, w.view, x.view, has_bias ? bias.view : NULL, y.view,
                                      out, in, batch, (kiln_act)act));
            reference r = reference_dense(operand_data(&w), operand_data(&x),
                                          has_bias ? operand_data(&bias) : NULL, out, in,
                                          batch, (kiln_act)act);
            assert_operand_near(&y, &r);
            scratch_release_to(mark);
        }
}

/* The dispatcher takes the CPU kernel here: a forced portable tile gives the same. */
static void cpu_kernel_agrees_with_the_portable_kernel(void **state)
{
    kiln_ctx *ctx = *state;
    const cpu_case c = {KILN_TRANS, KILN_NO_TRANS, 130, 301, 257, 1.0f, 0.5f, FILL_RANDOM,
                        1, false};
    check_case(ctx, &c, NULL);
    size_t mark = scratch_mark();
    operand a = input_make(ctx, KILN_NO_TRANS, c.m, c.k, 0, 0, FILL_RANDOM, 1);
    operand b = input_make(ctx, KILN_NO_TRANS, c.k, c.n, 0, 0, FILL_RANDOM, 2);
    operand fast = tight_make(ctx, c.m, c.n, FILL_NAN, 3);
    operand slow = tight_make(ctx, c.m, c.n, FILL_NAN, 3);
    struct gemm_call call = {.m = c.m, .n = c.n, .k = c.k, .alpha = 1.0f, .a = a.view,
                             .lda = a.ld, .b = b.view, .ldb = b.ld, .c = fast.view,
                             .ldc = fast.ld, .batch = 1};
    assert_ok(ctx, gemm_run_config(ctx, &call, GEMM_KIND_CPU, &gemm_cpu_table().configs[0]));
    call.c = slow.view;
    assert_ok(ctx, gemm_run_config(ctx, &call, GEMM_KIND_PORTABLE, &gemm_portable_configs[0]));
    float *x = operand_download(&fast), *y = operand_download(&slow);
    for (size_t i = 0; i < c.m * c.n; ++i) /* both are sums of 257 products near 1 */
        assert_true(fabsf(x[i] - y[i]) <= 1e-4f * (1.0f + fabsf(y[i])));
    scratch_release_to(mark);
}

/* 0 when the device's local memory holds the packed slices of a row of the table, 77
 * (skip) when it holds none (GPUs: 48 KiB against hundreds), 1 without a context. */
static int cpu_kernel_availability(void)
{
    kiln_ctx *ctx = NULL;
    if (kiln_ctx_create(&ctx, NULL) != KILN_OK) {
        fprintf(stderr, "kiln_ctx_create: %s\n", kiln_last_error(NULL));
        return 1;
    }
    struct gemm_table table = gemm_cpu_table();
    int verdict = 77;
    for (size_t i = 0; i < table.count; ++i)
        if (gemm_cpu_fits(&ctx->limits, &table.configs[i]))
            verdict = 0;
    if (verdict != 0)
        printf("skipped: no tile of the CPU kernel fits this device's %zu bytes of local "
               "memory\n", ctx->limits.local_mem_bytes);
    kiln_ctx_destroy(ctx);
    return verdict;
}

int main(void)
{
    int availability = cpu_kernel_availability();
    if (availability != 0)
        return availability;
    const struct CMUnitTest tests[] = {
        KILN_TEST(every_cpu_tile_of_the_table_on_edge_shapes_and_transposes),
        KILN_TEST(cpu_kernel_scales_and_reads_no_c_when_beta_is_zero),
        KILN_TEST(cpu_kernel_runs_batches_with_a_broadcast_operand),
        KILN_TEST(cpu_kernel_runs_the_dense_epilogue),
        KILN_TEST(cpu_kernel_agrees_with_the_portable_kernel),
    };
    return RUN_KILN_TESTS(tests);
}
