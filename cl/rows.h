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

/* The head and tail of a row, the elements its float4s leave out: edge e of them is element
 * edge_at(e) of the row. */
inline INDEX edge_at(INDEX e, INDEX head, INDEX quads)
{
    return e < head ? e : e + 4 * quads;
}

/* Runs the statement that follows for each element i of the row's head and tail that item
 * `lane` of its team of `lanes` owns. */
#define FOR_EDGES(i, head, quads, count, lane, lanes)                                       \
    for (INDEX e_ = (lane), i = edge_at(e_, head, quads); e_ < (count) - 4 * (quads);     \
         e_ += (lanes), i = edge_at(e_, head, quads))

/* Float4s of its row's body that each item of softmax.cl and norm.cl holds in registers:
 * the row is read once where the team's lanes·HELD float4s hold it. The float4s beyond
 * those (all of them with HELD 0, for rows of any length) are read from memory once for
 * the statistics and again for the output. With HELD, TEAM×TEAMS is the group's shape. */
#ifndef HELD
#define HELD 0
#endif
#ifndef TEAM
#define TEAM 256
#endif
#ifndef TEAMS
#define TEAMS 1
#endif

/* With HELD, the group's shape is fixed at build, TEAM items per row by TEAMS rows, so
 * the compiler fits held into the registers a group of that size has (NVIDIA's caps
 * them, spilling rather than refusing the launch). */
#if HELD
#define ROW_GROUP_SHAPE __attribute__((reqd_work_group_size(TEAM, TEAMS, 1)))
#else
#define ROW_GROUP_SHAPE
#endif

/* Runs the statement that follows for each float4 held[k] that item `lane` holds:
 * float4 lane + k·lanes of the body, where the body has it. Unrolled, so every k is a
 * constant and held stays in registers. */
#define FOR_HELD(k, quads, lane, lanes)                                                     \
    _Pragma("unroll") for (uint k = 0; k < HELD; ++k)                                       \
        if ((lane) + (INDEX)k * (lanes) < (quads))

/* Runs the statement that follows for each float4 q of the body that item `lane` owns
 * beyond those it holds. */
#define FOR_STREAMED(q, quads, lane, lanes)                                                 \
    for (INDEX q = (lane) + (INDEX)HELD * (lanes); q < (quads); q += (lanes))

/* Loads item `lane`'s float4s of the body `in4` into held (HELD of them; at least one
 * slot, so HELD 0 still declares an array). */
#define HELD_SLOTS (HELD > 0 ? HELD : 1)
inline void row_hold(float4 held[HELD_SLOTS], __global const float4 *in4, INDEX quads,
                     uint lane, uint lanes)
{
    FOR_HELD(k, quads, lane, lanes)
        held[k] = in4[lane + k * lanes];
}

/* Calls ADD(state, x) on each element of a row that item `lane` of its team of `lanes`
 * owns: its head and tail elements from `in`, the float4s it holds, then those it
 * streams from the body `in4` (in lane order x, y, z, w). */
#define ROW_GATHER(in, in4, held, head, quads, count, lane, lanes, ADD, state)              \
    do {                                                                                  \
        FOR_EDGES(i_, head, quads, count, lane, lanes)                                    \
            ADD(state, (in)[i_]);                                                          \
        FOR_HELD(k_, quads, lane, lanes)                                                  \
            ADD4(ADD, state, (held)[k_]);                                                  \
        FOR_STREAMED(q_, quads, lane, lanes)                                              \
            ADD4(ADD, state, (in4)[q_]);                                                   \
    } while (0)
#define ADD4(ADD, state, v)                                                               \
    do {                                                                                  \
        const float4 v_ = (v);                                                             \
        ADD(state, v_.x);                                                                  \
        ADD(state, v_.y);                                                                  \
        ADD(state, v_.z);                                                                  \
        ADD(state, v_.w);                                                                  \
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
