/*
 * A failing allocator for the host-memory fault tests. The test program links kiln's
 * objects itself with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=free,
 * --wrap=strdup, so every allocation of kiln's code (and of the test's) comes here,
 * while OpenCL's own allocations, in other shared objects, do not.
 *
 * Armed, it counts allocations, fails the chosen one, and remembers what was allocated
 * and not freed since arming, so a test can tell a leak apart from a clean failure.
 */
#ifndef KILN_TESTS_FAIL_ALLOC_H
#define KILN_TESTS_FAIL_ALLOC_H

#include <stdbool.h>
#include <stddef.h>

/* Starts counting; the nth allocation from now (1-based) fails; 0 fails none. */
void fail_alloc_arm(size_t nth);

/* Stops counting; returns how many allocations were asked for since arming. */
size_t fail_alloc_disarm(void);

/* The armed failure happened. */
bool fail_alloc_fired(void);

/* Allocations made while armed that are still not freed. */
size_t fail_alloc_live(void);

#endif /* KILN_TESTS_FAIL_ALLOC_H */
