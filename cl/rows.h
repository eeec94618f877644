/* How the row-wise kernels (reduce.cl, softmax.cl, norm.cl) walk a row: a group's items
 * stride along it in float4s from its first 16-byte boundary (cl_mem allocations are
 * aligned far beyond that), with scalar loops for the head before the boundary and the
 * tail after the last whole float4. */
#ifndef KILN_ROWS_H
#define KILN_ROWS_H

/* The parameters every row-wise kernel shares:
 * LOCAL_SIZE: the most work-items of a group (a power of two), the local arrays' size;
 * INDEX:      uint when a row (a column for reduce_columns) fits 31 bits, else ulong. */
#ifndef LOCAL_SIZE
#define LOCAL_SIZE 256
#endif
#ifndef INDEX
#define INDEX ulong
#endif

/* The row of `count` elements starting at element `start` of its buffer has `*head`
 * scalar elements, then `*quads` float4s, then the rest. vectors 0 makes it all head
 * (for rows whose input and output do not share an alignment). */
inline void row_parts(ulong start, INDEX count, int vectors, INDEX *head, INDEX *quads)
{
    INDEX first = (INDEX)((4 - (start & 3)) & 3);
    *head = vectors && first < count ? first : count;
    *quads = (count - *head) / 4;
}

/* Calls ADD(state, x) on each element of the row `in` that item `lane` of its team of
 * `lanes` owns: the head, the float4s (in lane order x, y, z, w), then the tail; the
 * order the compensated and Welford sums of softmax.cl and norm.cl rely on. */
#define ROW_GATHER(in, head, quads, count, lane, lanes, ADD, state)                      \
    do {                                                                                  \
        for (INDEX i_ = (lane); i_ < (head); i_ += (lanes))                               \
            ADD(state, (in)[i_]);                                                          \
        __global const float4 *in4_ = (__global const float4 *)((in) + (head));           \
        for (INDEX q_ = (lane); q_ < (quads); q_ += (lanes)) {                            \
            const float4 v_ = in4_[q_];                                                    \
            ADD(state, v_.x);                                                              \
            ADD(state, v_.y);                                                              \
            ADD(state, v_.z);                                                              \
            ADD(state, v_.w);                                                              \
        }                                                                                 \
        for (INDEX i_ = (head) + 4 * (quads) + (lane); i_ < (count); i_ += (lanes))       \
            ADD(state, (in)[i_]);                                                          \
    } while (0)

/* kiln_sum's and kiln_map_reduce's share of a vector: CHUNKED 0 interleaves the items'
 * vectors (coalesced on GPUs), 1 gives each item one contiguous run (a CPU thread runs a
 * group's items one after another). */
#ifndef CHUNKED
#define CHUNKED 0
#endif

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

#endif
