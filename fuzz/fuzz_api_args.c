/* libFuzzer target: the public API's argument checks. Each input is decoded into one
 * call of an operation (op_case.h: sizes, transposes, leading dimensions, offsets,
 * buffers too small or misaligned, sizes near SIZE_MAX) on small buffers. The call must
 * return KILN_ERR_ARG or KILN_ERR_SIZE, or KILN_OK with the double reference's result
 * and the canaries around it intact (a huge size is accepted only where it changes
 * nothing: an unused argument, a no-op); a call valid by kiln.h's rules must succeed. */
#include "op_case.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kiln_ctx *ctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    setenv("KILN_CACHE_DIR", "off", 0);
    return kiln_ctx_create(&ctx, NULL) == KILN_OK ? 0 : (abort(), 1);
}

typedef struct {
    const uint8_t *data;
    size_t size;
} reader;

static unsigned next_byte(reader *r)
{
    if (r->size == 0)
        return 0;
    r->size--;
    return *r->data++;
}

/* A side of 0 .. 47 (vectors: up to 47·97). */
static size_t next_side(reader *r, size_t scale)
{
    return (next_byte(r) % 48) * scale;
}

static size_t next_huge(reader *r)
{
    static const size_t values[] = {SIZE_MAX,         SIZE_MAX / 2,     SIZE_MAX / 4 + 1,
                                    (size_t)1 << 32,  ((size_t)1 << 31) - 1, SIZE_MAX / 3,
                                    (size_t)1 << 62,  1u << 20};
    return values[next_byte(r) % (sizeof values / sizeof values[0])];
}

static op_case decode(reader *r)
{
    static const float scalars[] = {1.0f, 0.0f, -0.5f, 2.0f};
    op_case c = {.op = (case_op)(next_byte(r) % CASE_OPS)};
    c.ta = (int)(next_byte(r) % 3), c.tb = (int)(next_byte(r) % 3);
    size_t scale = c.op <= CASE_SIGMOID ? 97 : 1;
    c.m = next_side(r, 1), c.n = next_side(r, scale), c.k = next_side(r, 1);
    c.alpha = scalars[next_byte(r) % 4], c.beta = scalars[next_byte(r) % 4];
    c.act = (kiln_act)(next_byte(r) % 4);
    c.bias = next_byte(r) & 1;
    for (int i = 0; i < OPERANDS; i++) {
        unsigned shape = next_byte(r);
        c.ld_delta[i] = (long)(shape % 8) - 2;
        c.offset[i] = (shape >> 3) % 4;
        c.shrink[i] = shape >> 5 == 7 ? 1 + (shape & 3) : 0;
    }
    unsigned extra = next_byte(r);
    c.misalign = extra % 16 == 1 ? 1 + (extra >> 4) % 3 : 0;
    c.huge = extra % 16 >= 2 && extra % 16 < 2 + HUGE_KINDS - 1 ? (op_case_huge)(extra % 16 - 1)
                                                                 : HUGE_NONE;
    c.huge_value = next_huge(r);
    return c;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    reader r = {data, size};
    op_case c = decode(&r);
    kiln_status status = op_case_run(ctx, &c);
    bool refused = status == KILN_ERR_ARG || status == KILN_ERR_SIZE;
    if ((status != KILN_OK && !refused) || (op_case_valid(&c) && status != KILN_OK)) {
        char text[512];
        op_case_describe(&c, text, sizeof text);
        fprintf(stderr, "%s\n-> %s: %s\n", text, kiln_status_str(status),
                kiln_last_error(ctx));
        abort();
    }
    return 0;
}
