/*
 * Helpers shared by the kiln tests: the test context, tracked scratch objects, a
 * deterministic RNG, double-precision references with their tolerances, and checks of
 * whole matrices and of the canaries around them.
 *
 * Every test runs under a group fixture that opens one context (kiln_ctx_create(NULL),
 * so KILN_DEVICE picks the device) and a per-test teardown that frees what the test
 * made through the scratch_* helpers, so a failing test leaks nothing into the next.
 */
#ifndef KILN_TESTS_COMMON_H
#define KILN_TESTS_COMMON_H

#include <kiln/kiln.h>

#include <setjmp.h> /* cmocka needs these before its own header */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

/* A test with the teardown that frees its scratch objects. */
#define KILN_TEST(f) cmocka_unit_test_teardown(f, scratch_release)

/* Group fixture: *state becomes the test context. */
int context_open(void **state);
int context_close(void **state);

/* Runs tests under the context fixture; the value main returns. */
#define RUN_KILN_TESTS(tests) cmocka_run_group_tests(tests, context_open, context_close)

/* ---------------------------------------------------------------- scratch objects */

/* Frees, newest first, everything the scratch_* helpers made (views before parents,
 * buffers before their contexts). Per-test teardown. */
int scratch_release(void **state);

/* For a check run many times in one test: scratch_release_to(scratch_mark()) at its
 * end frees what it made since the mark. */
size_t scratch_mark(void);
void scratch_release_to(size_t mark);

kiln_ctx *scratch_context(const char *device);
kiln_buf *scratch_buffer(kiln_ctx *ctx, size_t bytes);
kiln_buf *scratch_view(kiln_buf *parent, size_t offset, size_t bytes);
kiln_buf *scratch_wrap(kiln_ctx *ctx, cl_mem mem);
float *scratch_floats(size_t n); /* at least one float, so n = 0 is a valid pointer */

/* A buffer holding exactly the n floats of values (n >= 1). */
kiln_buf *scratch_upload(kiln_ctx *ctx, const float *values, size_t n);
/* The first n floats of buf, read into new scratch memory. */
float *scratch_download(const kiln_buf *buf, size_t n);

/* Removes a folder and everything in it; 0 on success. */
int folder_remove(const char *path);

/* ---------------------------------------------------------------- host data */

#define CANARY (-7777.0f) /* what fills memory an operation must not write */

void floats_random(float *x, size_t n, uint32_t seed); /* uniform in [-1, 1] */
void floats_set(float *x, size_t n, float value);
float *scratch_random(size_t n, uint32_t seed);
float *scratch_filled(size_t n, float value);

/* C references of the 16-bit types: widening is exact (a NaN comes back quiet, with its
 * sign and top payload); narrowing rounds to nearest even, overflows to ±Inf and makes a
 * NaN quiet, keeping its sign and top payload. */
float f16_to_float(uint16_t h);
uint16_t f16_from_float(float f);
float bf16_to_float(uint16_t h);
uint16_t bf16_from_float(float f);
/* x as stored in type and read back: rounded to it (F32: x itself). */
float dtype_round(kiln_dtype type, float x);
/* Bytes of one element of type. */
size_t dtype_bytes(kiln_dtype type);

/* check(ctx, n, offset) for every elementwise size that straddles work-group edges:
 * 0, 1, 7, 17, 255, 1023, 1025, 4096 (PoCL's largest work-group) and 4097. */
void for_each_edge_size(kiln_ctx *ctx, size_t offset,
                        void (*check)(kiln_ctx *ctx, size_t n, size_t offset));

/* ---------------------------------------------------------------- operands */

/* What an operand's matrix elements hold. */
typedef enum { FILL_RANDOM = 0, FILL_NAN, FILL_CANARY } fill_kind;

/* A rows×cols matrix with leading dimension ld, `offset` floats into a buffer of its
 * own, followed by `padding` floats; everything but the matrix is CANARY. `view` is
 * what an operation gets: from the offset to the buffer's end (the buffer itself when
 * offset is 0). `host` mirrors the whole buffer as uploaded. A vector of n is 1×n. */
typedef struct {
    size_t rows, cols, ld, offset, padding, total;
    float *host;
    kiln_buf *buffer, *view;
    kiln_dtype type; /* the buffer's elements; host holds their values as floats */
} operand;

operand operand_make(kiln_ctx *ctx, size_t rows, size_t cols, size_t ld, size_t offset,
                     size_t padding, fill_kind fill, uint32_t seed);
operand vector_make(kiln_ctx *ctx, size_t n, size_t offset, size_t padding, fill_kind fill,
                    uint32_t seed);

/* An output of rows×cols, stored untransposed like input_make's, with a guard row (ld + 2
 * floats of CANARY) after it: a kernel writing one row or column too many hits a canary
 * that assert_operand_near reads, not memory past the buffer. */
operand output_make(kiln_ctx *ctx, size_t rows, size_t cols, size_t pad, size_t offset,
                    fill_kind fill, uint32_t seed);

/* The operand op(X) of rows×cols: X stored as rows×cols, or cols×rows when t is
 * KILN_TRANS, with ld `pad` floats beyond its row and `offset` floats before it. */
operand input_make(kiln_ctx *ctx, kiln_trans t, size_t rows, size_t cols, size_t pad,
                   size_t offset, fill_kind fill, uint32_t seed);

/* input_make and output_make with the buffer holding elements of type: host holds the
 * values rounded to it (CANARY included), which is what the device reads; offset and pad
 * count elements. */
operand typed_input_make(kiln_ctx *ctx, kiln_dtype type, kiln_trans t, size_t rows,
                         size_t cols, size_t pad, size_t offset, fill_kind fill,
                         uint32_t seed);
operand typed_output_make(kiln_ctx *ctx, kiln_dtype type, size_t rows, size_t cols,
                          size_t pad, size_t offset, fill_kind fill, uint32_t seed);

/* A tightly packed rows×cols matrix at the start of its buffer, with 2 floats after. */
operand tight_make(kiln_ctx *ctx, size_t rows, size_t cols, fill_kind fill, uint32_t seed);

/* The matrix as uploaded: its first element in host. */
const float *operand_data(const operand *o);

/* Reads the whole buffer back as floats (new scratch memory). */
float *operand_download(const operand *o);

/* Fails unless the buffer still holds exactly what was uploaded. */
void assert_operand_unchanged(const operand *o);

/* Fails unless every element of the buffer outside the matrix is still CANARY (as
 * rounded to the operand's type). */
void assert_canaries_intact(const operand *o, const float *downloaded);

/* ---------------------------------------------------------------- matrix cases */

/* One run of a matrix operation (geam ignores k and fill_c). Fields an initialiser does
 * not name are 0: no transpose, FILL_RANDOM, no padding or offset. */
typedef struct {
    kiln_trans ta, tb;
    size_t m, n, k;
    float alpha, beta;
    size_t pad, offset; /* floats of ld beyond each row; floats before each matrix */
    fill_kind fill_a, fill_b, fill_c;
} matrix_case;

typedef void (*matrix_check)(kiln_ctx *ctx, matrix_case c);

/* check under each of the four (ta, tb) combinations of c. */
void for_each_transpose(kiln_ctx *ctx, matrix_case c, matrix_check check);

/* check for each (m, n, k) row of shapes, under each transpose combination. */
void for_each_shape(kiln_ctx *ctx, matrix_case c, const size_t (*shapes)[3], size_t count,
                    matrix_check check);

/* ---------------------------------------------------------------- references */

/* A double-precision expected matrix (rows×cols, tight) with, per element, the size of
 * the terms that made it (Σ|α·a·b| + |β·c| for GEMM). An element of scale s may be off
 * by (terms + 2)·2·FLT_EPSILON·s + absolute (+ a tiny floor). */
typedef struct {
    size_t rows, cols;
    size_t terms;    /* products summed per element (k); sets the rounding bound */
    double absolute; /* extra absolute error allowed (sigmoid's 1e-6) */
    double *value, *scale;
    double inputs;   /* rounding of each input before its product, times the scale */
    double relative; /* the result's own rounding, times its size */
} reference;

/* The tolerance of a GEMM whose inputs are of type `inputs`, computed at `math` and
 * stored as `result` (reference_allow sets what reference_sgemm left at 0):
 * - f32 inputs at TF32 or FAST are rounded to tf32 (10-bit mantissa, a relative error
 *   up to 2^-11 each, so 2^-10 per product), at TF32X3 split into two tf32 parts (the
 *   dropped lo·lo term is below 2^-22 of the product); f16/bf16 products are exact;
 * - the result is rounded once to its type: half an ulp, 2^-11 of the value for f16
 *   and 2^-8 for bf16, and for f16 half its smallest subnormal (2^-25) near zero. */
void reference_allow(reference *r, kiln_dtype inputs, kiln_math math, kiln_dtype result);

/* C = α·op(A)·op(B) + β·C as BLAS: A and B are not read when α or k is 0, C not when β
 * is 0. c may be NULL when beta is 0. */
reference reference_sgemm(kiln_trans ta, kiln_trans tb, size_t m, size_t n, size_t k,
                          float alpha, const float *a, size_t lda, const float *b,
                          size_t ldb, float beta, const float *c, size_t ldc);

/* C = α·op(A) + β·op(B); A is not read when α is 0, B not when β is 0. */
reference reference_geam(kiln_trans ta, kiln_trans tb, size_t m, size_t n, float alpha,
                         const float *a, size_t lda, float beta, const float *b,
                         size_t ldb);

/* act(x) in double: none, sigmoid, relu or tanh. */
double activation_exact(kiln_act act, double x);
/* y = act(W·x + bias), W out×in, x in×batch, bias NULL or `out` floats. */
reference reference_dense(const float *w, const float *x, const float *bias, size_t out,
                          size_t in, size_t batch, kiln_act act);

/* y = sigmoid(x) exactly (in double), allowing 1e-6. */
reference reference_sigmoid(const float *x, size_t n);

/* c = a + b, allowing float rounding. */
reference reference_vadd(const float *a, const float *b, size_t n);
/* A rows×cols reference of zero values and scales, for a test to fill in. */
reference reference_blank(size_t rows, size_t cols, size_t terms, double absolute);

/* Fails at the first element of got (leading dimension ld) that is not within
 * tolerance of r, naming its row, column and both values. NaN expected: NaN required. */
void assert_matrix_near(const float *got, size_t ld, const reference *r);

/* Reads o back and fails unless its matrix is within tolerance of r and everything
 * around it is still CANARY. */
void assert_operand_near(const operand *o, const reference *r);

/* Runs and checks a small vadd on ctx: proves the context works. */
void assert_vadd_works(kiln_ctx *ctx);

/* The same for a small transposed sgemm (the GEMM program). */
void assert_sgemm_works(kiln_ctx *ctx);

/* ---------------------------------------------------------------- errors */

/* Fails unless status is expected, printing both names and kiln_last_error(ctx). */
#define assert_status(ctx, status, expected)                                               \
    check_status((ctx), (status), (expected), #status, -1, __FILE__, __LINE__)
#define assert_ok(ctx, status) assert_status((ctx), (status), KILN_OK)
#define assert_arg_error(ctx, status) assert_status((ctx), (status), KILN_ERR_ARG)
#define assert_size_error(ctx, status) assert_status((ctx), (status), KILN_ERR_SIZE)
/* The same for row `index` of a table of cases, which the failure names. */
#define assert_status_of_case(ctx, status, expected, index)                                \
    check_status((ctx), (status), (expected), #status, (long)(index), __FILE__, __LINE__)

void check_status(const kiln_ctx *ctx, kiln_status got, kiln_status expected,
                  const char *call, long case_index, const char *file, int line);

/* Fails unless status is KILN_ERR_ARG with a message naming leading dimension `which`
 * (0 lda, 1 ldb, 2 ldc: "lda" or "ld of a"); index is the row of the caller's table. */
void assert_ld_rejected(const kiln_ctx *ctx, kiln_status status, size_t index,
                        size_t which);

/* Fails unless text contains needle. */
void assert_contains(const char *text, const char *needle);

/* Fails unless text names `elements` floats, as a count of elements or of bytes. */
void assert_mentions_floats(const char *text, size_t elements);

/* Leading dimension `which` (0 .. WRAPPING_LDS - 1) near SIZE_MAX for a stored matrix of
 * 2 rows and `cols` columns: each passes the ld >= cols check, but (2 - 1)·ld + cols
 * wraps past SIZE_MAX to a few floats, so only the overflow check can refuse it. */
enum { WRAPPING_LDS = 3 };
size_t ld_wrapping(size_t cols, size_t which);

/* A case of assert_wrapping_lds_refused: ta, tb, m, n, k, then lda, ldb, ldc (each its
 * stored matrix's row), then the culprit (0 lda, 1 ldb, 2 ldc), a matrix of 2 rows. */
typedef size_t wrapping_case[9];

/* One call of an operation on case c with leading dimensions ld, its inputs in `in`
 * (4096 floats) and its output in `out`. */
typedef kiln_status (*wrapping_call)(kiln_ctx *ctx, const size_t *c, const size_t ld[3],
                                     kiln_buf *in, kiln_buf *out);

/* Fails unless call refuses each case with KILN_ERR_SIZE for each ld_wrapping value of
 * its culprit, writing nothing. */
void assert_wrapping_lds_refused(kiln_ctx *ctx, const wrapping_case *cases, size_t count,
                                 wrapping_call call);

/* ---------------------------------------------------------------- row-wise results */

/* Fails at the first of n floats of got farther than allowed[i] from expected[i] (a NaN
 * expected requires a NaN, an infinity the same infinity), naming `what` and i. */
void assert_each_near(const float *got, const double *expected, const double *allowed,
                      size_t n, const char *what);

/* Reads y back and fails unless each of its rows is within allowed of expected (both
 * rows×cols, tight) and everything around the matrix is still CANARY. */
void assert_rows_near(const operand *y, const double *expected, const double *allowed);

#endif /* KILN_TESTS_COMMON_H */
