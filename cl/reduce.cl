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
 * reduce_rows:       teams of items per row, a few rows per group (grid-stride over
 *                    rows); a team's items stride along its row in float4s from the
 *                    row's first 16-byte boundary.
 * reduce_row_pieces: few long rows, each shared by several groups: partials.
 * reduce_columns:    items own 4 adjacent columns (coalesced float4s), groups one chunk
 *                    of the rows: the result, or partials when there are several chunks.
 *                    A group as wide as the columns has one lane: no fold.
 * reduce_partials:   the second pass over either's partials (ARGMAX: values and indices).
 * reduce_vector:  kiln_sum's first pass (OP 0): every item of the grid folds its share of
 *                 one vector, SUM_WIDTH floats at a time, UNROLL loads in flight, into
 *                 two sets of as many Kahan lanes; a partial per group. CHUNKED 0 interleaves the items' loads (coalesced on
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
/* Loads each item of reduce_rows, reduce_row_pieces, reduce_columns and reduce_vector has
 * in flight: all of them issued before the folds, which wait for them. */
#ifndef UNROLL
#define UNROLL 2
#endif
#include "rows.h" /* LOCAL_SIZE, INDEX, row_parts */

/* v[u] = body[at + u·stride] for the UNROLL u, unrolled so v stays in registers. */
#define LOAD_UNROLLED(v, body, at, stride)                                                  \
    _Pragma("unroll") for (uint u_ = 0; u_ < UNROLL; ++u_)                                   \
        (v)[u_] = (body)[(at) + u_ * (stride)]

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

/* Folds element x at `index`. Every kernel brings an item its elements in increasing
 * index order, so for ARGMAX x comes after a's element: it wins by being larger, or NaN
 * over a number, and a tie keeps a's. */
inline void accumulate(accumulator *a, float x, uint index)
{
#if OP == 4
    fold(a, x * x, index);
#elif OP == 5
    if (a->index == NO_INDEX || (!isnan(a->value) && !(x <= a->value))) {
        a->value = x;
        a->index = index;
    }
#else
    fold(a, x, index);
#endif
}

/* Combines the accumulators of `lanes` work-items (a power of two, the same for the whole
 * group): item `lane` keeps its accumulator at values[base + lane·stride] (stride 1 where
 * the lanes are a warp's neighbours, so its accesses hit distinct banks). Every item gets
 * the result; one lane has it already, without local memory or barriers. */
inline accumulator group_reduce(accumulator a, uint lane, uint lanes, uint base, uint stride,
                                __local float *values, __local uint *indices)
{
    const uint at = base + lane * stride;
    a.value -= a.carry;
    a.carry = 0.0f;
    if (lanes == 1)
        return a;
    values[at] = a.value;
    indices[at] = a.index;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = lanes / 2; step > 0; step /= 2) {
        if (lane < step) {
            fold(&a, values[at + step * stride], indices[at + step * stride]);
            a.value -= a.carry;
            a.carry = 0.0f;
            values[at] = a.value;
            indices[at] = a.index;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    a.value = values[base];
    a.index = indices[base];
    barrier(CLK_LOCAL_MEM_FENCE); /* the arrays are free for the next round */
    return a;
}

inline void accumulate4(accumulator *a, float4 v, uint index)
{
    accumulate(a, v.x, index);
    accumulate(a, v.y, index + 1);
    accumulate(a, v.z, index + 2);
    accumulate(a, v.w, index + 3);
}

/* Folds float4s [first, end) of body (element `head` of its row onward) into a, every
 * `lanes`-th from first + lane, UNROLL loads in flight at a time. */
inline accumulator quads_accumulate(accumulator a, __global const float4 *body, INDEX head,
                                    INDEX first, INDEX end, INDEX lane, INDEX lanes)
{
    INDEX q = first + lane;
    for (; q + (UNROLL - 1) * lanes < end; q += UNROLL * lanes) {
        float4 v[UNROLL];
        LOAD_UNROLLED(v, body, q, lanes);
#pragma unroll
        for (uint u = 0; u < UNROLL; ++u)
            accumulate4(&a, v[u], (uint)(head + 4 * (q + u * lanes)));
    }
    for (; q < end; q += lanes)
        accumulate4(&a, body[q], (uint)(head + 4 * q));
    return a;
}

/* Folds elements [first, end) of a row into a, every `lanes`-th from first + lane: its
 * scalar head before the float4s, or its tail after them. */
inline accumulator edge_accumulate(accumulator a, __global const float *row, INDEX first,
                                   INDEX end, INDEX lane, INDEX lanes)
{
    for (INDEX i = first + lane; i < end; i += lanes)
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

/* A partial of a two-pass reduction: its value (a group_reduce result, carry folded in)
 * at partials[at], for ARGMAX its index at uint indices_at + at of the same buffer. */
inline void store_partial(__global float *partials, ulong at, ulong indices_at, accumulator a)
{
    partials[at] = a.value;
#if OP == 5
    ((__global uint *)partials)[indices_at + at] = a.index;
#endif
}

/* A group holds `teams` rows (get_local_size(1)), each folded by a team of
 * get_local_size(0) items: a team of 256 for long rows, a few items for short ones. */
__kernel void reduce_rows(const ulong rows, const ulong cols, const ulong ld,
                          __global const float *x, const ulong x_offset, __global float *y,
                          const ulong y_offset)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint lane = (uint)get_local_id(0), lanes = (uint)get_local_size(0);
    const uint team = (uint)get_local_id(1), teams = (uint)get_local_size(1);
    const INDEX count = (INDEX)cols;
    for (ulong first = get_group_id(0) * teams; first < rows; first += get_num_groups(0) * teams) {
        const ulong r = first + team, start = x_offset + r * ld;
        accumulator a = accumulator_start();
        if (r < rows) {
            INDEX head, quads;
            row_parts(start, count, 1, &head, &quads);
            a = edge_accumulate(a, x + start, 0, head, lane, lanes);
            a = quads_accumulate(a, (__global const float4 *)(x + start + head), head, 0, quads,
                                 lane, lanes);
            a = edge_accumulate(a, x + start, head + 4 * quads, count, lane, lanes);
        }
        a = group_reduce(a, lane, lanes, team * lanes, 1, values, indices);
        if (lane == 0 && r < rows)
            store(y, y_offset + r, a, cols);
    }
}

/* Few long rows: `pieces` groups share each row, group g folding piece g / rows of row
 * g % rows (a run of its float4s; piece 0 takes the scalar head and tail too) into
 * partial g, so the partials are a pieces×rows matrix for reduce_partials. */
__kernel void reduce_row_pieces(const ulong rows, const ulong cols, const ulong ld,
                                __global const float *x, const ulong x_offset,
                                __global float *partials, const ulong indices_at,
                                const ulong pieces)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint lane = (uint)get_local_id(0), lanes = (uint)get_local_size(0);
    const INDEX count = (INDEX)cols;
    for (ulong g = get_group_id(0); g < rows * pieces; g += get_num_groups(0)) {
        const ulong r = g % rows, piece = g / rows, start = x_offset + r * ld;
        INDEX head, quads;
        row_parts(start, count, 1, &head, &quads);
        const INDEX per_piece = quads / (INDEX)pieces + (quads % (INDEX)pieces != 0);
        const INDEX first = min((INDEX)piece * per_piece, quads);
        /* piece 0 takes the head and tail too, in order around its float4s */
        accumulator a = edge_accumulate(accumulator_start(), x + start, 0,
                                        piece == 0 ? head : 0, lane, lanes);
        a = quads_accumulate(a, (__global const float4 *)(x + start + head), head, first,
                             min(first + per_piece, quads), lane, lanes);
        a = edge_accumulate(a, x + start, head + 4 * quads, piece == 0 ? count : 0, lane,
                            lanes);
        a = group_reduce(a, lane, lanes, 0, 1, values, indices);
        if (lane == 0)
            store_partial(partials, g, indices_at, a);
    }
}

/* Four adjacent columns of one row from p: a float4 load where they are whole and
 * aligned, else the valid ones (the others are never stored). */
inline float4 columns_load(__global const float *p, ulong valid)
{
    float4 v = (float4)(0.0f);
    v.x = p[0];
    if (valid > 1)
        v.y = p[1];
    if (valid > 2)
        v.z = p[2];
    if (valid > 3)
        v.w = p[3];
    return v;
}

inline void columns_accumulate(accumulator a[4], float4 v, uint row)
{
    accumulate(&a[0], v.x, row);
    accumulate(&a[1], v.y, row);
    accumulate(&a[2], v.z, row);
    accumulate(&a[3], v.w, row);
}

/* The index a partial carries: ARGMAX's, else none is stored. */
inline uint partial_index(__global const float *partials, ulong indices_at, ulong at)
{
#if OP == 5
    return ((__global const uint *)partials)[indices_at + at];
#else
    return 0;
#endif
}

/* Each item folds 4 adjacent columns (a float4 per row) over rows [row, end), every
 * `lanes`-th; whole columns from a float4 boundary load as float4s, UNROLL at a time. */
inline void column_block_accumulate(accumulator a[4], __global const float *x, ulong at,
                                    ulong ld, ulong valid, INDEX row, INDEX end, INDEX lanes)
{
    __global const float *p = x + at + row * ld;
    const ulong step = lanes * ld;
    if (valid == 4 && at % 4 == 0 && ld % 4 == 0) {
        for (; row + (UNROLL - 1) * lanes < end; row += UNROLL * lanes, p += UNROLL * step) {
            float4 v[UNROLL];
            LOAD_UNROLLED(v, (__global const float4 *)p, 0, step / 4); /* ld: whole float4s */
#pragma unroll
            for (uint u = 0; u < UNROLL; ++u)
                columns_accumulate(a, v[u], (uint)(row + u * lanes));
        }
    }
    for (; row < end; row += lanes, p += step)
        columns_accumulate(a, columns_load(p, valid), (uint)row);
}

/* Per-column reductions: a group of LX items × LY lanes (LY may be 1) covers 4·LX
 * adjacent columns (each item a float4 of them, so a row's loads coalesce) of one chunk
 * of the rows, the chunks being the groups along dimension 1. One chunk stores y; more
 * store a chunks×cols matrix of partials for reduce_partials. Groups stride over
 * columns. */
__kernel void reduce_columns(const ulong rows, const ulong cols, const ulong ld,
                             __global const float *x, const ulong x_offset, __global float *y,
                             const ulong y_offset, const ulong indices_at)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint slot = (uint)get_local_id(0), width = (uint)get_local_size(0);
    const uint lane = (uint)get_local_id(1), lanes = (uint)get_local_size(1);
    const ulong chunk = get_group_id(1), chunks = get_num_groups(1);
    const INDEX per_chunk = (INDEX)(rows / chunks + (rows % chunks != 0));
    const INDEX row = min((INDEX)chunk * per_chunk, (INDEX)rows);
    const INDEX end = min(row + per_chunk, (INDEX)rows);
    const ulong step = get_num_groups(0) * (ulong)width * 4;
    for (ulong first = get_group_id(0) * (ulong)width * 4; first < cols; first += step) {
        const ulong column = first + 4 * slot;
        accumulator a[4] = {accumulator_start(), accumulator_start(), accumulator_start(),
                            accumulator_start()};
        if (column < cols)
            column_block_accumulate(a, x, x_offset + column, ld, cols - column, row + lane,
                                    end, lanes);
        for (uint j = 0; j < 4; ++j) {
            a[j] = group_reduce(a[j], lane, lanes, slot, width, values, indices);
            if (lane == 0 && column + j < cols) {
                if (chunks == 1)
                    store(y, y_offset + column + j, a[j], rows);
                else
                    store_partial(y, chunk * cols + column + j, indices_at, a[j]);
            }
        }
    }
}

/* The second pass: result c folds column c of a parts×results matrix of partials (row
 * p of them: part p) and stores it to y; count is the elements of the whole set, for
 * MEAN. Groups of LX results × LY lanes over the parts, as reduce_columns. */
__kernel void reduce_partials(const ulong parts, const ulong results, const ulong count,
                              __global const float *partials, const ulong indices_at,
                              __global float *y, const ulong y_offset)
{
    __local float values[LOCAL_SIZE];
    __local uint indices[LOCAL_SIZE];
    const uint slot = (uint)get_local_id(0), width = (uint)get_local_size(0);
    const uint lane = (uint)get_local_id(1), lanes = (uint)get_local_size(1);
    const ulong step = get_num_groups(0) * (ulong)width;
    for (ulong first = get_group_id(0) * (ulong)width; first < results; first += step) {
        const ulong c = first + slot;
        accumulator a = accumulator_start();
        for (ulong p = lane; c < results && p < parts; p += lanes)
            fold(&a, partials[p * results + c], partial_index(partials, indices_at, p * results + c));
        a = group_reduce(a, lane, lanes, slot, width, values, indices);
        if (lane == 0 && c < results)
            store(y, y_offset + c, a, count);
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
    /* two sets of lanes: a CPU overlaps their adds */
    sum_lanes sum = 0.0f, carry = 0.0f, sum2 = 0.0f, carry2 = 0.0f;
    INDEX k = first;
    for (; k + (UNROLL - 1) * step < end; k += UNROLL * step) {
        sum_lanes v[UNROLL];
        LOAD_UNROLLED(v, body, k, step);
#pragma unroll
        for (uint u = 0; u < UNROLL; u += 2) {
            fold_lanes(&sum, &carry, v[u]);
            if (u + 1 < UNROLL)
                fold_lanes(&sum2, &carry2, v[u + 1]);
        }
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
    a = group_reduce(a, lane, (uint)get_local_size(0), 0, 1, values, indices);
    if (lane == 0)
        partials[get_group_id(0)] = a.value;
}
