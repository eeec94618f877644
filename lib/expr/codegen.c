/* The code generator: the checked tree lowered to instructions (a temporary each, in
 * evaluation order), printed as the cache key and as OpenCL C. Names of the caller's
 * never reach the output: variable k is p<k>/o<k> (a buffer and its offset) or s<k> (a
 * scalar), and v<k> inside the element functions (a float each, or a float4 of 4
 * consecutive elements). */
#include "expr.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct instruction {
    enum node_op op;
    bool assign; /* variable = operand[0]; no temporary */
    enum function function;
    float value;
    size_t variable;
    bool exact;
    unsigned power;
    size_t operand[3];
    size_t count;
};

struct expr_code {
    enum expr_mode mode;
    enum expr_reduction reduction;
    struct expr_variables variables;
    struct instruction *list;
    size_t count;
    size_t result; /* EXPR_REDUCE: the instruction of the reduced value */
};

/* ---- lowering: a stack machine over the post-order walk */

struct lowering {
    struct expr_code *code;
    size_t *values; /* instructions whose value no instruction has taken yet */
    size_t top;
};

static size_t emit(struct lowering *lowering, struct instruction instruction)
{
    struct expr_code *code = lowering->code;
    code->list[code->count] = instruction;
    return code->count++;
}

static bool lower_node(struct node *node, void *data)
{
    struct lowering *lowering = data;
    if (node->folded) /* an exact exponent, part of its power */
        return true;
    struct instruction instruction = {
        .op = node->op, .function = node->function, .value = node->value,
        .variable = node->variable, .exact = node->exact, .power = node->power,
        .count = node->exact ? 1 : node->count,
    };
    lowering->top -= instruction.count;
    for (size_t i = 0; i < instruction.count; ++i)
        instruction.operand[i] = lowering->values[lowering->top + i];
    lowering->values[lowering->top++] = emit(lowering, instruction);
    return true;
}

static size_t statement_count(const struct expr_tree *tree)
{
    size_t count = 0;
    for (const struct statement *s = tree->statements; s != NULL; s = s->next)
        ++count;
    return count;
}

bool expr_lower(const struct expr_tree *tree, const struct expr_variables *variables,
                struct arena *arena, struct expr_code **out, struct expr_error *error)
{
    struct expr_code *code = arena_alloc(arena, sizeof(*code));
    size_t capacity = tree->nodes + statement_count(tree);
    struct lowering lowering = {code, arena_alloc(arena, (tree->nodes + 1) * sizeof(size_t)), 0};
    struct walk_stack stack;
    if (code == NULL || lowering.values == NULL ||
        (code->list = arena_alloc(arena, capacity * sizeof(*code->list))) == NULL ||
        !walk_stack_make(arena, tree->nodes, &stack))
        return expr_out_of_memory(error);
    code->mode = tree->mode;
    code->reduction = tree->reduction;
    code->variables = *variables;
    if (tree->mode == EXPR_REDUCE) {
        node_walk(tree->reduced, &stack, lower_node, &lowering);
        code->result = lowering.values[--lowering.top];
    }
    for (const struct statement *s = tree->statements; s != NULL; s = s->next) {
        node_walk(s->value, &stack, lower_node, &lowering);
        emit(&lowering, (struct instruction){.assign = true, .variable = s->variable,
                                             .operand = {lowering.values[--lowering.top]},
                                             .count = 1});
    }
    *out = code;
    return true;
}

/* ---- text */

struct text {
    char *data;
    size_t length, capacity;
    bool failed;
};

static void text_add(struct text *text, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void text_add(struct text *text, const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    int n = text->failed ? -1 : vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0) {
        text->failed = true;
        return;
    }
    if (text->length + (size_t)n + 1 > text->capacity) {
        size_t capacity = 2 * (text->length + (size_t)n + 1);
        char *grown = realloc(text->data, capacity);
        if (grown == NULL) {
            text->failed = true;
            return;
        }
        text->data = grown;
        text->capacity = capacity;
    }
    va_start(args, fmt);
    vsnprintf(text->data + text->length, text->capacity - text->length, fmt, args);
    va_end(args);
    text->length += (size_t)n;
}

/* The text's string, or NULL (and nothing kept) when it ran out of memory. */
static char *text_done(struct text *text)
{
    if (text->failed || text->data == NULL) {
        free(text->data);
        return NULL;
    }
    return text->data;
}

/* ---- the key */

static unsigned float_bits(float value)
{
    unsigned bits;
    memcpy(&bits, &value, sizeof(bits));
    return bits;
}

char *expr_key(const struct expr_code *code)
{
    struct text text = {0};
    text_add(&text, "%s%d;", code->mode == EXPR_MAP ? "map" : "reduce", (int)code->reduction);
    for (size_t v = 0; v < code->variables.count; ++v) {
        const struct expr_variable *variable = &code->variables.list[v];
        text_add(&text, "%d%d%d,", (int)variable->kind, variable->loaded, variable->written);
    }
    for (size_t i = 0; i < code->count; ++i) {
        const struct instruction *in = &code->list[i];
        text_add(&text, ";%d%s%d/%x/%zu/%d%u", (int)in->op, in->assign ? "=" : "",
                 (int)in->function, float_bits(in->value), in->variable, in->exact, in->power);
        for (size_t k = 0; k < in->count; ++k)
            text_add(&text, ",%zu", in->operand[k]);
    }
    text_add(&text, ";%zu", code->result);
    return text_done(&text);
}

/* ---- OpenCL C */

static bool has_buffer(const struct expr_variable *variable)
{
    return variable->kind != KILN_BIND_SCALAR;
}

/* MAP_PARAMS and MAP_ARGS: the kernel's and the element function's parameter lists. */
static void emit_parameters(struct text *text, const struct expr_variables *variables)
{
    text_add(text, "#define MAP_PARAMS");
    for (size_t v = 0; v < variables->count; ++v) {
        const struct expr_variable *variable = &variables->list[v];
        if (has_buffer(variable))
            text_add(text, " , __global %sfloat *p%zu, const ulong o%zu",
                     variable->written ? "" : "const ", v, v);
        else
            text_add(text, " , const float s%zu", v);
    }
    text_add(text, "\n#define MAP_ARGS");
    for (size_t v = 0; v < variables->count; ++v)
        if (has_buffer(&variables->list[v]))
            text_add(text, " , p%zu, o%zu", v, v);
        else
            text_add(text, " , s%zu", v);
    text_add(text, "\n");
}

/* Each variable's value at the element (i: its index, r and c: its row and column), or
 * at the 4 from i on (width 4: i on a float4 boundary, r and c ulong4s, one per lane). */
static void emit_loads(struct text *text, const struct expr_variables *variables,
                       unsigned width)
{
    const char *type = width == 4 ? "float4" : "float";
    for (size_t v = 0; v < variables->count; ++v) {
        const struct expr_variable *variable = &variables->list[v];
        text_add(text, "    %s%s v%zu = ", variable->kind == KILN_BIND_ARRAY ? "" : "const ",
                 type, v);
        switch (variable->kind) {
        case KILN_BIND_ARRAY:
            if (!variable->loaded)
                text_add(text, "0.0f");
            else if (width == 4)
                text_add(text, "*(__global const float4 *)(p%zu + o%zu + i)", v, v);
            else
                text_add(text, "p%zu[o%zu + i]", v, v);
            break;
        case KILN_BIND_SCALAR: text_add(text, "s%zu", v); break;
        case KILN_BIND_ROW:
        case KILN_BIND_COL:
            text_add(text, width == 4 ? "MAP_GATHER4(p%zu, o%zu, %c)" : "p%zu[o%zu + %c]", v,
                     v, variable->kind == KILN_BIND_ROW ? 'c' : 'r');
            break;
        }
        text_add(text, ";\n");
    }
}

static void emit_stores(struct text *text, const struct expr_variables *variables,
                        unsigned width)
{
    for (size_t v = 0; v < variables->count; ++v)
        if (variables->list[v].written && width == 4)
            text_add(text, "    *(__global float4 *)(p%zu + o%zu + i) = v%zu;\n", v, v, v);
        else if (variables->list[v].written)
            text_add(text, "    p%zu[o%zu + i] = v%zu;\n", v, v, v);
}

static const char *operator_text(enum node_op op)
{
    switch (op) {
    case NODE_ADD: return "+";
    case NODE_SUBTRACT: return "-";
    case NODE_MULTIPLY: return "*";
    case NODE_DIVIDE: return "/";
    case NODE_LESS: return "<";
    case NODE_LESS_EQUAL: return "<=";
    case NODE_GREATER: return ">";
    case NODE_GREATER_EQUAL: return ">=";
    case NODE_EQUAL: return "==";
    default: return "!=";
    }
}

/* The call of a function on its operands' temporaries. */
static void emit_call(struct text *text, const struct instruction *in)
{
    char arguments[2][32];
    for (size_t k = 0; k < 2; ++k)
        snprintf(arguments[k], sizeof(arguments[k]), "t%zu", in->operand[k < in->count ? k : 0]);
    const char *format = functions[in->function].opencl;
    /* the table's formats take one %s per argument, checked by the arity */
#if defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    char call[128];
    snprintf(call, sizeof(call), format, arguments[0], arguments[1]);
#if defined(__GNUC__)
#pragma GCC diagnostic pop
#endif
    text_add(text, "%s", call);
}

/* x^k as k - 1 multiplications, left to right (x^0 is 1). */
static void emit_exact_power(struct text *text, const struct instruction *in)
{
    if (in->power == 0)
        text_add(text, "1.0f");
    for (unsigned k = 0; k < in->power; ++k)
        text_add(text, "%st%zu", k > 0 ? " * " : "", in->operand[0]);
}

static void emit_value(struct text *text, const struct instruction *in, const char *type)
{
    const size_t *t = in->operand;
    switch (in->op) {
    case NODE_NUMBER: text_add(text, "%.9ef", (double)in->value); break;
    case NODE_NAME: text_add(text, "v%zu", in->variable); break;
    case NODE_NEGATE: text_add(text, "-t%zu", t[0]); break;
    case NODE_ADD:
    case NODE_SUBTRACT:
    case NODE_MULTIPLY:
    case NODE_DIVIDE: text_add(text, "t%zu %s t%zu", t[0], operator_text(in->op), t[1]); break;
    case NODE_POWER:
        if (in->exact)
            emit_exact_power(text, in);
        else
            text_add(text, "pow(t%zu, t%zu)", t[0], t[1]);
        break;
    case NODE_CONDITION: text_add(text, "t%zu != 0.0f ? t%zu : t%zu", t[0], t[1], t[2]); break;
    case NODE_CALL: emit_call(text, in); break;
    default: /* comparisons */
        /* a vector comparison is an int4 of -1 or 0: a per-lane choice */
        text_add(text, "t%zu %s t%zu ? (%s)(1.0f) : (%s)(0.0f)", t[0], operator_text(in->op),
                 t[1], type, type);
        break;
    }
}

static void emit_instructions(struct text *text, const struct expr_code *code,
                              const char *type)
{
    for (size_t i = 0; i < code->count; ++i) {
        const struct instruction *in = &code->list[i];
        if (in->assign) {
            text_add(text, "    v%zu = t%zu;\n", in->variable, in->operand[0]);
            continue;
        }
        text_add(text, "    const %s t%zu = ", type, i);
        emit_value(text, in, type);
        text_add(text, ";\n");
    }
}

/* map_element or map_value (width 1), map_element4 or map_value4 (width 4). */
static void emit_function(struct text *text, const struct expr_code *code, unsigned width)
{
    bool reduce = code->mode == EXPR_REDUCE;
    const char *type = width == 4 ? "float4" : "float";
    const char *suffix = width == 4 ? "4" : "";
    text_add(text,
             "inline %s map_%s%s(const ulong i, const ulong%s r, const ulong%s c MAP_PARAMS)\n{\n",
             reduce ? type : "void", reduce ? "value" : "element", suffix, suffix, suffix);
    emit_loads(text, &code->variables, width);
    emit_instructions(text, code, type);
    if (reduce)
        text_add(text, "    return t%zu;\n", code->result);
    else
        emit_stores(text, &code->variables, width);
    text_add(text, "}\n");
}

char *expr_opencl(const struct expr_code *code)
{
    struct text text = {0};
    bool reduce = code->mode == EXPR_REDUCE;
    text_add(&text, "/* generated by kiln (lib/expr/codegen.c) from a kiln_map%s expression */\n",
             reduce ? "_reduce" : "");
    text_add(&text, "#define MAP_2D %d\n", code->variables.per_row_or_col);
    if (reduce)
        text_add(&text, "#define MAP_REDUCE %d\n", (int)code->reduction);
    emit_parameters(&text, &code->variables);
    emit_function(&text, code, 1);
    emit_function(&text, code, 4);
    return text_done(&text);
}
