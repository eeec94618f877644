/*
 * kiln-bench's own header: the table of operations (bench_ops.c), their verification
 * (bench_verify.c), timing (bench_time.c), the peak probes (bench_probe.c) and the plot
 * (bench_plot.c). Nothing here is kiln's API; kiln-bench is an ordinary client of it.
 */
#ifndef KILN_BENCH_H
#define KILN_BENCH_H

#include <kiln/kiln.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* conv2d's layer: stride 1, padding kernel/2, no bias. */
typedef struct {
    size_t batch, channels, filters, height, width, kernel;
} bench_conv_layer;

enum { BENCH_MAX_INPUTS = 3 };

/* Elementwise ops and whole-vector reductions use n (m = k = 1); geam and the row-wise
 * ops (reductions, softmax, norms, bias_act) m×n, rows × columns (k = 1); sgemm and
 * dense C = A·B with A m×k and B k×n (dense: W out×in is A, so m = out, k = in,
 * n = batch). */
typedef struct {
    size_t m, n, k;
    bench_conv_layer conv; /* conv2d: m, n, k are then its GEMM's: filters, batch·out_h·out_w
                              and channels·kernel² */
} bench_shape;

typedef enum { BENCH_RATE_BYTES, BENCH_RATE_FLOPS } bench_rate;

/* What an implementation's output must equal; a peer may compute a simpler variant
 * (CLBlast's saxpy has β = 1, its sgemm no bias and no activation). */
typedef struct {
    float alpha, beta;
    bool bias;
    kiln_act act;
    kiln_dtype dtype; /* gemm_ex: the type of A, B and C (the inputs stay f32 on the host) */
    kiln_math math;   /* gemm_ex: the math level it runs at */
    kiln_reduce_op reduce; /* reductions: the op, over rows or columns as axis says */
    kiln_axis axis;        /* reductions, and which bias bias_act adds */
    float eps;             /* layernorm and rmsnorm */
} bench_expect;

/* One operation at one size, with host arrays and device buffers. Every
 * implementation leaves its result in `out` (device ones after a read of dev_out). */
typedef struct {
    kiln_ctx *ctx;
    bench_shape shape;
    bench_expect expect;
    size_t in_len[BENCH_MAX_INPUTS]; /* floats of each input; 0 for none */
    size_t out_len;
    float *in[BENCH_MAX_INPUTS];
    float *out;
    kiln_buf *dev_in[BENCH_MAX_INPUTS];
    kiln_buf *dev_out;
    kiln_buf *dev_typed[3]; /* gemm_ex in f16 or bf16: A, B and C in expect.dtype */
    kiln_buf *workspace;    /* conv2d's, made once by its prepare, outside the timing */
    kiln_buf *dev_parts[3]; /* adam's w, m and v: views of dev_out, made by its prepare */
} bench_case;

typedef enum {
    BENCH_ROLE_CPU,       /* the CPU baseline, the "cpu" column */
    BENCH_ROLE_KILN,      /* kiln on device buffers: the headline */
    BENCH_ROLE_TRANSFERS, /* kiln including host↔device copies */
    BENCH_ROLE_PEER       /* another GPU library on kiln's queue */
} bench_role;

typedef enum {
    BENCH_ON_HOST,  /* runs on the CPU, writes out */
    BENCH_ON_QUEUE, /* enqueued on kiln's queue, writes dev_out, returns at once */
    BENCH_WAITS     /* device work that waits and writes out */
} bench_where;

typedef struct {
    const char *name;
    bench_role role;
    bench_where where;
    bool library;                   /* a named library: shown as a peer line */
    bool (*prepare)(bench_case *c); /* NULL: nothing; may change c->expect */
    bool (*run)(bench_case *c);     /* one call; false after printing why */
} bench_impl;

/* The cases an op runs at each size, each with its expect.dtype and expect.math. */
typedef enum {
    BENCH_ONCE = 0,           /* f32, strict */
    BENCH_PER_DTYPE_AND_MATH, /* once per --dtype and --math (gemm_ex) */
    BENCH_PER_MATH            /* once per --math, f32 (conv2d) */
} bench_variants;

typedef struct {
    const char *name;
    const char *axes; /* what the numbers of a size are, in order: "n", "mn", "mkn"; or
                         "conv", a layer as bench_conv2d_parse reads it */
    const char *size_help;
    bench_rate rate;
    double (*work)(bench_shape s);  /* bytes moved or flops of one call */
    void (*lengths)(bench_case *c); /* sets in_len and out_len from the shape */
    bool (*verify)(const bench_case *c, char *why, size_t why_len);
    bench_expect expect;
    const char *gpu_sizes, *cpu_sizes; /* defaults */
    const bench_impl *impls;           /* ends with a NULL name */
    bench_variants variants;
} bench_op;

extern const bench_op bench_ops[];
extern const size_t bench_op_count;

/* "OpenBLAS 0.3.21 ..., 2 threads" or what the CPU GEMM is without it. */
const char *bench_cpu_gemm_name(void);
/* GEMMs above this many flops skip the CPU baseline (it would take minutes). */
extern const double bench_cpu_max_flops;

/* Verification (bench_verify.c): false with the reason in why. */
bool bench_verify_add(const bench_case *c, char *why, size_t why_len);
bool bench_verify_sigmoid(const bench_case *c, char *why, size_t why_len);
/* expect.reduce over each row or column (expect.axis) of the m×n input, or over all of
 * it for m = 1 (kiln_sum's too): sums within kiln.h's bound, the others exact. */
bool bench_verify_reduce(const bench_case *c, char *why, size_t why_len);
bool bench_verify_softmax(const bench_case *c, char *why, size_t why_len);
/* kiln_map's sigmoid(a + b) * c and kiln_map_reduce's sum((a - b)^2). */
bool bench_verify_map(const bench_case *c, char *why, size_t why_len);
bool bench_verify_map_sum(const bench_case *c, char *why, size_t why_len);
/* The Adam step as one kiln_map: torch.optim.Adam's defaults, its bias corrections folded
 * into lr and eps (lr·sqrt(bc2)/bc1 and eps·sqrt(bc2) give torch's step exactly). */
typedef struct {
    float beta1, beta2, lr, eps;
} bench_adam_params;
extern const bench_adam_params bench_adam;
/* The state before the step: w, m and v of n floats each from in[0], v made
 * non-negative (a second moment is), into state[3n]. */
void bench_adam_start(const bench_case *c, float *state);
/* out (w, m and v after one step from bench_adam_start's state and the gradient in[1])
 * against the step in double. */
bool bench_verify_adam(const bench_case *c, char *why, size_t why_len);
bool bench_verify_log_softmax(const bench_case *c, char *why, size_t why_len);
bool bench_verify_layernorm(const bench_case *c, char *why, size_t why_len);
bool bench_verify_rmsnorm(const bench_case *c, char *why, size_t why_len);
bool bench_verify_bias_act(const bench_case *c, char *why, size_t why_len);
bool bench_verify_act_backward(const bench_case *c, char *why, size_t why_len);
bool bench_verify_gemm(const bench_case *c, char *why, size_t why_len);
/* The relative error a dot product of length shape.k may have at expect's type and math,
 * as a multiple of Σ|terms|. */
double bench_gemm_tolerance(const bench_case *c);
/* bench_verify_gemm for gemm_ex: reads a 16-bit C first, and allows for the rounding
 * of the inputs to expect.dtype (or tf32) and of the result to expect.dtype. */
bool bench_verify_gemm_ex(const bench_case *c, char *why, size_t why_len);

/* conv2d (bench_conv.c): sizes N:CIN-COUT:HxW:K, lengths, check and implementations. */
bool bench_conv2d_parse(const char *token, size_t length, bench_shape *s);
void bench_conv2d_label(bench_shape s, char *label, size_t length);
void bench_conv2d_lengths(bench_case *c);
bool bench_verify_conv2d(const bench_case *c, char *why, size_t why_len);
extern const bench_impl bench_conv2d_impls[];
/* copy (bench_copy.c): host <-> device from pinned and pageable memory; out must equal
 * the input. */
bool bench_verify_copy(const bench_case *c, char *why, size_t why_len);
/* stream (bench_stream.c): sigmoid over pinned host data a chunk at a time, copies and
 * compute overlapped; its peer line the copies alone. It runs on a context of its own on
 * the device that `device` (a -d spec, NULL: the default) opens, which bench_stream_close
 * ends. */
extern const bench_impl bench_stream_impls[];
bool bench_verify_stream(const bench_case *c, char *why, size_t why_len);
void bench_stream_set(const char *device);
void bench_stream_close(void);
extern const bench_impl bench_copy_impls[];
/* group_sgemm (bench_group.c): kiln_group_sgemm_host over a group's members, beside its
 * first member alone. bench_group_set names them: specs, or with specs NULL the device
 * that `device` (a -d spec, NULL: the default) opens, twice; bench_group_close ends the
 * groups opened for it. */
void bench_group_set(const char *specs, const char *device);
extern const bench_impl bench_group_impls[];
void bench_group_close(void);
/* Uniform floats in [-1, 1) from a fixed seed, so runs are repeatable. */
void bench_random_fill(float *x, size_t n, unsigned long long seed);

/* Timing (bench_time.c). */
typedef struct {
    int repeats;
    double seconds;         /* per call: from before the first to the end of the last */
    double kernel_seconds;  /* per call, between profiling markers; < 0: unavailable */
    double enqueue_seconds; /* per call, host time spent enqueueing; < 0: not measured */
} bench_timing;

typedef bool (*bench_call)(void *arg);
double bench_now(void);
/* R calls enqueued back to back on ctx's queue between two markers, then kiln_finish. */
bool bench_time_queue(kiln_ctx *ctx, bench_call call, void *arg, int repeats,
                      bench_timing *t);
/* R calls that each finish before returning (host code, or device work that waits). */
bool bench_time_waiting(bench_call call, void *arg, int repeats, bench_timing *t);
bool bench_report(const kiln_ctx *ctx, kiln_status status, const char *what);

/* Applies "NAME=VALUE,..." as CLBlast's Xgemm parameters for ctx's device, so the
 * CLBlast rows show it tuned; false (with a message) when malformed, refused, or
 * kiln-bench was built without CLBlast. */
bool bench_clblast_override(kiln_ctx *ctx, const char *list);

/* Peaks of the device (bench_probe.c), measured with kiln-bench's own kernels. */
typedef struct {
    double bytes_per_second; /* 0: not measured */
    double flops_per_second;
    size_t probe_bytes;      /* size of each buffer of the copy */
    size_t probe_items;      /* work-items of the FMA probe */
    unsigned chain_width;    /* floats in each of its chains */
} bench_peaks;
bool bench_measure_peaks(kiln_ctx *ctx, const kiln_device_info *info, bench_peaks *peaks);

/* One line of results: an implementation of an op at a size. */
typedef struct {
    size_t case_index; /* rows of one op at one size share it */
    const bench_op *op;
    bench_shape shape;
    const char *impl;
    bench_role role;
    bool library;
    const char *state; /* "ok", "WRONG", "failed", "skipped" */
    bench_timing timing;
    double rate;       /* bytes/s or flops/s; 0 when not timed */
    char note[400];    /* why it is wrong, failed or skipped */
} bench_row;

/* text between two quote characters, a quote inside written twice (CSV, gnuplot). */
void bench_put_quoted(FILE *f, const char *text, char quote);

/* Draws rate against size per op with gnuplot; false when it failed (a message said
 * why). A missing gnuplot is not a failure. */
bool bench_plot(const char *path, const char *device, const bench_peaks *peaks,
                const bench_row *rows, size_t count);

#endif
