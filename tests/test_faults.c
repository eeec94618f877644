/*
 * Faults: allocations above the device's limit or beyond what it can back, host
 * allocation failures at every allocation of a call sequence, and no OpenCL platform
 * at all. Each must come back as a proper status, never a crash or a leak, and leave
 * the context usable.
 *
 * This program links kiln's objects itself, with malloc and friends wrapped by
 * fail_alloc.c, so it can fail kiln's own allocations and no one else's. With the
 * argument "no-platform" it points the ICD loader at an empty folder before its first
 * OpenCL call and checks what a machine without OpenCL gets.
 */
#include "common.h"
#include "fail_alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

/* ---------------------------------------------------------------- device memory */

static void buffer_above_the_largest_allocation_is_a_size_error(void **state)
{
    kiln_ctx *ctx = *state;
    cl_ulong limit = 0;
    assert_int_equal(clGetDeviceInfo(kiln_ctx_device(ctx), CL_DEVICE_MAX_MEM_ALLOC_SIZE,
                                     sizeof limit, &limit, NULL),
                     CL_SUCCESS);
    kiln_buf *buf = NULL;
    if (limit < SIZE_MAX) {
        assert_size_error(ctx, kiln_buf_create(ctx, (size_t)limit + 1, &buf));
        assert_contains(kiln_last_error(ctx), "CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    }
    assert_size_error(ctx, kiln_buf_create(ctx, SIZE_MAX, &buf));
    assert_null(buf);
    assert_vadd_works(ctx);
}

static unsigned long long address_space_bytes(void)
{
    unsigned long long pages = 0;
    FILE *file = fopen("/proc/self/statm", "r");
    if (file != NULL) {
        if (fscanf(file, "%llu", &pages) != 1)
            pages = 0;
        fclose(file);
    }
    return pages * (unsigned long long)sysconf(_SC_PAGESIZE);
}

enum { CHUNK_MIB = 64, CHUNKS = 12, HEADROOM_MIB = 256 };

/* Creates and fills CHUNK_MIB buffers until one fails; that status, with the buffers
 * made so far in bufs. Filling is the first use, where a lazy driver allocates. */
static kiln_status allocate_until_refused(kiln_ctx *ctx, kiln_buf **bufs)
{
    kiln_status status = KILN_OK;
    for (size_t i = 0; i < CHUNKS && status == KILN_OK; i++) {
        status = kiln_buf_create(ctx, (size_t)CHUNK_MIB << 20, &bufs[i]);
        if (status == KILN_OK)
            status = kiln_buf_fill(bufs[i], 1.0f);
        if (status == KILN_OK)
            status = kiln_finish(ctx);
    }
    return status;
}

/* The process's address space is capped a little above what it uses (no test asks the
 * host for more than CHUNKS·CHUNK_MIB), so the device (PoCL's memory is the host's)
 * cannot back the buffers: KILN_ERR_NOMEM from the call that finds out, and the context
 * still works once they are freed. */
static void memory_the_device_cannot_back_is_nomem_and_the_context_survives(void **state)
{
    kiln_ctx *ctx = *state;
    unsigned long long used = address_space_bytes();
    if (used == 0 || used > (64ull << 30)) {
        /* A sanitizer's shadow memory fills the address space: no cap can be set. */
        fprintf(stderr, "skipped: address space %llu bytes (sanitizer shadow?)\n", used);
        skip();
    }
    assert_vadd_works(ctx); /* kernels built and PoCL warm before the cap */
    kiln_buf *warm = scratch_buffer(ctx, 64);
    assert_ok(ctx, kiln_buf_fill(warm, 0.0f));
    assert_ok(ctx, kiln_finish(ctx));
    struct rlimit saved, capped;
    assert_int_equal(getrlimit(RLIMIT_AS, &saved), 0);
    capped = saved;
    capped.rlim_cur = address_space_bytes() + ((rlim_t)HEADROOM_MIB << 20);
    assert_int_equal(setrlimit(RLIMIT_AS, &capped), 0);
    kiln_buf *bufs[CHUNKS] = {NULL};
    kiln_status status = allocate_until_refused(ctx, bufs);
    char message[512];
    snprintf(message, sizeof message, "%s", kiln_last_error(ctx));
    for (size_t i = 0; i < CHUNKS; i++)
        kiln_buf_destroy(bufs[i]);
    assert_int_equal(setrlimit(RLIMIT_AS, &saved), 0);
    if (status == KILN_OK) {
        fprintf(stderr, "skipped: the cap did not hold (valgrind?)\n");
        skip();
    }
    assert_status(ctx, status, KILN_ERR_NOMEM);
    assert_contains(message, "failed"); /* names the OpenCL call and its error */
    assert_vadd_works(ctx);
}

/* ---------------------------------------------------------------- host memory */

enum { SIDE = 8, FLOATS = SIDE * SIDE, BYTES = FLOATS * sizeof(float) };

/* What one pass of the sequence made; everything is freed by sequence_free. */
typedef struct {
    kiln_ctx *ctx;
    kiln_buf *a, *b, *c, *view;
    const float *x;
    float product[FLOATS], y[FLOATS];
} run;

/* status, or KILN_ERR_ARG (never a host-memory status) when it is not `expected`. */
static kiln_status expect(kiln_status status, kiln_status expected)
{
    return status == expected ? KILN_OK : KILN_ERR_ARG;
}

/* Reaches every allocation of kiln: device listing, a context, buffers and views,
 * program builds with cache loads and stores, each operation, a failing call's
 * message and the host conveniences. The first status that is not KILN_OK. */
static kiln_status sequence_steps(run *r)
{
    kiln_buf *bad = NULL;
    kiln_status s = kiln_ctx_create(&r->ctx, NULL);
    if (s == KILN_OK)
        s = kiln_buf_create(r->ctx, BYTES, &r->a);
    if (s == KILN_OK)
        s = kiln_buf_create(r->ctx, BYTES, &r->b);
    if (s == KILN_OK)
        s = kiln_buf_create(r->ctx, BYTES, &r->c);
    if (s == KILN_OK)
        s = kiln_buf_write(r->a, 0, r->x, BYTES);
    if (s == KILN_OK)
        s = kiln_buf_write(r->b, 0, r->x, BYTES);
    if (s == KILN_OK)
        s = kiln_buf_view(r->a, sizeof(float), BYTES - sizeof(float), &r->view);
    if (s == KILN_OK)
        s = expect(kiln_buf_view(r->a, BYTES, 4, &bad), KILN_ERR_SIZE);
    if (s == KILN_OK)
        s = kiln_vadd(r->ctx, r->a, r->b, r->c, FLOATS);
    if (s == KILN_OK)
        s = kiln_sigmoid(r->ctx, r->c, r->c, FLOATS);
    if (s == KILN_OK)
        s = kiln_geam(r->ctx, KILN_TRANS, KILN_NO_TRANS, SIDE, SIDE, 1.0f, r->a, SIDE, 1.0f,
                      r->b, SIDE, r->c, SIDE);
    if (s == KILN_OK)
        s = kiln_sgemm(r->ctx, KILN_NO_TRANS, KILN_TRANS, SIDE, SIDE, SIDE, 1.0f, r->a, SIDE,
                       r->b, SIDE, 0.0f, r->c, SIDE);
    if (s == KILN_OK)
        s = kiln_dense(r->ctx, r->a, r->b, r->view, r->c, SIDE, SIDE, SIDE, KILN_ACT_RELU);
    if (s == KILN_OK)
        s = kiln_dense_host(r->ctx, r->x, r->x, r->x, r->y, SIDE, SIDE, SIDE, KILN_ACT_NONE);
    if (s == KILN_OK)
        s = kiln_matmul_host(r->ctx, SIDE, SIDE, SIDE, r->x, r->x, r->product);
    return s;
}

static void sequence_free(run *r)
{
    kiln_buf_destroy(r->view);
    kiln_buf_destroy(r->a);
    kiln_buf_destroy(r->b);
    kiln_buf_destroy(r->c);
    kiln_ctx_destroy(r->ctx);
}

/* Runs the sequence with allocation `nth` failing (0: none); checks what it returned
 * and that it leaked nothing. Whether the failure fired. */
static bool sequence_check(const float *x, const reference *expected, size_t nth)
{
    run r = {.x = x};
    fail_alloc_arm(nth);
    kiln_status status = sequence_steps(&r);
    bool fired = fail_alloc_fired();
    fail_alloc_disarm();
    if (status != KILN_OK && !(fired && status == KILN_ERR_NOMEM))
        fail_msg("allocation %zu failing: %s (%s)", nth, kiln_status_str(status),
                 r.ctx != NULL ? kiln_last_error(r.ctx) : kiln_last_error(NULL));
    size_t mark = scratch_mark();
    if (status == KILN_OK)
        assert_matrix_near(r.product, SIDE, expected);
    else if (r.ctx != NULL)
        assert_vadd_works(r.ctx); /* the context outlives the failure */
    scratch_release_to(mark);
    fail_alloc_arm(0);
    sequence_free(&r);
    size_t live = fail_alloc_live();
    fail_alloc_disarm();
    if (live != 0)
        fail_msg("allocation %zu failing: %zu allocations of kiln leaked", nth, live);
    return fired;
}

/* Fails each allocation in turn until a pass makes fewer allocations than the one
 * chosen. A failure in a cache entry's read rejects the entry, so later passes take
 * the build-and-store path too. */
static void every_host_allocation_failure_is_nomem_or_harmless(void **state)
{
    (void)state;
    const float *x = scratch_random(FLOATS, 7);
    reference expected = reference_sgemm(KILN_NO_TRANS, KILN_NO_TRANS, SIDE, SIDE, SIDE, 1.0f,
                                         x, SIDE, x, SIDE, 0.0f, NULL, SIDE);
    assert_false(sequence_check(x, &expected, 0)); /* builds and caches every program */
    size_t nth = 1;
    while (sequence_check(x, &expected, nth))
        nth++;
    fprintf(stderr, "failed each of %zu host allocations in turn\n", nth - 1);
    assert_true(nth > 20);
}

/* ---------------------------------------------------------------- no platform */

static void without_a_platform_a_context_is_nodevice_with_a_clear_message(void **state)
{
    (void)state;
    kiln_ctx *ctx = NULL;
    assert_status(NULL, kiln_ctx_create(&ctx, NULL), KILN_ERR_NODEVICE);
    assert_null(ctx);
    assert_contains(kiln_last_error(NULL), "no OpenCL device found");
    assert_contains(kiln_last_error(NULL), "OCL_ICD_VENDORS");
    assert_status(NULL, kiln_ctx_create(&ctx, "cpu"), KILN_ERR_NODEVICE);
    size_t count = 99, index = 99;
    assert_ok(NULL, kiln_device_count(&count));
    assert_int_equal(count, 0);
    assert_status(NULL, kiln_device_find(NULL, &index), KILN_ERR_NODEVICE);
    assert_int_equal(index, 99);
}

/* An empty folder as the ICD loader's list of platforms, before any OpenCL call. */
static int run_without_platform(void)
{
    static char empty[] = "/tmp/kiln-no-icd-XXXXXX";
    if (mkdtemp(empty) == NULL || setenv("OCL_ICD_VENDORS", empty, 1) != 0)
        return 1;
    cl_uint platforms = 0;
    if (clGetPlatformIDs(0, NULL, &platforms) == CL_SUCCESS && platforms > 0) {
        /* A loader other than ocl-icd (NVIDIA's, say) ignores OCL_ICD_VENDORS. */
        fprintf(stderr, "skipped: this OpenCL loader finds %u platforms despite an empty "
                        "OCL_ICD_VENDORS\n", platforms);
        rmdir(empty);
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(without_a_platform_a_context_is_nodevice_with_a_clear_message),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    rmdir(empty);
    return failed;
}

/* A private cache folder, so the sequence's loads and stores touch no one else's. */
static int cache_folder_open(void **state)
{
    static char folder[] = "/tmp/kiln-faults-cache-XXXXXX";
    if (mkdtemp(folder) == NULL || setenv("KILN_CACHE_DIR", folder, 1) != 0)
        return -1;
    return context_open(state);
}

static int cache_folder_close(void **state)
{
    context_close(state);
    return folder_remove(getenv("KILN_CACHE_DIR"));
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "no-platform") == 0)
        return run_without_platform();
    const struct CMUnitTest tests[] = {
        KILN_TEST(buffer_above_the_largest_allocation_is_a_size_error),
        KILN_TEST(memory_the_device_cannot_back_is_nomem_and_the_context_survives),
        KILN_TEST(every_host_allocation_failure_is_nomem_or_harmless),
    };
    return cmocka_run_group_tests(tests, cache_folder_open, cache_folder_close);
}
