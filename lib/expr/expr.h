/* The expression language of kiln_map and kiln_map_reduce, in stages that each read
 * only the previous stage's output: the lexer turns text into tokens with their
 * positions, the parser builds a tree from tokens, the checker resolves the tree's names
 * against the caller's bindings, and the code generator lowers the checked tree into a
 * list of instructions it prints as a cache key and as OpenCL C. Everything one parse
 * makes lives in one arena, freed at once whatever happened. */
#ifndef KILN_EXPR_H
#define KILN_EXPR_H

#include "kiln/kiln.h"

#include <stdbool.h>
#include <stddef.h>

enum {
    EXPR_MAX_LENGTH = 64 * 1024, /* bytes of an expression */
    EXPR_MAX_NAME = 64,          /* characters of a name */
    EXPR_MAX_NESTING = 256,      /* parentheses, calls, unary minus, ^ and ?: operands */
    EXPR_MAX_BINDINGS = 32,
    EXPR_MAX_EXACT_POWER = 16,   /* a^k for literal k in 0..16 is repeated multiplication */
};

/* ---------------------------------------------------------------- arena.c */

struct arena_chunk;
struct arena {
    struct arena_chunk *chunks;
};

/* size bytes aligned for any type, zeroed; NULL when memory runs out. */
void *arena_alloc(struct arena *arena, size_t size);
void arena_free(struct arena *arena);

/* ---------------------------------------------------------------- errors */

/* Where a token starts: lines and columns count from 1, columns in bytes. */
struct position {
    size_t line, column;
};

/* The first error of a stage: KILN_ERR_ARG for the expression's faults (the message
 * names the position and the token), KILN_ERR_NOMEM when the arena could not grow. */
struct expr_error {
    kiln_status status;
    char message[320];
};

/* Sets error (if it has none yet) to "<what> at column C" (or "at line L, column C"
 * past the first line) and returns false, so a stage reads `return expr_fail(...)`. */
bool expr_fail(struct expr_error *error, struct position at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
bool expr_out_of_memory(struct expr_error *error);

/* ---------------------------------------------------------------- lexer.c */

enum token_kind {
    TOKEN_END,
    TOKEN_NUMBER,
    TOKEN_NAME,
    TOKEN_PLUS,
    TOKEN_MINUS,
    TOKEN_STAR,
    TOKEN_SLASH,
    TOKEN_CARET,
    TOKEN_LESS,
    TOKEN_LESS_EQUAL,
    TOKEN_GREATER,
    TOKEN_GREATER_EQUAL,
    TOKEN_EQUAL_EQUAL,
    TOKEN_NOT_EQUAL,
    TOKEN_ASSIGN,
    TOKEN_QUESTION,
    TOKEN_COLON,
    TOKEN_OPEN,
    TOKEN_CLOSE,
    TOKEN_COMMA,
    TOKEN_SEMICOLON,
};

struct token {
    enum token_kind kind;
    struct position at;
    char text[EXPR_MAX_NAME + 1]; /* as written, cut to fit (messages show it) */
    bool cut;                     /* the text was longer */
    float value;                  /* TOKEN_NUMBER */
    bool integer;                 /* TOKEN_NUMBER written with digits only */
};

struct lexer {
    const char *text;
    size_t length, at;
    struct position position;
};

void lexer_start(struct lexer *lexer, const char *text, size_t length);
/* The next token; false (error set) for a character or number the language lacks. */
bool lexer_next(struct lexer *lexer, struct token *token, struct expr_error *error);
/* "'+'" style name of a kind, for messages about what was expected. */
const char *token_kind_name(enum token_kind kind);

/* ---------------------------------------------------------------- functions.c */

enum function {
    FUNCTION_EXP,
    FUNCTION_LOG,
    FUNCTION_SQRT,
    FUNCTION_RSQRT,
    FUNCTION_TANH,
    FUNCTION_SIGMOID,
    FUNCTION_RELU,
    FUNCTION_ABS,
    FUNCTION_MIN,
    FUNCTION_MAX,
    FUNCTION_POW,
    FUNCTION_ERF,
    FUNCTION_COUNT
};

struct function_info {
    const char *name;
    size_t arity;
    const char *opencl; /* printf format of the call: %s once per argument */
};

extern const struct function_info functions[FUNCTION_COUNT];
/* The function of this name, or FUNCTION_COUNT. */
enum function function_find(const char *name);

/* ---------------------------------------------------------------- parser.c */

enum node_op {
    NODE_NUMBER,
    NODE_NAME,
    NODE_NEGATE,
    NODE_ADD,
    NODE_SUBTRACT,
    NODE_MULTIPLY,
    NODE_DIVIDE,
    NODE_POWER,
    NODE_LESS,
    NODE_LESS_EQUAL,
    NODE_GREATER,
    NODE_GREATER_EQUAL,
    NODE_EQUAL,
    NODE_NOT_EQUAL,
    NODE_CONDITION, /* first ? second : third */
    NODE_CALL,
};

/* A node's operands (a call's arguments) are a list: `first`, then along `next`. */
struct node {
    enum node_op op;
    struct position at;      /* of the token that made the node */
    struct node *first;
    struct node *next;
    size_t count;            /* operands */
    enum function function;  /* NODE_CALL */
    float value;             /* NODE_NUMBER */
    bool integer;            /* NODE_NUMBER written with digits only */
    const char *name;        /* NODE_NAME (arena copy) */
    /* Set by the checker: a NODE_NAME's variable; a NODE_POWER whose exponent is a whole
     * literal 0..EXPR_MAX_EXACT_POWER (`exact`, that literal being `folded` into it). */
    size_t variable;
    bool exact, folded;
    unsigned power;
};

struct statement {
    const char *target;      /* arena copy */
    struct position at;
    struct node *value;
    size_t variable;         /* set by the checker */
    struct statement *next;
};

enum expr_mode { EXPR_MAP, EXPR_REDUCE };
/* The reductions, numbered as cl/reduce.cl's OP (0 sum, 1 max, 2 min). */
enum expr_reduction { REDUCTION_SUM = 0, REDUCTION_MAX = 1, REDUCTION_MIN = 2 };

struct expr_tree {
    enum expr_mode mode;
    size_t nodes;                    /* in all: bounds the depth of any walk */
    struct statement *statements;    /* EXPR_MAP, in order */
    enum expr_reduction reduction;   /* EXPR_REDUCE */
    struct node *reduced;            /* EXPR_REDUCE: the expression inside */
};

/* Parses text (length bytes, at most EXPR_MAX_LENGTH) as statements (EXPR_MAP) or one
 * reduction (EXPR_REDUCE) into a tree allocated in arena. */
bool expr_parse(const char *text, size_t length, enum expr_mode mode, struct arena *arena,
                struct expr_tree *tree, struct expr_error *error);

/* Room for walking any tree of `nodes` nodes, from the arena; NULL when memory ran out. */
struct walk_stack {
    struct node **nodes, **cursors;
};
bool walk_stack_make(struct arena *arena, size_t nodes, struct walk_stack *stack);
/* Calls visit on every node under root (root included) after its operands, left to
 * right, without recursion (a chain a+b+c+... is as deep as it is long); stops at the
 * first visit that returns false. */
bool node_walk(struct node *root, const struct walk_stack *stack,
               bool (*visit)(struct node *node, void *data), void *data);

/* ---------------------------------------------------------------- checker.c */

/* A binding the expression uses; variables are numbered in the order their names first
 * appear, so the same tree over other names is the same program. */
struct expr_variable {
    size_t binding;       /* index into the caller's bindings */
    kiln_bind_kind kind;
    bool loaded;          /* read before any statement assigns it: loaded from memory */
    bool written;         /* assigned by a statement: stored to memory */
};

struct expr_variables {
    struct expr_variable list[EXPR_MAX_BINDINGS];
    size_t count;
    bool per_row_or_col;  /* a ROW or COL binding is used: the kernel needs (row, col) */
};

/* Resolves every name to a binding (names unknown, or assigned but not ARRAY, are
 * errors), checks calls' arities, and numbers the variables. Bindings must already be
 * valid (names, kinds, at most EXPR_MAX_BINDINGS). */
bool expr_check(struct expr_tree *tree, const kiln_binding *bindings, size_t count,
                struct expr_variables *variables, struct expr_error *error,
                struct arena *arena);

/* ---------------------------------------------------------------- codegen.c */

/* The checked tree as a list of instructions, each a temporary computed from earlier
 * ones, in evaluation order. */
struct expr_code;

bool expr_lower(const struct expr_tree *tree, const struct expr_variables *variables,
                struct arena *arena, struct expr_code **code, struct expr_error *error);
/* The normalised form of the code (and so of the tree and the variables' kinds): equal
 * for expressions that differ only in spacing, parentheses or names. A malloc'd string,
 * NULL when memory runs out. */
char *expr_key(const struct expr_code *code);
/* The OpenCL C that goes before cl/map.cl: the element function and the parameter
 * lists (see cl/map.cl). A malloc'd string, NULL when memory runs out. */
char *expr_opencl(const struct expr_code *code);

#endif /* KILN_EXPR_H */
