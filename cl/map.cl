/* Fused expressions (kiln_map, kiln_map_reduce): the loops around one element of the
 * caller's expression, which map_expression.h's place holds (see it for the macros).
 *
 * map:        a grid-stride loop over the rows×cols elements, flat when the element
 *             needs no row or column, else 2-D as cl/bias_act.cl (dimension 0 along the
 *             columns, so neighbouring work-items read neighbouring floats).
 * map_reduce: every work-item folds its elements (interleaved: coalesced on GPUs) into
 *             one accumulator, Kahan-compensated for sums as cl/reduce.cl's, and the
 *             group combines them pairwise in local memory into one partial per group;
 *             cl/reduce.cl's reduce_rows then combines the partials.
 *
 * INDEX is uint when rows·cols plus the grid fits 32 bits. No contraction into FMA:
 * the expression rounds as C would evaluate it. */
#ifndef INDEX
#define INDEX ulong
#endif
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 256
#endif

#pragma OPENCL FP_CONTRACT OFF

/* The language's min and max: NaN when either argument is (fmin and fmax drop it). */
inline float kiln_min(const float a, const float b)
{
    return isnan(a) || isnan(b) ? a + b : fmin(a, b);
}

inline float kiln_max(const float a, const float b)
{
    return isnan(a) || isnan(b) ? a + b : fmax(a, b);
}

#include "map_expression.h"

#ifndef MAP_REDUCE

__kernel void map(const ulong rows, const ulong cols MAP_PARAMS)
{
#if MAP_2D
    const INDEX row_count = (INDEX)rows, col_count = (INDEX)cols;
    for (INDEX r = (INDEX)get_global_id(1); r < row_count; r += (INDEX)get_global_size(1))
        for (INDEX c = (INDEX)get_global_id(0); c < col_count; c += (INDEX)get_global_size(0))
            map_element((ulong)r * cols + c, r, c MAP_ARGS);
#else
    const INDEX count = (INDEX)(rows * cols);
    for (INDEX i = (INDEX)get_global_id(0); i < count; i += (INDEX)get_global_size(0))
        map_element(i, 0, 0 MAP_ARGS);
#endif
}

#else

typedef struct {
    float value;
    float carry; /* Kahan: what the value holds beyond the exact sum */
} accumulator;

inline accumulator accumulator_start(void)
{
    accumulator a = {MAP_REDUCE == 1 ? -INFINITY : MAP_REDUCE == 2 ? INFINITY : 0.0f, 0.0f};
    return a;
}

/* Folds x into a; max and min let a NaN through, and keep it. */
inline void fold(accumulator *a, const float x)
{
#if MAP_REDUCE == 0
    const float y = x - a->carry;
    const float t = a->value + y;
    a->carry = isfinite(t) ? (t - a->value) - y : 0.0f; /* Inf and NaN stay IEEE's */
    a->value = t;
#elif MAP_REDUCE == 1
    a->value = x > a->value || isnan(x) ? x : a->value;
#else
    a->value = x < a->value || isnan(x) ? x : a->value;
#endif
}

__kernel void map_reduce(const ulong rows, const ulong cols, __global float *partials
                         MAP_PARAMS)
{
    __local float values[LOCAL_SIZE];
    const INDEX count = (INDEX)(rows * cols), columns = (INDEX)cols;
    accumulator a = accumulator_start();
    for (INDEX i = (INDEX)get_global_id(0); i < count; i += (INDEX)get_global_size(0)) {
#if MAP_2D
        const INDEX r = i / columns;
        fold(&a, map_value(i, r, i - r * columns MAP_ARGS));
#else
        fold(&a, map_value(i, 0, 0 MAP_ARGS));
#endif
    }
    const uint lane = (uint)get_local_id(0);
    values[lane] = a.value - a.carry;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = (uint)get_local_size(0) / 2; step > 0; step /= 2) {
        if (lane < step) {
            accumulator b = {values[lane], 0.0f};
            fold(&b, values[lane + step]);
            values[lane] = b.value;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lane == 0)
        partials[get_group_id(0)] = values[0];
}

#endif
