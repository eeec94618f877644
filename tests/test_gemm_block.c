/* The whole-block GEMM kernel (cl/gemm_block.cl): shapes made of whole tiles of its
 * table with float4-aligned matrices take it, for every transpose, leading dimension,
 * offset and epilogue, checked against the double reference with canaries around C. */
#include "op_case.h"

/* (m, n, k): made of the tiles of the GPU families' tables (gemm/params.c); on a device
 * of two compute units each tile is the largest giving two blocks for some shape. The
 * suite runs this file once per GPU table ($KILN_GEMM_TABLE; CPUs run gemm_cpu.cl). */
static const size_t shapes[][3] = {{128, 256, 64}, {256, 128, 128}, {64, 192, 64},
                                   {192, 64, 128}, {64, 128, 64},   {384, 128, 128},
                                   {32, 128, 32},  {96, 64, 32},    {256, 256, 64},
                                   {128, 128, 64}};
#define SHAPE_COUNT (sizeof shapes / sizeof shapes[0])

/* ld beyond the row and offsets, both in whole float4s, so the block kernel applies. */
static const size_t layouts[][2] = {{0, 0}, {4, 4}, {12, 8}};
#define LAYOUT_COUNT (sizeof layouts / sizeof layouts[0])

static op_case block_case(case_op op, int t, const size_t shape[3], const size_t layout[2])
{
    op_case c = {.op = op, .ta = t & 1, .tb = t >> 1, .m = shape[0], .n = shape[1],
                 .k = shape[2], .alpha = 0.5f, .beta = -1.5f, .act = KILN_ACT_NONE};
    for (int i = 0; i < OPERANDS; ++i) {
        c.ld_delta[i] = (long)layout[0];
        c.offset[i] = layout[1];
    }
    return c;
}

static void run_valid(kiln_ctx *ctx, const op_case *c)
{
    assert_true(op_case_valid(c));
    assert_ok(ctx, op_case_run(ctx, c));
}

static void gemm_block_multiplies_every_transpose_layout_and_tile(void **state)
{
    for (int t = 0; t < 4; ++t)
        for (size_t s = 0; s < SHAPE_COUNT; ++s)
            for (size_t l = 0; l < LAYOUT_COUNT; ++l) {
                op_case c = block_case(CASE_SGEMM, t, shapes[s], layouts[l]);
                run_valid(*state, &c);
            }
}

static void gemm_block_with_beta_zero_and_other_scalars(void **state)
{
    const float scalars[][2] = {{1.0f, 0.0f}, {-2.0f, 1.0f}, {0.25f, 3.0f}};
    for (size_t i = 0; i < sizeof scalars / sizeof scalars[0]; ++i) {
        op_case c = block_case(CASE_SGEMM, 0, shapes[0], layouts[1]);
        c.alpha = scalars[i][0];
        c.beta = scalars[i][1];
        run_valid(*state, &c);
    }
}

static void gemm_block_runs_the_dense_epilogue(void **state)
{
    for (int act = KILN_ACT_NONE; act <= KILN_ACT_TANH; ++act)
        for (int bias = 0; bias < 2; ++bias) {
            op_case c = block_case(CASE_DENSE, 0, shapes[2], layouts[0]);
            c.act = (kiln_act)act;
            c.bias = bias;
            run_valid(*state, &c);
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(gemm_block_multiplies_every_transpose_layout_and_tile),
        KILN_TEST(gemm_block_with_beta_zero_and_other_scalars),
        KILN_TEST(gemm_block_runs_the_dense_epilogue),
    };
    return RUN_KILN_TESTS(tests);
}
