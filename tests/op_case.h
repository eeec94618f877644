/*
 * One call of an operation with every argument chosen: shapes, transposes, leading
 * dimensions, offsets, scalars, and buffers possibly too small or misaligned. The
 * property tests draw valid cases at random; the API fuzzer decodes any case from its
 * input. Either way a call must fail cleanly or compute the right thing without
 * writing outside its output matrix.
 */
#ifndef KILN_TESTS_OP_CASE_H
#define KILN_TESTS_OP_CASE_H

#include "common.h"

#include <stdbool.h>

typedef enum { CASE_VADD, CASE_SIGMOID, CASE_GEAM, CASE_SGEMM, CASE_DENSE, CASE_OPS } case_op;

/* Operands in order: a (vadd a, sigmoid x, dense W), b (vadd b, dense x), c (the output;
 * dense y), bias (dense only). */
enum { OPERANDS = 4 };

typedef enum { HUGE_NONE, HUGE_M, HUGE_N, HUGE_K, HUGE_LDA, HUGE_LDB, HUGE_LDC, HUGE_KINDS } op_case_huge;

typedef struct {
    case_op op;
    int ta, tb;     /* kiln_trans values; anything else is invalid */
    size_t m, n, k; /* vadd, sigmoid: n floats; dense: out = m, batch = n, in = k */
    float alpha, beta;
    kiln_act act;
    bool bias;
    long ld_delta[OPERANDS]; /* ld is the stored row length plus this (below it: invalid) */
    size_t offset[OPERANDS]; /* floats before each matrix in its buffer */
    size_t shrink[OPERANDS]; /* floats cut off each buffer's end (too small when needed) */
    size_t misalign;         /* bytes added to c's offset: not a whole float unless 0 */
    /* A size the buffers are not made for, passed instead of one argument (the
     * buffers are made for the others): the call must refuse it. */
    op_case_huge huge;
    size_t huge_value;
} op_case;

/* A valid case of op with sides up to max_side, from seed. */
op_case op_case_random(case_op op, uint32_t seed, size_t max_side);

/* Every argument is within the rules of kiln.h, so the call must succeed. */
bool op_case_valid(const op_case *c);

/* Makes the operands (CANARY around each matrix), runs the call and returns its
 * status; on KILN_OK fails the test unless c is within tolerance of the double
 * reference and every canary is intact. Frees what it made. */
kiln_status op_case_run(kiln_ctx *ctx, const op_case *c);

/* "sgemm ta=1 tb=0 m=3 ..." for failure messages. */
void op_case_describe(const op_case *c, char *text, size_t size);

#endif /* KILN_TESTS_OP_CASE_H */
