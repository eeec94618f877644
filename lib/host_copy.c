/* Host memcpy split between threads: one thread moves 6 to 10 GB/s between pageable and
 * pinned memory, a few together move what the memory bus does. The staging ring of
 * transfer.c is its one user. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
    MAX_COPY_THREADS = 8, /* memory bandwidth is saturated well before */
    PIECE_MIN_BYTES = 256 << 10, /* below this, waking a thread costs more than it saves */
    PIECE_ALIGN = 64,            /* a cache line: neighbouring pieces share none */
};

/* The helpers and the copy they share: its pieces are claimed in turn, by the helpers
 * and the caller alike, so a helper that wakes late finds nothing left and no harm. */
struct host_copiers {
    pthread_mutex_t lock;
    pthread_cond_t start; /* a copy came, or the helpers must stop */
    pthread_cond_t done;  /* the last piece of the copy was copied */
    char *dst;
    const char *src;
    size_t bytes, piece_bytes, pieces, next_piece, pieces_copied;
    unsigned long long copy_number; /* which copy the fields above describe */
    bool stopping;
    size_t helpers; /* started, of the threads below */
    pthread_t threads[MAX_COPY_THREADS];
};

size_t host_copy_threads(void)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    return cores < 1 ? 1 : cores > MAX_COPY_THREADS ? MAX_COPY_THREADS : (size_t)cores;
}

/* Claims and copies pieces of the current copy until none is left. Called, and returns,
 * with the lock held. */
static void copy_pieces(struct host_copiers *c)
{
    while (c->next_piece < c->pieces) {
        size_t start = c->next_piece++ * c->piece_bytes;
        size_t length = c->bytes - start < c->piece_bytes ? c->bytes - start : c->piece_bytes;
        char *dst = c->dst + start;
        const char *src = c->src + start;
        pthread_mutex_unlock(&c->lock);
        memcpy(dst, src, length);
        pthread_mutex_lock(&c->lock);
        if (++c->pieces_copied == c->pieces)
            pthread_cond_signal(&c->done);
    }
}

static void *helper_main(void *arg)
{
    struct host_copiers *c = arg;
    unsigned long long seen = 0;
    pthread_mutex_lock(&c->lock);
    for (;;) {
        while (c->copy_number == seen && !c->stopping)
            pthread_cond_wait(&c->start, &c->lock);
        if (c->stopping)
            break;
        seen = c->copy_number;
        copy_pieces(c);
    }
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

void host_copiers_destroy(struct host_copiers *c)
{
    if (c == NULL)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    pthread_cond_broadcast(&c->start);
    pthread_mutex_unlock(&c->lock);
    for (size_t i = 0; i < c->helpers; ++i)
        pthread_join(c->threads[i], NULL);
    pthread_cond_destroy(&c->done);
    pthread_cond_destroy(&c->start);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

struct host_copiers *host_copiers_create(size_t threads)
{
    struct host_copiers *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    pthread_cond_init(&c->start, NULL);
    pthread_cond_init(&c->done, NULL);
    size_t helpers = threads < 1 ? 0 : threads > MAX_COPY_THREADS ? MAX_COPY_THREADS - 1
                                                                   : threads - 1;
    while (c->helpers < helpers &&
           pthread_create(&c->threads[c->helpers], NULL, helper_main, c) == 0)
        ++c->helpers;
    if (c->helpers < helpers) {
        host_copiers_destroy(c);
        return NULL;
    }
    return c;
}

void host_copiers_copy(struct host_copiers *c, void *dst, const void *src, size_t bytes)
{
    size_t threads = c != NULL ? c->helpers + 1 : 1;
    size_t pieces = bytes / PIECE_MIN_BYTES < threads ? bytes / PIECE_MIN_BYTES : threads;
    if (pieces <= 1) {
        memcpy(dst, src, bytes);
        return;
    }
    size_t piece_bytes = (bytes + pieces - 1) / pieces;
    piece_bytes = (piece_bytes + PIECE_ALIGN - 1) / PIECE_ALIGN * PIECE_ALIGN;
    pthread_mutex_lock(&c->lock);
    c->dst = dst;
    c->src = src;
    c->bytes = bytes;
    c->piece_bytes = piece_bytes;
    c->pieces = (bytes + piece_bytes - 1) / piece_bytes;
    c->next_piece = c->pieces_copied = 0;
    c->copy_number++;
    pthread_cond_broadcast(&c->start);
    copy_pieces(c);
    while (c->pieces_copied < c->pieces)
        pthread_cond_wait(&c->done, &c->lock);
    pthread_mutex_unlock(&c->lock);
}
