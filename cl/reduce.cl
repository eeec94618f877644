/* Reductions: kiln_reduce over rows or columns, and kiln_sum's first pass.
 *
 * OP is the kiln_reduce_op: 0 SUM, 1 MAX, 2 MIN, 3 MEAN, 4 SUMSQ, 5 ARGMAX.
 * LOCAL_SIZE and INDEX as cl/rows.h says.
 *
 * Each work-item folds its share of elements into an accumulator, then the group
 * combines the accumulators in a tree through local memory. Sums are compensated (Kahan)
 * within a work-item and pairwise in the tree, for the bound kiln.h states; the carry is
 * dropped once the sum is not finite, so Inf and NaN propagate as IEEE says instead of
 * turning into Inf - Inf.
 *
 * reduce_rows:    one group per row (grid-stride over rows); its items stride along the
 *                 row in float4s from the row's first 16-byte boundary.
 * reduce_columns: a group of LX consecutive columns (coalesced) × LY slices of rows.
 * reduce_vector:  kiln_sum's first pass (OP 0): every item of the grid folds its share of
 *                 one vector, SUM_WIDTH floats at a time, into as many Kahan lanes; a
 *                 partial per group. CHUNKED 0 interleaves the items' loads (coalesced on
 *                 GPUs); 1 gives each item one contiguous run, so a CPU thread, which runs
 *                 a group's items one after another, streams through memory. SUM_WIDTH is
 *                 2, 4, 8 or 16: a float4 load on GPUs, the vector width on CPUs, where
 *                 PoCL vectorises only what the code holds in vectors. */
#ifndef OP
#define OP 0
#endif
#ifndef SUM_WIDTH
#define SUM_WIDTH 4
#endif
#ifndef CHUNKED
#define CHUNKED 0
#endif
#include "rows.h" /* LOCAL_SIZE, INDEX, row_parts */

#define IS_SUM (OP == 0 || OP == 3 || OP == 4)
#define NO_INDEX 0xffffffffu

typedef struct {
    float value;
    float carry; /* Kahan: what the value holds beyond the exact sum */
    uint index;  /* ARGMAX: where value is; NO_INDEX before any element */
} accumulator;

/* (a, ia) comes before (b, ib) for ARGMAX: NaN above every number, then the larger value,
 * then the smaller index. */
inline bool argmax_before(float a, uint ia, float b, uint ib)
{
    if (ia == NO_INDEX)
        return false;
    if (ib == NO_INDEX)
        return true;
    if (isnan(b))
        return isnan(a) && ia < ib;
    if (isnan(a))
        return true;
    return a > b || (a == b && ia < ib);
}

inline accumulator accumulator_start(void)
{
    accumulator a = {0.0f, 0.0f, NO_INDEX};
#if OP == 1 || OP == 5
    a.value = -INFINITY;
#elif OP == 2
    a.value = INFINITY;
#endif
    return a;
}

/* Folds a term into a: an element's square for SUMSQ, else the element or another
 * accumulator's value. */
inline void fold(accumulator *a, float x, uint index)
{
#if IS_SUM
    const float y = x - a->carry;
    const float t = a->value + y;
    a->carry = isfinite(t) ? (t - a->value) - y : 0.0f;
    a->value = t;
#elif OP == 1
    a->value = x > a->value || isnan(x) ? x : a->value;
#elif OP == 2
    a->value = x < a->value || isnan(x) ? x : a->value;
#else
    if (argmax_before(x, index, a->value, a->index)) {
        a->value = x;
        a->index = index;
    }
#endif
}

inline void accumulate(accumulator *a, float x, uint index)
{
#if OP == 4
    fold(a, x * x, index);
#else
    fold(a, x, index);
#endif
}

/* Combines the accumulators of `lanes` work-items (a power of two): item `lane` of the
 * group keeps its accumulator at values[lane·width + slot]. Every item gets the result. */
inline accumulator group_reduce(accumulator a, uint lane, uint lanes, uint width, uint slot,
                                __local float *values, __local uint *indices)
{
    const uint at = lane * width + slot;
    a.value -= a.carry;
    a.carry = 0.0f;
    values[at] = a.value;
    indices[at] = a.index;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = lanes / 2; step > 0; step /= 2) {
        if (lane < step) {
            fold(&a, values[at + step * width], indices[at + step * width]);
            a.value -= a.carry;
            a.carry = 0.0f;
            values[at] = a.value;
            indices[at] = a.index;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    a.value = values[slot];
    a.index = indices[slot];
    barrier(CLK_LOCAL_MEM_FENCE); /* the arrays are free for the next round */
    return a;
}

/* Folds elements [0, count) of the row starting at x[start] into a, as lane `lane` of
 * `lanes`: a scalar head up to the first 16-byte boundary, float4s, a scalar tail. */
inline accumulator row_accumulate(accumulator a, __global const float *x, ulong start,
                                  INDEX count, INDEX lane, INDEX lanes)
{
    __global const float *row = x + start;
    INDEX head, quads;
    row_parts(start, count, 1, &head, &quads);
    for (INDEX i = lane; i < head; i += lanes)
        accumulate(&a, row[i], (uint)i);
    __global const float4 *body = (__global const float4 *)(row + head);
    for (INDEX q = lane; q < quads; q += lanes) {
        const float4 v = body[q];
        const uint i = (uint)(head + 4 * q);
        accumulate(&a, v.x, i);
        accumulate(&a, v.y, i + 1);
        accumulate(&a, v.z, i + 2);
        accumulate(&a, v.w, i + 3);
    }
    for (INDEX i = head + 4 * quads + lane; i < count; i += lanes)
        accumulate(&a, row[i], (uint)i);
    return a;
}

inline void store(__global float *y, ulong at, accumulator a, ulong count)
{
#if OP == 5
    ((__global uint *)y)[at] = a.index;
#elif OP == 3
    y[at] = a.value / (float)count; /* an empty set: 0 / 0, NaN */
#else
    y[at] = a.value;
#endif
}

__kernel void reduce_rows(const ulong rows, const ulong cols, const ulong ld,
                          __global const float *x, const ulong x_offset, __global float *y,
                          const ulong y_offset)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint lane = (uint)get_local_id(0), lanes = (uint)get_local_size(0);
    for (ulong r = get_group_id(0); r < rows; r += get_num_groups(0)) {
        accumulator a = row_accumulate(accumulator_start(), x, x_offset + r * ld,
                                       (INDEX)cols, lane, lanes);
        a = group_reduce(a, lane, lanes, 1, 0, values, indices);
        if (lane == 0)
            store(y, y_offset + r, a, cols);
    }
}

__kernel void reduce_columns(const ulong rows, const ulong cols, const ulong ld,
                             __global const float *x, const ulong x_offset, __global float *y,
                             const ulong y_offset)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint slot = (uint)get_local_id(0), width = (uint)get_local_size(0);
    const uint lane = (uint)get_local_id(1), lanes = (uint)get_local_size(1);
    const ulong step = get_num_groups(0) * (ulong)width;
    for (ulong first = get_group_id(0) * (ulong)width; first < cols; first += step) {
        const ulong column = first + slot;
        accumulator a = accumulator_start();
        if (column < cols) {
            __global const float *p = x + x_offset + lane * ld + column;
            for (INDEX r = lane; r < (INDEX)rows; r += lanes, p += lanes * ld)
                accumulate(&a, *p, (uint)r);
        }
        a = group_reduce(a, lane, lanes, width, slot, values, indices);
        if (lane == 0 && column < cols)
            store(y, y_offset + column, a, rows);
    }
}

#define JOIN(a, b) a##b
#define VECTOR(w) JOIN(float, w)
#define VSTORE(w) JOIN(vstore, w)
typedef VECTOR(SUM_WIDTH) sum_lanes;

/* Kahan in every lane, the carry dropped where the sum is not finite (as fold does). */
inline void fold_lanes(sum_lanes *sum, sum_lanes *carry, sum_lanes x)
{
    const sum_lanes y = x - *carry;
    const sum_lanes t = *sum + y;
    *carry = select((sum_lanes)(0.0f), (t - *sum) - y, isfinite(t));
    *sum = t;
}

/* Vectors [*first, *end) of `vectors`, every `*step`-th, are this item's. */
inline void vector_share(INDEX vectors, INDEX *first, INDEX *end, INDEX *step)
{
    const INDEX item = (INDEX)get_global_id(0), items = (INDEX)get_global_size(0);
#if CHUNKED
    const INDEX per_item = vectors / items + (vectors % items != 0);
    *first = min(item * per_item, vectors);
    *end = min(*first + per_item, vectors);
    *step = 1;
#else
    *first = item;
    *end = vectors;
    *step = items;
#endif
}

__kernel void reduce_vector(const ulong n, __global const float *x, const ulong x_offset,
                            __global float *partials)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    __global const float *v = x + x_offset;
    /* scalar elements up to the first SUM_WIDTH-float boundary, vectors, a scalar tail */
    const INDEX count = (INDEX)n;
    const INDEX head = min((INDEX)((SUM_WIDTH - x_offset % SUM_WIDTH) % SUM_WIDTH), count);
    const INDEX vectors = (count - head) / SUM_WIDTH;
    __global const sum_lanes *body = (__global const sum_lanes *)(v + head);
    INDEX first, end, step;
    vector_share(vectors, &first, &end, &step);
    /* two sets of lanes: a CPU overlaps their adds, a GPU has two loads in flight */
    sum_lanes sum = 0.0f, carry = 0.0f, sum2 = 0.0f, carry2 = 0.0f;
    INDEX k = first;
    for (; k + step < end; k += 2 * step) {
        fold_lanes(&sum, &carry, body[k]);
        fold_lanes(&sum2, &carry2, body[k + step]);
    }
    for (; k < end; k += step)
        fold_lanes(&sum, &carry, body[k]);
    fold_lanes(&sum, &carry, sum2 - carry2);

    accumulator a = accumulator_start();
    float lanes[SUM_WIDTH];
    VSTORE(SUM_WIDTH)(sum - carry, 0, lanes);
    for (int l = 0; l < SUM_WIDTH; ++l)
        fold(&a, lanes[l], 0);
    const INDEX item = (INDEX)get_global_id(0), items = (INDEX)get_global_size(0);
    for (INDEX i = item; i < head; i += items)
        fold(&a, v[i], 0);
    for (INDEX i = head + vectors * SUM_WIDTH + item; i < count; i += items)
        fold(&a, v[i], 0);

    const uint lane = (uint)get_local_id(0);
    a = group_reduce(a, lane, (uint)get_local_size(0), 1, 0, values, indices);
    if (lane == 0)
        partials[get_group_id(0)] = a.value;
}
