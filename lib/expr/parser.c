/* The parser: recursive descent over tokens, one function per precedence level, from
 * the loosest (?:) to the tightest (^), building the tree in the parse's arena. Every
 * recursion passes through nest(), so the C stack stays bounded by EXPR_MAX_NESTING. */
#include "expr.h"

#include <stdio.h>
#include <string.h>

struct parser {
    struct lexer lexer;
    struct token token; /* the current token */
    struct arena *arena;
    struct expr_error *error;
    size_t depth;
    size_t nodes;
};

static bool next(struct parser *parser)
{
    return lexer_next(&parser->lexer, &parser->token, parser->error);
}

/* The current token as a message names it. */
static void describe(const struct token *token, char *out, size_t size)
{
    if (token->kind == TOKEN_END)
        snprintf(out, size, "the end");
    else
        snprintf(out, size, "'%s%s'", token->text, token->cut ? "..." : "");
}

static bool fail_at_token(struct parser *parser, const char *expected)
{
    char found[EXPR_MAX_NAME + 8];
    describe(&parser->token, found, sizeof(found));
    if (expected == NULL && parser->token.kind == TOKEN_END)
        return expr_fail(parser->error, parser->token.at, "the expression ends too early");
    if (expected == NULL)
        return expr_fail(parser->error, parser->token.at, "unexpected %s", found);
    return expr_fail(parser->error, parser->token.at, "expected %s but found %s", expected,
                     found);
}

static bool expect(struct parser *parser, enum token_kind kind)
{
    if (parser->token.kind != kind)
        return fail_at_token(parser, token_kind_name(kind));
    return next(parser);
}

static struct node *node_new(struct parser *parser, enum node_op op, struct position at)
{
    struct node *node = arena_alloc(parser->arena, sizeof(*node));
    if (node == NULL) {
        expr_out_of_memory(parser->error);
        return NULL;
    }
    node->op = op;
    node->at = at;
    parser->nodes++;
    return node;
}

/* Makes the operands (up to the first NULL) the node's list; returns the node. */
static struct node *adopt(struct node *node, struct node *a, struct node *b, struct node *c)
{
    struct node *operands[] = {a, b, c};
    struct node **last = &node->first;
    for (size_t i = 0; i < 3 && operands[i] != NULL; ++i) {
        *last = operands[i];
        last = &operands[i]->next;
        node->count++;
    }
    return node;
}

static const char *name_copy(struct parser *parser)
{
    size_t length = strlen(parser->token.text) + 1;
    char *copy = arena_alloc(parser->arena, length);
    if (copy == NULL)
        expr_out_of_memory(parser->error);
    else
        memcpy(copy, parser->token.text, length);
    return copy;
}

static struct node *parse_conditional(struct parser *parser);
static struct node *parse_unary(struct parser *parser);

/* parse(parser) one level of nesting deeper, the level opened by the token `opener`;
 * NULL past the limit. */
static struct node *nested(struct parser *parser, const struct token *opener,
                           struct node *(*parse)(struct parser *))
{
    if (parser->depth == EXPR_MAX_NESTING) {
        expr_fail(parser->error, opener->at, "'%s' nests deeper than %d levels", opener->text,
                  EXPR_MAX_NESTING);
        return NULL;
    }
    parser->depth++;
    struct node *node = parse(parser);
    parser->depth--;
    return node;
}

static bool is_reserved(const char *name)
{
    return function_find(name) != FUNCTION_COUNT || strcmp(name, "sum") == 0;
}

/* name '(' [expr (',' expr)*] ')': arguments counted, chained along `next`. */
static struct node *parse_call(struct parser *parser, enum function function)
{
    const struct token opener = parser->token;
    struct node *call = node_new(parser, NODE_CALL, opener.at);
    if (call == NULL || !next(parser) || !expect(parser, TOKEN_OPEN))
        return NULL;
    call->function = function;
    struct node **last = &call->first;
    while (parser->token.kind != TOKEN_CLOSE) {
        if (call->count > 0 && !expect(parser, TOKEN_COMMA))
            return NULL;
        if ((*last = nested(parser, &opener, parse_conditional)) == NULL)
            return NULL;
        last = &(*last)->next;
        call->count++;
    }
    return next(parser) ? call : NULL;
}

static struct node *parse_name(struct parser *parser)
{
    const char *name = parser->token.text;
    enum function function = function_find(name);
    if (function != FUNCTION_COUNT)
        return parse_call(parser, function);
    if (strcmp(name, "sum") == 0) {
        expr_fail(parser->error, parser->token.at, "reduction 'sum' inside an expression: "
                  "kiln_map_reduce takes it around the whole expression only");
        return NULL;
    }
    struct node *node = node_new(parser, NODE_NAME, parser->token.at);
    if (node == NULL || (node->name = name_copy(parser)) == NULL)
        return NULL;
    return next(parser) ? node : NULL;
}

/* number | name | call | '(' expr ')' */
static struct node *parse_primary(struct parser *parser)
{
    struct node *node;
    const struct token opener = parser->token;
    switch (parser->token.kind) {
    case TOKEN_NUMBER:
        if ((node = node_new(parser, NODE_NUMBER, parser->token.at)) == NULL)
            return NULL;
        node->value = parser->token.value;
        node->integer = parser->token.integer;
        return next(parser) ? node : NULL;
    case TOKEN_NAME:
        return parse_name(parser);
    case TOKEN_OPEN:
        if (!next(parser) || (node = nested(parser, &opener, parse_conditional)) == NULL)
            return NULL;
        return expect(parser, TOKEN_CLOSE) ? node : NULL;
    default:
        fail_at_token(parser, NULL);
        return NULL;
    }
}

/* primary ['^' unary]: right-associative through unary, which allows a^-b. */
static struct node *parse_power(struct parser *parser)
{
    struct node *base = parse_primary(parser);
    if (base == NULL || parser->token.kind != TOKEN_CARET)
        return base;
    const struct token opener = parser->token;
    struct node *power = node_new(parser, NODE_POWER, opener.at);
    if (power == NULL || !next(parser))
        return NULL;
    struct node *exponent = nested(parser, &opener, parse_unary);
    return exponent != NULL ? adopt(power, base, exponent, NULL) : NULL;
}

/* '-' unary | power: -a^2 is -(a^2). */
static struct node *parse_unary(struct parser *parser)
{
    if (parser->token.kind != TOKEN_MINUS)
        return parse_power(parser);
    const struct token opener = parser->token;
    struct node *negate = node_new(parser, NODE_NEGATE, opener.at);
    if (negate == NULL || !next(parser))
        return NULL;
    struct node *operand = nested(parser, &opener, parse_unary);
    return operand != NULL ? adopt(negate, operand, NULL, NULL) : NULL;
}

/* The node of a binary operator token, or NODE_NUMBER for a token that is none. */
static enum node_op binary_op(enum token_kind kind)
{
    switch (kind) {
    case TOKEN_PLUS: return NODE_ADD;
    case TOKEN_MINUS: return NODE_SUBTRACT;
    case TOKEN_STAR: return NODE_MULTIPLY;
    case TOKEN_SLASH: return NODE_DIVIDE;
    case TOKEN_LESS: return NODE_LESS;
    case TOKEN_LESS_EQUAL: return NODE_LESS_EQUAL;
    case TOKEN_GREATER: return NODE_GREATER;
    case TOKEN_GREATER_EQUAL: return NODE_GREATER_EQUAL;
    case TOKEN_EQUAL_EQUAL: return NODE_EQUAL;
    case TOKEN_NOT_EQUAL: return NODE_NOT_EQUAL;
    default: return NODE_NUMBER;
    }
}

static bool is_comparison(enum node_op op)
{
    return op >= NODE_LESS && op <= NODE_NOT_EQUAL;
}

/* left op right, for the operator at the current token. */
static struct node *binary(struct parser *parser, struct node *left,
                           struct node *(*operand)(struct parser *))
{
    struct node *node = node_new(parser, binary_op(parser->token.kind), parser->token.at);
    if (node == NULL || !next(parser))
        return NULL;
    struct node *right = operand(parser);
    return right != NULL ? adopt(node, left, right, NULL) : NULL;
}

/* Left-associative levels: operand (op operand)* for ops in [first, last]. */
static struct node *left_chain(struct parser *parser, enum node_op first, enum node_op last,
                               struct node *(*operand)(struct parser *))
{
    struct node *left = operand(parser);
    enum node_op op;
    while (left != NULL && (op = binary_op(parser->token.kind)) >= first && op <= last)
        left = binary(parser, left, operand);
    return left;
}

static struct node *parse_multiplicative(struct parser *parser)
{
    return left_chain(parser, NODE_MULTIPLY, NODE_DIVIDE, parse_unary);
}

static struct node *parse_additive(struct parser *parser)
{
    return left_chain(parser, NODE_ADD, NODE_SUBTRACT, parse_multiplicative);
}

/* additive [cmp additive]: comparisons do not chain. */
static struct node *parse_comparison(struct parser *parser)
{
    struct node *left = parse_additive(parser);
    if (left == NULL || !is_comparison(binary_op(parser->token.kind)))
        return left;
    struct node *node = binary(parser, left, parse_additive);
    if (node != NULL && is_comparison(binary_op(parser->token.kind))) {
        expr_fail(parser->error, parser->token.at, "comparison '%s' follows another: "
                  "comparisons do not chain (add parentheses)", parser->token.text);
        return NULL;
    }
    return node;
}

/* comparison ['?' conditional ':' conditional], right-associative. */
static struct node *parse_conditional(struct parser *parser)
{
    struct node *condition = parse_comparison(parser);
    if (condition == NULL || parser->token.kind != TOKEN_QUESTION)
        return condition;
    const struct token opener = parser->token;
    struct node *node = node_new(parser, NODE_CONDITION, opener.at);
    if (node == NULL || !next(parser))
        return NULL;
    struct node *then, *otherwise;
    if ((then = nested(parser, &opener, parse_conditional)) == NULL ||
        !expect(parser, TOKEN_COLON) ||
        (otherwise = nested(parser, &opener, parse_conditional)) == NULL)
        return NULL;
    return adopt(node, condition, then, otherwise);
}

/* name '=' expr */
static struct statement *parse_statement(struct parser *parser)
{
    if (parser->token.kind != TOKEN_NAME) {
        fail_at_token(parser, "a statement 'name = ...'");
        return NULL;
    }
    if (is_reserved(parser->token.text)) {
        expr_fail(parser->error, parser->token.at, "cannot assign to '%s', a function's name",
                  parser->token.text);
        return NULL;
    }
    struct statement *statement = arena_alloc(parser->arena, sizeof(*statement));
    if (statement == NULL) {
        expr_out_of_memory(parser->error);
        return NULL;
    }
    statement->at = parser->token.at;
    if ((statement->target = name_copy(parser)) == NULL || !next(parser) ||
        !expect(parser, TOKEN_ASSIGN) || (statement->value = parse_conditional(parser)) == NULL)
        return NULL;
    return statement;
}

/* statement (';' statement)* [';'] */
static bool parse_statements(struct parser *parser, struct expr_tree *tree)
{
    struct statement **last = &tree->statements;
    for (;;) {
        if ((*last = parse_statement(parser)) == NULL)
            return false;
        last = &(*last)->next;
        if (parser->token.kind != TOKEN_SEMICOLON)
            return parser->token.kind == TOKEN_END || fail_at_token(parser, "';' or the end");
        if (!next(parser))
            return false;
        if (parser->token.kind == TOKEN_END)
            return true;
    }
}

/* ('sum' | 'max' | 'min') '(' expr ')', the whole text. */
static bool parse_reduction(struct parser *parser, struct expr_tree *tree)
{
    static const char *const names[] = {"sum", "max", "min"};
    const char *name = parser->token.kind == TOKEN_NAME ? parser->token.text : "";
    size_t r = 0;
    while (r < 3 && strcmp(names[r], name) != 0)
        ++r;
    if (r == 3)
        return fail_at_token(parser, "sum(...), max(...) or min(...)");
    tree->reduction = (enum expr_reduction)r;
    const struct token opener = parser->token;
    if (!next(parser) || !expect(parser, TOKEN_OPEN) ||
        (tree->reduced = nested(parser, &opener, parse_conditional)) == NULL)
        return false;
    if (parser->token.kind == TOKEN_COMMA)
        return expr_fail(parser->error, parser->token.at,
                         "unexpected ',': the reduction %s takes one expression", names[r]);
    if (!expect(parser, TOKEN_CLOSE))
        return false;
    if (parser->token.kind != TOKEN_END)
        return fail_at_token(parser, "the end (the reduction must be the whole expression)");
    return true;
}

bool expr_parse(const char *text, size_t length, enum expr_mode mode, struct arena *arena,
                struct expr_tree *tree, struct expr_error *error)
{
    struct parser parser = {.arena = arena, .error = error};
    lexer_start(&parser.lexer, text, length);
    *tree = (struct expr_tree){.mode = mode};
    if (!next(&parser))
        return false;
    bool parsed = mode == EXPR_MAP ? parse_statements(&parser, tree)
                                   : parse_reduction(&parser, tree);
    tree->nodes = parser.nodes;
    return parsed;
}

bool walk_stack_make(struct arena *arena, size_t nodes, struct walk_stack *stack)
{
    size_t room = nodes > 0 ? nodes : 1; /* a tree's depth is at most its nodes */
    stack->nodes = arena_alloc(arena, room * sizeof(*stack->nodes));
    stack->cursors = arena_alloc(arena, room * sizeof(*stack->cursors));
    return stack->nodes != NULL && stack->cursors != NULL;
}

bool node_walk(struct node *root, const struct walk_stack *stack,
               bool (*visit)(struct node *node, void *data), void *data)
{
    size_t top = 1;
    stack->nodes[0] = root;
    stack->cursors[0] = root->first;
    while (top > 0) {
        struct node *operand = stack->cursors[top - 1];
        if (operand == NULL) {
            if (!visit(stack->nodes[--top], data))
                return false;
            continue;
        }
        stack->cursors[top - 1] = operand->next;
        stack->nodes[top] = operand;
        stack->cursors[top++] = operand->first;
    }
    return true;
}
