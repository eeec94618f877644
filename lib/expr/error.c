/* The first error of a parse, with the position it is about. */
#include "expr.h"

#include <stdarg.h>
#include <stdio.h>

bool expr_fail(struct expr_error *error, struct position at, const char *fmt, ...)
{
    if (error->status != KILN_OK)
        return false;
    char what[256];
    va_list args;
    va_start(args, fmt);
    vsnprintf(what, sizeof(what), fmt, args);
    va_end(args);
    error->status = KILN_ERR_ARG;
    if (at.line > 1)
        snprintf(error->message, sizeof(error->message), "%s at line %zu, column %zu", what,
                 at.line, at.column);
    else
        snprintf(error->message, sizeof(error->message), "%s at column %zu", what,
                 at.column);
    return false;
}

bool expr_out_of_memory(struct expr_error *error)
{
    if (error->status == KILN_OK) {
        error->status = KILN_ERR_NOMEM;
        snprintf(error->message, sizeof(error->message),
                 "out of host memory parsing an expression");
    }
    return false;
}
