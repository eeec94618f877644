/* libFuzzer target: the expression language's parser, checker and code generator,
 * without compiling. The first byte picks kiln_map's statements or kiln_map_reduce's
 * reduction, the rest is the text. Any text must parse, check and generate source, or
 * fail with KILN_ERR_ARG and a message naming a column; nothing may leak (the arena is
 * freed either way). Links kiln's objects for lib/expr's internal functions. */
#include "expr/expr.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Names of every kind, as a program's bindings would give them. */
static const kiln_binding bindings[] = {
    {"a", KILN_BIND_ARRAY, NULL, 0},  {"b", KILN_BIND_ARRAY, NULL, 0},
    {"y", KILN_BIND_ARRAY, NULL, 0},  {"z", KILN_BIND_ARRAY, NULL, 0},
    {"s", KILN_BIND_SCALAR, NULL, 2}, {"r", KILN_BIND_ROW, NULL, 0},
    {"k", KILN_BIND_COL, NULL, 0},
};

static void generate(const char *text, size_t length, enum expr_mode mode)
{
    struct arena arena = {NULL};
    struct expr_tree tree;
    struct expr_variables variables;
    struct expr_code *code;
    struct expr_error error = {KILN_OK, ""};
    size_t count = sizeof(bindings) / sizeof(bindings[0]);
    if (expr_parse(text, length, mode, &arena, &tree, &error) &&
        expr_check(&tree, bindings, count, &variables, &error, &arena) &&
        expr_lower(&tree, &variables, &arena, &code, &error)) {
        char *key = expr_key(code), *source = expr_opencl(code);
        if (key == NULL || source == NULL || strstr(source, "inline") == NULL)
            abort();
        free(key);
        free(source);
    } else if (error.status != KILN_ERR_ARG || strstr(error.message, "column") == NULL) {
        abort();
    }
    arena_free(&arena);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0 || size - 1 > EXPR_MAX_LENGTH)
        return 0;
    char *text = malloc(size);
    if (text == NULL)
        return 0;
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    generate(text, strlen(text), data[0] & 1 ? EXPR_REDUCE : EXPR_MAP);
    free(text);
    return 0;
}
