/* kiln_softmax_xent: the mean cross-entropy of softmax(logits) against integer labels,
 * and its gradient, in two passes.
 *
 * softmax_xent_rows: one group per row (grid-stride over rows, at most as many groups as
 *   the context's partials hold). The row's max is subtracted before exp, so no exp
 *   overflows; loss_i = log Σ exp(x - max) - (x[label] - max). With GRADIENT, dlogits =
 *   (softmax - one-hot) / rows, which may be written over the logits: each item writes
 *   only what it read, after the group has read x[label]. A label >= cols makes loss_i
 *   and the row's gradient NaN. Item 0 adds loss_i / rows to its group's partial
 *   (compensated), written once at the end.
 * softmax_xent_total: one group sums the partials into the loss.
 *
 * LOCAL_SIZE: the group's work-items (a power of two), the local array's size.
 * INDEX is uint when rows·cols fits 31 bits, else ulong. */
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 256
#endif
#ifndef INDEX
#define INDEX ulong
#endif
#ifndef GRADIENT
#define GRADIENT 1
#endif

/* The group's values combined in a tree through local memory, their max or their sum;
 * every item gets the result. The values array is free again when it returns. */
inline float group_combine(__local float *values, float value, bool largest)
{
    const uint item = (uint)get_local_id(0);
    values[item] = value;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (uint width = LOCAL_SIZE / 2; width > 0; width /= 2) {
        if (item < width) {
            const float other = values[item + width];
            values[item] = largest ? fmax(values[item], other) : values[item] + other;
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    const float result = values[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return result;
}

__kernel void softmax_xent_rows(const ulong rows, const ulong cols,
                                __global const float *logits, const ulong logits_offset,
                                __global const uint *labels, const ulong labels_offset,
                                __global float *dlogits, const ulong dlogits_offset,
                                __global float *partials)
{
    __local float values[LOCAL_SIZE];
    logits += logits_offset;
    labels += labels_offset;
    dlogits += dlogits_offset;
    const INDEX count = (INDEX)cols, row_count = (INDEX)rows;
    const INDEX item = (INDEX)get_local_id(0);
    const float rows_f = (float)rows;
    float total = 0.0f, carry = 0.0f;
    for (INDEX row = (INDEX)get_group_id(0); row < row_count;
         row += (INDEX)get_num_groups(0)) {
        __global const float *x = logits + row * count;
        float largest = -INFINITY;
        for (INDEX j = item; j < count; j += LOCAL_SIZE)
            largest = fmax(largest, x[j]);
        largest = group_combine(values, largest, true);
        float sum = 0.0f;
        for (INDEX j = item; j < count; j += LOCAL_SIZE)
            sum += exp(x[j] - largest);
        sum = group_combine(values, sum, false);
        const uint label = labels[row];
        const bool valid = (ulong)label < cols;
        const float picked = valid ? x[label] : NAN;
#if GRADIENT
        /* Everyone has read x[label] before anyone overwrites it. */
        barrier(CLK_GLOBAL_MEM_FENCE);
        __global float *d = dlogits + row * count;
        for (INDEX j = item; j < count; j += LOCAL_SIZE) {
            const float p = exp(x[j] - largest) / sum;
            d[j] = valid ? (p - (j == (INDEX)label ? 1.0f : 0.0f)) / rows_f : NAN;
        }
#endif
        if (item == 0) {
            const float loss = (log(sum) - (picked - largest)) / rows_f;
            /* Kahan; the carry is dropped once the total is not finite. */
            const float y = loss - carry, t = total + y;
            carry = isfinite(t) ? (t - total) - y : 0.0f;
            total = t;
        }
    }
    if (item == 0)
        partials[get_group_id(0)] = total;
}

__kernel void softmax_xent_total(const uint groups, __global const float *partials,
                                 __global float *loss, const ulong loss_offset)
{
    __local float values[LOCAL_SIZE];
    float sum = 0.0f;
    for (uint i = (uint)get_local_id(0); i < groups; i += LOCAL_SIZE)
        sum += partials[i];
    sum = group_combine(values, sum, false);
    if (get_local_id(0) == 0)
        loss[loss_offset] = sum;
}
