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
