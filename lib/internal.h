/* Private declarations shared by the files of lib/. Tests of pure internals (the
 * dispatcher) include this header on purpose; nothing else outside lib/ does. */
#ifndef KILN_INTERNAL_H
#define KILN_INTERNAL_H

#include "kiln/kiln.h"
#include "status_check.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---------------------------------------------------------------- error.c */

/* Records the message for kiln_last_error(ctx) (ctx NULL: this thread's context-free
 * message) and returns status, so a check reads `return fail(...)`. */
kiln_status fail(const kiln_ctx *ctx, kiln_status status, const char *fmt, ...)
    KILN_PRINTF_LIKE(3, 4);

/* Fails with the OpenCL call's name and its error's name. Allocation failures become
 * KILN_ERR_NOMEM, everything else KILN_ERR_CL. */
kiln_status fail_cl(const kiln_ctx *ctx, const char *call, cl_int err);

/* "CL_OUT_OF_RESOURCES" for -5; "an unknown OpenCL error" for codes no table knows. */
const char *cl_error_name(cl_int err);

struct error_slot;
void error_slots_free(struct error_slot *slots);

/* ---------------------------------------------------------------- device.c */

struct device_entry {
    cl_platform_id platform;
    cl_device_id device;
    size_t platform_index;
    size_t device_index;
};

/* Every device of every platform in kiln's index order; *entries is malloc'd (NULL
 * when there is none). */
kiln_status device_entries(struct device_entry **entries, size_t *count);

/* The device a spec names (see kiln_ctx_create); NULL spec means $KILN_DEVICE or the
 * best device. */
kiln_status device_select(const char *spec, struct device_entry *chosen);

kiln_status device_info_read(const kiln_ctx *ctx, const struct device_entry *entry,
                             kiln_device_info *info);

/* ---------------------------------------------------------------- dispatch.c */

/* Device families with tables of their own in gemm/params.c. */
enum device_family { FAMILY_GPU = 0, FAMILY_CPU, FAMILY_AMD };

/* What the dispatcher needs of a device. */
struct device_limits {
    size_t max_work_group_size;
    size_t max_work_item_sizes[3];
    size_t compute_units;
    size_t local_mem_bytes;
    enum device_family family; /* picks the family's tuned tiles (gemm/params.c) */
    unsigned vector_width; /* CL_DEVICE_NATIVE_VECTOR_WIDTH_FLOAT: the CPU kernel's vectors */
    unsigned nv_compute_capability; /* NVIDIA: major·10 + minor (90 for Hopper); else 0 */
};

/* What the dispatcher needs of one compiled kernel. */
struct kernel_limits {
    size_t work_group_size;   /* CL_KERNEL_WORK_GROUP_SIZE */
    size_t preferred_multiple; /* CL_KERNEL_PREFERRED_WORK_GROUP_SIZE_MULTIPLE */
};

struct launch {
    unsigned dims;
    size_t global[3];
    size_t local[3];
};

/* One tile shape of the portable GEMM kernel (cl/gemm.cl's -D parameters). */
struct gemm_config {
    unsigned tile_m, tile_n, tile_k;
    unsigned wpt_m, wpt_n; /* work per work-item: a WPT_M×WPT_N register tile */
};

/* A 1-D launch for n steps of a grid-stride loop: a step per work-item while the grid
 * stays within a bound, so huge n loops rather than growing the grid. */
struct launch plan_elementwise(const struct device_limits *device,
                               const struct kernel_limits *kernel, size_t n);
/* cl/bias_act.cl's 2-D grid-stride launch over `rows` rows of `steps` steps (floats or
 * float4s): power-of-two groups along a row by rows, about a step per work-item up to a
 * bound. */
struct launch plan_bias_act(const struct device_limits *device,
                            const struct kernel_limits *kernel, size_t rows, size_t steps);
/* cl/softmax_xent.cl's first pass: a group of `local` items per row, at most a few per
 * compute unit and SUM_MAX_PARTIALS in all (the kernel strides over rows). */
struct launch plan_softmax_xent(const struct device_limits *device, size_t local, size_t rows);
/* A tile of cl/geam.cl: TILE×TILE blocks moved by TILE×TILE_ROWS work-items. */
struct geam_config {
    unsigned tile, rows;
};
/* The largest geam tile within max_threads work-items and the device's limits. */
const struct geam_config *plan_geam_config(const struct device_limits *device,
                                           size_t max_threads);
struct launch plan_geam(const struct device_limits *device, const struct geam_config *config,
                        size_t rows, size_t cols);
/* The largest tile of the table that fits the device's local memory and at most
 * max_threads work-items; NULL when none does. */
const struct gemm_config *plan_gemm_config(const struct device_limits *device,
                                           size_t max_threads);
/* A batch of more than one adds a third dimension of one work-item per group, a group
 * per matrix up to the cap (the kernels stride over the rest); batch 1 stays 2-D. */
struct launch plan_gemm(const struct gemm_config *config, size_t m, size_t n, size_t batch);
/* The tensor-core kernels' launch: one work-group of `threads` items (along dimension 0)
 * per tile_m×tile_n block of C, up to the cap (the kernels stride over the rest). */
struct launch plan_gemm_tc(size_t threads, size_t tile_m, size_t tile_n, size_t m, size_t n,
                          size_t batch);
/* cl/tf32_pack.cl's launch over a batch of rows×k packed operands: its fixed
 * TF32_PACK_TILE×TF32_PACK_ROWS groups (geam's grid), the batch along dimension 2. */
enum { TF32_PACK_TILE = 32, TF32_PACK_ROWS = 8 };
struct launch plan_tf32_pack(const struct device_limits *device, size_t rows, size_t k,
                             size_t batch);
/* The tile of cl/gemm_block.cl for an m×n×k product made of whole blocks, or NULL when
 * no tile divides the shape or fits the device. */
const struct gemm_config *plan_gemm_block_config(const struct device_limits *device,
                                                 size_t max_threads, size_t m, size_t n,
                                                 size_t k);
size_t gemm_config_threads(const struct gemm_config *config);
/* A tile of cl/conv2d_implicit.cl suits the device and an m×n C (filters × batch·pixels,
 * any edges) within one launch's grid. */
bool conv2d_implicit_fits(const struct device_limits *device, size_t max_threads,
                          const struct gemm_config *config, size_t m, size_t n);
/* The tile of cl/conv2d_implicit.cl for an m×n C, or NULL when none fits. */
const struct gemm_config *plan_conv2d_implicit_config(const struct device_limits *device,
                                                      size_t max_threads, size_t m, size_t n);
/* The tile's blocks over an m×n C, times the k splits, give every compute unit enough of
 * them for the implicit GEMM to beat im2col's GEMMs on a GPU (dispatch.c says how many,
 * and the figures). */
bool conv2d_implicit_fills(const struct device_limits *device,
                           const struct gemm_config *config, size_t m, size_t n, size_t splits);
/* How many ranges a GPU's implicit GEMM of m×n×k splits its k's into (1: none), at most
 * `most` (what the workspace bound allows); dispatch.c has the rule and its constants. */
size_t conv2d_implicit_splits(const struct device_limits *device,
                              const struct gemm_config *config, size_t m, size_t n, size_t k,
                              size_t most);
/* The split-K launch of k's over `splits` ranges: *split_taps k's each (whole slices of
 * tile_k), the last to k; returns the ranges, none empty: fewer than asked where k has
 * fewer slices (or the grid's third dimension fewer groups). */
size_t plan_conv2d_split(size_t k, size_t tile_k, size_t splits, size_t *split_taps);
/* Whether a k×k convolution of this many filters gains from unfolding its images for
 * tensor-core GEMMs over the fp32 implicit GEMM (dispatch.c has the figures). */
bool conv2d_unfolding_pays(size_t filters);
/* The GEMM kernels a tile can be for: cl/gemm.cl, cl/gemm_block.cl, cl/gemm_cpu.cl. */
enum gemm_kind { GEMM_KIND_PORTABLE, GEMM_KIND_BLOCK, GEMM_KIND_CPU, GEMM_KIND_COUNT };
enum { GEMM_PARAM_MAX = 1024 }; /* no tile parameter is larger */
/* The kernel can be built with this tile at all: parameters in 1..GEMM_PARAM_MAX, register
 * tiles dividing the tile, float4 pieces for the block kernel, register tiles of whole
 * float4s for the CPU kernel. Check before the fits. */
bool gemm_config_valid(const struct gemm_config *config, enum gemm_kind kind);
/* cl/gemm.cl's tile fits the device's work-group, item sizes and local memory. */
bool gemm_config_fits(const struct device_limits *device, size_t max_threads,
                      const struct gemm_config *config);
/* cl/gemm_block.cl's tile fits the device and an m×n×k product is made of its blocks. */
bool gemm_block_fits(const struct device_limits *device, size_t max_threads,
                     const struct gemm_config *config, size_t m, size_t n, size_t k);
/* Local memory of cl/gemm.cl's two tiles for this config. */
size_t gemm_config_local_bytes(const struct gemm_config *config);

/* cl/gemm_cpu.cl reads a gemm_config as its blocks and register tile: tile_m×tile_n
 * blocks of C (MC×NC) over tile_k-deep packed slices (KC), a wpt_m×wpt_n register tile
 * (MR×NR); a work-group is one work-item. */
/* Its packed slices fit the device's local memory. */
bool gemm_cpu_fits(const struct device_limits *device, const struct gemm_config *config);
/* The vector width it is built with: the widest of 16, 8 and 4 floats within the
 * device's native width that divides the register tile's row. */
unsigned gemm_cpu_vector_width(const struct device_limits *device,
                               const struct gemm_config *config);
/* The tile of the CPU table for an m×n product: among the rows whose register tile is
 * two of the device's vectors wide, the largest block giving every compute unit a few
 * blocks, else the smallest; NULL when none fits. */
const struct gemm_config *plan_gemm_cpu_config(const struct device_limits *device, size_t m,
                                               size_t n);
/* A work-group of one work-item per block of C, batches along the third dimension. */
struct launch plan_gemm_cpu(const struct gemm_config *config, size_t m, size_t n,
                            size_t batch);

/* A work-group of cl/gemv.cl: LOCAL_X×LOCAL_Y work-items, powers of two. */
struct gemv_config {
    unsigned local_x, local_y;
};
/* The gemv work-group for a rows×cols matrix within max_threads work-items and the
 * device's limits: along the rows of a row-major matrix, across a column-major one. */
struct gemv_config plan_gemv_config(const struct device_limits *device, size_t max_threads,
                                    bool row_major, size_t rows, size_t cols);
struct launch plan_gemv(const struct gemv_config *config, bool row_major, size_t rows,
                        size_t batch);

/* Row-wise kernels (cl/reduce.cl, cl/softmax.cl, cl/norm.cl): the work-items of a group,
 * a power of two up to 256 within the device, the kernel's max_threads and the local
 * memory of bytes_per_item each. */
size_t plan_row_local(const struct device_limits *device, size_t max_threads,
                      size_t bytes_per_item);
/* One group of `local` items per row, up to 2^20 groups (the kernels stride over rows). */
struct launch plan_rows(size_t local, size_t rows);
/* Row-wise kernels with teams (cl/reduce.cl's reduce_rows, softmax, norms): a team of
 * local[0] items per row, a power of two sized to give each item a few float4s of a
 * `cols` row, and local[1] = local / local[0] rows per group; up to 2^20 groups. */
struct launch plan_row_teams(const struct device_limits *device, size_t local, size_t rows,
                             size_t cols);
/* The row-wise kernels' tuned values, one row per device family (dispatch.c's table).
 * softmax and the norms hold a row in registers (cl/rows.h's HELD) when a team of
 * team_min to team_max items (powers of two) holding `held` float4s each holds it whole;
 * where the kernel allows fewer items, they hold up to held_max float4s each. Teams of
 * short rows share groups of group_items items. Rows split into pieces and kiln_sum
 * launch at most groups_per_unit groups per compute unit (one wave of them resident);
 * every kiln_reduce and kiln_sum item keeps `unroll` loads in flight (cl/reduce.cl's
 * UNROLL). A column reduction's group spans up to column_items items (a float4 each)
 * along the columns, the rest of it down the rows; where the column blocks are few, the
 * rows are chunked for about column_groups groups per compute unit. */
struct row_params {
    unsigned team_min, team_max, held, held_max, group_items;
    unsigned groups_per_unit, unroll, column_items, column_groups;
};
const struct row_params *row_params_for(const struct device_limits *device);
/* A softmax or norm call's plan: `held` float4s per item (0: the row is streamed, read
 * twice), groups of `local` items (a power of two, the kernel's LOCAL_SIZE) and the launch:
 * a team of local[0] items per row, local[1] rows per group. The register path needs x
 * and y on the same 16-byte phase (`vectors`), max_threads items and the local memory of
 * bytes_per_item each. */
struct row_map_plan {
    unsigned held;
    size_t local;
    struct launch launch;
};
struct row_map_plan plan_row_map(const struct device_limits *device, size_t max_threads,
                                 size_t bytes_per_item, bool vectors, size_t rows,
                                 size_t cols);
/* Partials of a two-pass kiln_reduce (values, then for ARGMAX as many uint32 indices):
 * a bound of the context's scratch (8 MiB), whatever the problem. A column group 1024
 * columns wide leaves 1024 partials per chunk of the rows, so about a thousand groups
 * (two waves of an H200's) fit. */
enum { REDUCE_MAX_PARTIALS = 1 << 20 };
/* How many groups of `local` items share each of `rows` long rows (reduce_row_pieces):
 * 1 when the rows alone give the device enough groups or are too short to split; at
 * most REDUCE_MAX_PARTIALS partials in all. */
size_t plan_row_pieces(const struct device_limits *device, size_t local, size_t rows,
                       size_t cols);
/* Per-column reductions: groups of local[0] items owning 4 adjacent columns each (up to
 * the row table's column_items, coalesced; on CPUs always that many, one shape) by
 * local[1] lanes down the rows (1 where the columns fill the group), both powers of two;
 * groups stride over columns. Where the column blocks are too few to fill the device,
 * global[1] / local[1] chunks of the rows, at most REDUCE_MAX_PARTIALS / cols. */
struct launch plan_columns(const struct device_limits *device, size_t local, size_t rows,
                           size_t cols);
/* The second pass over a parts×results matrix of partials: groups of up to 32 results
 * (on CPUs always 32; on GPUs fewer where many parts want more lanes) by local / width
 * lanes over the parts. */
struct launch plan_partials(const struct device_limits *device, size_t local, size_t parts,
                            size_t results);
/* kiln_sum's and kiln_map_reduce's first pass: a float4 per work-item up to the groups
 * that stay resident at once (one_wave: kiln_sum, whose items keep the row table's UNROLL
 * loads in flight) or a few waves of groups per compute unit (kiln_map_reduce, two loads
 * in flight), never more than SUM_MAX_PARTIALS groups (one partial each). */
enum { SUM_MAX_PARTIALS = 1024 };
struct launch plan_sum(const struct device_limits *device, size_t local, size_t n,
                       bool one_wave);
/* How each item of kiln_sum's first pass reads (cl/reduce.cl's SUM_WIDTH and CHUNKED):
 * GPUs a float4 per step, items interleaved; CPUs the device's vector width (4 to 16),
 * each item one contiguous run. */
struct sum_lanes {
    unsigned width;
    int chunked;
};
struct sum_lanes plan_sum_lanes(const struct device_limits *device);

/* ---------------------------------------------------------------- gemm/params.c */

extern const struct gemm_config gemm_portable_configs[];
extern const size_t gemm_portable_config_count;
/* The whole-block kernel's tiles tuned for one device family, largest first. `fill`,
 * where a table has it, says for each row how many blocks per four compute units a
 * problem must give it for the row to be chosen; NULL: 3 (three of four units one). */
struct gemm_table {
    const char *family;
    const struct gemm_config *configs;
    size_t count;
    const unsigned *fill;
};
struct gemm_table gemm_block_table(const struct device_limits *device);
/* The implicit-GEMM convolution's tiles (cl/conv2d_implicit.cl) for one device family. */
struct gemm_table conv2d_implicit_table(const struct device_limits *device);
/* The CPU kernel's tiles (cl/gemm_cpu.cl), one row per register width, largest first. */
struct gemm_table gemm_cpu_table(void);

/* ---------------------------------------------------------------- program.c */

struct embedded_source {
    const char *name; /* file stem: "gemm" for cl/gemm.cl */
    const char *text;
};
extern const struct embedded_source embedded_sources[]; /* ends with {NULL, NULL} */

struct program;
enum { KERNEL_MAX_ARGS = 24 };

/* An argument as last set on a kernel: its size and bytes, or for a buffer its
 * serial (a freed cl_mem's handle value can come back for new memory). */
struct kernel_arg_state {
    size_t size; /* 0: never set */
    uint64_t value;
};

struct kernel {
    cl_kernel kernel;
    struct kernel_limits limits;
    /* Under the context's lock: a launch repeating an argument skips its
     * clSetKernelArg, which is most of kiln's host work per call. */
    struct kernel_arg_state last[KERNEL_MAX_ARGS];
};

/* The kernel `name` of source `source` built with `options`, built on first use and
 * kept for the context's life. */
kiln_status kernel_get(kiln_ctx *ctx, const char *source, const char *options,
                       const char *name, struct kernel **out);

struct kernel_arg {
    size_t size; /* at most 8 bytes */
    const void *value;
    uint64_t serial; /* a buffer's serial; 0 for a plain value */
    cl_mem root;     /* a buffer's allocation, for the copy queues' order; else NULL */
};
#define KERNEL_ARG(x) ((struct kernel_arg){sizeof(x), &(x), 0, NULL})
#define KERNEL_ARG_BUF(buf)                                                            \
    ((struct kernel_arg){sizeof(cl_mem), &(buf)->mem, (buf)->serial, (buf)->root})

/* Sets the arguments and enqueues, under the context's lock (clSetKernelArg is not
 * thread-safe on a shared kernel). */
kiln_status kernel_launch(kiln_ctx *ctx, struct kernel *kernel,
                          const struct launch *plan, const struct kernel_arg *args,
                          size_t count);

void programs_free(struct program *programs);

/* A kernel of a generated program (kiln_map): cl/<source>.cl with its line
 * `#include "<header>.h"` replaced by the text generate(data) returns (malloc'd; NULL:
 * out of memory), built with options. Programs are found by (key, options), so generate
 * runs only on a miss; each context keeps its most recently used ones. */
struct generated_request {
    const char *source, *header, *key, *options, *name;
    char *(*generate)(const void *data);
    const void *data;
};
/* The kernel, held (never evicted) until generated_kernel_put. */
kiln_status generated_kernel_get(kiln_ctx *ctx, const struct generated_request *request,
                                 struct kernel **out);
void generated_kernel_put(kiln_ctx *ctx, const struct kernel *kernel);

/* ---------------------------------------------------------------- ops/map.c */

/* How kiln_map runs an expression over rows×cols: decided by one function, which
 * kiln_map launches and kiln-query --plan map prints. */
struct map_plan {
    bool vector;           /* cl/map.cl's float4 path: every ARRAY on a 16-byte boundary */
    bool two_dimensional;  /* elements need their row and column (ROW or COL bindings) */
    char options[48];      /* cl/map.cl's -D options */
    struct kernel *kernel; /* built for them; held until map_plan_release */
    struct launch launch;
};

/* kiln_map's plan for expr (rows and cols at least 1), its bindings checked as kiln_map
 * checks them but for their buffers' sizes and aliasing, and the OpenCL C generated from
 * expr in *source (malloc'd, the caller frees it). */
kiln_status map_plan_for(kiln_ctx *ctx, const char *expr, size_t rows, size_t cols,
                         const kiln_binding *bindings, size_t count, struct map_plan *plan,
                         char **source);
void map_plan_release(kiln_ctx *ctx, struct map_plan *plan);

/* ---------------------------------------------------------------- cache.c */

/* The program for (ctx's device, source, options) built from a checked cache entry;
 * false on a miss, with caching off, or when the entry was bad (it is then deleted). */
bool cache_load(const kiln_ctx *ctx, const char *source, const char *options,
                cl_program *out);
/* Keeps the built program's binary for later processes; failures only disable. */
void cache_store(const kiln_ctx *ctx, const char *source, const char *options,
                 cl_program program);
/* The path of ctx's device's own file with this suffix in the cache folder (made, and
 * checked private to this user, as for binaries); false when caching is off or the
 * folder is not safe. */
bool cache_device_file(const kiln_ctx *ctx, const char *suffix, char *path, size_t size);

/* ---------------------------------------------------------------- gemm/tuning.c */

/* A winner of kiln-tune: the kernel and tile to run an m×n×k product with. */
struct tuned_entry {
    enum gemm_kind kind;
    size_t m, n, k;
    struct gemm_config config;
    bool broken; /* did not fit or build in this context: not tried again */
};

/* A context's copy of its device's tuned-parameters file, read at first use. */
struct tuning {
    bool loaded;
    struct tuned_entry *entries; /* in the file's order: the first match wins */
    size_t count;
    atomic_ullong used, fallbacks; /* launches with a tuned tile; entries given up */
};

/* The bit of a kind in a set of kinds (tuning_lookup's `kinds`). */
#define GEMM_KIND_BIT(kind) (1u << (unsigned)(kind))
/* The tuned tile for an m×n×k call among entries of the kinds in the set (the block
 * kernel only for float4-aligned calls, block and CPU kernels only for alpha not 0): an
 * entry of exactly this shape, else the nearest within a factor of 2 in every dimension
 * that the shape admits. *index names it for tuning_mark_broken. Reads the file on a
 * context's first call; takes ctx->lock. */
bool tuning_lookup(kiln_ctx *ctx, unsigned kinds, size_t m, size_t n, size_t k,
                   struct tuned_entry *found, size_t *index);
/* Counts a fallback to the table and stops trying the entry in this context. */
void tuning_mark_broken(kiln_ctx *ctx, size_t index);
/* Puts winners first in the device's file (path, filled in), replacing entries of the
 * same kernel and shape, atomically (temporary file and rename); ctx re-reads it at its
 * next lookup. KILN_ERR_ARG when caching is off, the folder unsafe or a write fails. */
kiln_status tuning_store(kiln_ctx *ctx, const struct tuned_entry *winners, size_t count,
                         char *path, size_t path_size);
void tuning_free(struct tuning *tuning);
/* "block", "portable" or "cpu", as the file names kernels. */
const char *gemm_kind_name(enum gemm_kind kind);

/* ---------------------------------------------------------------- host_buffers.c */

/* The device buffers the _host conveniences borrow for one call each and give back:
 * reused, a fresh buffer's memory need not be allocated and faulted in again at every
 * call (on PoCL that costs more than the copies). Idle buffers are kept up to
 * HOST_BUFFERS_KEPT of them and HOST_BUFFERS_KEPT_BYTES in all, the least recently given
 * back freed first; a lent buffer is no one else's until it is given back. */
enum { HOST_BUFFERS_KEPT = 16 };
#define HOST_BUFFERS_KEPT_BYTES ((size_t)256 << 20)

struct host_buffers {
    pthread_mutex_t lock;
    struct idle_buffer {
        cl_mem mem;
        size_t bytes;
    } idle[HOST_BUFFERS_KEPT]; /* the least recently given back first */
    size_t count, bytes;       /* of idle */
    size_t kept_bytes;         /* the bound: HOST_BUFFERS_KEPT_BYTES but in tests */
};

void host_buffers_init(struct host_buffers *pool);
/* Frees the idle buffers; every lent one has been given back. */
void host_buffers_free(struct host_buffers *pool);
/* A buffer of exactly `bytes` (> 0) that no other call uses until host_buffer_give_back:
 * an idle one that holds it within twice its size class, else a new one. */
kiln_status host_buffer_borrow(kiln_ctx *ctx, size_t bytes, kiln_buf **out);
/* Ends a borrow (NULL: nothing to do) once the work on buf has ended; keep false frees it
 * (after a failure, when that is not sure). */
void host_buffer_give_back(kiln_buf *buf, bool keep);
/* For tests: the idle buffers and their bytes now; a smaller bound than
 * HOST_BUFFERS_KEPT_BYTES, from the next give-back on. */
void host_buffers_kept(kiln_ctx *ctx, size_t *count, size_t *bytes);
void host_buffers_set_test_bound(kiln_ctx *ctx, size_t kept_bytes);

/* ---------------------------------------------------------------- context.c */

struct kiln_ctx {
    cl_context context;
    cl_device_id device;
    cl_command_queue queue;
    struct device_limits limits;
    unsigned long long max_alloc_bytes;
    /* Host-unified devices get CL_MEM_ALLOC_HOST_PTR so memory is reserved at create:
     * PoCL otherwise allocates at first use and aborts when that fails. */
    cl_mem_flags alloc_flags;
    bool host_unified; /* a CPU device, or one sharing the host's memory */
    char *device_identity; /* name, vendor, driver: what a cached binary depends on */
    pthread_mutex_t lock; /* programs, kernel arguments and enqueues */
    struct program *programs;
    struct program *generated; /* kiln_map's kernels, most recently used first */
    pthread_mutex_t error_lock;
    struct error_slot *errors; /* kiln_last_error, one slot per thread */
    atomic_int gemm_backend; /* a kiln_gemm_backend: what kiln_sgemm runs on */
    atomic_int math;         /* a kiln_math: what GEMM-based operations may give up */
    atomic_bool clblast_used; /* CLBlast's cache holds programs of this context */
    struct tuning tuning;     /* kiln-tune's winners for this device, under lock */
    /* The driver's refusal of the sm_90a wgmma kernel (malloc'd, set once under lock):
     * calls then take the mma.sync kernel. */
    char *wgmma_refusal;
    /* kiln_reduce's two-pass partials (REDUCE_MAX_PARTIALS values, then as many ARGMAX
     * indices), made at first use and used under sum_lock, as kiln_sum's are. */
    kiln_buf *reduce_partials;
    /* kiln_sum's partials (SUM_MAX_PARTIALS floats, made at first use) and the lock
     * that keeps one sum's two passes together on them. */
    pthread_mutex_t sum_lock;
    kiln_buf *sum_partials;
    /* The tf32 GEMM's packed operands (gemm/tensor.c), grown at need, and the lock that
     * keeps one call's packing and GEMM together on them. */
    pthread_mutex_t workspace_lock;
    kiln_buf *gemm_workspace;
    struct transfers *transfers; /* pinned memory and the staging ring (transfer.c) */
    struct copy_queues *copy_queues; /* the _async copies' own queues (copy_queue.c) */
    struct host_buffers host_buffers; /* what the _host conveniences reuse */
    struct attachment *attachments;  /* kiln_ctx_attach's, under lock */
};

/* ---------------------------------------------------------------- buffer.c */

struct kiln_buf {
    uint64_t serial; /* unique in the process: names the buffer to kernel_launch */
    kiln_ctx *ctx;
    cl_mem mem;      /* retained; a view shares its parent's */
    size_t offset;   /* bytes into mem */
    size_t size;     /* bytes */
    cl_mem root;     /* the allocation mem is part of: for overlap checks only */
    size_t root_offset;
};

/* A new allocation of `bytes` (> 0) on ctx's device; KILN_ERR_SIZE above its largest. */
kiln_status buf_mem_create(kiln_ctx *ctx, size_t bytes, cl_mem *out);
/* A kiln_buf of `size` bytes at offset into mem, taking over a reference to mem. */
kiln_status buf_new(kiln_ctx *ctx, cl_mem mem, size_t offset, size_t size, kiln_buf **out);

/* ---------------------------------------------------------------- transfer.c */

/* The context's pinned blocks and staging ring; KILN_ERR_NOMEM without host memory. */
kiln_status transfers_create(kiln_ctx *ctx);
/* Waits for staged copies, frees the ring and every pinned block (after clFinish). */
void transfers_destroy(kiln_ctx *ctx);
/* Waits for the staged copies submitted so far and returns (and forgets) the first
 * failure one of them met, so kiln_finish reports it. */
kiln_status transfers_drain(kiln_ctx *ctx);
/* Copies between host memory and a checked range of buf: pinned memory directly,
 * pageable memory staged through the ring where that pays. wait: as kiln_buf_write and
 * kiln_buf_read, else as their _async forms. */
kiln_status transfer_write(kiln_buf *buf, size_t offset, const void *src, size_t bytes,
                           bool wait);
kiln_status transfer_read(const kiln_buf *buf, size_t offset, void *dst, size_t bytes,
                          bool wait);
enum knob_switch { KNOB_UNCHANGED, KNOB_ON, KNOB_OFF };
/* For tests: a 0 size or thread count, or KNOB_UNCHANGED, keeps the context's;
 * slot_bytes (the largest chunk) and copy_threads count only before the ring is made,
 * at the first staged copy. */
struct transfer_knobs {
    size_t slot_bytes;
    size_t stage_min_bytes; /* smaller pageable copies go directly */
    size_t copy_threads;    /* host threads of a chunk's memcpy, the worker included */
    /* Pageable copies (from stage_min_bytes up) through the ring: contexts start with it
     * on where the device has memory of its own, off on host-unified devices (PoCL),
     * where it would only add a memcpy; $KILN_STAGING=on|off overrides. */
    enum knob_switch stage;
    /* _async copies on queues of their own (copy_queue.c): on where the device has
     * memory of its own and the context's queue is kiln's alone; $KILN_COPY_QUEUES=on|off
     * overrides the first. */
    enum knob_switch copy_queues;
    bool refuse_pinned; /* pinned allocations fail as if the driver had refused them */
};
void transfers_set_test_knobs(kiln_ctx *ctx, const struct transfer_knobs *knobs);
/* Whether pageable copies go through the ring (for tests). */
bool transfers_staging(kiln_ctx *ctx);

/* ---------------------------------------------------------------- copy_queue.c */

/* The copy queues' state, without queues yet (they are made at the first copy); false
 * without host memory. transfers_create and transfers_destroy call these. */
bool copies_create(kiln_ctx *ctx);
/* Waits for every copy on the copy queues and frees them. */
void copies_destroy(kiln_ctx *ctx);
/* Enqueues an _async copy on the copy queue of its direction, ordered as copy_queue.c
 * says; *used false (nothing enqueued) where copies stay on the context's queue. */
kiln_status copies_enqueue(const kiln_buf *buf, size_t offset, void *host, size_t bytes,
                           bool write, bool *used);
/* Before kiln enqueues work on ctx->queue that uses the allocations `roots` (kiln_buf's
 * root; NULL or count 0: anything, host memory included, as copies and waits do): makes
 * the queue wait for the copies that use them. *track says whether the copy queues run,
 * and so whether to pass the work's event to copies_track. */
kiln_status copies_fence(const kiln_ctx *ctx, const cl_mem *roots, size_t count, bool *track);
/* After such work was enqueued with event done (NULL, as when not tracking: nothing to
 * do): later copies of those allocations wait for it. Releases done. */
kiln_status copies_track(const kiln_ctx *ctx, const cl_mem *roots, size_t count,
                         cl_event done);
/* After a copy through the context's queue (while tracking): later copies wait for it
 * and everything before it. */
kiln_status copies_track_all(const kiln_ctx *ctx);
/* copies_fence of everything, before waiting for the context's queue (kiln_finish). */
kiln_status copies_fence_all(const kiln_ctx *ctx);
/* Waits for every copy on the copy queues (kiln_host_free). */
void copies_finish(const kiln_ctx *ctx);
/* The context's queue is handed out (kiln_ctx_queue) or the caller's (kiln_ctx_wrap):
 * fences, and keeps later copies on it, since the caller's own work there would not
 * wait for the copy queues. */
void copies_share_queue(const kiln_ctx *ctx);
/* For tests: copies on the copy queues, or not, from the next copy on. */
void copies_set_wanted(const kiln_ctx *ctx, bool wanted);

/* ---------------------------------------------------------------- host_copy.c */

/* Threads that split a large memcpy between them and the caller. */
struct host_copiers;
/* How many threads (the caller included) a copy is split between on this host: its
 * cores, up to 8. */
size_t host_copy_threads(void);
/* Starts threads - 1 helpers; NULL where they could not be had (copies then run on the
 * caller alone). */
struct host_copiers *host_copiers_create(size_t threads);
/* Stops and joins the helpers. NULL is a no-op. */
void host_copiers_destroy(struct host_copiers *copiers);
/* memcpy, in pieces of at least 256 KiB shared with the helpers; one caller at a time.
 * copiers NULL: a plain memcpy. */
void host_copiers_copy(struct host_copiers *copiers, void *dst, const void *src,
                       size_t bytes);

/* ---------------------------------------------------------------- check.c */

kiln_status check_ctx(const kiln_ctx *ctx);
/* buf is not NULL, belongs to ctx and starts on a float boundary. */
kiln_status check_buf(const kiln_ctx *ctx, const kiln_buf *buf, const char *name);
/* The same for a buffer of elements of `type` (checked first): on their boundary. */
kiln_status check_buf_of(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         kiln_dtype type);
/* type is a kiln_dtype; what names the argument. */
kiln_status check_dtype(const kiln_ctx *ctx, kiln_dtype type, const char *what);
kiln_status check_math(const kiln_ctx *ctx, kiln_math math);
/* Bytes of one element: 4 for F32, 2 for F16 and BF16. */
size_t dtype_size(kiln_dtype type);
/* "f32", "f16", "bf16"; "unknown" for other values. */
const char *dtype_name(kiln_dtype type);
/* buf holds n floats. */
kiln_status check_vector(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         size_t n);
/* buf holds n elements of type. */
kiln_status check_vector_of(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                            kiln_dtype type, size_t n);
/* ld >= max(1, cols) for the stored matrix: op(X) is rows×cols. */
kiln_status check_ld(const kiln_ctx *ctx, const char *name, kiln_trans trans, size_t rows,
                     size_t cols, size_t ld);
/* Floats from a stored matrix's first element to its last, inclusive (0 when empty);
 * KILN_ERR_SIZE when that overflows size_t. */
kiln_status matrix_span(const kiln_ctx *ctx, const char *name, size_t stored_rows,
                        size_t stored_cols, size_t ld, size_t *span);
/* buf holds op(X), rows×cols with leading dimension ld. */
kiln_status check_matrix(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                         kiln_trans trans, size_t rows, size_t cols, size_t ld);
/* Outputs of a batch do not overlap: stride is not 0 and not below one rows×cols
 * matrix's span (batch 1 allows anything). */
kiln_status check_output_stride(const kiln_ctx *ctx, const char *name, size_t rows,
                                size_t cols, size_t ld, size_t stride, size_t batch);
kiln_status check_trans(const kiln_ctx *ctx, kiln_trans trans, const char *name);
kiln_status check_act(const kiln_ctx *ctx, kiln_act act);
kiln_status check_axis(const kiln_ctx *ctx, kiln_axis axis);
/* A layer's (dense, conv2d) activation, then its buffers w, x, bias (may be NULL) and y
 * as check_buf, in that order. */
kiln_status check_layer_buffers(const kiln_ctx *ctx, kiln_act act, const kiln_buf *w,
                                const kiln_buf *x, const kiln_buf *bias, const kiln_buf *y);
/* The row-wise operations' rows×cols x with leading dimension `ld`: ld >= max(1, cols)
 * (checked even when sizes are 0), and buf holds the matrix. */
kiln_status check_rows(const kiln_ctx *ctx, const kiln_buf *buf, const char *name,
                       size_t rows, size_t cols, size_t ld);
/* x and y, both rows×cols with leading dimension ld, for a per-row map (softmax, norms):
 * y is x or does not overlap it. */
kiln_status check_row_map(const kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *y,
                          size_t rows, size_t cols, size_t ld);
struct gemm_call;
/* The checks of a GEMM's transposes, buffers (of the call's element types), leading
 * dimensions, sizes, batch strides and aliasing, in that order (ctx already checked). */
kiln_status check_gemm_call(const kiln_ctx *ctx, const struct gemm_call *call);
/* out and in share no byte. */
kiln_status check_apart(const kiln_ctx *ctx, const kiln_buf *out, const char *out_name,
                        const kiln_buf *in, const char *in_name);
/* out is exactly in or shares no byte with it: safe for elementwise work in place. */
kiln_status check_same_or_apart(const kiln_ctx *ctx, const kiln_buf *out,
                                const char *out_name, const kiln_buf *in,
                                const char *in_name);
/* a·b without overflow, else KILN_ERR_SIZE naming what. */
kiln_status size_mul(const kiln_ctx *ctx, size_t a, size_t b, size_t *out, const char *what);
bool ranges_overlap(const kiln_buf *a, const kiln_buf *b);

/* Element offset of a float buffer (check_buf has made sure it is whole). */
static inline cl_ulong buf_elements_offset(const kiln_buf *buf)
{
    return (cl_ulong)(buf->offset / sizeof(float));
}

/* a and b start on the same 16-byte phase, so rows of one ld start on one phase in both
 * and the row-wise kernels move their bodies as float4s. */
static inline bool buf_same_phase(const kiln_buf *a, const kiln_buf *b)
{
    return buf_elements_offset(a) % 4 == buf_elements_offset(b) % 4;
}

/* A float4 needs 16-byte alignment; the cl_mem itself is aligned to far more. */
static inline bool buf_on_float4(const kiln_buf *buf)
{
    return buf->offset % (4 * sizeof(float)) == 0;
}

/* Element offset of a buffer of type (check_buf_of has made sure it is whole). */
static inline cl_ulong buf_offset_of(const kiln_buf *buf, kiln_dtype type)
{
    return (cl_ulong)(buf->offset / dtype_size(type));
}

/* ---------------------------------------------------------------- elementwise.c */

/* The OP values of cl/elementwise.cl. */
enum elementwise_op {
    ELEMENTWISE_VADD = 1,
    ELEMENTWISE_SIGMOID = 2,
    ELEMENTWISE_AXPBY = 3,
    ELEMENTWISE_SIGMOID_BACKWARD = 4, /* x the sigmoid's output, y the gradient */
    ELEMENTWISE_RELU_BACKWARD = 5,
    ELEMENTWISE_TANH_BACKWARD = 6,
};

/* z = f(x, y) over n floats, arguments already checked (y is ignored by sigmoid, x by
 * axpby when alpha is 0, y when beta is 0; pass any valid buffer). */
kiln_status elementwise_enqueue(kiln_ctx *ctx, enum elementwise_op op, size_t n, float alpha,
                                float beta, const kiln_buf *x, const kiln_buf *y, kiln_buf *z);

/* ---------------------------------------------------------------- ops/reduce.c */

/* A row-wise kernel (cl/reduce.cl, cl/softmax.cl, cl/norm.cl) built with `options` plus
 * -DLOCAL_SIZE: the dispatcher's group size, smaller when the built kernel allows fewer
 * work-items. */
kiln_status row_kernel_get(kiln_ctx *ctx, const char *source, const char *options,
                           const char *name, size_t bytes_per_item, struct kernel **kernel,
                           size_t *local);
/* Launches a row-wise kernel whose arguments start (rows, cols, ld, x, x_offset, y,
 * y_offset), then take `extra`. */
kiln_status row_kernel_launch(kiln_ctx *ctx, struct kernel *kernel, const struct launch *plan,
                              size_t rows, size_t cols, size_t ld, const kiln_buf *x,
                              kiln_buf *y, const struct kernel_arg *extra, size_t extra_count);
/* The kernel of a per-row map from x to y of one ld (cl/softmax.cl, cl/norm.cl) built
 * with `flavour` (its own -D) and what plan_row_map chose within the kernel's own limit
 * (INDEX, HELD, LOCAL_SIZE, the group's shape TEAM×TEAMS), its launch of a team per row,
 * and its `vectors` argument (x and y share a 16-byte phase). */
kiln_status row_map_kernel(kiln_ctx *ctx, const char *source, const char *name,
                           const char *flavour, size_t bytes_per_item, const kiln_buf *x,
                           const kiln_buf *y, size_t rows, size_t cols, struct kernel **kernel,
                           struct launch *plan, cl_uint *vectors);
/* y[0] = the reduction `op` (cl/reduce.cl's OP: 0 sum, 1 max, 2 min) of the first
 * `groups` floats of the context's partials, the second pass of kiln_sum and
 * kiln_map_reduce; the caller holds the sum lock. */
kiln_status partials_combine(kiln_ctx *ctx, int op, size_t groups, kiln_buf *y);
/* -DINDEX for a loop of `count` steps: uint while they fit 31 bits. */
const char *row_index_type(size_t count);

/* ---------------------------------------------------------------- ops/geam.c */

/* The geam kernel for these transposes: the largest tile whose built kernel accepts
 * its work-group. */
struct geam_kernel {
    const struct geam_config *config;
    struct kernel *kernel;
    char options[96];
};
kiln_status geam_pick(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, struct geam_kernel *out);

/* ---------------------------------------------------------------- ops/conv2d.c, ops/conv2d_implicit.c */

/* A checked convolution: the descriptor's sizes (stride and dilation 0 made 1), the
 * output's, and the GEMM's. */
struct conv2d_shape {
    size_t batch, channels, height, width, filters, kernel_h, kernel_w;
    size_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
    size_t out_h, out_w;
    size_t taps;        /* channels·kernel_h·kernel_w: the GEMM's k */
    size_t pixels;      /* out_h·out_w: the GEMM's n */
    size_t image;       /* channels·height·width: floats of one image of x */
    size_t column;      /* floats of the workspace per column: taps, and filters if wide */
    size_t cols_bytes;  /* the workspace of one image: the least */
    bool direct;        /* 1×1, stride 1, no padding: x is the GEMM's B as it is */
    bool wide;          /* one GEMM over a chunk's columns, then a scatter to y */
};

/* $KILN_CONV2D_TILE ("128x128x8:8x8": TILE_MxTILE_NxTILE_K:WPT_MxWPT_N) into *tile, for
 * timing a tile outside the table; false when unset or malformed (said on stderr). */
bool conv2d_implicit_tile_forced(struct gemm_config *tile);
/* $KILN_CONV2D_SPLIT: the k splits a test or measurement forces on the implicit GEMM, or
 * 0 when unset or malformed (said on stderr). */
size_t conv2d_implicit_split_forced(void);
/* Runs a checked convolution (batch > 0) as one implicit GEMM with the planned tile
 * (a smaller one of the table if the built kernel allows fewer work-items); with splits
 * above 1, as that many k ranges (fewer where k has fewer slices) whose partial sums the
 * workspace holds, splits·filters·batch·pixels floats, then their sum into y. */
kiln_status conv2d_implicit_enqueue(kiln_ctx *ctx, const struct conv2d_shape *s,
                                    const struct gemm_config *tile, size_t splits,
                                    const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                    kiln_buf *y, kiln_act act, kiln_buf *workspace);

/* ---------------------------------------------------------------- gemm/portable.c */

/* One GEMM as the kernels see it, arguments already checked. */
struct gemm_call {
    kiln_trans ta, tb;
    size_t m, n, k;
    float alpha;
    const kiln_buf *a;
    size_t lda;
    const kiln_buf *b;
    size_t ldb;
    float beta;
    kiln_buf *c;
    size_t ldc;
    const kiln_buf *bias; /* NULL: none */
    kiln_act act;
    /* batch (>= 1) products, matrix i at i·stride elements past the first (0: the same
     * matrix for all); the bias is every product's. Plain calls: 1, 0, 0, 0. */
    size_t batch;
    size_t stride_a, stride_b, stride_c;
    /* Element types of A and B (one type) and of C, and the precision the call may give
     * up. Last, so initialisers that stop before them mean F32, F32, STRICT (all 0). The
     * bias is always float. */
    kiln_dtype a_type, c_type;
    kiln_math math;
};

/* cl/gemm.cl for the call's transposes, epilogue and element types: the largest tile of
 * the table whose built kernel accepts its work-group (a kernel may allow fewer work-items
 * than the device, for its registers; smaller tiles are tried then). */
struct gemm_kernel {
    enum gemm_kind kind;
    const struct gemm_config *config;
    struct kernel *kernel;
    size_t max_threads; /* the work-item bound the search ended with */
    char options[192];
};
kiln_status gemm_portable_pick(kiln_ctx *ctx, const struct gemm_call *call,
                               struct gemm_kernel *out);

/* Whether cl/gemm_block.cl runs a call, or why not. */
enum gemm_block_verdict {
    GEMM_BLOCK_USED,
    GEMM_BLOCK_ON_CPU,       /* f16 or bf16 on a CPU: gemm.cl is 3x faster there */
    GEMM_BLOCK_ALPHA_ZERO,   /* alpha is 0: gemm.cl only scales C */
    GEMM_BLOCK_UNALIGNED,    /* an f32 matrix's offset or ld is not float4-aligned */
    GEMM_BLOCK_NO_TILE,      /* plan_gemm_block_config: no tile divides it and fits */
    GEMM_BLOCK_KERNEL_LIMIT, /* the built kernel allows fewer work-items than its tile */
};
/* The whole-block kernel for this call: *out holds it when the verdict is
 * GEMM_BLOCK_USED or GEMM_BLOCK_KERNEL_LIMIT (built, but not to be launched), else is
 * left alone. Of the buffers only their offsets are read, so introspection may pass
 * stand-ins. */
kiln_status gemm_block_pick(kiln_ctx *ctx, const struct gemm_call *call,
                            struct gemm_kernel *out, enum gemm_block_verdict *verdict);

/* ---------------------------------------------------------------- gemm/cpu.c */

/* Whether cl/gemm_cpu.cl can run the call: float operands (it is float-only), alpha and k
 * not 0 (else C is only scaled, without reading A or B). */
bool gemm_cpu_applies(const struct gemm_call *call);
/* cl/gemm_cpu.cl built with this tile for the call's transposes, epilogue and batching. */
kiln_status gemm_cpu_build(kiln_ctx *ctx, const struct gemm_call *call,
                           const struct gemm_config *config, struct gemm_kernel *out);
/* The CPU kernel with the table's tile for the call; *used false (and *out left alone)
 * where it does not apply or no tile fits the device. */
kiln_status gemm_cpu_pick(kiln_ctx *ctx, const struct gemm_call *call,
                          struct gemm_kernel *out, bool *used);

/* Runs the call with kiln-tune's tile for its shape where one works (tuning.c), else
 * the dispatcher's; matrix-vector shapes go to cl/gemv.cl. */
kiln_status gemm_portable_enqueue(kiln_ctx *ctx, const struct gemm_call *call);
/* Runs the call with this kernel and tile, whatever the dispatcher would pick (no GEMV
 * either): for kiln-tune and tests. KILN_ERR_ARG, nothing enqueued, when the tile does
 * not suit the kernel, the device or the call (the block kernel wants whole blocks,
 * float4-aligned matrices and alpha not 0; the CPU kernel alpha and k not 0), or its
 * built kernel allows too few items. */
kiln_status gemm_run_config(kiln_ctx *ctx, const struct gemm_call *call, enum gemm_kind kind,
                            const struct gemm_config *config);

/* ---------------------------------------------------------------- gemm/plan.c */

/* Runs a checked call on the family that suits it; every GEMM-based operation (sgemm,
 * matmul, dense, gemm_ex) enqueues through here. Today every call goes to the portable
 * families (gemm_portable_enqueue); a tensor-core family is tried first where the call's
 * math allows it. */
kiln_status gemm_enqueue(kiln_ctx *ctx, const struct gemm_call *call);
/* Launches a GEMM kernel with the argument list every GEMM kernel takes (cl/gemm.cl's:
 * sizes, each matrix with its element offset and ld, the bias, the batch strides). */
kiln_status gemm_launch(kiln_ctx *ctx, struct kernel *kernel, const struct launch *plan,
                        const struct gemm_call *call);
/* The call's element types are float throughout (what cl/gemm_block.cl, cl/gemm_cpu.cl
 * and CLBlast take). */
bool gemm_call_is_f32(const struct gemm_call *call);
/* Appends the -D element types of cl/gemm.cl and cl/gemv.cl for the call to options
 * (nothing for f32 calls, the kernels' defaults). */
void gemm_type_options(const struct gemm_call *call, char *options, size_t size);

/* ---------------------------------------------------------------- gemm/tensor.c */

/* The tensor-core kernels of NVIDIA GPUs: cl/gemm_wgmma.cl (sm_90, built for sm_90a),
 * cl/gemm_mma.cl (sm_80 and later). */
enum gemm_tc_path { GEMM_TC_NONE, GEMM_TC_MMA, GEMM_TC_WGMMA };

/* A row of a tensor-core kernel's table of tiles (gemm/tensor.c). */
struct gemm_tc_tile {
    const char *kernel; /* its source file and kernel name: "gemm_wgmma", ... */
    unsigned tile_m, tile_n, threads, stages;
    const char *warps;  /* -D options of its warps, with a leading space, or "" */
};
enum { GEMM_TC_TILES = 2 }; /* rows of each kernel's table: the large tile, the small */

/* What the tensor-core family does with a call, as one value: gemm_enqueue acts on it and
 * kiln-query --plan prints it, so the plan a user sees is the plan that runs. */
struct gemm_tc_plan {
    enum gemm_tc_path path; /* GEMM_TC_NONE: the portable families run the call */
    const char *why;        /* then: what rules tensor cores out (a static sentence) */
    const char *method;     /* the rest only on a path: "wgmma: tf32 products, ..." */
    const struct gemm_tc_tile *table; /* the kernel's GEMM_TC_TILES rows */
    const struct gemm_tc_tile *tile;  /* the row it runs */
    size_t large_blocks; /* blocks of the large tile: taken where they cover every unit */
    /* f32 operands that cl/tf32_pack.cl packs K-major (and splits, at TF32X3) into the
     * context's workspace first, and the bytes that takes */
    bool pack_a, pack_b;
    size_t workspace;
    char options[192];   /* the tile's and the call's -D options */
    struct launch launch;
    struct kernel *kernel; /* built by gemm_tc_kernel_get or gemm_tc_build; else NULL */
};

/* The plan for the call from the call and the device's facts alone (builds nothing).
 * $KILN_GEMM_TC=mma|wgmma|off forces a path where the call and device allow it; a wgmma
 * build the driver refused leaves mma.sync. */
struct gemm_tc_plan gemm_tc_plan_for(const kiln_ctx *ctx, const struct gemm_call *call);
/* Re-plans a plan on a path with row `row` of its table (kiln-tune times each row). */
void gemm_tc_plan_tile(const struct gemm_call *call, size_t row, struct gemm_tc_plan *plan);
/* Builds the plan's kernel; KILN_ERR_BUILD when it does not build (for wgmma the context
 * then stops trying it, keeping the reason for gemm_tc_refusal). */
kiln_status gemm_tc_kernel_get(kiln_ctx *ctx, struct gemm_tc_plan *plan);
/* The plan that runs the call, its kernel built: gemm_tc_plan_for, again after a refused
 * sm_90a build (mma.sync or none). KILN_OK with GEMM_TC_NONE where no path applies. */
kiln_status gemm_tc_build(kiln_ctx *ctx, const struct gemm_call *call,
                          struct gemm_tc_plan *plan);
/* Runs the call with a built plan. */
kiln_status gemm_tc_enqueue(kiln_ctx *ctx, const struct gemm_call *call,
                            const struct gemm_tc_plan *plan);
/* One cl/tf32_pack.cl launch: y (rows×k, rows y_ld apart, matrix i at i·y_stride) =
 * op(x) (x stored rows×k, or k×rows when trans; x_ld, x_stride), for `batch` matrices;
 * split: hi parts, then lo parts rows·y_ld elements on. */
struct tf32_pack {
    kiln_trans trans;
    bool split;
    size_t rows, k, batch, x_ld, x_stride, y_ld, y_stride;
};
kiln_status tf32_pack_enqueue(kiln_ctx *ctx, const struct tf32_pack *pack, const kiln_buf *x,
                              kiln_buf *y);
/* Why this context's driver refused the sm_90a kernel, or NULL while it has not. */
const char *gemm_tc_refusal(const kiln_ctx *ctx);

/* ---------------------------------------------------------------- gemm/gemv.c */

/* Whether a GEMM call is a matrix-vector product (n == 1 or m == 1) for cl/gemv.cl. */
bool gemv_applies(const struct gemm_call *call);
/* Runs such a call (gemv_applies true), reading the matrix once. */
kiln_status gemv_enqueue(kiln_ctx *ctx, const struct gemm_call *call);

/* ---------------------------------------------------------------- GEMM back ends */
/* gemm/backend.c: the switch; gemm/clblast.c: CLBlast, built only where it was found. */

/* The back end a new context starts with: $KILN_GEMM, else KILN_GEMM_AUTO (a value it
 * cannot honour is reported with one line on stderr and ignored). */
kiln_gemm_backend gemm_backend_from_env(void);

/* Runs a checked call through CLBlastSgemm (CLBlastSgemmStridedBatched for a batch), or
 * through gemm_portable_enqueue where
 * CLBlast would break BLAS semantics (α = 0 reads A and B; k = 0 is refused). */
kiln_status gemm_clblast_enqueue(kiln_ctx *ctx, const struct gemm_call *call);

/* Drops CLBlast's cached programs when ctx ran CLBlast: they hold its cl_context. */
void gemm_clblast_release(kiln_ctx *ctx);

#endif /* KILN_INTERNAL_H */
