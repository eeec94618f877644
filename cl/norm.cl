/* layernorm and rmsnorm of each row: a team of items per row, a few rows per group
 * (grid-stride over rows; the dispatcher sizes the teams).
 *
 * RMS 1 for rmsnorm. LOCAL_SIZE, INDEX and HELD as cl/rows.h says; `vectors` as
 * softmax.cl's.
 *
 * One read gathers the row's statistics, then y is written from the float4s the items
 * hold (HELD) and a second read of the rest (y may be x: every item has read its elements
 * before anyone writes):
 * - layernorm: each item keeps a count, mean and sum of squared deviations (Welford for
 *   the elements it reads, two passes over those it holds), exact for constant rows and
 *   without the cancellation of Σx² - (Σx)²/n; the team merges them in a tree (Chan et
 *   al.); the variance is biased (over n), as PyTorch's.
 * - rmsnorm: a compensated Σx², as kiln_reduce's SUMSQ.
 * gamma and beta (runtime flags, read through vload4 at any alignment) default to 1
 * and 0. */
#ifndef RMS
#define RMS 0
#endif
#include "rows.h" /* LOCAL_SIZE, INDEX, HELD, row_parts, ROW_GATHER, ... */

typedef struct {
    float count, mean, m2; /* rmsnorm: m2 is Σx² and mean its Kahan carry */
} moments;

inline void moments_add(moments *m, float x)
{
#if RMS
    const float y = x * x - m->mean;
    const float t = m->m2 + y;
    m->mean = isfinite(t) ? (t - m->m2) - y : 0.0f;
    m->m2 = t;
#else
    m->count += 1.0f;
    const float delta = x - m->mean;
    m->mean += delta / m->count;
    m->m2 += delta * (x - m->mean);
#endif
}

/* a and b of two groups of elements as one. */
inline moments moments_merge(moments a, moments b)
{
#if RMS
    a.m2 += b.m2;
#else
    const float count = a.count + b.count;
    if (b.count == 0.0f)
        return a;
    if (a.count == 0.0f)
        return b;
    const float delta = b.mean - a.mean, share = b.count / count;
    a.mean += delta * share;
    a.m2 += b.m2 + delta * delta * a.count * share;
    a.count = count;
#endif
    return a;
}

#define SCALE(i) (has_gamma ? gamma[i] : 1.0f)
#define SHIFT(i) (has_beta ? beta[i] : 0.0f)
#define SCALE4(i) (has_gamma ? vload4(0, gamma + (i)) : (float4)(1.0f))
#define SHIFT4(i) (has_beta ? vload4(0, beta + (i)) : (float4)(0.0f))
#if RMS
#define OUTPUT(v, g, b) ((v) * rstd * (g))
#else
#define OUTPUT(v, g, b) (((v) - mean) * rstd * (g) + (b))
#endif

#if !RMS
/* layernorm: the moments of the float4s item `lane` holds, in two passes over registers
 * (Welford's division an element is most of a row's arithmetic): their mean, summed as
 * deviations from the first so that a constant row's is exact, then the sum of squared
 * deviations from it. */
inline moments held_moments(const float4 held[HELD_SLOTS], INDEX quads, uint lane,
                            uint lanes)
{
    moments m = {0.0f, 0.0f, 0.0f};
    if (HELD == 0 || lane >= quads)
        return m;
    const float first = held[0].x;
    float4 sum = (float4)(0.0f), squares = (float4)(0.0f);
    FOR_HELD(k, quads, lane, lanes) {
        sum += held[k] - first;
        m.count += 4.0f;
    }
    m.mean = first + (sum.x + sum.y + sum.z + sum.w) / m.count;
    FOR_HELD(k, quads, lane, lanes) {
        const float4 deviation = held[k] - m.mean;
        squares += deviation * deviation;
    }
    m.m2 = squares.x + squares.y + squares.z + squares.w;
    return m;
}
#endif

/* The moments of item `lane`'s elements of the row `in` (body `in4`, of which it holds
 * `held`; rmsnorm: the carry folded in). */
inline moments row_moments_gather(__global const float *in, __global const float4 *in4,
                                  const float4 held[HELD_SLOTS], INDEX head, INDEX quads,
                                  INDEX count, uint lane, uint lanes)
{
    moments m = {0.0f, 0.0f, 0.0f};
#if RMS
    ROW_GATHER(in, in4, held, head, quads, count, lane, lanes, moments_add, &m);
    m.m2 -= m.mean; /* the carry */
    m.mean = 0.0f;
#else
    FOR_EDGES(i, head, quads, count, lane, lanes)
        moments_add(&m, in[i]);
    FOR_STREAMED(q, quads, lane, lanes)
        ADD4(moments_add, &m, in4[q]);
    m = moments_merge(m, held_moments(held, quads, lane, lanes));
#endif
    return m;
}

/* Merges the moments of a team's `lanes` items in a tree; item `lane` keeps its own at
 * [base + lane]. Every item gets the row's. */
inline moments row_moments_merge(moments m, uint lane, uint lanes, uint base,
                                 __local float *counts, __local float *means,
                                 __local float *m2s)
{
    const uint at = base + lane;
    counts[at] = m.count;
    means[at] = m.mean;
    m2s[at] = m.m2;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint step = lanes / 2; step > 0; step /= 2) {
        if (lane < step) {
            const uint other_at = at + step;
            const moments other = {counts[other_at], means[other_at], m2s[other_at]};
            m = moments_merge(m, other);
            counts[at] = m.count;
            means[at] = m.mean;
            m2s[at] = m.m2;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m.count = counts[base];
    m.mean = means[base];
    m.m2 = m2s[base];
    barrier(CLK_LOCAL_MEM_FENCE); /* the arrays are free for the next rows */
    return m;
}

/* Writes item `lane`'s elements of the row from x's row `in` (body `in4`, of which it
 * holds `held`), the row's mean and 1 / its standard deviation. */
inline void row_write(__global const float *in, __global const float4 *in4,
                      const float4 held[HELD_SLOTS], __global float *out, INDEX head,
                      INDEX quads, INDEX count, uint lane, uint lanes, float mean, float rstd,
                      __global const float *gamma, uint has_gamma, __global const float *beta,
                      uint has_beta)
{
#if RMS
    (void)mean;
#endif
    __global float4 *out4 = (__global float4 *)(out + head);
    FOR_EDGES(i, head, quads, count, lane, lanes)
        out[i] = OUTPUT(in[i], SCALE(i), SHIFT(i));
    FOR_HELD(k, quads, lane, lanes) {
        const INDEX q = lane + k * lanes, i = head + 4 * q;
        out4[q] = OUTPUT(held[k], SCALE4(i), SHIFT4(i));
    }
    FOR_STREAMED(q, quads, lane, lanes) {
        const INDEX i = head + 4 * q;
        out4[q] = OUTPUT(in4[q], SCALE4(i), SHIFT4(i));
    }
}

/* A group holds get_local_size(1) rows, each done by a team of get_local_size(0) items. */
__kernel ROW_GROUP_SHAPE void norm_rows(const ulong rows, const ulong cols, const ulong ld,
                                        __global const float *x, const ulong x_offset,
                                        __global float *y, const ulong y_offset,
                                        const uint vectors, __global const float *gamma,
                                        const ulong gamma_offset, const uint has_gamma,
                                        __global const float *beta, const ulong beta_offset,
                                        const uint has_beta, const float eps)
{
    __local float counts[LOCAL_SIZE];
    __local float means[LOCAL_SIZE];
    __local float m2s[LOCAL_SIZE];
    const uint lane = (uint)get_local_id(0), lanes = (uint)get_local_size(0);
    const uint team = (uint)get_local_id(1), teams = (uint)get_local_size(1);
    const INDEX count = (INDEX)cols;
    gamma += gamma_offset;
    beta += beta_offset;
    for (ulong first = get_group_id(0) * teams; first < rows; first += get_num_groups(0) * teams) {
        const ulong r = first + team;
        __global const float *in = x + x_offset + r * ld;
        __global float *out = y + y_offset + r * ld;
        INDEX head, quads;
        row_parts(x_offset + r * ld, count, vectors, &head, &quads);
        __global const float4 *in4 = (__global const float4 *)(in + head);

        float4 held[HELD_SLOTS];
        moments m = {0.0f, 0.0f, 0.0f};
        if (r < rows) {
            row_hold(held, in4, quads, lane, lanes);
            m = row_moments_gather(in, in4, held, head, quads, count, lane, lanes);
        }
        m = row_moments_merge(m, lane, lanes, team * lanes, counts, means, m2s);
        const float rstd = 1.0f / sqrt(m.m2 / (float)cols + eps);
        if (r < rows)
            row_write(in, in4, held, out, head, quads, count, lane, lanes, m.mean, rstd, gamma,
                      has_gamma, beta, has_beta);
    }
}
