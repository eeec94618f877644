/* Properties of kiln_map's language on random expression trees (depth at most 6): kiln's
 * results against a C evaluator of the same tree in double, which carries a bound on
 * what float evaluation may be off by (it grows with the depth: every node adds its own
 * rounding and passes its operands' errors on, amplified as its derivative says); the
 * fuzzer's corpus compiled and run; and cache keys that tell any two different trees
 * apart but no two spellings of one tree.
 *
 * Trees come from a seed: $KILN_MAP_SEED, else the clock. It is printed at the start and
 * in every failure, so KILN_MAP_SEED=<seed> repeats a run. A run builds the kernels of at
 * most 40 trees: eight trees make one kernel, as eight statements.
 *
 * The keys are internal: this program links kiln's objects and includes lib/expr/expr.h
 * on purpose (as tests/test_faults.c links them). */
#include "common.h"
#include "expr/expr.h"

#include <dirent.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    MAX_DEPTH = 6,
    MAX_NODES = 4096,     /* of the trees alive at once: 8 full trees have 2912 */
    STATEMENTS = 8,       /* trees of one kernel */
    MAP_KERNELS = 4,      /* 32 trees */
    ROWS = 3, COLS = 13,  /* a float4 path tail, and rows and columns for ROW and COL */
    KEY_TREES = 400,      /* trees whose keys are compared, none compiled */
    TEXT = 48 * 1024,     /* 8 full trees spaced take about 30 KiB */
};

static unsigned long long seed;

/* ---------------------------------------------------------------- random numbers */

/* xorshift64*: small, and the same sequence everywhere. */
static unsigned long long next_random(unsigned long long *state)
{
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    return *state * 0x2545F4914F6CDD1DULL;
}

static unsigned pick(unsigned long long *state, unsigned count)
{
    return (unsigned)(next_random(state) >> 33) % count;
}

/* ---------------------------------------------------------------- trees */

typedef enum {
    TREE_NAME, TREE_NUMBER, TREE_NEGATE, TREE_ADD, TREE_SUBTRACT, TREE_MULTIPLY, TREE_DIVIDE,
    TREE_POWER, TREE_LESS, TREE_LESS_EQUAL, TREE_GREATER, TREE_GREATER_EQUAL, TREE_EQUAL,
    TREE_NOT_EQUAL, TREE_CONDITION, TREE_CALL
} tree_op;

static const char *const operators[] = {
    [TREE_ADD] = "+", [TREE_SUBTRACT] = "-", [TREE_MULTIPLY] = "*", [TREE_DIVIDE] = "/",
    [TREE_LESS] = "<", [TREE_LESS_EQUAL] = "<=", [TREE_GREATER] = ">",
    [TREE_GREATER_EQUAL] = ">=", [TREE_EQUAL] = "==", [TREE_NOT_EQUAL] = "!="};

typedef enum {
    CALL_EXP, CALL_LOG, CALL_SQRT, CALL_RSQRT, CALL_TANH, CALL_SIGMOID, CALL_RELU, CALL_ABS,
    CALL_MIN, CALL_MAX, CALL_POW, CALL_ERF, CALL_COUNT
} call;

static const struct {
    const char *name;
    unsigned arity;
} calls[CALL_COUNT] = {
    [CALL_EXP] = {"exp", 1},     [CALL_LOG] = {"log", 1},         [CALL_SQRT] = {"sqrt", 1},
    [CALL_RSQRT] = {"rsqrt", 1}, [CALL_TANH] = {"tanh", 1},       [CALL_SIGMOID] = {"sigmoid", 1},
    [CALL_RELU] = {"relu", 1},   [CALL_ABS] = {"abs", 1},         [CALL_MIN] = {"min", 2},
    [CALL_MAX] = {"max", 2},     [CALL_POW] = {"pow", 2},         [CALL_ERF] = {"erf", 1},
};

/* Literals in the language's forms; whole ones of 0..16 are exact exponents after ^. */
static const char *const literals[] = {"0", "1", "2", "3", "7", "0.5", ".25", "3.",
                                       "1e-1", "1.5E1", "2.5e+0", "0.001"};
enum { LITERALS = sizeof(literals) / sizeof(literals[0]) };

/* The inputs, then the outputs y0.. of the statements (a statement reads earlier ones). */
static const struct {
    const char *name;
    kiln_bind_kind kind;
} inputs[] = {{"a", KILN_BIND_ARRAY}, {"b", KILN_BIND_ARRAY}, {"r", KILN_BIND_ROW},
              {"k", KILN_BIND_COL},   {"s", KILN_BIND_SCALAR}, {"t", KILN_BIND_SCALAR}};
enum { INPUTS = sizeof(inputs) / sizeof(inputs[0]) };
static const char *const outputs[STATEMENTS] = {"y0", "y1", "y2", "y3", "y4", "y5", "y6", "y7"};

typedef struct tree {
    tree_op op;
    call function;                /* TREE_CALL */
    unsigned leaf;                /* TREE_NAME: input, or INPUTS + output; TREE_NUMBER: literal */
    const struct tree *operand[3];
} tree;

typedef struct {
    tree nodes[MAX_NODES];
    size_t used;
    unsigned long long random;
    unsigned outputs; /* the earlier statements' outputs a leaf may read */
} forest;

static unsigned operand_count(const tree *t)
{
    if (t->op == TREE_NAME || t->op == TREE_NUMBER)
        return 0;
    if (t->op == TREE_NEGATE)
        return 1;
    if (t->op == TREE_CONDITION)
        return 3;
    return t->op == TREE_CALL ? calls[t->function].arity : 2;
}

/* A node of f, a number until set otherwise. */
static tree *node_new(forest *f)
{
    assert_true(f->used < MAX_NODES);
    tree *t = &f->nodes[f->used++];
    *t = (tree){TREE_NUMBER, CALL_EXP, 0, {NULL, NULL, NULL}};
    return t;
}

/* An input, a literal or an earlier statement's output. */
static const tree *leaf(forest *f, tree *t)
{
    unsigned choice = pick(&f->random, 4 * INPUTS + f->outputs);
    if (choice < 3 * INPUTS) {
        t->op = TREE_NAME;
        t->leaf = choice % INPUTS;
    } else if (choice < 4 * INPUTS) {
        t->leaf = pick(&f->random, LITERALS);
    } else {
        t->op = TREE_NAME;
        t->leaf = INPUTS + choice - 4 * INPUTS;
    }
    return t;
}

static const tree *literal_leaf(forest *f)
{
    tree *t = node_new(f);
    t->leaf = pick(&f->random, LITERALS);
    return t;
}

/* A tree of at most MAX_DEPTH - depth + 1 levels; leaves likelier the deeper it is. */
static const tree *grow(forest *f, unsigned depth)
{
    tree *t = node_new(f);
    if (depth == MAX_DEPTH || pick(&f->random, MAX_DEPTH) < depth - 1)
        return leaf(f, t);
    /* the comparisons share one slot, functions have three */
    static const tree_op ops[] = {TREE_NEGATE, TREE_ADD, TREE_SUBTRACT, TREE_MULTIPLY,
                                  TREE_DIVIDE, TREE_POWER, TREE_LESS, TREE_CONDITION,
                                  TREE_CALL, TREE_CALL, TREE_CALL};
    t->op = ops[pick(&f->random, sizeof(ops) / sizeof(ops[0]))];
    if (t->op == TREE_LESS)
        t->op = (tree_op)(TREE_LESS + pick(&f->random, TREE_NOT_EQUAL - TREE_LESS + 1));
    t->function = (call)pick(&f->random, CALL_COUNT);
    /* half the exponents are literals: whole ones the language multiplies out, others
     * (0.5, 3., 1.5E1) it calls pow for */
    const bool literal_exponent = t->op == TREE_POWER && pick(&f->random, 2) == 0;
    for (unsigned i = 0; i < operand_count(t); ++i)
        t->operand[i] = literal_exponent && i == 1 ? literal_leaf(f) : grow(f, depth + 1);
    return t;
}

/* The k of an exponent the language multiplies out (a whole literal of 0..16), or -1. */
static int exact_exponent(const tree *t)
{
    if (t->op != TREE_POWER || t->operand[1]->op != TREE_NUMBER)
        return -1;
    const char *text = literals[t->operand[1]->leaf];
    return strspn(text, "0123456789") == strlen(text) && atoi(text) <= 16 ? atoi(text) : -1;
}

/* ---------------------------------------------------------------- text */

typedef struct {
    char data[TEXT];
    size_t length;
    bool canonical;    /* names by kind and first appearance, literals by their bits */
    bool spaced;       /* spaces around operators */
    bool swapped;      /* a and b, s and t trade places: the same tree over other names */
    char names[INPUTS][8];
    unsigned named;    /* canonical names given so far */
} text;

static void add(text *out, const char *s)
{
    size_t length = strlen(s);
    assert_true(out->length + length < TEXT);
    memcpy(out->data + out->length, s, length + 1);
    out->length += length;
}

/* A leaf's name in the text, or canonically its kind and its order of first appearance,
 * which is how kiln numbers variables. */
static const char *name_text(text *out, unsigned name)
{
    static const unsigned swap[INPUTS] = {1, 0, 2, 3, 5, 4};
    if (name >= INPUTS)
        return outputs[name - INPUTS];
    if (!out->canonical)
        return inputs[out->swapped ? swap[name] : name].name;
    if (out->names[name][0] == '\0')
        snprintf(out->names[name], sizeof(out->names[name]), "%c%u",
                 "ASRC"[inputs[name].kind], out->named++);
    return out->names[name];
}

/* A literal as written, or canonically as its float's bits (1 and 1. are one tree). */
static void add_number(text *out, unsigned literal)
{
    char bits[32];
    snprintf(bits, sizeof(bits), "%a", (double)strtof(literals[literal], NULL));
    add(out, out->canonical ? bits : literals[literal]);
}

static void add_tree(text *out, const tree *t);

static void add_operand(text *out, const tree *t)
{
    add(out, "(");
    add_tree(out, t);
    add(out, ")");
}

static void add_tree(text *out, const tree *t)
{
    const char *space = out->spaced ? " " : "";
    switch (t->op) {
    case TREE_NAME: add(out, name_text(out, t->leaf)); return;
    case TREE_NUMBER: add_number(out, t->leaf); return;
    case TREE_NEGATE: add(out, "-"); add_operand(out, t->operand[0]); return;
    case TREE_CONDITION:
        add_operand(out, t->operand[0]);
        add(out, out->spaced ? " ? " : "?");
        add_operand(out, t->operand[1]);
        add(out, out->spaced ? " : " : ":");
        add_operand(out, t->operand[2]);
        return;
    case TREE_CALL:
        add(out, calls[t->function].name);
        add(out, "(");
        for (unsigned i = 0; i < calls[t->function].arity; ++i) {
            add(out, i > 0 ? "," : "");
            add_tree(out, t->operand[i]);
        }
        add(out, ")");
        return;
    case TREE_POWER: /* canonically an exact exponent is not pow's */
        add_operand(out, t->operand[0]);
        add(out, exact_exponent(t) >= 0 && out->canonical ? "^#" : "^");
        add_operand(out, t->operand[1]);
        return;
    default:
        add_operand(out, t->operand[0]);
        add(out, space);
        add(out, operators[t->op]);
        add(out, space);
        add_operand(out, t->operand[1]);
        return;
    }
}

/* "y = <tree>" as kiln reads it, or canonically. */
static void statement_text(text *out, const char *target, const tree *t)
{
    add(out, target);
    add(out, out->spaced ? " = " : "=");
    add_tree(out, t);
}

/* ---------------------------------------------------------------- the C evaluator */

/* A value in double and how far float evaluation may be from it; not `valid` where
 * float may differ without bound (a NaN, an overflow, a comparison or a condition too
 * close to call, a function's argument too close to its domain's edge). */
typedef struct {
    double value, error;
    bool valid;
} bound;

/* One element's inputs, and the statements' outputs so far. */
typedef struct {
    double input[INPUTS];
    bound output[STATEMENTS];
} element;

static const double u = 0x1p-24; /* float's unit roundoff */

/* value rounded to float by an operation of `ulps` units in the last place (an ulp is at
 * most 2u of the value), with the operands' error passed on; FLT_MIN for flushed
 * subnormals. Invalid where float overflows. */
static bound rounded(double value, double passed, double ulps)
{
    double error = passed + 2 * ulps * u * fabs(value) + FLT_MIN;
    return (bound){value, error, isfinite(value) && isfinite(error) && fabs(value) + error < FLT_MAX / 2};
}

static const bound invalid = {0, 0, false};

/* x known to be positive (beyond its error), as log, sqrt, rsqrt and pow need. */
static bool positive(bound x)
{
    return x.value - x.error > 0;
}

static bound evaluate(const tree *t, const element *e);

/* x^k as k - 1 multiplications, k >= 1. */
static bound exact_power(bound x, int k)
{
    const double top = fabs(x.value) + x.error;
    return rounded(pow(x.value, k), k * pow(top, k - 1) * x.error, k - 1);
}

/* pow(x, y) for x > 0: relative error |y|·ln((x + ex)/x) or so, and ln(x)·ey. */
static bound power(bound x, bound y)
{
    if (!positive(x))
        return invalid;
    const double spread = log((x.value + x.error) / (x.value - x.error)) / 2;
    const double relative = (fabs(y.value) + y.error) * spread +
                            (fabs(log(x.value)) + spread) * y.error;
    const double value = pow(x.value, y.value);
    return rounded(value, value * expm1(relative), 16);
}

/* A comparison: 1 or 0, invalid when the operands' errors could reverse it. */
static bound compare(tree_op op, bound x, bound y)
{
    const double a = x.value, b = y.value;
    if (fabs(a - b) <= x.error + y.error && !(x.error == 0 && y.error == 0))
        return invalid;
    bool result = op == TREE_LESS ? a < b : op == TREE_LESS_EQUAL ? a <= b
                : op == TREE_GREATER ? a > b : op == TREE_GREATER_EQUAL ? a >= b
                : op == TREE_EQUAL ? a == b : a != b;
    return (bound){result, 0, true};
}

static bound arithmetic(tree_op op, bound x, bound y)
{
    const double a = x.value, b = y.value;
    switch (op) {
    case TREE_ADD: return rounded(a + b, x.error + y.error, 0.5);
    case TREE_SUBTRACT: return rounded(a - b, x.error + y.error, 0.5);
    case TREE_MULTIPLY:
        return rounded(a * b, fabs(a) * y.error + fabs(b) * x.error + x.error * y.error, 0.5);
    default: /* divide: OpenCL allows 2.5 ulp */
        if (fabs(b) <= y.error)
            return invalid;
        return rounded(a / b, (x.error + fabs(a / b) * y.error) / (fabs(b) - y.error), 2.5);
    }
}

/* The functions at OpenCL's full-profile accuracy; sigmoid is 1 / (1 + exp(-x)). */
static bound function(call f, bound x, bound y)
{
    const double a = x.value, ex = x.error;
    switch (f) {
    case CALL_EXP: return rounded(exp(a), exp(a) * expm1(ex), 3);
    case CALL_LOG: return positive(x) ? rounded(log(a), log(a / (a - ex)), 3) : invalid;
    case CALL_SQRT: return positive(x) ? rounded(sqrt(a), sqrt(a) - sqrt(a - ex), 3) : invalid;
    case CALL_RSQRT:
        return positive(x) ? rounded(1 / sqrt(a), 1 / sqrt(a - ex) - 1 / sqrt(a), 2) : invalid;
    case CALL_TANH: return rounded(tanh(a), ex, 5);
    case CALL_SIGMOID: return rounded(1 / (1 + exp(-a)), ex / 4, 8);
    case CALL_RELU: return rounded(a > 0 ? a : 0, ex, 0);
    case CALL_ABS: return rounded(fabs(a), ex, 0);
    case CALL_MIN: return rounded(fmin(a, y.value), fmax(ex, y.error), 0);
    case CALL_MAX: return rounded(fmax(a, y.value), fmax(ex, y.error), 0);
    case CALL_POW: return power(x, y);
    default: return rounded(erf(a), 1.13 * ex, 16); /* erf' <= 2/sqrt(pi) */
    }
}

/* The tree at one element; a condition evaluates only the branch it takes. */
static bound evaluate(const tree *t, const element *e)
{
    if (t->op == TREE_NAME)
        return t->leaf < INPUTS ? (bound){e->input[t->leaf], 0, true}
                                : e->output[t->leaf - INPUTS];
    if (t->op == TREE_NUMBER)
        return (bound){strtof(literals[t->leaf], NULL), 0, true};
    bound x = evaluate(t->operand[0], e);
    if (exact_exponent(t) == 0) /* 1, even where x is not valid */
        return (bound){1, 0, true};
    if (!x.valid)
        return invalid;
    if (exact_exponent(t) > 0)
        return exact_power(x, exact_exponent(t));
    if (t->op == TREE_NEGATE)
        return (bound){-x.value, x.error, true};
    if (t->op == TREE_CONDITION) {
        if (fabs(x.value) <= x.error && x.error > 0)
            return invalid;
        return evaluate(t->operand[x.value != 0 ? 1 : 2], e);
    }
    bound y = operand_count(t) > 1 ? evaluate(t->operand[1], e) : x;
    if (!y.valid)
        return invalid;
    if (t->op == TREE_CALL)
        return function(t->function, x, y);
    if (t->op == TREE_POWER)
        return power(x, y);
    if (t->op >= TREE_LESS && t->op <= TREE_NOT_EQUAL)
        return compare(t->op, x, y);
    return arithmetic(t->op, x, y);
}

/* ---------------------------------------------------------------- kiln against C */

/* Random inputs over ROWS x COLS, the arrays `shift` bytes into their buffers (16 keeps
 * cl/map.cl's float4 path, 4 makes it scalar), and the outputs y0.. likewise. */
typedef struct {
    float *a, *b, *r, *k;
    kiln_binding binds[INPUTS + STATEMENTS];
} bound_inputs;

static kiln_buf *array_at(kiln_ctx *ctx, const float *values, size_t shift)
{
    const size_t bytes = ROWS * COLS * sizeof(float);
    kiln_buf *view = scratch_view(scratch_buffer(ctx, bytes + shift), shift, bytes);
    if (values != NULL)
        assert_int_equal(kiln_buf_write(view, 0, values, bytes), KILN_OK);
    return view;
}

static bound_inputs inputs_make(kiln_ctx *ctx, unsigned long long state, size_t shift)
{
    bound_inputs in = {scratch_random(ROWS * COLS, (uint32_t)state),
                       scratch_random(ROWS * COLS, (uint32_t)state + 1),
                       scratch_random(COLS, (uint32_t)state + 2),
                       scratch_random(ROWS, (uint32_t)state + 3), {{0}}};
    float scalars[2];
    floats_random(scalars, 2, (uint32_t)state + 4);
    kiln_buf *bufs[INPUTS] = {array_at(ctx, in.a, shift), array_at(ctx, in.b, shift),
                              scratch_upload(ctx, in.r, COLS), scratch_upload(ctx, in.k, ROWS),
                              NULL, NULL};
    for (unsigned i = 0; i < INPUTS; ++i)
        in.binds[i] = (kiln_binding){inputs[i].name, inputs[i].kind, bufs[i],
                                     i >= 4 ? 4 * scalars[i - 4] : 0};
    for (unsigned j = 0; j < STATEMENTS; ++j)
        in.binds[INPUTS + j] = (kiln_binding){outputs[j], KILN_BIND_ARRAY,
                                              array_at(ctx, NULL, shift), 0};
    return in;
}

/* Element i's inputs, no outputs yet. */
static element element_at(const bound_inputs *in, size_t i)
{
    element e = {{in->a[i], in->b[i], in->r[i % COLS], in->k[i / COLS],
                  in->binds[4].value, in->binds[5].value}, {{0, 0, false}}};
    return e;
}

typedef struct {
    size_t checked, total;
} tally;

/* kiln's value against the bound, where the bound says anything. */
static void check_value(float got, bound want, tally *count, const char *what, size_t at,
                        const char *source)
{
    count->total++;
    if (!want.valid)
        return;
    count->checked++;
    if (!(fabs(got - want.value) <= 2 * want.error))
        fail_msg("seed %llu (KILN_MAP_SEED=%llu repeats it): %s at element %zu: kiln %.9g, "
                 "C %.9g within %.3g, of\n%s", seed, seed, what, at, got, want.value,
                 2 * want.error, source);
}

/* Eight random trees as the statements of one kiln_map, each element against C. */
static void check_map_kernel(kiln_ctx *ctx, unsigned kernel, tally *count)
{
    static forest f;
    static text source;
    f = (forest){.random = seed * 977 + kernel + 1};
    source = (text){.spaced = kernel % 2 == 0};
    const tree *trees[STATEMENTS];
    for (unsigned j = 0; j < STATEMENTS; ++j, ++f.outputs) {
        trees[j] = grow(&f, 1);
        statement_text(&source, outputs[j], trees[j]);
        add(&source, ";\n");
    }
    bound_inputs in = inputs_make(ctx, f.random, kernel % 2 == 0 ? 16 : 4);
    kiln_status status = kiln_map(ctx, source.data, ROWS, COLS, in.binds, INPUTS + STATEMENTS);
    if (status != KILN_OK)
        fail_msg("seed %llu: %s: %s, of\n%s", seed, kiln_status_str(status),
                 kiln_last_error(ctx), source.data);
    float *got[STATEMENTS];
    for (unsigned j = 0; j < STATEMENTS; ++j)
        got[j] = scratch_download(in.binds[INPUTS + j].buf, ROWS * COLS);
    for (size_t i = 0; i < ROWS * COLS; ++i) {
        element e = element_at(&in, i);
        for (unsigned j = 0; j < STATEMENTS; ++j) {
            e.output[j] = evaluate(trees[j], &e);
            check_value(got[j][i], e.output[j], count, outputs[j], i, source.data);
        }
    }
}

static void random_trees_as_statements_match_the_c_evaluator(void **state)
{
    tally count = {0, 0};
    for (unsigned kernel = 0; kernel < MAP_KERNELS; ++kernel)
        check_map_kernel(*state, kernel, &count);
    /* a good share must be checked, or the bounds say nothing (NaNs and comparisons too
     * close to call leave some out) */
    if (count.checked < count.total / 4)
        fail_msg("seed %llu: only %zu of %zu values within reach of the bounds", seed,
                 count.checked, count.total);
}

/* The tree at every element into values; false where one is not valid. */
static bool evaluate_all(const tree *t, const bound_inputs *in, bound *values)
{
    for (size_t i = 0; i < ROWS * COLS; ++i) {
        element e = element_at(in, i);
        values[i] = evaluate(t, &e);
        if (!values[i].valid)
            return false;
    }
    return true;
}

/* What a reduction of values may come to: [low, high], a sum also with kiln_sum's bound
 * (kiln.h) on Σ(|value| + error). */
static void reduction_range(enum expr_reduction reduction, const bound *values, double *low,
                            double *high)
{
    double sum = 0, slack = 0, magnitude = 0;
    *low = reduction == REDUCTION_MIN ? INFINITY : -INFINITY;
    *high = *low;
    for (size_t i = 0; i < ROWS * COLS; ++i) {
        const double v = values[i].value, e = 2 * values[i].error;
        sum += v;
        slack += e;
        magnitude += fabs(v) + e;
        *low = reduction == REDUCTION_MIN ? fmin(*low, v - e) : fmax(*low, v - e);
        *high = reduction == REDUCTION_MIN ? fmin(*high, v + e) : fmax(*high, v + e);
    }
    if (reduction == REDUCTION_SUM) {
        slack += (4 * log2(ROWS * COLS) + 2) * u * magnitude;
        *low = sum - slack;
        *high = sum + slack;
    }
}

/* sum, max or min of a random tree, against C; trees are drawn until one is valid at
 * every element, so the whole reduction has a bound. */
static void check_reduction(kiln_ctx *ctx, enum expr_reduction reduction)
{
    static const char *const names[] = {"sum", "max", "min"};
    static forest f;
    static text source;
    static bound values[ROWS * COLS];
    f = (forest){.random = seed * 991 + reduction + 1};
    bound_inputs in = inputs_make(ctx, f.random, reduction % 2 == 0 ? 16 : 4);
    const tree *t;
    do {
        f.used = 0;
        t = grow(&f, 1);
    } while (!evaluate_all(t, &in, values));
    source = (text){.spaced = true};
    add(&source, names[reduction]);
    add_operand(&source, t);
    kiln_buf *result = scratch_buffer(ctx, sizeof(float));
    kiln_status status = kiln_map_reduce(ctx, source.data, ROWS, COLS, in.binds, INPUTS, result);
    if (status != KILN_OK)
        fail_msg("seed %llu: %s: %s, of %s", seed, kiln_status_str(status),
                 kiln_last_error(ctx), source.data);
    double low, high, got = scratch_download(result, 1)[0];
    reduction_range(reduction, values, &low, &high);
    if (!(got >= low && got <= high))
        fail_msg("seed %llu (KILN_MAP_SEED=%llu repeats it): %s gave %.9g, C [%.9g, %.9g]",
                 seed, seed, source.data, got, low, high);
}

static void random_trees_reduced_match_the_c_evaluator(void **state)
{
    check_reduction(*state, REDUCTION_SUM);
    check_reduction(*state, REDUCTION_MAX);
    check_reduction(*state, REDUCTION_MIN);
}

/* ---------------------------------------------------------------- the fuzzer's corpus */

/* Each input of fuzz/corpus/fuzz_expr (its first byte picks map or map_reduce, as the
 * fuzzer's does) compiled and run, or refused with a column, over the names it uses. */
static void fuzz_corpus_compiles_and_runs_or_is_refused_with_a_column(void **state)
{
    kiln_ctx *ctx = *state;
    DIR *folder = opendir(KILN_FUZZ_CORPUS);
    assert_non_null(folder);
    bound_inputs in = inputs_make(ctx, seed, 16);
    kiln_binding binds[INPUTS + 2];
    memcpy(binds, in.binds, INPUTS * sizeof(kiln_binding));
    binds[INPUTS] = (kiln_binding){"y", KILN_BIND_ARRAY, in.binds[INPUTS].buf, 0};
    binds[INPUTS + 1] = (kiln_binding){"z", KILN_BIND_ARRAY, in.binds[INPUTS + 1].buf, 0};
    size_t ran = 0;
    for (struct dirent *entry; (entry = readdir(folder)) != NULL;) {
        char path[512], data[4096];
        snprintf(path, sizeof(path), "%s/%s", KILN_FUZZ_CORPUS, entry->d_name);
        FILE *file = entry->d_name[0] == '.' ? NULL : fopen(path, "rb");
        if (file == NULL)
            continue;
        size_t length = fread(data, 1, sizeof(data) - 1, file);
        fclose(file);
        data[length] = '\0';
        const char *text = data + 1;
        kiln_buf *result = scratch_buffer(ctx, sizeof(float));
        kiln_status status =
            length > 0 && (data[0] & 1)
                ? kiln_map_reduce(ctx, text, ROWS, COLS, binds, INPUTS + 2, result)
                : kiln_map(ctx, text, ROWS, COLS, binds, INPUTS + 2);
        if (status != KILN_OK && (status != KILN_ERR_ARG ||
                                  strstr(kiln_last_error(ctx), "column") == NULL))
            fail_msg("%s: %s: %s", entry->d_name, kiln_status_str(status), kiln_last_error(ctx));
        ran += status == KILN_OK;
    }
    closedir(folder);
    assert_true(ran >= 3);
}

/* ---------------------------------------------------------------- cache keys */

/* The cache key kiln makes of a statement over the inputs and y (malloc'd). */
static char *key_of(const char *source)
{
    kiln_binding binds[INPUTS + 1];
    for (unsigned i = 0; i < INPUTS; ++i)
        binds[i] = (kiln_binding){inputs[i].name, inputs[i].kind, NULL, 0};
    binds[INPUTS] = (kiln_binding){"y", KILN_BIND_ARRAY, NULL, 0};
    struct arena arena = {NULL};
    struct expr_tree tree;
    struct expr_variables variables;
    struct expr_code *code = NULL;
    struct expr_error error = {KILN_OK, ""};
    bool made = expr_parse(source, strlen(source), EXPR_MAP, &arena, &tree, &error) &&
                expr_check(&tree, binds, INPUTS + 1, &variables, &error, &arena) &&
                expr_lower(&tree, &variables, &arena, &code, &error);
    char *key = made ? expr_key(code) : NULL;
    arena_free(&arena);
    if (key == NULL)
        fail_msg("seed %llu: no key (%s) for %s", seed, error.message, source);
    return key;
}

/* The text of t as spelled; a malloc'd copy. */
static char *spelling(const tree *t, bool canonical, bool spaced, bool swapped)
{
    static text out;
    out = (text){.canonical = canonical, .spaced = spaced, .swapped = swapped};
    statement_text(&out, "y", t);
    char *copy = strdup(out.data);
    assert_non_null(copy);
    return copy;
}

/* Random trees: two spellings of one tree (spaces, names of the same kinds swapped) have
 * one key, and two trees have one key exactly when they are the same tree, as written
 * canonically. */
static void different_trees_never_share_a_key_and_spellings_of_one_do(void **state)
{
    (void)state;
    static forest f;
    f = (forest){.random = seed * 983 + 1};
    char *canonical[KEY_TREES], *keys[KEY_TREES];
    for (size_t i = 0; i < KEY_TREES; ++i) {
        f.used = 0;
        const tree *t = grow(&f, 1);
        char *plain = spelling(t, false, true, false), *swapped = spelling(t, false, false, true);
        keys[i] = key_of(plain);
        char *other = key_of(swapped);
        if (strcmp(keys[i], other) != 0)
            fail_msg("seed %llu: two keys for one tree:\n%s\n%s", seed, plain, swapped);
        free(other);
        free(plain);
        free(swapped);
        canonical[i] = spelling(t, true, false, false);
    }
    size_t distinct = 0;
    for (size_t i = 0; i < KEY_TREES; ++i) {
        bool first = true;
        for (size_t j = 0; j < i; ++j) {
            bool same_tree = strcmp(canonical[i], canonical[j]) == 0;
            if (same_tree != (strcmp(keys[i], keys[j]) == 0))
                fail_msg("seed %llu: %s\nand\n%s\n%s", seed, canonical[i], canonical[j],
                         same_tree ? "have different keys" : "share a key");
            first = first && !same_tree;
        }
        distinct += first;
    }
    for (size_t i = 0; i < KEY_TREES; ++i) {
        free(canonical[i]);
        free(keys[i]);
    }
    assert_true(distinct > KEY_TREES / 2);
}

int main(void)
{
    const char *given = getenv("KILN_MAP_SEED");
    seed = given != NULL ? strtoull(given, NULL, 10) : (unsigned long long)time(NULL);
    printf("test_map_properties: seed %llu (KILN_MAP_SEED=%llu repeats this run)\n", seed,
           seed);
    /* a private cache folder: every tree is built, none found from an earlier run */
    char folder[] = "/tmp/kiln-test-map-properties-XXXXXX";
    if (mkdtemp(folder) == NULL || setenv("KILN_CACHE_DIR", folder, 1) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        KILN_TEST(different_trees_never_share_a_key_and_spellings_of_one_do),
        KILN_TEST(random_trees_as_statements_match_the_c_evaluator),
        KILN_TEST(random_trees_reduced_match_the_c_evaluator),
        KILN_TEST(fuzz_corpus_compiles_and_runs_or_is_refused_with_a_column),
    };
    int failed = RUN_KILN_TESTS(tests);
    folder_remove(folder);
    return failed;
}
