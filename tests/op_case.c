#include "op_case.h"

#include <stdio.h>

enum { A, B, C, BIAS };

/* The rows×cols of operand i as op() sees it, whether it is stored transposed, and
 * whether the call uses the operand at all. Vectors are 1×n. */
typedef struct {
    bool used, matrix;
    size_t rows, cols;
    int trans;
} operand_shape;

static operand_shape shape_of(const op_case *c, int i)
{
    operand_shape s = {.used = true, .matrix = true, .rows = c->m, .cols = c->n};
    switch (c->op) {
    case CASE_VADD:
    case CASE_SIGMOID:
        s = (operand_shape){.used = i != BIAS && (c->op == CASE_VADD || i != B), .rows = 1,
                            .cols = c->n};
        break;
    case CASE_GEAM:
        s.used = i != BIAS;
        s.trans = i == A ? c->ta : i == B ? c->tb : KILN_NO_TRANS;
        break;
    case CASE_SGEMM:
        s.used = i != BIAS;
        s.trans = i == A ? c->ta : i == B ? c->tb : KILN_NO_TRANS;
        s.rows = i == B ? c->k : c->m;
        s.cols = i == A ? c->k : c->n;
        break;
    default: /* dense: W m×k, x k×n, y m×n, bias of m; no leading dimensions */
        s.used = i != BIAS || c->bias;
        s.rows = i == B ? c->k : i == BIAS ? 1 : c->m;
        s.cols = i == A ? c->k : i == BIAS ? c->m : c->n;
        s.matrix = false;
        break;
    }
    return s;
}

static void stored_of(const operand_shape *s, size_t *rows, size_t *cols)
{
    *rows = s->trans == KILN_TRANS ? s->cols : s->rows;
    *cols = s->trans == KILN_TRANS ? s->rows : s->cols;
}

/* The leading dimension the call passes (may be invalid) and the one the buffer is laid
 * out with (always valid). */
static size_t ld_passed(const op_case *c, int i)
{
    operand_shape s = shape_of(c, i);
    size_t rows, cols;
    stored_of(&s, &rows, &cols);
    long least = cols > 0 ? (long)cols : 1;
    long ld = s.matrix ? least + c->ld_delta[i] : least;
    return ld > 0 ? (size_t)ld : 0;
}

static size_t ld_layout(const op_case *c, int i)
{
    operand_shape s = shape_of(c, i);
    size_t rows, cols, ld = ld_passed(c, i);
    stored_of(&s, &rows, &cols);
    return ld >= cols && ld > 0 ? ld : (cols > 0 ? cols : 1);
}

static size_t span(size_t rows, size_t cols, size_t ld)
{
    return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

/* Bytes of the view the call gets: from the offset (plus c's misalignment) to the end
 * of its buffer, less the shrink; at least one byte. */
static size_t view_bytes(const op_case *c, int i, size_t total_floats)
{
    size_t bytes = (total_floats - c->offset[i]) * sizeof(float);
    size_t cut = c->shrink[i] * sizeof(float) + (i == C ? c->misalign : 0);
    return cut < bytes ? bytes - cut : 1;
}

enum { PADDING = 2 };

static bool operand_valid(const op_case *c, int i)
{
    operand_shape s = shape_of(c, i);
    if (!s.used)
        return true;
    size_t rows, cols, ld = ld_passed(c, i);
    stored_of(&s, &rows, &cols);
    if (ld < (cols > 0 ? cols : 1))
        return false;
    size_t total = c->offset[i] + span(rows, cols, ld_layout(c, i)) + PADDING;
    return span(rows, cols, ld) * sizeof(float) <= view_bytes(c, i, total);
}

bool op_case_valid(const op_case *c)
{
    bool trans_ok = (c->ta == KILN_NO_TRANS || c->ta == KILN_TRANS) &&
                    (c->tb == KILN_NO_TRANS || c->tb == KILN_TRANS);
    bool act_ok = c->act == KILN_ACT_NONE || c->act == KILN_ACT_SIGMOID ||
                  c->act == KILN_ACT_RELU || c->act == KILN_ACT_TANH;
    bool ok = c->op < CASE_OPS && c->misalign == 0 && c->huge == HUGE_NONE && (c->op != CASE_DENSE || act_ok) &&
              ((c->op != CASE_GEAM && c->op != CASE_SGEMM) || trans_ok);
    for (int i = 0; i < OPERANDS && ok; i++)
        ok = operand_valid(c, i);
    return ok;
}

/* What an operand holds: inputs the call must not read (α or β of 0) are NaN, an
 * output it must not read is CANARY (NaN for sgemm, whose β = 0 must ignore it). */
static fill_kind fill_of(const op_case *c, int i)
{
    if (i == A && c->op == CASE_GEAM && c->alpha == 0)
        return FILL_NAN;
    if (i == B && c->op == CASE_GEAM && c->beta == 0)
        return FILL_NAN;
    if (i == C && c->op == CASE_SGEMM)
        return c->beta == 0 ? FILL_NAN : FILL_RANDOM;
    return i == C ? (c->op == CASE_DENSE ? FILL_NAN : FILL_CANARY) : FILL_RANDOM;
}

static operand operand_of(kiln_ctx *ctx, const op_case *c, int i)
{
    operand_shape s = shape_of(c, i);
    size_t rows, cols;
    stored_of(&s, &rows, &cols);
    operand o = operand_make(ctx, rows, cols, ld_layout(c, i), c->offset[i], PADDING,
                             fill_of(c, i), 11 * (uint32_t)i + (uint32_t)c->m);
    if (c->shrink[i] > 0 || (i == C && c->misalign > 0))
        o.view = scratch_view(o.buffer, c->offset[i] * sizeof(float) + (i == C ? c->misalign : 0),
                              view_bytes(c, i, o.total));
    return o;
}

/* The argument the call passes: value, or the huge value in its place. */
static size_t arg(const op_case *c, op_case_huge which, size_t value)
{
    return c->huge == which ? c->huge_value : value;
}

static kiln_status call(kiln_ctx *ctx, const op_case *c, const operand *o)
{
    size_t m = arg(c, HUGE_M, c->m), n = arg(c, HUGE_N, c->n), k = arg(c, HUGE_K, c->k);
    size_t lda = arg(c, HUGE_LDA, ld_passed(c, A)), ldb = arg(c, HUGE_LDB, ld_passed(c, B));
    size_t ldc = arg(c, HUGE_LDC, ld_passed(c, C));
    switch (c->op) {
    case CASE_VADD: return kiln_vadd(ctx, o[A].view, o[B].view, o[C].view, n);
    case CASE_SIGMOID: return kiln_sigmoid(ctx, o[A].view, o[C].view, n);
    case CASE_GEAM:
        return kiln_geam(ctx, (kiln_trans)c->ta, (kiln_trans)c->tb, m, n, c->alpha, o[A].view,
                         lda, c->beta, o[B].view, ldb, o[C].view, ldc);
    case CASE_SGEMM:
        return kiln_sgemm(ctx, (kiln_trans)c->ta, (kiln_trans)c->tb, m, n, k, c->alpha,
                          o[A].view, lda, o[B].view, ldb, c->beta, o[C].view, ldc);
    default:
        return kiln_dense(ctx, o[A].view, o[B].view, c->bias ? o[BIAS].view : NULL, o[C].view,
                          m, k, n, c->act);
    }
}

static reference expected_of(const op_case *c, const operand *o)
{
    const float *a = operand_data(&o[A]), *b = operand_data(&o[B]);
    switch (c->op) {
    case CASE_VADD: return reference_vadd(a, b, c->n);
    case CASE_SIGMOID: return reference_sigmoid(a, c->n);
    case CASE_GEAM:
        return reference_geam((kiln_trans)c->ta, (kiln_trans)c->tb, c->m, c->n, c->alpha, a,
                              o[A].ld, c->beta, b, o[B].ld);
    case CASE_SGEMM:
        return reference_sgemm((kiln_trans)c->ta, (kiln_trans)c->tb, c->m, c->n, c->k,
                               c->alpha, a, o[A].ld, b, o[B].ld, c->beta, operand_data(&o[C]),
                               o[C].ld);
    default:
        return reference_dense(a, b, c->bias ? operand_data(&o[BIAS]) : NULL, c->m, c->k,
                               c->n, c->act);
    }
}

kiln_status op_case_run(kiln_ctx *ctx, const op_case *c)
{
    size_t mark = scratch_mark();
    operand o[OPERANDS];
    for (int i = 0; i < OPERANDS; i++)
        o[i] = operand_of(ctx, c, i);
    kiln_status status = call(ctx, c, o);
    if (status == KILN_OK) {
        reference r = expected_of(c, o);
        assert_operand_near(&o[C], &r);
    }
    scratch_release_to(mark);
    return status;
}

/* splitmix64 */
static uint64_t next(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* 0 .. limit, with 0 and 1 a little more often than the rest. */
static size_t side(uint64_t *state, size_t limit)
{
    uint64_t r = next(state);
    return r % 16 == 0 ? (size_t)(r >> 8) % 2 : 1 + (size_t)(r >> 8) % limit;
}

op_case op_case_random(case_op op, uint32_t seed, size_t max_side)
{
    static const float scalars[] = {1.0f, -0.5f, 0.0f, 2.25f, 1.0f, -1.0f};
    uint64_t state = seed * 0x2545f4914f6cdd1dull + op;
    op_case c = {.op = op, .ta = (int)(next(&state) & 1), .tb = (int)(next(&state) & 1)};
    c.m = side(&state, max_side);
    c.n = side(&state, op <= CASE_SIGMOID ? 40 * max_side : max_side);
    c.k = side(&state, max_side);
    c.alpha = scalars[next(&state) % 6];
    c.beta = scalars[next(&state) % 6];
    c.act = (kiln_act)(next(&state) % 3);
    c.bias = next(&state) & 1;
    for (int i = 0; i < OPERANDS; i++) {
        uint64_t r = next(&state);
        c.ld_delta[i] = r % 2 ? (long)((r >> 8) % 6) : 0;
        c.offset[i] = (size_t)(r >> 16) % 4;
    }
    return c;
}

void op_case_describe(const op_case *c, char *text, size_t size)
{
    static const char *const names[] = {"vadd", "sigmoid", "geam", "sgemm", "dense"};
    snprintf(text, size,
             "%s ta=%d tb=%d m=%zu n=%zu k=%zu alpha=%g beta=%g act=%d bias=%d "
             "ld+=(%ld %ld %ld) offset=(%zu %zu %zu %zu) shrink=(%zu %zu %zu %zu) misalign=%zu "
             "huge %d=%zu",
             c->op < CASE_OPS ? names[c->op] : "?", c->ta, c->tb, c->m, c->n, c->k,
             (double)c->alpha, (double)c->beta, (int)c->act, (int)c->bias, c->ld_delta[A],
             c->ld_delta[B], c->ld_delta[C], c->offset[A], c->offset[B], c->offset[C],
             c->offset[BIAS], c->shrink[A], c->shrink[B], c->shrink[C], c->shrink[BIAS],
             c->misalign, (int)c->huge, c->huge_value);
}
