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

#endif
