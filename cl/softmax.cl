/* softmax and log_softmax of each row: a team of items per row, a few rows per group
 * (grid-stride over rows; the dispatcher sizes the teams).
 *
 * LOG 1 for log_softmax; LOCAL_SIZE, INDEX and HELD as cl/rows.h says. `vectors` is 1
 * when x and y start on the same 16-byte phase (they share ld, so then every row does):
 * both passes move float4s. An argument, not a -D: PoCL builds every variant for a while.
 *
 * Each item finds the max and Σ exp(x - max) of its elements (a compensated sum, as
 * kiln_reduce's), the team merges the pairs in a tree, then the items write y. The float4s
 * an item holds (HELD, cl/rows.h) take two passes over registers, max then sum, so a row
 * the team holds whole is read once; softmax keeps their terms exp(x - the item's max),
 * so y is that times exp(the item's max - the row's) / sum: one exp an element. Those it
 * streams take one read, keeping a running max and rescaling the sum when it grows, and a
 * second read for y. y may be x: every
 * item has read its elements before anyone writes. */
#ifndef LOG
#define LOG 0
#endif
#include "rows.h" /* LOCAL_SIZE, INDEX, HELD, row_parts, FOR_EDGES, FOR_HELD, ... */

typedef struct {
    float max, sum, carry;
} row_stats;

/* What a sum taken against max `from` is worth against the larger `to`: 1 when they are
 * equal (two -Inf included, whose sums are 0), NaN when either is. */
inline float rescale(float from, float to)
{
    return from == to ? 1.0f : exp(from - to);
}

/* NaN above everything, so a NaN max poisons the row. */
inline float max_of(float a, float b)
{
    return b > a || isnan(b) ? b : a;
}

inline void stats_max(row_stats *s, float x)
{
    s->max = max_of(s->max, x);
}

/* Adds a term to the compensated sum. */
inline void stats_sum(row_stats *s, float term)
{
    const float y = term - s->carry;
    const float t = s->sum + y;
    s->carry = isfinite(t) ? (t - s->sum) - y : 0.0f;
    s->sum = t;
}

/* Adds exp(x - max) for an x not above the max. A -Inf element adds nothing, even to a
 * row whose max is -Inf so far. */
inline void stats_term(row_stats *s, float x)
{
    stats_sum(s, x == -INFINITY ? 0.0f : exp(x - s->max));
}

inline void stats_add(row_stats *s, float x)
{
    const float max = max_of(s->max, x);
    if (max != s->max || isnan(max)) {
        const float scale = rescale(s->max, max);
        s->sum *= scale;
        s->carry *= scale;
        s->max = max;
    }
    stats_term(s, x);
}

/* y of an element v from the row's max and sum; softmax keeps the terms of the float4s
 * an item holds, exp(v - the item's max), and y of a term t is t times held_scale. */
#if LOG
#define OUTPUT(v) (((v) - max) - log_sum)
#define HELD_OUTPUT(v) OUTPUT(v)
#else
#define OUTPUT(v) (exp((v) - max) / sum)
#define HELD_OUTPUT(t) ((t) * held_scale)
#endif

/* The statistics of item `lane`'s elements of the row `in` (body `in4`, of which it holds
 * `held`; softmax turns those into their terms against *held_max, the max of the
 * elements before the streamed ones), the carry folded in. */
__attribute__((always_inline)) /* clang for AMD may keep it out of line, undefined */
inline row_stats row_stats_gather(__global const float *in, __global const float4 *in4,
                                  float4 held[HELD_SLOTS], INDEX head, INDEX quads,
                                  INDEX count, uint lane, uint lanes, float *held_max)
{
    row_stats s = {-INFINITY, 0.0f, 0.0f};
    FOR_EDGES(i, head, quads, count, lane, lanes)
        stats_max(&s, in[i]);
    FOR_HELD(k, quads, lane, lanes)
        ADD4(stats_max, &s, held[k]);
    FOR_EDGES(i, head, quads, count, lane, lanes)
        stats_term(&s, in[i]);
    FOR_HELD(k, quads, lane, lanes) {
        const float4 v = held[k];
        const float4 term = select(exp(v - s.max), (float4)(0.0f), v == (float4)(-INFINITY));
        ADD4(stats_sum, &s, term);
#if !LOG
        held[k] = term; /* one exp an element: y scales it */
#endif
    }
    *held_max = s.max;
    FOR_STREAMED(q, quads, lane, lanes)
        ADD4(stats_add, &s, in4[q]);
    s.sum -= s.carry;
    s.carry = 0.0f;
    return s;
}

/* Merges the statistics of a team's `lanes` items in a tree; item `lane` keeps its own at
 * [base + lane]. Every item gets the row's. */
inline row_stats row_stats_merge(row_stats s, uint lane, uint lanes, uint base,
                                 __local float *maxes, __local float *sums)
{
    const uint at = base + lane;
    maxes[at] = s.max;
    sums[at] = s.sum;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = lanes / 2; step > 0; step /= 2) {
        if (lane < step) {
            const float a = maxes[at], b = maxes[at + step], max = max_of(a, b);
            sums[at] = sums[at] * rescale(a, max) + sums[at + step] * rescale(b, max);
            maxes[at] = max;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    s.max = maxes[base];
    s.sum = sums[base];
    barrier(CLK_LOCAL_MEM_FENCE); /* the arrays are free for the next rows */
    return s;
}

/* Writes item `lane`'s elements of the row from x's row `in` (body `in4`, of which it
 * holds `held` as row_stats_gather left them, against held_max) and the
 * row's statistics. */
inline void row_write(__global const float *in, __global const float4 *in4,
                      const float4 held[HELD_SLOTS], __global float *out, INDEX head,
                      INDEX quads, INDEX count, uint lane, uint lanes, float held_max,
                      float max, float sum)
{
#if LOG
    const float log_sum = log(sum);
    (void)held_max;
#else
    const float held_scale = rescale(held_max, max) / sum;
#endif
    __global float4 *out4 = (__global float4 *)(out + head);
    FOR_EDGES(i, head, quads, count, lane, lanes)
        out[i] = OUTPUT(in[i]);
    FOR_HELD(k, quads, lane, lanes)
        out4[lane + k * lanes] = HELD_OUTPUT(held[k]);
    FOR_STREAMED(q, quads, lane, lanes)
        out4[q] = OUTPUT(in4[q]);
}

/* A group holds get_local_size(1) rows, each done by a team of get_local_size(0) items. */
__kernel ROW_GROUP_SHAPE void softmax_rows(const ulong rows, const ulong cols,
                                           const ulong ld, __global const float *x,
                                           const ulong x_offset, __global float *y,
                                           const ulong y_offset, const uint vectors)
{
    __local float maxes[LOCAL_SIZE];
    __local float sums[LOCAL_SIZE];
    const uint lane = (uint)get_local_id(0), lanes = (uint)get_local_size(0);
    const uint team = (uint)get_local_id(1), teams = (uint)get_local_size(1);
    const INDEX count = (INDEX)cols;
    for (ulong first = get_group_id(0) * teams; first < rows; first += get_num_groups(0) * teams) {
        const ulong r = first + team;
        __global const float *in = x + x_offset + r * ld;
        __global float *out = y + y_offset + r * ld;
        INDEX head, quads;
        row_parts(x_offset + r * ld, count, vectors, &head, &quads);
        __global const float4 *in4 = (__global const float4 *)(in + head);

        float4 held[HELD_SLOTS];
        row_stats s = {-INFINITY, 0.0f, 0.0f};
        float held_max = -INFINITY;
        if (r < rows) {
            row_hold(held, in4, quads, lane, lanes);
            s = row_stats_gather(in, in4, held, head, quads, count, lane, lanes, &held_max);
        }
        s = row_stats_merge(s, lane, lanes, team * lanes, maxes, sums);
        if (r < rows)
            row_write(in, in4, held, out, head, quads, count, lane, lanes, held_max, s.max,
                      s.sum);
    }
}
