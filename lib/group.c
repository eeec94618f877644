/* Device groups: several contexts in one host, each owning a share of the rows of C,
 * multiplied at once. Members run concurrently through their own in-order queues: every
 * member's work is enqueued (which does not wait) before any member is waited for. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kiln_group {
    size_t count;
    kiln_ctx **members;
    float *weights; /* one per member, finite, >= 0, not all 0 */
};

/* A member's failure as the group's: its status, and a message naming it followed by
 * the member context's own. */
static kiln_status member_failed(const kiln_group *g, size_t member, kiln_status status)
{
    return fail(NULL, status, "member %zu: %s", member, kiln_last_error(g->members[member]));
}

/* ---------------------------------------------------------------- making a group */

static kiln_status member_add(kiln_group *g, kiln_ctx *ctx)
{
    kiln_ctx **grown = realloc(g->members, (g->count + 1) * sizeof(*grown));
    if (grown == NULL) {
        kiln_ctx_destroy(ctx);
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group");
    }
    g->members = grown;
    g->members[g->count++] = ctx;
    return KILN_OK;
}

/* Opens a context on spec as member g->count; the message names the member, followed
 * by kiln_ctx_create's own (a copy: fail() rewrites the buffer that holds it). */
static kiln_status member_open(kiln_group *g, const char *spec)
{
    kiln_ctx *ctx = NULL;
    kiln_status status = kiln_ctx_create(&ctx, spec);
    if (status == KILN_OK)
        return member_add(g, ctx);
    char *detail = strdup(kiln_last_error(NULL));
    fail(NULL, status, "member %zu (\"%s\"): %s", g->count, spec,
         detail != NULL ? detail : "");
    free(detail);
    return status;
}

/* The reserved word all-gpus: a member on every GPU, in kiln_device_get's order. */
static kiln_status members_open_all_gpus(kiln_group *g)
{
    size_t devices = 0, gpus = 0;
    CHECK(kiln_device_count(&devices));
    for (size_t i = 0; i < devices; ++i) {
        kiln_device_info info = {.struct_size = sizeof(info)};
        CHECK(kiln_device_get(i, &info));
        if (info.type != KILN_DEVICE_GPU)
            continue;
        char spec[32];
        snprintf(spec, sizeof(spec), "%zu", i);
        CHECK(member_open(g, spec));
        ++gpus;
    }
    if (gpus == 0)
        return fail(NULL, KILN_ERR_NODEVICE, "all-gpus: none of the %zu devices is a GPU",
                    devices);
    return KILN_OK;
}

/* One comma-separated spec, spaces around it dropped (text is modified). */
static kiln_status members_open(kiln_group *g, char *text, const char *specs)
{
    while (*text == ' ')
        ++text;
    size_t length = strlen(text);
    while (length > 0 && text[length - 1] == ' ')
        text[--length] = '\0';
    if (length == 0)
        return fail(NULL, KILN_ERR_ARG, "specs \"%s\": member %zu is empty", specs, g->count);
    return strcmp(text, "all-gpus") == 0 ? members_open_all_gpus(g) : member_open(g, text);
}

static kiln_status group_fill(kiln_group *g, const char *specs)
{
    char *copy = strdup(specs);
    if (copy == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group");
    kiln_status status = KILN_OK;
    for (char *spec = copy; status == KILN_OK; ++spec) {
        char *comma = strchr(spec, ',');
        if (comma != NULL)
            *comma = '\0';
        status = members_open(g, spec, specs);
        if (comma == NULL)
            break;
        spec = comma;
    }
    free(copy);
    if (status != KILN_OK)
        return status;
    g->weights = malloc(g->count * sizeof(*g->weights));
    if (g->weights == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group");
    return kiln_group_set_weights(g, NULL);
}

KILN_API kiln_status kiln_group_create(kiln_group **out, const char *specs)
{
    if (out == NULL)
        return fail(NULL, KILN_ERR_ARG, "out is NULL");
    if (specs == NULL)
        return fail(NULL, KILN_ERR_ARG, "specs is NULL");
    kiln_group *g = calloc(1, sizeof(*g));
    if (g == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group");
    kiln_status status = group_fill(g, specs);
    if (status != KILN_OK) {
        kiln_group_destroy(g);
        return status;
    }
    *out = g;
    return KILN_OK;
}

KILN_API void kiln_group_destroy(kiln_group *g)
{
    if (g == NULL)
        return;
    for (size_t i = 0; i < g->count; ++i)
        kiln_ctx_destroy(g->members[i]);
    free(g->members);
    free(g->weights);
    free(g);
}

KILN_API size_t kiln_group_size(const kiln_group *g)
{
    return g != NULL ? g->count : 0;
}

KILN_API kiln_ctx *kiln_group_ctx(const kiln_group *g, size_t member)
{
    return g != NULL && member < g->count ? g->members[member] : NULL;
}

/* ---------------------------------------------------------------- the split */

static double seconds_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* The best of PROBE_RUNS n³ GEMMs on ctx after one that builds the kernel, in seconds. */
enum { PROBE_RUNS = 3 };
static kiln_status probe_run(kiln_ctx *ctx, size_t n, kiln_buf *const *m, double *seconds)
{
    CHECK(kiln_buf_fill(m[0], 1.0f));
    double best = 0;
    for (int run = 0; run <= PROBE_RUNS; ++run) {
        double start = seconds_now();
        CHECK(kiln_matmul(ctx, n, n, n, m[0], m[0], m[1]));
        CHECK(kiln_finish(ctx));
        double took = seconds_now() - start;
        if (run > 0 && (best == 0 || took < best))
            best = took;
    }
    *seconds = best > 1e-9 ? best : 1e-9;
    return KILN_OK;
}

static kiln_status probe_size(kiln_ctx *ctx, size_t n, double *seconds)
{
    kiln_buf *m[2] = {NULL, NULL};
    kiln_status status = kiln_buf_create(ctx, n * n * sizeof(float), &m[0]);
    if (status == KILN_OK)
        status = kiln_buf_create(ctx, n * n * sizeof(float), &m[1]);
    if (status == KILN_OK)
        status = probe_run(ctx, n, m, seconds);
    kiln_buf_destroy(m[0]);
    kiln_buf_destroy(m[1]);
    return status;
}

/* A member's speed in flop/s, from n³ GEMMs with n doubling from PROBE_MIN until one
 * takes PROBE_SECONDS or n reaches PROBE_MAX (or the device's largest allocation): a
 * GPU's small GEMM times its launches, not its arithmetic: weighed by 256³ GEMMs alone,
 * an H200 and its host's CPU device ran 4096³ 0.14 times as fast as the H200 alone (the
 * CPU's share of rows was far too large). Members are timed one after another, so two
 * members on one device each see all of it and get equal shares. */
enum { PROBE_MIN = 256, PROBE_MAX = 4096 };
static const double PROBE_SECONDS = 2e-3;
static kiln_status member_probe(const kiln_group *g, size_t i, double *speed)
{
    kiln_ctx *ctx = g->members[i];
    size_t n = PROBE_MIN;
    double seconds = 0;
    kiln_status status;
    for (;;) {
        status = probe_size(ctx, n, &seconds);
        bool fits = 4 * n * n * sizeof(float) <= ctx->max_alloc_bytes;
        if (status != KILN_OK || seconds >= PROBE_SECONDS || n >= PROBE_MAX || !fits)
            break;
        n *= 2;
    }
    *speed = 2.0 * (double)n * (double)n * (double)n / seconds;
    return status != KILN_OK ? member_failed(g, i, status) : KILN_OK;
}

/* Weights from short GEMMs on each member (weights given NULL); on a failure the
 * weights stay as they were. */
static kiln_status weights_measure(kiln_group *g)
{
    float *measured = malloc(g->count * sizeof(*measured));
    if (measured == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group's weights");
    kiln_status status = KILN_OK;
    for (size_t i = 0; i < g->count && status == KILN_OK; ++i) {
        double speed = 0;
        status = member_probe(g, i, &speed);
        measured[i] = (float)speed;
    }
    if (status == KILN_OK)
        memcpy(g->weights, measured, g->count * sizeof(*measured));
    free(measured);
    return status;
}

KILN_API kiln_status kiln_group_set_weights(kiln_group *g, const float *weights)
{
    if (g == NULL)
        return fail(NULL, KILN_ERR_ARG, "g is NULL");
    if (weights == NULL)
        return weights_measure(g);
    double total = 0;
    for (size_t i = 0; i < g->count; ++i) {
        if (!isfinite(weights[i]) || weights[i] < 0)
            return fail(NULL, KILN_ERR_ARG, "weights[%zu] is %g: it must be finite and >= 0",
                        i, (double)weights[i]);
        total += weights[i];
    }
    if (total == 0)
        return fail(NULL, KILN_ERR_ARG, "weights are all 0: some member must own rows");
    memcpy(g->weights, weights, g->count * sizeof(*weights));
    return KILN_OK;
}

/* The first row of member `member` of an m-row split: m times the weights before it over
 * all weights, rounded to nearest; member count gives m itself, so no row is lost. */
static size_t split_row(const kiln_group *g, size_t m, size_t member)
{
    if (member == g->count)
        return m;
    double before = 0, total = 0;
    for (size_t i = 0; i < g->count; ++i) {
        total += g->weights[i];
        before += i < member ? g->weights[i] : 0;
    }
    double row = floor((double)m * (before / total) + 0.5);
    return row < (double)m ? (size_t)row : m;
}

KILN_API kiln_status kiln_group_rows(const kiln_group *g, size_t m, size_t member,
                                     size_t *first, size_t *count)
{
    if (g == NULL || first == NULL || count == NULL)
        return fail(NULL, KILN_ERR_ARG, "%s is NULL",
                    g == NULL ? "g" : first == NULL ? "first" : "count");
    if (member >= g->count)
        return fail(NULL, KILN_ERR_ARG, "member is %zu but the group has %zu", member,
                    g->count);
    *first = split_row(g, m, member);
    *count = split_row(g, m, member + 1) - *first;
    return KILN_OK;
}

/* ---------------------------------------------------------------- running members */

/* Waits for members [0, started), all of them even after a failure (their work may use
 * buffers or host memory the caller frees next); the first failure, of `status` or of
 * a wait, is the result. */
static kiln_status members_finish(const kiln_group *g, size_t started, kiln_status status)
{
    for (size_t i = 0; i < started; ++i) {
        kiln_status finished = kiln_finish(g->members[i]);
        if (finished != KILN_OK && status == KILN_OK)
            status = member_failed(g, i, finished);
    }
    return status;
}

/* The checks of every member's share before anything runs: a rejected call changes
 * nothing. A member without rows is skipped, so its buffers may be NULL. */
static kiln_status members_check(const kiln_group *g, const struct gemm_call *whole,
                                 kiln_buf *const *a, kiln_buf *const *b, kiln_buf *const *c)
{
    for (size_t i = 0; i < g->count; ++i) {
        struct gemm_call call = *whole;
        size_t first = 0;
        CHECK(kiln_group_rows(g, whole->m, i, &first, &call.m));
        if (call.m == 0)
            continue;
        call.a = a[i];
        call.b = b[i];
        call.c = c[i];
        call.math = kiln_ctx_math(g->members[i]);
        kiln_status status = check_gemm_call(g->members[i], &call);
        if (status != KILN_OK)
            return member_failed(g, i, status);
    }
    return KILN_OK;
}

/* The checks that do not depend on the split, so they hold even when m is 0. */
static kiln_status check_group_call(const kiln_group *g, kiln_trans ta, kiln_trans tb,
                                    size_t m, size_t n, size_t k, size_t ldb, size_t ldc)
{
    if (g == NULL)
        return fail(NULL, KILN_ERR_ARG, "g is NULL");
    CHECK(check_trans(NULL, ta, "ta"));
    CHECK(check_trans(NULL, tb, "tb"));
    CHECK(check_ld(NULL, "b", tb, k, n, ldb));
    return check_ld(NULL, "c", KILN_NO_TRANS, m, n, ldc);
}

static kiln_status check_arrays(const void *a, const void *b, const void *c)
{
    if (a == NULL || b == NULL || c == NULL)
        return fail(NULL, KILN_ERR_ARG, "%s is NULL",
                    a == NULL ? "a" : b == NULL ? "b" : "c");
    return KILN_OK;
}

KILN_API kiln_status kiln_group_sgemm(kiln_group *g, kiln_trans ta, kiln_trans tb, size_t m,
                                      size_t n, size_t k, float alpha, kiln_buf *const *a,
                                      size_t lda, kiln_buf *const *b, size_t ldb, float beta,
                                      kiln_buf *const *c, size_t ldc)
{
    CHECK(check_group_call(g, ta, tb, m, n, k, ldb, ldc));
    /* Aᵀ's stored row is a member's share of m, so each member checks that lda. */
    if (ta == KILN_NO_TRANS)
        CHECK(check_ld(NULL, "a", ta, m, k, lda));
    CHECK(check_arrays(a, b, c));
    const struct gemm_call whole = {.ta = ta, .tb = tb, .m = m, .n = n, .k = k,
                                    .alpha = alpha, .lda = lda, .ldb = ldb, .beta = beta,
                                    .ldc = ldc, .act = KILN_ACT_NONE, .batch = 1};
    CHECK(members_check(g, &whole, a, b, c));
    kiln_status status = KILN_OK;
    size_t started = 0;
    while (status == KILN_OK && started < g->count) {
        size_t i = started++, first = 0, rows = 0;
        kiln_group_rows(g, m, i, &first, &rows);
        if (rows > 0 && n > 0)
            status = kiln_sgemm(g->members[i], ta, tb, rows, n, k, alpha, a[i], lda, b[i],
                                ldb, beta, c[i], ldc);
        if (status != KILN_OK)
            status = member_failed(g, i, status);
    }
    return members_finish(g, started, status);
}

/* ---------------------------------------------------------------- host arrays */

/* A kiln_group_sgemm_host call. */
struct host_call {
    kiln_trans ta, tb;
    size_t m, n, k;
    float alpha;
    const float *a;
    size_t lda;
    const float *b;
    size_t ldb;
    float beta;
    float *c;
    size_t ldc;
};

/* A member's device copies of its share. */
struct member_copies {
    kiln_buf *a, *b, *c;
};

/* A buffer of the stored rows×cols matrix at src (ld floats a row), borrowed from the
 * member (host_buffers.c), receiving a copy of it unless src is NULL; at least one float,
 * as buffers cannot be empty. The copy does not wait: members_finish does. */
static kiln_status upload(kiln_ctx *ctx, const char *name, const float *src, size_t rows,
                          size_t cols, size_t ld, kiln_buf **out)
{
    size_t floats = 0, bytes = 0;
    CHECK(matrix_span(ctx, name, rows, cols, ld, &floats));
    CHECK(size_mul(ctx, floats > 0 ? floats : 1, sizeof(float), &bytes, name));
    CHECK(host_buffer_borrow(ctx, bytes, out));
    return src != NULL && floats > 0 ? kiln_buf_write_async(*out, 0, src, bytes) : KILN_OK;
}

/* Copies member i's rows of A and C and all of B to it, multiplies, and copies its rows
 * of C back, without waiting. Aᵀ's share is a band of columns, sent with the rows'
 * whole stride between them (one contiguous copy, no packing on the host). C goes to
 * the device when it is read (β ≠ 0) or has gaps between rows, which come back as
 * they went. */
static kiln_status member_run_host(const kiln_group *g, size_t i, const struct host_call *h,
                                   struct member_copies *copies)
{
    size_t first = 0, rows = 0;
    kiln_group_rows(g, h->m, i, &first, &rows);
    if (rows == 0)
        return KILN_OK;
    kiln_ctx *ctx = g->members[i];
    bool ta = h->ta == KILN_TRANS, tb = h->tb == KILN_TRANS;
    const float *a = h->a + (ta ? first : first * h->lda);
    float *c = h->c + first * h->ldc;
    bool c_read = h->beta != 0 || h->ldc > h->n;
    size_t c_floats = (rows - 1) * h->ldc + h->n; /* within the whole C's checked span */
    CHECK(upload(ctx, "a", a, ta ? h->k : rows, ta ? rows : h->k, h->lda, &copies->a));
    CHECK(upload(ctx, "b", h->b, tb ? h->n : h->k, tb ? h->k : h->n, h->ldb, &copies->b));
    CHECK(upload(ctx, "c", c_read ? c : NULL, rows, h->n, h->ldc, &copies->c));
    CHECK(kiln_sgemm(ctx, h->ta, h->tb, rows, h->n, h->k, h->alpha, copies->a, h->lda,
                     copies->b, h->ldb, h->beta, copies->c, h->ldc));
    return kiln_buf_read_async(copies->c, 0, c, c_floats * sizeof(float));
}

/* Every member's share, enqueued one member after another, then waited for; the
 * buffers are given back once all work on them has ended. */
static kiln_status members_run_host(const kiln_group *g, const struct host_call *h)
{
    struct member_copies *copies = calloc(g->count, sizeof(*copies));
    if (copies == NULL)
        return fail(NULL, KILN_ERR_NOMEM, "out of host memory for a group's copies");
    kiln_status status = KILN_OK;
    size_t started = 0;
    while (status == KILN_OK && started < g->count) {
        size_t i = started++;
        status = member_run_host(g, i, h, &copies[i]);
        if (status != KILN_OK)
            status = member_failed(g, i, status);
    }
    status = members_finish(g, started, status);
    for (size_t i = 0; i < g->count; ++i) {
        host_buffer_give_back(copies[i].a, status == KILN_OK);
        host_buffer_give_back(copies[i].b, status == KILN_OK);
        host_buffer_give_back(copies[i].c, status == KILN_OK);
    }
    free(copies);
    return status;
}

KILN_API kiln_status kiln_group_sgemm_host(kiln_group *g, kiln_trans ta, kiln_trans tb,
                                           size_t m, size_t n, size_t k, float alpha,
                                           const float *a, size_t lda, const float *b,
                                           size_t ldb, float beta, float *c, size_t ldc)
{
    CHECK(check_group_call(g, ta, tb, m, n, k, ldb, ldc));
    CHECK(check_ld(NULL, "a", ta, m, k, lda));
    CHECK(check_arrays(a, b, c));
    size_t span = 0;
    bool tra = ta == KILN_TRANS, trb = tb == KILN_TRANS;
    CHECK(matrix_span(NULL, "a", tra ? k : m, tra ? m : k, lda, &span));
    CHECK(matrix_span(NULL, "b", trb ? n : k, trb ? k : n, ldb, &span));
    CHECK(matrix_span(NULL, "c", m, n, ldc, &span));
    if (m == 0 || n == 0)
        return KILN_OK;
    const struct host_call call = {ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc};
    return members_run_host(g, &call);
}
