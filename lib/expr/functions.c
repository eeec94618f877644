/* The functions of the language: name, arity and the OpenCL C that computes them, all
 * at the full profile's accuracy (no native_*). */
#include "expr.h"

#include <string.h>

const struct function_info functions[FUNCTION_COUNT] = {
    [FUNCTION_EXP] = {"exp", 1, "exp(%s)"},
    [FUNCTION_LOG] = {"log", 1, "log(%s)"},
    [FUNCTION_SQRT] = {"sqrt", 1, "sqrt(%s)"},
    [FUNCTION_RSQRT] = {"rsqrt", 1, "rsqrt(%s)"},
    [FUNCTION_TANH] = {"tanh", 1, "tanh(%s)"},
    /* as kiln_sigmoid (cl/elementwise.cl): exp(-x) overflowing to inf gives 0 */
    [FUNCTION_SIGMOID] = {"sigmoid", 1, "1.0f / (1.0f + exp(-%s))"},
    /* as KILN_ACT_RELU (cl/activation.h) */
    [FUNCTION_RELU] = {"relu", 1, "fmax(%s, 0.0f)"},
    [FUNCTION_ABS] = {"abs", 1, "fabs(%s)"},
    /* fmin and fmax drop a NaN; the language's min and max keep it, as reductions do */
    [FUNCTION_MIN] = {"min", 2, "kiln_min(%s, %s)"},
    [FUNCTION_MAX] = {"max", 2, "kiln_max(%s, %s)"},
    [FUNCTION_POW] = {"pow", 2, "pow(%s, %s)"},
    [FUNCTION_ERF] = {"erf", 1, "erf(%s)"},
};

enum function function_find(const char *name)
{
    enum function f = 0;
    while (f < FUNCTION_COUNT && strcmp(functions[f].name, name) != 0)
        ++f;
    return f;
}
