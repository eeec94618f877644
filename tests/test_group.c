/* Device groups: two members on the test context's device (two contexts on it), their
 * split of rows, and group GEMMs against the double reference, resident and from host
 * arrays, with equal and unequal weights, ragged m and m below the member count. */
#include "common.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* A group of two members on the device the test context uses, with equal weights
 * rather than measured ones, so nothing depends on timing. */
static kiln_group *pair_open(void)
{
    size_t index = 0;
    assert_ok(NULL, kiln_device_find(NULL, &index));
    char specs[64];
    snprintf(specs, sizeof(specs), "%zu, %zu", index, index);
    kiln_group *g = NULL;
    assert_ok(NULL, kiln_group_create(&g, specs));
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){1, 1}));
    return g;
}

static void assert_rows(const kiln_group *g, size_t m, size_t member, size_t first,
                        size_t count)
{
    size_t got_first = 99, got_count = 99;
    assert_ok(NULL, kiln_group_rows(g, m, member, &got_first, &got_count));
    assert_int_equal(got_first, first);
    assert_int_equal(got_count, count);
}

static void group_of_one_device_twice_has_two_contexts(void **state)
{
    kiln_group *g = pair_open();
    assert_int_equal(kiln_group_size(g), 2);
    kiln_ctx *first = kiln_group_ctx(g, 0), *second = kiln_group_ctx(g, 1);
    assert_non_null(first);
    assert_non_null(second);
    assert_ptr_not_equal(first, second);
    assert_ptr_not_equal(kiln_ctx_queue(first), kiln_ctx_queue(second));
    assert_null(kiln_group_ctx(g, 2));
    assert_vadd_works(second);
    kiln_group_destroy(g);
    (void)state;
}

static void group_accessors_accept_null(void **state)
{
    assert_int_equal(kiln_group_size(NULL), 0);
    assert_null(kiln_group_ctx(NULL, 0));
    kiln_group_destroy(NULL);
    size_t first, count;
    assert_arg_error(NULL, kiln_group_rows(NULL, 4, 0, &first, &count));
    assert_arg_error(NULL, kiln_group_set_weights(NULL, NULL));
    (void)state;
}

static void group_create_rejects_bad_specs(void **state)
{
    kiln_group *g = NULL;
    assert_arg_error(NULL, kiln_group_create(NULL, "0"));
    assert_arg_error(NULL, kiln_group_create(&g, NULL));
    assert_arg_error(NULL, kiln_group_create(&g, ""));
    assert_arg_error(NULL, kiln_group_create(&g, "0,,0"));
    assert_contains(kiln_last_error(NULL), "member 1 is empty");
    assert_arg_error(NULL, kiln_group_create(&g, "0, "));
    assert_status(NULL, kiln_group_create(&g, "0,no-such-device-anywhere"),
                  KILN_ERR_NODEVICE);
    assert_contains(kiln_last_error(NULL), "member 1 (\"no-such-device-anywhere\")");
    assert_null(g);
    (void)state;
}

/* all-gpus opens every GPU, or none is there: KILN_ERR_NODEVICE, not the name rule. */
static void group_all_gpus_opens_every_gpu(void **state)
{
    size_t devices = 0, gpus = 0;
    assert_ok(NULL, kiln_device_count(&devices));
    for (size_t i = 0; i < devices; ++i) {
        kiln_device_info info = {.struct_size = sizeof(info)};
        assert_ok(NULL, kiln_device_get(i, &info));
        gpus += info.type == KILN_DEVICE_GPU;
    }
    kiln_group *g = NULL;
    kiln_status status = kiln_group_create(&g, "all-gpus");
    if (gpus == 0) {
        assert_status(NULL, status, KILN_ERR_NODEVICE);
        assert_contains(kiln_last_error(NULL), "all-gpus");
        return;
    }
    assert_ok(NULL, status);
    assert_int_equal(kiln_group_size(g), gpus);
    kiln_group_destroy(g);
    (void)state;
}

static void group_rows_split_equal_weights_over_ragged_and_small_m(void **state)
{
    kiln_group *g = pair_open();
    assert_rows(g, 7, 0, 0, 4);
    assert_rows(g, 7, 1, 4, 3);
    assert_rows(g, 1, 0, 0, 1);
    assert_rows(g, 1, 1, 1, 0);
    assert_rows(g, 0, 1, 0, 0);
    size_t first, count;
    assert_arg_error(NULL, kiln_group_rows(g, 7, 2, &first, &count));
    assert_arg_error(NULL, kiln_group_rows(g, 7, 0, NULL, &count));
    kiln_group_destroy(g);
    (void)state;
}

static void group_rows_follow_the_weights_set(void **state)
{
    kiln_group *g = pair_open();
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){1, 3}));
    assert_rows(g, 100, 0, 0, 25);
    assert_rows(g, 100, 1, 25, 75);
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){0, 2}));
    assert_rows(g, 5, 0, 0, 0);
    assert_rows(g, 5, 1, 0, 5);
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){1, 1}));
    assert_rows(g, 10, 1, 5, 5);
    kiln_group_destroy(g);
    (void)state;
}

/* Measured weights (their values depend on timing): every row is owned once. */
static void group_measured_weights_split_every_row(void **state)
{
    kiln_group *g = pair_open();
    assert_ok(NULL, kiln_group_set_weights(g, NULL));
    size_t first0, count0, first1, count1;
    assert_ok(NULL, kiln_group_rows(g, 1000, 0, &first0, &count0));
    assert_ok(NULL, kiln_group_rows(g, 1000, 1, &first1, &count1));
    assert_int_equal(first0, 0);
    assert_int_equal(first1, count0);
    assert_int_equal(count0 + count1, 1000);
    kiln_group_destroy(g);
    (void)state;
}

static void group_set_weights_rejects_negative_nan_and_all_zero(void **state)
{
    kiln_group *g = pair_open();
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){1, 3}));
    assert_arg_error(NULL, kiln_group_set_weights(g, (const float[]){1, -1}));
    assert_contains(kiln_last_error(NULL), "weights[1]");
    assert_arg_error(NULL, kiln_group_set_weights(g, (const float[]){NAN, 1}));
    assert_arg_error(NULL, kiln_group_set_weights(g, (const float[]){INFINITY, 1}));
    assert_arg_error(NULL, kiln_group_set_weights(g, (const float[]){0, 0}));
    assert_rows(g, 100, 1, 25, 75); /* the weights stayed */
    kiln_group_destroy(g);
    (void)state;
}

/* ---------------------------------------------------------------- GEMM from host arrays */

/* One group GEMM of host arrays, each ld `pad` floats beyond its row, against the
 * double reference; the gaps of C between rows keep their canaries. */
static void check_host_gemm(kiln_group *g, kiln_trans ta, kiln_trans tb, size_t m, size_t n,
                            size_t k, float beta, size_t pad)
{
    size_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
    float *a = scratch_random((ta ? k : m) * lda + 1, 11);
    float *b = scratch_random((tb ? n : k) * ldb + 1, 12);
    float *c = scratch_random(m * ldc + 1, 13);
    for (size_t i = 0; i < m; ++i)
        floats_set(c + i * ldc + n, pad, CANARY);
    reference r = reference_sgemm(ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c, ldc);
    assert_ok(NULL, kiln_group_sgemm_host(g, ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, c,
                                          ldc));
    assert_matrix_near(c, ldc, &r);
    for (size_t i = 0; i < m; ++i)
        for (size_t j = n; j < ldc; ++j)
            assert_true(c[i * ldc + j] == CANARY);
}

static const size_t host_shapes[][3] = {{1, 5, 3}, {7, 9, 13}, {37, 33, 29}, {64, 17, 1}};

static void check_host_shapes(kiln_group *g)
{
    for (size_t s = 0; s < sizeof(host_shapes) / sizeof(host_shapes[0]); ++s)
        for (int t = 0; t < 4; ++t) {
            size_t mark = scratch_mark();
            check_host_gemm(g, (kiln_trans)(t & 1), (kiln_trans)(t >> 1), host_shapes[s][0],
                            host_shapes[s][1], host_shapes[s][2], t == 3 ? 0.0f : 0.5f,
                            s % 2 * 3);
            scratch_release_to(mark);
        }
}

static void group_sgemm_host_matches_the_reference_with_equal_weights(void **state)
{
    kiln_group *g = pair_open();
    check_host_shapes(g);
    kiln_group_destroy(g);
    (void)state;
}

static void group_sgemm_host_matches_the_reference_with_unequal_weights(void **state)
{
    kiln_group *g = pair_open();
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){1, 3}));
    check_host_shapes(g);
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){0, 1}));
    check_host_gemm(g, KILN_NO_TRANS, KILN_NO_TRANS, 5, 4, 3, 1.0f, 0);
    kiln_group_destroy(g);
    (void)state;
}

static void group_sgemm_host_rejects_bad_arguments(void **state)
{
    kiln_group *g = pair_open();
    float x[16] = {0};
    assert_arg_error(NULL, kiln_group_sgemm_host(NULL, 0, 0, 2, 2, 2, 1, x, 2, x, 2, 0, x, 2));
    assert_arg_error(NULL, kiln_group_sgemm_host(g, 0, 0, 2, 2, 2, 1, NULL, 2, x, 2, 0, x, 2));
    assert_contains(kiln_last_error(NULL), "a is NULL");
    assert_arg_error(NULL, kiln_group_sgemm_host(g, 2, 0, 2, 2, 2, 1, x, 2, x, 2, 0, x, 2));
    assert_arg_error(NULL, kiln_group_sgemm_host(g, 0, 0, 0, 3, 2, 1, x, 2, x, 3, 0, x, 2));
    assert_contains(kiln_last_error(NULL), "ldc is 2");
    assert_arg_error(NULL, kiln_group_sgemm_host(g, 1, 0, 4, 2, 2, 1, x, 3, x, 2, 0, x, 2));
    assert_contains(kiln_last_error(NULL), "lda is 3");
    assert_size_error(NULL, kiln_group_sgemm_host(g, 0, 0, 3, 2, 2, 1, x, SIZE_MAX, x, 2, 0,
                                                  x, 2));
    kiln_group_destroy(g);
    (void)state;
}

/* ---------------------------------------------------------------- resident operands */

enum { MEMBERS = 2 };

/* Each member's share of a GEMM on its own buffers: a[i] its rows of op(A) (columns of
 * A for KILN_TRANS), b[i] all of op(B), c[i] its rows of C; freed by shares_free. */
typedef struct {
    kiln_buf *a[MEMBERS], *b[MEMBERS], *c[MEMBERS];
    size_t first[MEMBERS], rows[MEMBERS];
} shares;

static kiln_buf *upload(kiln_ctx *ctx, const float *src, size_t floats)
{
    kiln_buf *buf = NULL;
    assert_ok(ctx, kiln_buf_create(ctx, (floats > 0 ? floats : 1) * sizeof(float), &buf));
    if (floats > 0)
        assert_ok(ctx, kiln_buf_write(buf, 0, src, floats * sizeof(float)));
    return buf;
}

/* A is m×k tight (k×m for KILN_TRANS, whose shares are packed with lda = m), B k×n and
 * C m×n tight. */
static shares shares_make(kiln_group *g, kiln_trans ta, size_t m, size_t n, size_t k,
                          const float *a, const float *b, const float *c)
{
    shares s = {.rows = {0}};
    float *packed = scratch_floats(k * m);
    for (size_t i = 0; i < MEMBERS; ++i) {
        kiln_ctx *ctx = kiln_group_ctx(g, i);
        assert_ok(NULL, kiln_group_rows(g, m, i, &s.first[i], &s.rows[i]));
        for (size_t r = 0; ta && r < k; ++r)
            memcpy(packed + r * m, a + r * m + s.first[i], s.rows[i] * sizeof(float));
        s.a[i] = ta ? upload(ctx, packed, k * m)
                    : upload(ctx, a + s.first[i] * k, s.rows[i] * k);
        s.b[i] = upload(ctx, b, k * n);
        s.c[i] = upload(ctx, c + s.first[i] * n, s.rows[i] * n);
    }
    return s;
}

static void shares_free(shares *s)
{
    for (size_t i = 0; i < MEMBERS; ++i) {
        kiln_buf_destroy(s->a[i]);
        kiln_buf_destroy(s->b[i]);
        kiln_buf_destroy(s->c[i]);
    }
}

static void check_resident_gemm(kiln_group *g, kiln_trans ta, size_t m, size_t n, size_t k)
{
    float *a = scratch_random(m * k, 21), *b = scratch_random(k * n, 22);
    float *c = scratch_random(m * n, 23), *got = scratch_floats(m * n);
    size_t lda = ta ? m : k;
    reference r = reference_sgemm(ta, KILN_NO_TRANS, m, n, k, 1.5f, a, lda, b, n, 0.25f, c, n);
    shares s = shares_make(g, ta, m, n, k, a, b, c);
    assert_ok(NULL, kiln_group_sgemm(g, ta, KILN_NO_TRANS, m, n, k, 1.5f, s.a, lda, s.b, n,
                                     0.25f, s.c, n));
    for (size_t i = 0; i < MEMBERS; ++i)
        if (s.rows[i] > 0)
            assert_ok(NULL, kiln_buf_read(s.c[i], 0, got + s.first[i] * n,
                                          s.rows[i] * n * sizeof(float)));
    shares_free(&s);
    assert_matrix_near(got, n, &r);
}

static void group_sgemm_on_resident_shares_matches_the_reference(void **state)
{
    kiln_group *g = pair_open();
    check_resident_gemm(g, KILN_NO_TRANS, 37, 19, 23);
    check_resident_gemm(g, KILN_TRANS, 37, 19, 23);
    check_resident_gemm(g, KILN_NO_TRANS, 1, 8, 8); /* member 1 owns no rows */
    assert_ok(NULL, kiln_group_set_weights(g, (const float[]){3, 1}));
    check_resident_gemm(g, KILN_NO_TRANS, 65, 33, 17);
    check_resident_gemm(g, KILN_TRANS, 65, 33, 17);
    kiln_group_destroy(g);
    (void)state;
}

/* A member whose share does not fit its buffer fails the call, named, before any member
 * runs: member 0's C is untouched. */
static void group_sgemm_names_the_failing_member_and_runs_none(void **state)
{
    kiln_group *g = pair_open();
    size_t m = 8, n = 4, k = 4;
    float *a = scratch_random(m * k, 31), *b = scratch_random(k * n, 32);
    float *c = scratch_random(m * n, 33), *got = scratch_floats(m * n);
    shares s = shares_make(g, KILN_NO_TRANS, m, n, k, a, b, c);
    kiln_buf_destroy(s.c[1]);
    s.c[1] = upload(kiln_group_ctx(g, 1), c, 3);
    assert_size_error(NULL, kiln_group_sgemm(g, KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1, s.a,
                                             k, s.b, n, 0, s.c, n));
    assert_contains(kiln_last_error(NULL), "member 1: c ");
    assert_contains(kiln_last_error(kiln_group_ctx(g, 1)), "c ");
    assert_ok(NULL, kiln_buf_read(s.c[0], 0, got, 4 * n * sizeof(float)));
    assert_memory_equal(got, c, 4 * n * sizeof(float));

    kiln_buf *swapped = s.b[1]; /* a buffer of another member's context */
    s.b[1] = s.b[0];
    assert_arg_error(NULL, kiln_group_sgemm(g, KILN_NO_TRANS, KILN_NO_TRANS, m, n, k, 1, s.a,
                                            k, s.b, n, 0, s.c, n));
    assert_contains(kiln_last_error(NULL), "member 1: b belongs to another context");
    s.b[1] = swapped;
    shares_free(&s);
    kiln_group_destroy(g);
    (void)state;
}

static void group_sgemm_rejects_null_arrays_and_bad_lds(void **state)
{
    kiln_group *g = pair_open();
    kiln_buf *none[MEMBERS] = {NULL, NULL};
    assert_arg_error(NULL, kiln_group_sgemm(NULL, 0, 0, 2, 2, 2, 1, none, 2, none, 2, 0, none,
                                            2));
    assert_arg_error(NULL, kiln_group_sgemm(g, 0, 0, 2, 2, 2, 1, none, 2, NULL, 2, 0, none, 2));
    assert_contains(kiln_last_error(NULL), "b is NULL");
    assert_arg_error(NULL, kiln_group_sgemm(g, 0, 0, 2, 2, 2, 1, none, 2, none, 2, 0, none, 2));
    assert_contains(kiln_last_error(NULL), "member 0: a is NULL");
    /* m = 0: nothing runs, but the leading dimensions are still checked */
    assert_ok(NULL, kiln_group_sgemm(g, 0, 0, 0, 2, 2, 1, none, 2, none, 2, 0, none, 2));
    assert_arg_error(NULL, kiln_group_sgemm(g, 0, 0, 0, 2, 3, 1, none, 2, none, 2, 0, none, 2));
    assert_contains(kiln_last_error(NULL), "lda is 2");
    assert_arg_error(NULL, kiln_group_sgemm(g, 0, 1, 0, 2, 2, 1, none, 2, none, 2, 0, none, 1));
    assert_contains(kiln_last_error(NULL), "ldc is 1");
    kiln_group_destroy(g);
    (void)state;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(group_of_one_device_twice_has_two_contexts),
        KILN_TEST(group_accessors_accept_null),
        KILN_TEST(group_create_rejects_bad_specs),
        KILN_TEST(group_all_gpus_opens_every_gpu),
        KILN_TEST(group_rows_split_equal_weights_over_ragged_and_small_m),
        KILN_TEST(group_rows_follow_the_weights_set),
        KILN_TEST(group_measured_weights_split_every_row),
        KILN_TEST(group_set_weights_rejects_negative_nan_and_all_zero),
        KILN_TEST(group_sgemm_host_matches_the_reference_with_equal_weights),
        KILN_TEST(group_sgemm_host_matches_the_reference_with_unequal_weights),
        KILN_TEST(group_sgemm_host_rejects_bad_arguments),
        KILN_TEST(group_sgemm_on_resident_shares_matches_the_reference),
        KILN_TEST(group_sgemm_names_the_failing_member_and_runs_none),
        KILN_TEST(group_sgemm_rejects_null_arrays_and_bad_lds),
    };
    return RUN_KILN_TESTS(tests);
}
