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
 * MAP_VECTOR 1 when every ARRAY starts on a 16-byte boundary: both loops then step over
 * float4s of 4 consecutive elements (a 128-bit access per ARRAY, and PoCL vectorises the
 * expression), flat also with ROW and COL, and do the rows·cols % 4 tail one element at
 * a time. CHUNKED 1 (CPUs) gives each map_reduce item one contiguous run of float4s, as
 * cl/reduce.cl's reduce_vector.
 *
 * INDEX is uint when rows·cols plus the grid fits 32 bits. No contraction into FMA:
 * the expression rounds as C would evaluate it. */
#ifndef MAP_VECTOR
#define MAP_VECTOR 0
#endif
#include "rows.h" /* LOCAL_SIZE, INDEX, CHUNKED, vector_share */

#pragma OPENCL FP_CONTRACT OFF

/* The language's min and max: NaN when either argument is (fmin and fmax drop it).
 * Macros, so they take floats and float4s (the arguments are temporaries: read twice). */
#define kiln_min(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fmin(a, b))
#define kiln_max(a, b) (isnan(a) || isnan(b) ? (a) + (b) : fmax(a, b))

/* A ROW's or COL's values at the 4 lanes' columns or rows. */
#define MAP_GATHER4(p, o, at) (float4)((p)[(o) + (at).s0], (p)[(o) + (at).s1], \
                                       (p)[(o) + (at).s2], (p)[(o) + (at).s3])

/* The rows and columns of the 4 elements from i on; one division when they share a row
 * (always when cols % 4 == 0). */
inline void quad_place(const INDEX i, const INDEX columns, ulong4 *r, ulong4 *c)
{
    const INDEX row = i / columns, col = i - row * columns;
    if (col + 3 < columns) {
        *r = (ulong4)(row);
        *c = (ulong4)(col) + (ulong4)(0, 1, 2, 3);
        return;
    }
    const ulong4 e = (ulong4)(i) + (ulong4)(0, 1, 2, 3);
    *r = e / (ulong)columns;
    *c = e - *r * (ulong)columns;
}

#include "map_expression.h"

#ifndef MAP_REDUCE

#if MAP_VECTOR

/* Flat over float4s, then the tail; with MAP_2D each element's row and column too. */
__kernel void map(const ulong rows, const ulong cols MAP_PARAMS)
{
    const INDEX count = (INDEX)(rows * cols), columns = (INDEX)cols;
    const INDEX stride = (INDEX)get_global_size(0), quads = count / 4;
    ulong4 r = 0, c = 0;
    for (INDEX q = (INDEX)get_global_id(0); q < quads; q += stride) {
#if MAP_2D
        quad_place(4 * q, columns, &r, &c);
#endif
        map_element4(4 * (ulong)q, r, c MAP_ARGS);
    }
    for (INDEX i = 4 * quads + (INDEX)get_global_id(0); i < count; i += stride)
        map_element(i, i / columns, i % columns MAP_ARGS);
}

#else

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

#endif

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

/* Kahan or max or min in every lane, as an accumulator's one. */
typedef struct {
    float4 value;
    float4 carry;
} accumulator4;

/* Folds x into *a, floats or float4s alike (select takes either); max and min let a NaN
 * through, and keep it. */
#if MAP_REDUCE == 0
#define FOLD(type, a, x)                                                                 \
    const type y = (x) - (a)->carry;                                                     \
    const type t = (a)->value + y;                                                       \
    (a)->carry = select((type)(0.0f), (t - (a)->value) - y, isfinite(t)); /* Inf, NaN */ \
    (a)->value = t
#elif MAP_REDUCE == 1
#define FOLD(type, a, x) (a)->value = (x) > (a)->value || isnan(x) ? (x) : (a)->value
#else
#define FOLD(type, a, x) (a)->value = (x) < (a)->value || isnan(x) ? (x) : (a)->value
#endif

inline void fold(accumulator *a, const float x)
{
    FOLD(float, a, x);
}

inline void fold4(accumulator4 *a, const float4 x)
{
    FOLD(float4, a, x);
}

/* The expression at float4 q (elements 4q to 4q + 3). */
inline float4 quad_value(const INDEX q, const INDEX columns MAP_PARAMS)
{
    ulong4 r = 0, c = 0;
#if MAP_2D
    quad_place(4 * q, columns, &r, &c);
#endif
    return map_value4(4 * (ulong)q, r, c MAP_ARGS);
}

/* This item's float4s of the rows×cols elements, folded into a; the tail is not. Two
 * sets of lanes, as reduce_vector's: the folds of one overlap those of the other. */
inline void fold_quads(accumulator *a, const INDEX quads, const INDEX columns MAP_PARAMS)
{
    const float4 identity = (float4)(accumulator_start().value);
    accumulator4 lanes = {identity, (float4)(0.0f)}, more = lanes;
    INDEX q, end, step;
    vector_share(quads, &q, &end, &step);
    for (; q + step < end; q += 2 * step) {
        fold4(&lanes, quad_value(q, columns MAP_ARGS));
        fold4(&more, quad_value(q + step, columns MAP_ARGS));
    }
    for (; q < end; q += step)
        fold4(&lanes, quad_value(q, columns MAP_ARGS));
    fold4(&lanes, more.value - more.carry);
    const float4 sums = lanes.value - lanes.carry;
    fold(a, sums.s0);
    fold(a, sums.s1);
    fold(a, sums.s2);
    fold(a, sums.s3);
}

__kernel void map_reduce(const ulong rows, const ulong cols, __global float *partials
                         MAP_PARAMS)
{
    __local float values[LOCAL_SIZE];
    const INDEX count = (INDEX)(rows * cols), columns = (INDEX)cols;
    accumulator a = accumulator_start();
    INDEX first = (INDEX)get_global_id(0);
#if MAP_VECTOR
    fold_quads(&a, count / 4, columns MAP_ARGS);
    first += count / 4 * 4;
#endif
    for (INDEX i = first; i < count; i += (INDEX)get_global_size(0)) {
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
