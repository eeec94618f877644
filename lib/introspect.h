/* Introspection for tools (kiln-query): each kiln kernel's own limits on a context's
 * device, and the dispatcher's plan for an operation and a shape. Private and not
 * exported: no user needs it, so tools link the library's objects and include this
 * header on purpose. */
#ifndef KILN_INTROSPECT_H
#define KILN_INTROSPECT_H

#include "internal.h"

/* One kiln kernel as an operation builds it on the context's device. */
struct kernel_report {
    const char *label;                    /* "elementwise (vadd)", "gemm (sgemm)", ... */
    char options[192];                    /* the -D options it is built with */
    size_t work_group_size;               /* CL_KERNEL_WORK_GROUP_SIZE */
    size_t preferred_multiple;            /* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE */
    unsigned long long local_mem_bytes;   /* CL_KERNEL_LOCAL_MEM_SIZE */
    unsigned long long private_mem_bytes; /* CL_KERNEL_PRIVATE_MEM_SIZE */
};

/* The operations a plan can be asked for, in this order. */
enum plan_op {
    PLAN_VADD,
    PLAN_SIGMOID,
    PLAN_GEAM,
    PLAN_SGEMM,
    PLAN_DENSE,
    PLAN_GEMM_EX,
    PLAN_OP_COUNT
};

/* The kernels kiln has: one per plan_op, as that operation builds it for the portable
 * path (no transposes, no activation but dense's, gemm_ex in bf16), then
 * cl/gemm_block.cl as sgemm builds it with the largest tile of its table that fits the
 * device (no tile fitting: only its label, the rest zero). */
enum { KERNEL_GEMM_BLOCK = PLAN_OP_COUNT, KERNEL_COUNT };

/* Builds every kiln kernel and reads its limits into reports[KERNEL_COUNT]. */
kiln_status introspect_kernels(kiln_ctx *ctx, struct kernel_report *reports);

/* The same for one kernel: a plan_op or KERNEL_GEMM_BLOCK. */
kiln_status introspect_kernel(kiln_ctx *ctx, unsigned which, struct kernel_report *report);

struct plan_request {
    enum plan_op op;
    unsigned dims;   /* how many numbers the shape has: 1, 2 or 3 */
    size_t shape[3]; /* vadd, sigmoid: N; geam: M N; sgemm, gemm_ex: M N K; dense: OUT IN
                      * BATCH */
    kiln_dtype dtype; /* gemm_ex: the type of A, B and C */
    kiln_math math;   /* gemm_ex: its math level */
};

/* "vadd N, sigmoid N, geam MxN, sgemm MxNxK, dense OUTxINxBATCH, gemm_ex MxNxK": for
 * usage messages. */
extern const char plan_usage[];

/* Parses an operation name and its shape ("4096x4096x4096"), for gemm_ex in f32 at
 * STRICT. KILN_ERR_ARG, with kiln_last_error(NULL) saying why, for an unknown operation
 * or a malformed shape. */
kiln_status plan_request_parse(const char *op, const char *shape, struct plan_request *out);

/* Sets gemm_ex's type ("f32", "f16", "bf16") and math level ("strict", "tf32x3", "tf32",
 * "fast"); NULL leaves one as it is. KILN_ERR_ARG, with kiln_last_error(NULL) saying
 * why, for another name. */
kiln_status plan_request_types(struct plan_request *request, const char *dtype,
                               const char *math);

struct plan_report {
    struct kernel_report kernel; /* the kernel the operation would launch */
    struct launch launch;
    size_t groups[2];             /* work-groups in each dimension */
    bool is_gemm;
    struct gemm_config gemm;      /* the tile, when is_gemm */
    bool has_tc;                  /* gemm_ex: tc is the tensor-core family's plan */
    bool is_map;                  /* kiln_map: the two below are its plan's */
    bool map_vector;              /* cl/map.cl's float4 path, else one element an item */
    bool map_2d;                  /* a 2-D grid, for ROW and COL bindings */
    struct gemm_tc_plan tc;       /* on a path, it is what runs (kernel, tile, launch) */
    char why[1536];               /* lines, each ending in '\n': what bound each choice */
};

/* What the dispatcher chooses for the request on ctx's device, and why. Builds the
 * kernel (its limits are part of the choice) but launches nothing. sgemm, dense and
 * gemm_ex assume tight matrices (ld the row length) at offset 0 and alpha 1, and report
 * cl/gemm_block.cl or cl/gemm_cpu.cl where the library would launch it. */
kiln_status introspect_plan(kiln_ctx *ctx, const struct plan_request *request,
                            struct plan_report *report);

/* The tensor-core part of a gemm_ex plan, building nothing: gemm/tensor.c's plan for the
 * request (tight matrices, as above) into report->tc, on a path also its launch and
 * work-groups, and its reasons appended to report->why. introspect_plan reports the same
 * plan after building its kernel; tests call this on contexts whose device facts they
 * set. */
void introspect_gemm_tc(const kiln_ctx *ctx, const struct plan_request *request,
                        struct plan_report *report);

/* A kiln_map call to plan: the expression, its rows×cols, and each name's kind; an
 * ARRAY may start `offset` floats into its buffer (off a 16-byte boundary unless a
 * multiple of 4), the others start at 0. */
enum { MAP_REQUEST_MAX_BINDINGS = 32 };
struct map_request {
    const char *expr;
    size_t rows, cols;
    char names[MAP_REQUEST_MAX_BINDINGS][72];
    kiln_bind_kind kinds[MAP_REQUEST_MAX_BINDINGS];
    size_t offsets[MAP_REQUEST_MAX_BINDINGS];
    size_t count;
};

/* "map EXPR ROWS COLS NAME=KIND...", KIND as map_request_bind reads it: for usage. */
extern const char map_plan_usage[];

/* The expression and its rows and cols (digits, at least 1); no bindings yet.
 * KILN_ERR_ARG, with kiln_last_error(NULL) saying why, for a malformed size. */
kiln_status map_request_parse(const char *expr, const char *rows, const char *cols,
                              struct map_request *out);

/* Adds a binding "NAME=KIND": KIND array, array@N (N floats into its buffer), row, col
 * or scalar. KILN_ERR_ARG, with kiln_last_error(NULL) saying why, for another form, a
 * name given twice or more than 32 bindings. */
kiln_status map_request_bind(struct map_request *request, const char *spec);

/* kiln_map's plan for the request, as lib/ops/map.c makes it (map_plan_for), and the
 * OpenCL C generated from the expression in *source (NULL or malloc'd, whatever the
 * status: the caller frees it). Builds the kernel but launches nothing. */
kiln_status introspect_map(kiln_ctx *ctx, const struct map_request *request,
                           struct plan_report *report, char **source);

/* "none", "mma.sync" or "wgmma". */
const char *plan_tc_path_name(enum gemm_tc_path path);

#endif /* KILN_INTROSPECT_H */
