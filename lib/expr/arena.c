/* One arena per parse: every token copy, node and instruction of an expression is
 * allocated here and freed at once, so no error path can lose memory. */
#include "expr.h"

#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

enum { CHUNK_BYTES = 16 * 1024 };

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    alignas(max_align_t) unsigned char data[];
};

void *arena_alloc(struct arena *arena, size_t size)
{
    const size_t align = alignof(max_align_t);
    size = (size + align - 1) / align * align;
    struct arena_chunk *chunk = arena->chunks;
    if (chunk == NULL || chunk->size - chunk->used < size) {
        size_t bytes = size > CHUNK_BYTES ? size : CHUNK_BYTES;
        chunk = malloc(sizeof(*chunk) + bytes);
        if (chunk == NULL)
            return NULL;
        chunk->next = arena->chunks;
        chunk->used = 0;
        chunk->size = bytes;
        arena->chunks = chunk;
    }
    void *block = chunk->data + chunk->used;
    chunk->used += size;
    return memset(block, 0, size);
}

void arena_free(struct arena *arena)
{
    while (arena->chunks != NULL) {
        struct arena_chunk *next = arena->chunks->next;
        free(arena->chunks);
        arena->chunks = next;
    }
}
