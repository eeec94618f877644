/* The checker: every name bound (outputs to ARRAY bindings), every call with its
 * function's arity, every whole literal exponent marked for exact multiplication, and
 * the variables numbered in the order their names first appear. */
#include "expr.h"

#include <string.h>

struct checker {
    const kiln_binding *bindings;
    size_t count;
    struct expr_variables *variables;
    struct expr_error *error;
};

static const char *kind_name(kiln_bind_kind kind)
{
    switch (kind) {
    case KILN_BIND_ARRAY: return "ARRAY";
    case KILN_BIND_SCALAR: return "SCALAR";
    case KILN_BIND_ROW: return "ROW";
    default: return "COL";
    }
}

/* The variable of name, numbered on first sight; false for a name no binding has. */
static bool resolve(struct checker *checker, const char *name, struct position at,
                    size_t *variable)
{
    size_t b = 0;
    while (b < checker->count && strcmp(checker->bindings[b].name, name) != 0)
        ++b;
    if (b == checker->count)
        return expr_fail(checker->error, at, "unknown name '%s'", name);
    struct expr_variables *variables = checker->variables;
    size_t v = 0;
    while (v < variables->count && variables->list[v].binding != b)
        ++v;
    if (v == variables->count) {
        variables->list[v] = (struct expr_variable){.binding = b,
                                                    .kind = checker->bindings[b].kind};
        variables->count++;
        kiln_bind_kind kind = checker->bindings[b].kind;
        variables->per_row_or_col |= kind == KILN_BIND_ROW || kind == KILN_BIND_COL;
    }
    *variable = v;
    return true;
}

static bool check_node(struct node *node, void *data)
{
    struct checker *checker = data;
    if (node->op == NODE_NAME) {
        if (!resolve(checker, node->name, node->at, &node->variable))
            return false;
        struct expr_variable *variable = &checker->variables->list[node->variable];
        variable->loaded |= !variable->written; /* read before any assignment */
        return true;
    }
    if (node->op == NODE_CALL && node->count != functions[node->function].arity)
        return expr_fail(checker->error, node->at, "'%s' takes %zu argument%s but has %zu",
                         functions[node->function].name, functions[node->function].arity,
                         functions[node->function].arity == 1 ? "" : "s", node->count);
    struct node *exponent = node->op == NODE_POWER ? node->first->next : NULL;
    if (exponent != NULL && exponent->op == NODE_NUMBER && exponent->integer &&
        exponent->value <= EXPR_MAX_EXACT_POWER) {
        node->exact = exponent->folded = true;
        node->power = (unsigned)exponent->value;
    }
    return true;
}

static bool check_target(struct checker *checker, struct statement *statement)
{
    if (!resolve(checker, statement->target, statement->at, &statement->variable))
        return false;
    struct expr_variable *variable = &checker->variables->list[statement->variable];
    if (variable->kind != KILN_BIND_ARRAY)
        return expr_fail(checker->error, statement->at,
                         "'%s' is assigned but bound as %s: outputs must be ARRAY",
                         statement->target, kind_name(variable->kind));
    variable->written = true;
    return true;
}

bool expr_check(struct expr_tree *tree, const kiln_binding *bindings, size_t count,
                struct expr_variables *variables, struct expr_error *error,
                struct arena *arena)
{
    struct checker checker = {bindings, count, variables, error};
    *variables = (struct expr_variables){0};
    struct walk_stack stack;
    if (!walk_stack_make(arena, tree->nodes, &stack))
        return expr_out_of_memory(error);
    if (tree->mode == EXPR_REDUCE)
        return node_walk(tree->reduced, &stack, check_node, &checker);
    for (struct statement *s = tree->statements; s != NULL; s = s->next)
        if (!node_walk(s->value, &stack, check_node, &checker) || !check_target(&checker, s))
            return false;
    return true;
}
