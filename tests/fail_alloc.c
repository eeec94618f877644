/* The failing allocator of fail_alloc.h: --wrap'd malloc, calloc, realloc, free, strdup. */
#include "fail_alloc.h"

#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *p, size_t size);
void __real_free(void *p);

void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *p, size_t size);
void __wrap_free(void *p);
char *__wrap_strdup(const char *text);

enum { TRACKED_MAX = 4096 };

/* Only the thread running the test allocates through here while armed: kiln's calls are
 * made from it and OpenCL's threads allocate outside kiln's objects. */
static bool armed, fired;
static size_t seen, fail_at;
static void *tracked[TRACKED_MAX];
static size_t tracked_count;

void fail_alloc_arm(size_t nth)
{
    armed = true;
    fired = false;
    seen = 0;
    fail_at = nth;
    tracked_count = 0;
}

size_t fail_alloc_disarm(void)
{
    armed = false;
    return seen;
}

bool fail_alloc_fired(void)
{
    return fired;
}

size_t fail_alloc_live(void)
{
    return tracked_count;
}

/* Counts one allocation; true when it is the one to fail. */
static bool must_fail(void)
{
    if (!armed)
        return false;
    fired = fired || ++seen == fail_at;
    return seen == fail_at;
}

static void track(void *p)
{
    if (armed && p != NULL && tracked_count < TRACKED_MAX)
        tracked[tracked_count++] = p;
}

static void untrack(void *p)
{
    for (size_t i = 0; p != NULL && i < tracked_count; i++)
        if (tracked[i] == p) {
            tracked[i] = tracked[--tracked_count];
            return;
        }
}

void *__wrap_malloc(size_t size)
{
    if (must_fail())
        return NULL;
    void *p = __real_malloc(size);
    track(p);
    return p;
}

void *__wrap_calloc(size_t count, size_t size)
{
    if (must_fail())
        return NULL;
    void *p = __real_calloc(count, size);
    track(p);
    return p;
}

void *__wrap_realloc(void *p, size_t size)
{
    if (must_fail())
        return NULL;
    void *grown = __real_realloc(p, size);
    if (grown != NULL) {
        untrack(p);
        track(grown);
    }
    return grown;
}

void __wrap_free(void *p)
{
    untrack(p);
    __real_free(p);
}

char *__wrap_strdup(const char *text)
{
    size_t size = strlen(text) + 1;
    char *copy = __wrap_malloc(size);
    if (copy != NULL)
        memcpy(copy, text, size);
    return copy;
}
