/* kiln_convert between f32, f16 and bf16 against the C references of common.c: every
 * 16-bit pattern, rounding ties, NaN, Inf, subnormals and overflow. */
#include "common.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 3          /* elements past dst's range that must stay untouched */
#define GUARD_BYTE 0xa5

static const kiln_dtype dtypes[] = {KILN_DTYPE_F32, KILN_DTYPE_F16, KILN_DTYPE_BF16};

/* Converts n elements (raw words of src_type) to dst_type into out, with src and dst as
 * views one element into buffers of their own and a guard zone after dst, which must
 * stay as it was. */
static void convert_words(kiln_ctx *ctx, kiln_dtype src_type, const void *src, size_t n,
                          kiln_dtype dst_type, void *out)
{
    size_t mark = scratch_mark();
    size_t src_size = dtype_bytes(src_type), dst_size = dtype_bytes(dst_type);
    kiln_buf *src_buf = scratch_buffer(ctx, (n + 1) * src_size);
    kiln_buf *src_view = scratch_view(src_buf, src_size, n * src_size);
    assert_ok(ctx, kiln_buf_write(src_view, 0, src, n * src_size));
    size_t dst_bytes = (n + 1 + GUARD) * dst_size;
    unsigned char *dst_host = malloc(dst_bytes);
    assert_non_null(dst_host);
    memset(dst_host, GUARD_BYTE, dst_bytes);
    kiln_buf *dst_buf = scratch_buffer(ctx, dst_bytes);
    assert_ok(ctx, kiln_buf_write(dst_buf, 0, dst_host, dst_bytes));
    kiln_buf *dst_view = scratch_view(dst_buf, dst_size, n * dst_size);
    assert_ok(ctx, kiln_convert(ctx, src_view, src_type, dst_view, dst_type, n));
    assert_ok(ctx, kiln_buf_read(dst_buf, 0, dst_host, dst_bytes));
    for (size_t i = 0; i < dst_bytes; i++) {
        bool inside = i >= dst_size && i < (n + 1) * dst_size;
        if (!inside && dst_host[i] != GUARD_BYTE)
            fail_msg("byte %zu of dst, outside the %zu converted elements, was written", i, n);
    }
    memcpy(out, dst_host + dst_size, n * dst_size);
    free(dst_host);
    scratch_release_to(mark);
}

/* The fields of a 16-bit type's words: all-ones exponent, mantissa, its top (quiet) bit. */
static uint16_t exponent_bits(kiln_dtype type)
{
    return type == KILN_DTYPE_F16 ? 0x7c00 : 0x7f80;
}

static uint16_t quiet_bit(kiln_dtype type)
{
    return type == KILN_DTYPE_F16 ? 0x200 : 0x40;
}

static bool word_is_nan(kiln_dtype type, uint16_t h)
{
    uint16_t exponent = exponent_bits(type), mantissa = (uint16_t)(0x7fff & ~exponent);
    return (h & exponent) == exponent && (h & mantissa) != 0;
}

static float word_to_float(kiln_dtype type, uint16_t h)
{
    return type == KILN_DTYPE_F16 ? f16_to_float(h) : bf16_to_float(h);
}

static uint16_t word_from_float(kiln_dtype type, float f)
{
    return type == KILN_DTYPE_F16 ? f16_from_float(f) : bf16_from_float(f);
}

/* got, a word of type, must be expected's bits; a NaN expected needs only a quiet NaN of
 * its sign (the payload is the device's business). */
static void assert_word_as(kiln_dtype type, uint16_t got, uint16_t expected, const char *what,
                           uint32_t input)
{
    bool ok = word_is_nan(type, expected)
                  ? word_is_nan(type, got) && (got & quiet_bit(type)) &&
                        (got & 0x8000) == (expected & 0x8000)
                  : got == expected;
    if (!ok)
        fail_msg("%s of 0x%08x: got 0x%04x, expected 0x%04x", what, (unsigned)input,
                 (unsigned)got, (unsigned)expected);
}

static void assert_float_as(float got, float expected, const char *what, uint32_t input)
{
    uint32_t g, e;
    memcpy(&g, &got, sizeof g);
    memcpy(&e, &expected, sizeof e);
    bool ok = isnan(expected) ? isnan(got) && (g & 0x400000) && (g >> 31) == (e >> 31)
                              : g == e;
    if (!ok)
        fail_msg("%s of 0x%04x: got f32 0x%08x (%.9g), expected 0x%08x (%.9g)", what,
                 (unsigned)input, (unsigned)g, (double)got, (unsigned)e, (double)expected);
}

static uint16_t *every_word(void)
{
    uint16_t *words = (uint16_t *)scratch_floats(65536 / 2);
    for (uint32_t i = 0; i < 65536; i++)
        words[i] = (uint16_t)i;
    return words;
}

static uint16_t *scratch_words(size_t n)
{
    return (uint16_t *)scratch_floats(n / 2 + 1);
}

/* Every word of type widened to f32 against the reference, and narrowed back: itself (a
 * signalling NaN comes back quiet). */
static void check_every_pattern_widens_and_narrows_back(kiln_ctx *ctx, kiln_dtype type)
{
    uint16_t *words = every_word(), *back = scratch_words(65536);
    float *wide = scratch_floats(65536);
    convert_words(ctx, type, words, 65536, KILN_DTYPE_F32, wide);
    for (uint32_t i = 0; i < 65536; i++)
        assert_float_as(wide[i], word_to_float(type, words[i]), "widening", i);
    convert_words(ctx, KILN_DTYPE_F32, wide, 65536, type, back);
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t quieted = word_is_nan(type, words[i]) ? words[i] | quiet_bit(type) : words[i];
        assert_word_as(type, back[i], quieted, "widening and narrowing", i);
    }
}

static void convert_widens_every_f16_pattern_exactly_and_narrows_it_back(void **state)
{
    check_every_pattern_widens_and_narrows_back(*state, KILN_DTYPE_F16);
}

static void convert_widens_every_bf16_pattern_exactly_and_narrows_it_back(void **state)
{
    check_every_pattern_widens_and_narrows_back(*state, KILN_DTYPE_BF16);
}

/* Floats around every rounding boundary that matters, then random bit patterns. */
static const uint32_t special_floats[] = {
    0x00000000, 0x80000000, 0x7f800000, 0xff800000, /* ±0, ±Inf */
    0x7fc00000, 0xffc00001, 0x7f800001, 0xff812345, /* quiet and signalling NaNs */
    0x00000001, 0x80000001, 0x007fffff, 0x00008000, /* float subnormals: bf16 ties */
    0x00018000, 0x00010000, 0x00017fff, 0x00800000,
    0x3f808000, 0x3f818000, 0x3f808001, 0x3f80ffff, /* bf16 ties to even near 1 */
    0x7f7fffff, 0xff7fffff, 0x7f7f8000, 0x7f7f7fff, /* bf16 overflow and its tie */
    0x3f801000, 0x3f803000, 0x3f801001, 0x3f800fff, /* f16 ties to even near 1 */
    0x477fe000, 0x477fefff, 0x477ff000, 0xc77ff000, /* f16 overflow: 65504, 65520 */
    0x38800000, 0x387fe000, 0x33800000, 0x33000000, /* f16 normal min, subnormals */
    0x33000001, 0xb3000000, 0x33c00000, 0x34200000,
};
enum { SPECIALS = sizeof special_floats / sizeof special_floats[0], RANDOM = 1 << 16 };

static float *narrowing_inputs(void)
{
    float *values = scratch_floats(SPECIALS + RANDOM);
    memcpy(values, special_floats, sizeof special_floats);
    uint64_t state = 12345;
    for (size_t i = 0; i < RANDOM; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t bits = (uint32_t)(state >> 32);
        /* half of them near f16's range, where its rounding is interesting */
        if (i % 2)
            bits = (bits & 0x80ffffffu) | ((0x33u + (bits >> 24) % 20) << 24);
        memcpy(&values[SPECIALS + i], &bits, sizeof bits);
    }
    return values;
}

/* The narrowing inputs converted from f32 to type against the reference. */
static void check_narrowing(kiln_ctx *ctx, kiln_dtype type, const float *values)
{
    uint16_t *got = scratch_words(SPECIALS + RANDOM);
    convert_words(ctx, KILN_DTYPE_F32, values, SPECIALS + RANDOM, type, got);
    for (size_t i = 0; i < SPECIALS + RANDOM; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        assert_word_as(type, got[i], word_from_float(type, values[i]), "narrowing", bits);
    }
}

static void convert_rounds_f32_to_f16_to_nearest_even(void **state)
{
    check_narrowing(*state, KILN_DTYPE_F16, narrowing_inputs());
    /* the reference itself, on cases worked by hand */
    assert_int_equal(f16_from_float(1.0f + 0x1p-11f), 0x3c00);     /* tie: even */
    assert_int_equal(f16_from_float(1.0f + 3 * 0x1p-11f), 0x3c02); /* tie: up */
    assert_int_equal(f16_from_float(65520.0f), 0x7c00);
    assert_int_equal(f16_from_float(-65519.0f), 0xfbff);
    assert_int_equal(f16_from_float(0x1p-25f), 0x0000);
    assert_int_equal(f16_from_float(0x1.8p-25f), 0x0001);
    assert_int_equal(f16_from_float(0x1.8p-24f), 0x0002); /* tie: even */
    assert_int_equal(f16_from_float(NAN) & 0x7e00, 0x7e00);
}

static void convert_rounds_f32_to_bf16_to_nearest_even(void **state)
{
    float *values = narrowing_inputs();
    check_narrowing(*state, KILN_DTYPE_BF16, values);
    /* the reference itself, on cases worked by hand (specials 16..23 and NaNs) */
    const uint16_t expected[][2] = {
        {16, 0x3f80}, {17, 0x3f82}, {18, 0x3f81}, {19, 0x3f81}, /* ties to even */
        {20, 0x7f80}, {21, 0xff80}, {22, 0x7f80}, {23, 0x7f7f}, /* overflow to Inf */
        {8, 0x0000},  {12, 0x0002}, {14, 0x0001}, {10, 0x0080}, /* subnormals */
        {6, 0x7fc0},  {7, 0xffc1},  {2, 0x7f80},  {3, 0xff80},
    };
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        assert_int_equal(bf16_from_float(values[expected[i][0]]), expected[i][1]);
}

static void convert_between_f16_and_bf16_rounds_once(void **state)
{
    kiln_ctx *ctx = *state;
    uint16_t *words = every_word(), *got = scratch_words(65536);
    for (size_t from = 1; from < 3; from++) {
        kiln_dtype src = dtypes[from], dst = dtypes[3 - from];
        convert_words(ctx, src, words, 65536, dst, got);
        for (uint32_t i = 0; i < 65536; i++)
            assert_word_as(dst, got[i], word_from_float(dst, word_to_float(src, words[i])),
                           "f16 <-> bf16", i);
    }
}

static void convert_to_the_same_type_copies_every_bit(void **state)
{
    kiln_ctx *ctx = *state;
    uint16_t *words = every_word(), *got = scratch_words(65536);
    for (size_t t = 1; t < 3; t++) {
        convert_words(ctx, dtypes[t], words, 65536, dtypes[t], got);
        assert_memory_equal(got, words, 65536 * sizeof(uint16_t));
    }
    float *values = narrowing_inputs(), *copied = scratch_floats(SPECIALS + RANDOM);
    convert_words(ctx, KILN_DTYPE_F32, values, SPECIALS + RANDOM, KILN_DTYPE_F32, copied);
    assert_memory_equal(copied, values, (SPECIALS + RANDOM) * sizeof(float));
}

/* Sizes across work-group edges, every pair of types. */
static void convert_handles_every_type_pair_and_edge_size(void **state)
{
    kiln_ctx *ctx = *state;
    const size_t sizes[] = {1, 7, 17, 255, 4097};
    float *values = scratch_random(4097, 21), *got = scratch_floats(4097);
    uint16_t *words = scratch_words(4097);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
        for (size_t from = 0; from < 3; from++)
            for (size_t to = 0; to < 3; to++) {
                size_t n = sizes[s];
                kiln_dtype src = dtypes[from], dst = dtypes[to];
                const void *input = values;
                if (src != KILN_DTYPE_F32) {
                    for (size_t i = 0; i < n; i++)
                        words[i] = src == KILN_DTYPE_F16 ? f16_from_float(values[i])
                                                         : bf16_from_float(values[i]);
                    input = words;
                }
                uint16_t *narrow = (uint16_t *)got;
                convert_words(ctx, src, input, n, dst, got);
                for (size_t i = 0; i < n; i++) {
                    float expected = dtype_round(dst, dtype_round(src, values[i]));
                    float seen = dst == KILN_DTYPE_F32 ? got[i]
                                 : dst == KILN_DTYPE_F16 ? f16_to_float(narrow[i])
                                                         : bf16_to_float(narrow[i]);
                    if (seen != expected)
                        fail_msg("n %zu, %d -> %d, element %zu: got %.9g, expected %.9g", n,
                                 (int)src, (int)dst, i, (double)seen, (double)expected);
                }
            }
}

static void convert_of_nothing_leaves_dst(void **state)
{
    kiln_ctx *ctx = *state;
    operand dst = vector_make(ctx, 4, 0, 0, FILL_RANDOM, 22);
    operand src = vector_make(ctx, 4, 0, 0, FILL_RANDOM, 23);
    assert_ok(ctx, kiln_convert(ctx, src.view, KILN_DTYPE_F32, dst.view, KILN_DTYPE_F16, 0));
    assert_ok(ctx, kiln_convert(ctx, src.view, KILN_DTYPE_BF16, dst.view, KILN_DTYPE_F16, 0));
    assert_operand_unchanged(&dst);
}

static void convert_rejects_bad_types_null_buffers_and_misaligned_views(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *src = scratch_buffer(ctx, 64), *dst = scratch_buffer(ctx, 64);
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16, bad = (kiln_dtype)3;
    assert_arg_error(NULL, kiln_convert(NULL, src, f32, dst, f16, 4));
    assert_arg_error(ctx, kiln_convert(ctx, NULL, f32, dst, f16, 4));
    assert_contains(kiln_last_error(ctx), "src is NULL");
    assert_arg_error(ctx, kiln_convert(ctx, src, f32, NULL, f16, 4));
    assert_contains(kiln_last_error(ctx), "dst is NULL");
    assert_arg_error(ctx, kiln_convert(ctx, src, bad, dst, f16, 4));
    assert_contains(kiln_last_error(ctx), "src_type is 3, not a kiln_dtype");
    assert_arg_error(ctx, kiln_convert(ctx, src, f32, dst, (kiln_dtype)-1, 4));
    assert_contains(kiln_last_error(ctx), "dst_type is -1, not a kiln_dtype");
    kiln_buf *odd = scratch_view(dst, 1, 32), *even = scratch_view(dst, 2, 32);
    assert_arg_error(ctx, kiln_convert(ctx, src, f32, odd, f16, 4));
    assert_contains(kiln_last_error(ctx), "dst starts at byte 1, not on the 2-byte boundary");
    assert_arg_error(ctx, kiln_convert(ctx, src, f16, even, f32, 4));
    assert_contains(kiln_last_error(ctx), "dst starts at byte 2, not on a float boundary");
    kiln_ctx *other = scratch_context(NULL);
    kiln_buf *foreign = scratch_buffer(other, 64);
    assert_arg_error(ctx, kiln_convert(ctx, src, f32, foreign, f16, 4));
    assert_contains(kiln_last_error(ctx), "dst belongs to another context");
    assert_ok(ctx, kiln_convert(ctx, src, f32, even, f16, 4));
}

static void convert_rejects_n_beyond_either_buffer_naming_sizes(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *src = scratch_buffer(ctx, 64), *dst = scratch_buffer(ctx, 64);
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16, bf16 = KILN_DTYPE_BF16;
    assert_ok(ctx, kiln_convert(ctx, src, f32, dst, f16, 16));
    assert_size_error(ctx, kiln_convert(ctx, src, f32, dst, f16, 17));
    assert_contains(kiln_last_error(ctx), "src needs 17 floats (68 bytes) but its buffer "
                                          "holds 64 bytes");
    assert_ok(ctx, kiln_convert(ctx, src, bf16, dst, f16, 32));
    assert_size_error(ctx, kiln_convert(ctx, src, bf16, dst, f16, 33));
    assert_contains(kiln_last_error(ctx), "src needs 33 bf16 elements (66 bytes)");
    assert_size_error(ctx, kiln_convert(ctx, src, f16, dst, f32, 17));
    assert_contains(kiln_last_error(ctx), "dst needs 17 floats (68 bytes)");
    assert_size_error(ctx, kiln_convert(ctx, src, f16, dst, f32, SIZE_MAX / 2 + 1));
    assert_contains(kiln_last_error(ctx), "overflows size_t");
}

static void convert_rejects_src_and_dst_sharing_memory(void **state)
{
    kiln_ctx *ctx = *state;
    kiln_buf *whole = scratch_buffer(ctx, 64);
    kiln_buf *low = scratch_view(whole, 0, 32), *high = scratch_view(whole, 32, 32);
    kiln_buf *middle = scratch_view(whole, 16, 32);
    const kiln_dtype f32 = KILN_DTYPE_F32, f16 = KILN_DTYPE_F16;
    assert_arg_error(ctx, kiln_convert(ctx, whole, f16, whole, f16, 8));
    assert_contains(kiln_last_error(ctx), "dst shares memory with the input src");
    assert_arg_error(ctx, kiln_convert(ctx, low, f32, middle, f16, 4));
    assert_ok(ctx, kiln_convert(ctx, low, f32, high, f16, 8));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        KILN_TEST(convert_widens_every_f16_pattern_exactly_and_narrows_it_back),
        KILN_TEST(convert_widens_every_bf16_pattern_exactly_and_narrows_it_back),
        KILN_TEST(convert_rounds_f32_to_f16_to_nearest_even),
        KILN_TEST(convert_rounds_f32_to_bf16_to_nearest_even),
        KILN_TEST(convert_between_f16_and_bf16_rounds_once),
        KILN_TEST(convert_to_the_same_type_copies_every_bit),
        KILN_TEST(convert_handles_every_type_pair_and_edge_size),
        KILN_TEST(convert_of_nothing_leaves_dst),
        KILN_TEST(convert_rejects_bad_types_null_buffers_and_misaligned_views),
        KILN_TEST(convert_rejects_n_beyond_either_buffer_naming_sizes),
        KILN_TEST(convert_rejects_src_and_dst_sharing_memory),
    };
    return RUN_KILN_TESTS(tests);
}
