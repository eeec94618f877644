/*
 * kiln — portable GPU math over OpenCL.
 *
 * This header is the whole public interface and its manual. It is grouped in the order
 * a program meets it: statuses, devices, contexts, buffers, operations, conveniences.
 *
 * Conventions that hold everywhere:
 * - Every function that can fail returns a kiln_status; KILN_OK is 0. Outputs go through
 *   pointer arguments and are left untouched on failure.
 * - kiln_last_error() tells a person what went wrong: which argument, which sizes,
 *   which OpenCL call and its error name, the compiler's log.
 * - Matrices are float32, row-major, with leading dimensions in elements, exactly as
 *   cblas_sgemm(CblasRowMajor, ...). A matrix of r rows and c columns with leading
 *   dimension ld needs ld >= max(1, c) and (r - 1)·ld + c floats in its buffer.
 * - Operations are enqueued on the context's in-order queue and return at once; only
 *   calls that say they wait do so. A failure that shows only while work runs is
 *   reported by the next kiln_finish() or kiln_buf_read().
 * - Sizes, leading dimensions and offsets are checked against the buffers before
 *   anything is enqueued; a rejected call changes nothing.
 *
 * Threads: every function may be called from several threads at once, on one context
 * or on several. kiln serialises what OpenCL does not make thread-safe (setting kernel
 * arguments and enqueueing). Work from several threads on one context runs in the
 * order it was enqueued; ordering between threads is the caller's business. Each
 * thread sees its own kiln_last_error, on every context and outside them. A buffer
 * must not be destroyed while another thread uses it, nor a context while another
 * thread uses it or its buffers. (tests/test_threads.c checks this under
 * ThreadSanitizer: 8 threads on one context, 8 on contexts of their own.)
 */
#ifndef KILN_KILN_H
#define KILN_KILN_H

#ifndef CL_TARGET_OPENCL_VERSION
#define CL_TARGET_OPENCL_VERSION 120
#endif
#include <CL/cl.h>
#include <kiln/kiln_version.h> /* KILN_VERSION_MAJOR, _MINOR, _PATCH and _STRING */
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(KILN_BUILDING) && defined(__GNUC__)
#define KILN_API __attribute__((visibility("default")))
#else
#define KILN_API
#endif

/* The version of the library the program runs with, "MAJOR.MINOR.PATCH", which may be
 * newer than the KILN_VERSION_STRING it was compiled with: the soname changes with the
 * major version only, when the ABI breaks. The string is static. */
KILN_API const char *kiln_version(void);

/* ---------------------------------------------------------------- statuses */

/* Every status, once: name, value, sentence. The enum and kiln_status_str() are both
 * generated from this list. */
#define KILN_STATUS_MAP(X)                                                          \
    X(OK, 0, "success")                                                             \
    X(ERR_ARG, 1, "invalid argument")                                               \
    X(ERR_SIZE, 2, "size out of range")                                             \
    X(ERR_NOMEM, 3, "out of memory")                                                \
    X(ERR_NODEVICE, 4, "no matching OpenCL device")                                 \
    X(ERR_BUILD, 5, "kernel build failed")                                          \
    X(ERR_CL, 6, "OpenCL call failed")                                              \
    X(ERR_MPI, 7, "MPI call failed")

typedef enum {
#define KILN_STATUS_ENUM(name, value, text) KILN_##name = value,
    KILN_STATUS_MAP(KILN_STATUS_ENUM)
#undef KILN_STATUS_ENUM
} kiln_status;

/* "KILN_ERR_SIZE: size out of range" for a known status, "KILN_ERR_UNKNOWN: ..." for
 * any other value. The string is static. */
KILN_API const char *kiln_status_str(kiln_status s);

typedef struct kiln_ctx kiln_ctx; /* a device, its OpenCL context and in-order queue */
typedef struct kiln_buf kiln_buf; /* device memory that knows its context and size */

/* printf's format checking, where the compiler has it. */
#if defined(__GNUC__)
#define KILN_PRINTF_LIKE(format_index, first_arg) \
    __attribute__((format(printf, format_index, first_arg)))
#else
#define KILN_PRINTF_LIKE(format_index, first_arg)
#endif

/* Details of the last failure of this thread on ctx, or, with ctx NULL, of this
 * thread's last failure outside any context (kiln_ctx_create, a NULL ctx argument,
 * device queries). Never NULL: "" when nothing failed. The string belongs to kiln and
 * stays valid until this thread's next failing call on the same ctx. */
KILN_API const char *kiln_last_error(const kiln_ctx *ctx);

/* For libraries built on kiln (kiln_mpi.h is one): records the printf-style message as
 * this thread's kiln_last_error(ctx) (ctx NULL: its message outside any context) and
 * returns status, so their failures read as kiln's own: `return kiln_error_set(...)`. */
KILN_API kiln_status kiln_error_set(const kiln_ctx *ctx, kiln_status status,
                                    const char *format, ...) KILN_PRINTF_LIKE(3, 4);

/* ---------------------------------------------------------------- devices */

typedef enum {
    KILN_DEVICE_CPU = 1,
    KILN_DEVICE_GPU = 2,
    KILN_DEVICE_ACCELERATOR = 4,
    KILN_DEVICE_OTHER = 8
} kiln_device_type;

/* How a device keeps local (work-group shared) memory. */
typedef enum {
    KILN_LOCAL_MEM_NONE = 0,      /* none (a custom device) */
    KILN_LOCAL_MEM_DEDICATED = 1, /* on-chip memory of its own (GPUs) */
    KILN_LOCAL_MEM_GLOBAL = 2     /* emulated in global memory (CPUs, PoCL) */
} kiln_local_mem_type;

/* The cache in front of global memory. */
typedef enum {
    KILN_CACHE_NONE = 0,
    KILN_CACHE_READ_ONLY = 1,
    KILN_CACHE_READ_WRITE = 2
} kiln_cache_type;

/* Indices of the vector-width arrays of kiln_device_info: one per OpenCL C scalar. */
typedef enum {
    KILN_SCALAR_CHAR,
    KILN_SCALAR_SHORT,
    KILN_SCALAR_INT,
    KILN_SCALAR_LONG,
    KILN_SCALAR_FLOAT,
    KILN_SCALAR_DOUBLE,
    KILN_SCALAR_HALF,
    KILN_SCALAR_COUNT
} kiln_scalar;

/* Facts of one device. Set struct_size to sizeof(kiln_device_info) before asking, so
 * the struct can grow without breaking programs built against an older header. A fact
 * the device does not report is 0 or "". Strings are NUL-terminated, cut if longer. */
typedef struct {
    size_t struct_size;
    size_t max_work_group_size;      /* the most work-items of one work-group */
    size_t platform_index;           /* P of the "P:D" spec */
    size_t device_index;             /* D of the "P:D" spec */
    char name[256];
    char vendor[256];
    char platform_name[256];
    char driver_version[128];
    char opencl_c_version[128];
    kiln_device_type type;
    int unified_memory;              /* 1 when the device shares the host's memory */
    unsigned compute_units;
    unsigned clock_mhz;
    unsigned max_work_item_dimensions;
    size_t max_work_item_sizes[3];
    unsigned long long local_mem_bytes;
    unsigned long long global_mem_bytes;
    unsigned long long max_alloc_bytes;  /* the largest single buffer */

    char opencl_version[128];        /* CL_DEVICE_VERSION: "OpenCL 3.0 <vendor's words>" */
    char profile[32];                /* "FULL_PROFILE" or "EMBEDDED_PROFILE" */
    kiln_local_mem_type local_mem_type;
    kiln_cache_type global_mem_cache_type;
    unsigned long long global_mem_cache_bytes;
    unsigned global_mem_cacheline_bytes;
    unsigned long long max_constant_buffer_bytes;
    unsigned mem_base_addr_align_bits; /* alignment of every buffer's start, in bits */
    unsigned preferred_vector_width[KILN_SCALAR_COUNT]; /* what kernels should use */
    unsigned native_vector_width[KILN_SCALAR_COUNT];    /* what the hardware has */
    int fp16;                        /* 1 with cl_khr_fp16 */
    int fp64;                        /* 1 with cl_khr_fp64 or a double FP config */
    char extensions[4096];           /* space-separated; cut at a whole name if longer */

    /* NVIDIA, from cl_nv_device_attribute_query; 0 on other devices. */
    unsigned nv_compute_capability_major;
    unsigned nv_compute_capability_minor;
    unsigned nv_warp_size;
    unsigned nv_registers_per_block;
    /* AMD, from cl_amd_device_attribute_query; 0 or "" on other devices. */
    unsigned amd_wavefront_width;
    unsigned amd_simds_per_compute_unit;
    char amd_board_name[128];
} kiln_device_info;

/* Number of OpenCL devices of all platforms. No platform at all is not an error: *n
 * is 0. Indices 0 .. n-1 are the digit specs of kiln_ctx_create(). */
KILN_API kiln_status kiln_device_count(size_t *n);

/* Facts of device `index` (as counted by kiln_device_count) into *info, whose
 * struct_size the caller sets (smaller than this header's struct: KILN_ERR_ARG).
 * KILN_ERR_NODEVICE when index is out of range. Makes no context. */
KILN_API kiln_status kiln_device_get(size_t index, kiln_device_info *info);

/* The index of the device that kiln_ctx_create(&ctx, spec) would open, into *index;
 * spec NULL means the default ($KILN_DEVICE, else the best GPU, else any device).
 * No match: KILN_ERR_NODEVICE, and kiln_last_error(NULL) lists the devices there are.
 * index NULL: KILN_ERR_ARG. Makes no context. */
KILN_API kiln_status kiln_device_find(const char *spec, size_t *index);

/* ---------------------------------------------------------------- contexts */

/* Opens a context on one device with an in-order, profiling-enabled queue.
 * device NULL means $KILN_DEVICE if set, else the best GPU (discrete before integrated,
 * then the most global memory), else the first other device (PoCL's CPU). A spec is,
 * tried in this order: "gpu" or "cpu" (the best of that type), digits (index of
 * kiln_device_get), "P:D" (platform and device indices), else a case-insensitive
 * substring of the device name. No match: KILN_ERR_NODEVICE, and kiln_last_error(NULL)
 * lists the devices there are. The caller owns *out (kiln_ctx_destroy). */
KILN_API kiln_status kiln_ctx_create(kiln_ctx **out, const char *device);

/* Makes a kiln context over the caller's OpenCL objects, which kiln retains and, on
 * destroy, releases only its own reference of. The queue must be in-order and belong to
 * context and device (KILN_ERR_ARG otherwise); every copy runs on it (see
 * kiln_ctx_queue). The caller owns *out. */
KILN_API kiln_status kiln_ctx_wrap(kiln_ctx **out, cl_context context, cl_device_id device,
                                   cl_command_queue queue);

/* Waits for the context's work to end, then frees it and the memory of its
 * kiln_host_alloc. Buffers of the context must be destroyed first. NULL is a no-op. */
KILN_API void kiln_ctx_destroy(kiln_ctx *ctx);

/* Keeps data with ctx under key, an address of the caller's (a static variable's, say)
 * so that libraries built on kiln never share one: kiln_ctx_destroy calls destroy(data)
 * first, while ctx still works, so data may hold buffers and host memory of ctx. ctx, key
 * or destroy NULL, or key attached already: KILN_ERR_ARG, and data is not kept. */
KILN_API kiln_status kiln_ctx_attach(kiln_ctx *ctx, const void *key, void *data,
                                     void (*destroy)(void *data));

/* The data attached to ctx under key; NULL when none, or ctx NULL. Safe to call from
 * several threads; using the data from several is the attacher's to make safe. */
KILN_API void *kiln_ctx_attachment(const kiln_ctx *ctx, const void *key);

/* Waits for all work enqueued on the context, the _async copies into host memory
 * included. Reports a failure of that work. */
KILN_API kiln_status kiln_finish(kiln_ctx *ctx);

/* The OpenCL objects behind ctx, to mix in kernels of your own; still owned by ctx
 * (retain them to keep them longer). NULL when ctx is NULL. */
KILN_API cl_context kiln_ctx_context(const kiln_ctx *ctx);
KILN_API cl_device_id kiln_ctx_device(const kiln_ctx *ctx);
/* The queue operations run on. On GPUs with memory of their own, _async copies that go
 * straight to the driver (pinned memory, pageable below 2 MiB) run on two queues of
 * kiln's, one per direction, ordered by events with the work that uses the same buffer
 * or host memory, so that they overlap the rest ($KILN_COPY_QUEUES=off keeps them on
 * this queue). Once this queue is handed out they run on it, so that work you enqueue
 * here keeps its order with them. */
KILN_API cl_command_queue kiln_ctx_queue(const kiln_ctx *ctx);

/* ---------------------------------------------------------------- kernel cache */

/* Compiled kernels are kept on disk and reused by later processes: under
 * $KILN_CACHE_DIR (default $XDG_CACHE_HOME/kiln, else ~/.cache/kiln; "off" disables),
 * at most $KILN_CACHE_MAX_BYTES (default 256 MiB, least recently used entries go
 * first). The folder is used only when it belongs to this user and nobody else can
 * write it; every entry is checked before use, and a bad one is deleted and rebuilt.
 * A folder that cannot be used only disables caching, with one line on stderr. */

/* What the cache did in this process so far. Set struct_size first. */
typedef struct {
    size_t struct_size;
    unsigned long long hits;     /* programs loaded from a cache entry */
    unsigned long long misses;   /* programs compiled because no good entry existed */
    unsigned long long stores;   /* entries written */
    unsigned long long rejected; /* entries that failed a check or to load: deleted */
    unsigned long long evicted;  /* entries deleted to keep the size limit */
} kiln_cache_stats;

/* Copies the process's cache counters into *stats. */
KILN_API kiln_status kiln_cache_stats_get(kiln_cache_stats *stats);

/* ---------------------------------------------------------------- buffers */

/* Allocates `bytes` of device memory, uninitialised. bytes 0: KILN_ERR_ARG; above the
 * device's largest allocation: KILN_ERR_SIZE; memory the device cannot provide:
 * KILN_ERR_NOMEM (which some drivers only find at first use). The caller owns *out. */
KILN_API kiln_status kiln_buf_create(kiln_ctx *ctx, size_t bytes, kiln_buf **out);

/* Makes a kiln buffer over the caller's cl_mem of ctx's context (KILN_ERR_ARG for
 * another context), retaining it; destroy releases only kiln's reference. A
 * sub-buffer is known for the memory it shares with its parent. Caller owns *out. */
KILN_API kiln_status kiln_buf_wrap(kiln_ctx *ctx, cl_mem mem, kiln_buf **out);

/* `bytes` of host memory that the device copies at the bus's speed (page-locked: a
 * CL_MEM_ALLOC_HOST_PTR buffer kept mapped), uninitialised, into *ptr; copies from or to
 * any range inside it take the fast path. Where the device cannot pin that much, *ptr is
 * ordinary host memory, which works the same at pageable speed. bytes 0 or ptr NULL:
 * KILN_ERR_ARG; no host memory at all: KILN_ERR_NOMEM. ctx owns it: kiln_host_free, or
 * kiln_ctx_destroy, frees it. Waits for the context's earlier work (it maps through the
 * queue). */
KILN_API kiln_status kiln_host_alloc(kiln_ctx *ctx, size_t bytes, void **ptr);

/* Frees memory of kiln_host_alloc on ctx, first waiting for all work enqueued before it
 * (so copies from or to it that are in flight end first). NULL is a no-op. A pointer
 * kiln_host_alloc did not return on ctx, or one freed already, frees nothing and sets
 * kiln_last_error(ctx) (as KILN_ERR_ARG would); once kiln_host_alloc has handed that
 * address out again, a second free frees the new memory, which kiln cannot tell. */
KILN_API void kiln_host_free(kiln_ctx *ctx, void *ptr);

/* Copies `bytes` from host memory into buf at byte `offset`. Waits until src may be
 * reused (and so for earlier work on the queue). Memory of kiln_host_alloc goes at the
 * bus's speed (54 GB/s on the H200). Other memory, from 2 MiB up on devices with memory
 * of their own, is staged through a ring of pinned chunks, each filled by several host
 * threads while the device copies the one before ($KILN_STAGING=off leaves it to the
 * driver, "on" stages on any device); smaller copies, and all on CPUs and host-unified
 * devices, go to the driver as they are. */
KILN_API kiln_status kiln_buf_write(kiln_buf *buf, size_t offset, const void *src,
                                    size_t bytes);

/* Copies `bytes` from buf at byte `offset` into dst, through the same paths as
 * kiln_buf_write. Waits for all earlier work, including the _async reads' copies into
 * host memory. */
KILN_API kiln_status kiln_buf_read(const kiln_buf *buf, size_t offset, void *dst,
                                   size_t bytes);

/* kiln_buf_write that returns at once: the copy is enqueued and runs in order with the
 * context's other work, as an operation would (on GPUs it may run on a queue of its own,
 * overlapping kernels that do not need it: see kiln_ctx_queue). src must stay valid and
 * unchanged until kiln_finish, or a blocking kiln_buf_read on ctx, has returned. The
 * call does not wait for the device, but for an earlier staged _async read into the
 * same host memory to land. Argument and enqueue failures are reported here, the rest
 * by the next kiln_finish or kiln_buf_read. */
KILN_API kiln_status kiln_buf_write_async(kiln_buf *buf, size_t offset, const void *src,
                                          size_t bytes);

/* kiln_buf_read that returns at once, ordered with the context's work as an operation:
 * dst must stay valid, and holds the data (and must not be read or written by the
 * program) only once kiln_finish, or a blocking kiln_buf_read on ctx, has returned.
 * Staging and failures as kiln_buf_write_async. */
KILN_API kiln_status kiln_buf_read_async(const kiln_buf *buf, size_t offset, void *dst,
                                         size_t bytes);

/* A buffer that is bytes [offset, offset + bytes) of parent, sharing its memory; any
 * operation accepts it. Float operations need offset to be a multiple of 4 (any
 * element offset works). The view must not outlive its parent. Caller owns *out. */
KILN_API kiln_status kiln_buf_view(kiln_buf *parent, size_t offset, size_t bytes,
                                   kiln_buf **out);

/* Copies bytes between buffers of one context, on the queue (does not wait).
 * Overlapping ranges of the same memory: KILN_ERR_ARG. */
KILN_API kiln_status kiln_buf_copy(kiln_buf *dst, size_t dst_offset, const kiln_buf *src,
                                   size_t src_offset, size_t bytes);

/* Sets every float of buf to value, on the queue (does not wait). The buffer's size
 * and offset must be multiples of 4 bytes. */
KILN_API kiln_status kiln_buf_fill(kiln_buf *buf, float value);

/* Size in bytes; 0 for NULL. */
KILN_API size_t kiln_buf_size(const kiln_buf *buf);

/* The context buf belongs to (a view: its parent's), still owned by the caller; NULL
 * for NULL. */
KILN_API kiln_ctx *kiln_buf_ctx(const kiln_buf *buf);

/* Byte offset of a view within kiln_buf_mem(); 0 for a buffer that is not a view. */
KILN_API size_t kiln_buf_offset(const kiln_buf *buf);

/* The cl_mem behind buf (for a view: its parent's, see kiln_buf_offset), still owned
 * by buf. NULL for NULL. */
KILN_API cl_mem kiln_buf_mem(const kiln_buf *buf);

/* Frees buf (its memory once no view uses it). NULL is a no-op. Work already enqueued
 * on it completes safely. */
KILN_API void kiln_buf_destroy(kiln_buf *buf);

/* ---------------------------------------------------------------- operations */

typedef enum { KILN_NO_TRANS = 0, KILN_TRANS = 1 } kiln_trans;
/* An activation: none, 1 / (1 + exp(-v)), max(v, 0), tanh(v) (sigmoid and tanh within
 * 1e-6 of the exact value). */
typedef enum { KILN_ACT_NONE = 0, KILN_ACT_SIGMOID, KILN_ACT_RELU, KILN_ACT_TANH } kiln_act;

/* All operations are enqueued and return at once. Their buffers must belong to ctx
 * and hold what the sizes need; sizes of 0 are no-ops (after the argument checks). */

/* c[i] = a[i] + b[i] for i < n. c may be a or b (the very same range). */
KILN_API kiln_status kiln_vadd(kiln_ctx *ctx, const kiln_buf *a, const kiln_buf *b,
                               kiln_buf *c, size_t n);

/* y[i] = 1 / (1 + exp(-x[i])) for i < n, within 1e-6 of the exact value. y may be x. */
KILN_API kiln_status kiln_sigmoid(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t n);

/* C = α·op(A) + β·op(B), C m×n; op(X) is X or its transpose. α = 0: A is not read;
 * β = 0: B is not read. C may be A or B when that input is not transposed. */
KILN_API kiln_status kiln_geam(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                               size_t n, float alpha, const kiln_buf *a, size_t lda,
                               float beta, const kiln_buf *b, size_t ldb, kiln_buf *c,
                               size_t ldc);

/* C = α·op(A)·op(B) + β·C with C m×n and k the inner size, as BLAS: k = 0 or α = 0
 * gives C = β·C without reading A or B; β = 0: C is not read. C must not share memory
 * with A or B (KILN_ERR_ARG). */
KILN_API kiln_status kiln_sgemm(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                size_t n, size_t k, float alpha, const kiln_buf *a,
                                size_t lda, const kiln_buf *b, size_t ldb, float beta,
                                kiln_buf *c, size_t ldc);

/* kiln_sgemm on `batch` products: each reads A and B stride_a and stride_b floats past
 * the one before (0: one matrix for all) and writes C stride_c floats past; does not
 * wait. KILN_ERR_ARG also for C matrices that overlap (stride_c 0 or below one C's span,
 * with batch > 1); KILN_ERR_SIZE when a buffer ends before its last matrix. */
KILN_API kiln_status kiln_sgemm_batched(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                        size_t n, size_t k, float alpha, const kiln_buf *a,
                                        size_t lda, size_t stride_a, const kiln_buf *b,
                                        size_t ldb, size_t stride_b, float beta, kiln_buf *c,
                                        size_t ldc, size_t stride_c, size_t batch);

/* C = A·B with A m×k, B k×n, C m×n, all tightly packed. */
KILN_API kiln_status kiln_matmul(kiln_ctx *ctx, size_t m, size_t n, size_t k,
                                 const kiln_buf *a, const kiln_buf *b, kiln_buf *c);

/* y = act(W·x + bias) in one kernel: W is out×in, x is in×batch (a column per sample),
 * bias has `out` floats added to every column (NULL: none), y is out×batch; all tightly
 * packed. y must not share memory with an input. */
KILN_API kiln_status kiln_dense(kiln_ctx *ctx, const kiln_buf *w, const kiln_buf *x,
                                const kiln_buf *bias, kiln_buf *y, size_t out, size_t in,
                                size_t batch, kiln_act act);

/* y[i] += α·x[i] for i < n (BLAS's saxpy). α = 0 leaves y as it is without reading x.
 * y may be x (the very same range), else must not overlap it. */
KILN_API kiln_status kiln_axpy(kiln_ctx *ctx, float alpha, const kiln_buf *x, kiln_buf *y,
                               size_t n);

/* x[i] *= α for i < n (BLAS's sscal). α = 0 writes zeros without reading x, so NaN and
 * Inf there become 0 too. */
KILN_API kiln_status kiln_scale(kiln_ctx *ctx, float alpha, kiln_buf *x, size_t n);

/* The backward pass of an activation, through its output y = act(z): dx[i] = dy[i]·act'
 * for i < n, with act' = y(1 - y) for SIGMOID, 1 where y > 0 else 0 for RELU (so NaN or
 * Inf in dy gives 0 there), 1 - y² for TANH and 1 for NONE. dx may be dy or y (the very
 * same range), else must not overlap them. */
KILN_API kiln_status kiln_act_backward(kiln_ctx *ctx, kiln_act act, const kiln_buf *y,
                                       const kiln_buf *dy, kiln_buf *dx, size_t n);

/* Which code runs kiln_sgemm, kiln_sgemm_batched and kiln_matmul (kiln_dense, with its
 * bias and activation, always runs kiln's own kernels). AUTO: kiln's choice, today its
 * portable kernels. CLBLAST: CLBlast's SGEMM (strided batched for a batch) on the same
 * buffers and queue, with kiln's semantics kept
 * (α = 0 or k = 0 run on kiln's kernels, which do not read A or B). */
typedef enum {
    KILN_GEMM_AUTO = 0,
    KILN_GEMM_PORTABLE = 1,
    KILN_GEMM_CLBLAST = 2
} kiln_gemm_backend;

/* Sets ctx's GEMM back end for calls that start after it; safe while other threads use
 * ctx. A context starts with $KILN_GEMM ("clblast", "portable" or "auto"; unset: AUTO;
 * a value it cannot honour: AUTO and a line on stderr). An unknown value, or CLBLAST in
 * a kiln built without CLBlast: KILN_ERR_ARG, and the back end stays as it was. */
KILN_API kiln_status kiln_ctx_set_gemm_backend(kiln_ctx *ctx, kiln_gemm_backend backend);

/* ctx's GEMM back end as last set (AUTO stays AUTO); KILN_GEMM_AUTO for NULL. */
KILN_API kiln_gemm_backend kiln_ctx_gemm_backend(const kiln_ctx *ctx);

/* ---------------------------------------------------------------- reductions and norms */

/* Matrices here are rows×cols float32, row-major with leading dimension ld >= max(1,
 * cols), as everywhere; outputs go to tight vectors unless said otherwise. A call with no
 * output (rows = 0 for per-row results, cols = 0 for per-column ones) is a no-op after
 * the checks. Sums (SUM, MEAN, SUMSQ, kiln_sum, and the Σexp of softmax and Σx² of
 * rmsnorm) are compensated (Kahan) within each work-item and pairwise across work-items:
 * a sum ŝ of n terms is within 4·max(1, log2 n)·u·Σ|tᵢ| of the exact s, u = 2^-24 (MEAN
 * adds one rounding of the quotient); layernorm merges each work-item's moments instead
 * (Welford's, or two passes over the elements it holds in registers), exact for constant
 * rows. NaN propagates: a set holding a NaN sums, maxes and mins to NaN;
 * Inf follows IEEE (Inf + -Inf is NaN). */

/* One result per row or per column. */
typedef enum { KILN_PER_ROW = 0, KILN_PER_COL } kiln_axis;

/* SUM, MAX, MIN, MEAN (the sum over the count), SUMSQ (Σx²), ARGMAX (uint32 index of the
 * first maximum; a NaN counts as above every number, so the first NaN wins). */
typedef enum {
    KILN_REDUCE_SUM = 0,
    KILN_REDUCE_MAX,
    KILN_REDUCE_MIN,
    KILN_REDUCE_MEAN,
    KILN_REDUCE_SUMSQ,
    KILN_REDUCE_ARGMAX
} kiln_reduce_op;

/* y = op over each row (PER_ROW: `rows` results) or each column (PER_COL: `cols`) of x.
 * ARGMAX writes uint32 column (PER_ROW) or row (PER_COL) indices into y. Empty sets: SUM
 * and SUMSQ 0, MAX -Inf, MIN +Inf, MEAN NaN; ARGMAX of an empty set, or over more than
 * 2^32 - 1 elements, is KILN_ERR_ARG. y overlapping x is KILN_ERR_ARG. A few long rows,
 * or columns too few to fill the device, run in two passes whose partials live in scratch
 * the context keeps (1 MiB at most, made at first use, whatever the sizes). */
KILN_API kiln_status kiln_reduce(kiln_ctx *ctx, kiln_reduce_op op, kiln_axis axis,
                                 const kiln_buf *x, kiln_buf *y, size_t rows, size_t cols,
                                 size_t ld);

/* y[0] = the sum of the n floats of x (0 for n = 0), in two passes whose partials live in
 * scratch the context keeps (a few KiB, bounded by the device, not by n). y overlapping x
 * is KILN_ERR_ARG. */
KILN_API kiln_status kiln_sum(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t n);

/* Per row: y = exp(x - max) / Σ exp(x - max), the row's max subtracted so no exp
 * overflows. x and y share ld; y may be x (the very same range), else must not overlap
 * it. A row holding NaN or +Inf, or only -Inf, becomes NaN; a -Inf element gives 0. */
KILN_API kiln_status kiln_softmax(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y, size_t rows,
                                  size_t cols, size_t ld);

/* Per row: y = x - max - log Σ exp(x - max). As kiln_softmax; a -Inf element gives -Inf. */
KILN_API kiln_status kiln_log_softmax(kiln_ctx *ctx, const kiln_buf *x, kiln_buf *y,
                                      size_t rows, size_t cols, size_t ld);

/* Per row: y = (x - mean) / sqrt(var + eps) · gamma + beta with the biased variance (as
 * PyTorch); gamma and beta hold `cols` floats, NULL meaning 1 and 0. x and y share ld; y
 * may be x (the very same range), else must not overlap x, gamma or beta. eps must be
 * finite and >= 0; with eps 0 a constant row is 0/0, NaN. A row holding NaN or ±Inf
 * becomes NaN. */
KILN_API kiln_status kiln_layernorm(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *gamma,
                                    const kiln_buf *beta, kiln_buf *y, size_t rows,
                                    size_t cols, size_t ld, float eps);

/* Per row: y = x / sqrt(mean(x²) + eps) · gamma; gamma as kiln_layernorm's (with eps 0 a
 * row of zeros is 0/0, NaN). A NaN makes its row NaN; an Inf makes its own element NaN
 * and the rest of its row 0 (x · 0). */
KILN_API kiln_status kiln_rmsnorm(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *gamma,
                                  kiln_buf *y, size_t rows, size_t cols, size_t ld, float eps);

/* y = act(x + bias) over a rows×cols matrix: bias (not NULL) holds `rows` floats for
 * PER_ROW, one added to each row (kiln_dense's out×batch layout), or `cols` for PER_COL,
 * one per column (a row per sample). x and y share ld; y may be x (the very same
 * range), else must not overlap it; y must not overlap bias. */
KILN_API kiln_status kiln_bias_act(kiln_ctx *ctx, const kiln_buf *x, const kiln_buf *bias,
                                   kiln_buf *y, size_t rows, size_t cols, size_t ld,
                                   kiln_axis axis, kiln_act act);

/* The shape of a 2-D convolution. Set size to sizeof(kiln_conv2d_desc), so the struct
 * can grow. Output sizes: out_h = (height + 2·pad_h - dilation_h·(kernel_h - 1) - 1) /
 * stride_h + 1, out_w likewise; a stride or dilation of 0 means 1. */
typedef struct {
    size_t size;
    size_t batch, channels, height, width;   /* x: batch×channels×height×width (NCHW) */
    size_t filters, kernel_h, kernel_w;      /* w: filters×channels×kernel_h×kernel_w */
    size_t stride_h, stride_w, pad_h, pad_w, dilation_h, dilation_w;
} kiln_conv2d_desc;

/* The workspace bytes kiln_conv2d wants for desc into *bytes: 0 where it runs as one
 * implicit GEMM unsplit (GPUs at STRICT math; kiln_conv2d's comment says when), for a
 * 1×1, stride-1, unpadded convolution (it reads x as it is) and for batch 0; where that
 * GEMM splits its k, splits·filters·batch·out_h·out_w floats (its partial sums); else the
 * unfolded columns (channels·kernel_h·kernel_w rows of out_h·out_w floats per image,
 * each row padded to a multiple of 64 floats; where out_h·out_w is not such a multiple,
 * filters more rows for the GEMM's output) of as many images as fit in 64 MiB, at least
 * one and at most batch. Depends on the context's device and math level: ask again after
 * kiln_ctx_set_math. Checks desc as kiln_conv2d does. */
KILN_API kiln_status kiln_conv2d_workspace(kiln_ctx *ctx, const kiln_conv2d_desc *desc,
                                           size_t *bytes);

/* y = act(conv(x, w) + bias): for each image n and filter f, y[n][f] is the
 * cross-correlation (as PyTorch and cuDNN) of x[n]'s channels, zero-padded, with w[f],
 * plus bias[f]; bias holds `filters` floats or is NULL; all tensors tightly packed.
 * On GPUs at STRICT math (and at any math level without tensor cores, or with fewer than
 * 128 filters of more than 1×1) it is one implicit GEMM in fp32, gathering x as it
 * multiplies, where its blocks give every compute unit one (with k split into up to 8
 * ranges, summed in a fixed order, where they are fewer than two per unit, as 512 filters
 * of 7×7 at batch 32 on 132 units); elsewhere (CPUs, TF32 on tensor cores, grids too
 * small even split) images are unfolded into workspace and multiplied by kiln's GEMM at
 * the context's math level (kiln_ctx_set_math), with kiln's kernels whatever the back
 * end. workspace may be NULL where kiln_conv2d_workspace reports 0; unfolding, it must
 * hold one image's columns at least (KILN_ERR_SIZE), and as many images run at a time as
 * it holds; split, it may be smaller or NULL: as many k ranges run as it holds the
 * partial sums of, none with less than two ranges' (the grid less full; the sums rounded
 * in another order). KILN_ERR_ARG for a bad desc (a size other than the struct's,
 * channels, height, width, filters, kernel_h or kernel_w 0, an output size below 1), and
 * for y overlapping x, w or bias or the workspace overlapping any of them. batch 0 is a
 * no-op. Does not wait. */
KILN_API kiln_status kiln_conv2d(kiln_ctx *ctx, const kiln_conv2d_desc *desc,
                                 const kiln_buf *x, const kiln_buf *w, const kiln_buf *bias,
                                 kiln_buf *y, kiln_act act, kiln_buf *workspace);

/* The mean cross-entropy of softmax(logits) against labels and its gradient: logits is
 * rows×cols, tightly packed; labels holds `rows` uint32 classes on the device; loss gets
 * one float, Σ (log Σ exp(x) - x[label]) / rows, computed with each row's max subtracted
 * so nothing overflows. dlogits (NULL: not computed) gets (softmax - one-hot) / rows and
 * may be logits (the very same range). A label >= cols makes the loss and that row of
 * dlogits NaN (labels are not read on the host); so does a NaN or +Inf logit. rows = 0
 * is a no-op. The two passes' partials live in the context's scratch (a few KiB). */
KILN_API kiln_status kiln_softmax_xent(kiln_ctx *ctx, const kiln_buf *logits,
                                       const kiln_buf *labels, kiln_buf *loss,
                                       kiln_buf *dlogits, size_t rows, size_t cols);

/* ---------------------------------------------------------------- mixed precision */

/* Element types of buffers. F16 (IEEE binary16) and BF16 (the top 16 bits of a float)
 * are stored as 16-bit words, and a buffer or view holding them must start on a 2-byte
 * boundary (F32: 4 bytes); no device needs cl_khr_fp16. Sizes, leading dimensions and
 * offsets of such operands count elements of their own type. */
typedef enum { KILN_DTYPE_F32 = 0, KILN_DTYPE_F16, KILN_DTYPE_BF16 } kiln_dtype;

/* The most precision a GEMM may give up, never a demand: a device without the units for
 * a level computes at a stricter one, which is always allowed.
 * STRICT  IEEE fp32 multiply-adds (f16/bf16 inputs widened exactly): today's kernels.
 * TF32X3  f32 inputs as three tf32 products on tensor cores: each input is split as
 *         a = hi + lo with hi and lo tf32 (10-bit mantissa) values rounded to nearest,
 *         and hi·hi + hi·lo + lo·hi accumulate in fp32; on finite data of normal range
 *         the error is no larger than STRICT's. NaN inputs give NaN;
 *         an infinite input gives ±Inf or NaN (its products with the other operand's lo
 *         may have either sign), and a finite input above 3.4025e38 counts as infinite;
 *         subnormal inputs and lo parts are rounded to steps of 2^-136 or read as 0.
 *         Each k step's three products sum apart and join the result in fp32 (the
 *         tensor cores' own accumulation truncates). f16/bf16 inputs: tensor cores
 *         with fp32 accumulation (exact products).
 * TF32    f32 inputs read as tf32 (their low 13 mantissa bits dropped: about 3 decimal
 *         digits per product), fp32 accumulation; f16/bf16 as TF32X3.
 * FAST    as TF32: f32 inputs are never narrowed to f16 or bf16.
 * Where no tensor-core path exists every level runs the STRICT kernels. Tensor cores run
 * f16 and bf16 inputs on NVIDIA sm_80 and later (wgmma on sm_90, mma.sync before) when
 * A's and B's element offsets, leading dimensions and batch strides are multiples of 8,
 * and f32 inputs on sm_90 (wgmma), in either case when alpha and k are not 0 and neither
 * m nor n is 1. wgmma reads tf32 only as op(A) and op(B)ᵀ stored row by row, on 16
 * bytes: an f32 operand that is not (B untransposed, A transposed, or unaligned), and
 * both at TF32X3 (as hi and lo parts), are first copied so into a workspace the context
 * keeps and grows to the largest such call's need, up to 8·(m + n)·k bytes a matrix of
 * the batch at TF32X3 and half that at TF32, freed by kiln_ctx_destroy; a call whose
 * workspace would exceed the device's largest allocation runs the STRICT kernels.
 * $KILN_GEMM_TC=mma|wgmma|off forces a path where the device has it, or none (for tests
 * and measurements). */
typedef enum {
    KILN_MATH_STRICT = 0,
    KILN_MATH_TF32X3,
    KILN_MATH_TF32,
    KILN_MATH_FAST
} kiln_math;

/* dst[i] = src[i] converted from src_type to dst_type for i < n, on the queue (does not
 * wait). Narrowing rounds to nearest even, once (f16 <-> bf16 included), overflowing to
 * ±Inf; NaN stays NaN with its sign and comes out quiet; the same type copies the bits.
 * KILN_ERR_ARG for an unknown type or src and dst sharing memory, KILN_ERR_SIZE when n
 * elements of its type do not fit either buffer. */
KILN_API kiln_status kiln_convert(kiln_ctx *ctx, const kiln_buf *src, kiln_dtype src_type,
                                  kiln_buf *dst, kiln_dtype dst_type, size_t n);

/* C = α·op(A)·op(B) + β·C as kiln_sgemm, with A and B of one type (a_type != b_type:
 * KILN_ERR_ARG) and C of any type, each buffer counted in its own type's elements.
 * Products accumulate in fp32 at least; C is read in c_type (β = 0: not read) and the
 * result rounded to nearest even into it. k = 0 or α = 0 gives C = β·C without reading
 * A or B; C must not share memory with A or B (KILN_ERR_ARG). `math` is the most
 * precision the call lets kiln give up (kiln_math), regardless of kiln_ctx_math; an
 * unknown value is KILN_ERR_ARG. Always runs kiln's kernels, whatever the back end. */
KILN_API kiln_status kiln_gemm_ex(kiln_ctx *ctx, kiln_trans ta, kiln_trans tb, size_t m,
                                  size_t n, size_t k, float alpha, const kiln_buf *a,
                                  kiln_dtype a_type, size_t lda, const kiln_buf *b,
                                  kiln_dtype b_type, size_t ldb, float beta, kiln_buf *c,
                                  kiln_dtype c_type, size_t ldc, kiln_math math);

/* Sets the math level of kiln_sgemm, kiln_sgemm_batched, kiln_matmul, kiln_dense and
 * every later operation built on GEMM, for calls that start after it; safe while other
 * threads use ctx. Contexts start at KILN_MATH_STRICT, so results do not change unless
 * asked. The CLBlast back end stays fp32 STRICT. An unknown value: KILN_ERR_ARG, and the
 * level stays as it was. */
KILN_API kiln_status kiln_ctx_set_math(kiln_ctx *ctx, kiln_math math);

/* ctx's math level as last set; KILN_MATH_STRICT for NULL. */
KILN_API kiln_math kiln_ctx_math(const kiln_ctx *ctx);

/* ---------------------------------------------------------------- fused expressions */

/* kiln_map and kiln_map_reduce run an expression over a rows×cols index space (a vector
 * is rows = 1) as one kernel generated at run time, reading each input once and writing
 * each output once. Every value is a float.
 *
 * The language. Statements `name = expr` separated by `;` (a trailing `;` is allowed)
 * run in order for each element, as in C: a later statement sees an earlier output's new
 * value, and an output may be assigned twice. From the loosest binding: `c ? a : b`
 * (right-associative; a nonzero condition, NaN included, is true); comparisons `<`,
 * `<=`, `>`, `>=`, `==`, `!=` giving 1 or 0 (they do not chain: `a < b < c` is an
 * error); `+ -`; `* /`; unary `-`; `^` (right-associative and tighter than unary minus:
 * `-a^2` is -(a²), `a^-b` is allowed). An exponent written as a whole number 0 to 16
 * without a dot or exponent is exact repeated multiplication (`(a - b)^2` of a negative
 * base is fine); any other exponent is pow. Literals: `1`, `0.5`, `.5`, `5.`, `1e-8`,
 * `1E+5`; no suffixes or hex; one beyond float's range is an error. Names are
 * [A-Za-z_][A-Za-z0-9_]*, at most 64 characters, case-sensitive, and not a function's
 * name or `sum`. Functions: exp, log, sqrt, rsqrt, tanh, sigmoid (within 1e-6, as
 * kiln_sigmoid), relu, abs, erf (one argument), min, max, pow (two); min and max give NaN
 * when either argument is NaN. They keep OpenCL's full-profile accuracy (no native_*).
 * Spaces, tabs, CR and newlines are white space. At most 64 KiB of text and 256 levels
 * of nesting (parentheses, calls, unary minus, ^ and ?: operands counted together).
 *
 * A bad expression is KILN_ERR_ARG and kiln_last_error says what and where: "unknown
 * name 'd' at column 17". Kernels are cached in memory (the least recently used of each
 * context's generated kernels go first) and on disk like kiln's others, keyed by the
 * parsed expression: `a+b` and `a + b` share one kernel, and so do the same expression
 * over other names. Literals are part of the key, so a value that changes from call to
 * call (a learning-rate schedule) belongs in a SCALAR binding: a new literal is a new
 * kernel to build. When every ARRAY starts on a 16-byte boundary each work-item does 4
 * elements at once; `kiln-query --plan map` shows an expression's generated OpenCL C and
 * how it launches. */

/* What a name of the expression stands for: ARRAY, a tightly packed rows×cols buffer
 * (element (r, c) at r·cols + c); SCALAR, `value` (buf unused); ROW, `cols` floats, the
 * same for every row; COL, `rows` floats, one per row (a bias over kiln_dense's
 * out×batch output). */
typedef enum {
    KILN_BIND_ARRAY = 0,
    KILN_BIND_SCALAR,
    KILN_BIND_ROW,
    KILN_BIND_COL
} kiln_bind_kind;

/* A name of the expression and what it stands for. This struct is part of the ABI: it
 * changes only with the soname. */
typedef struct {
    const char *name;
    kiln_bind_kind kind;
    kiln_buf *buf;
    float value;
} kiln_binding;

/* Runs the statements of expr for every element of rows×cols: kiln_map(ctx, "y =
 * sigmoid(a + b) * c", 1, n, binds, 4). `count` bindings (at most 32) name its inputs
 * and outputs; unused ones are allowed but still checked (name, kind, buffer), and two
 * may not share a name. Every assigned name must be an ARRAY. An output may also be
 * an input (the same name, or another binding of the very same range); outputs sharing
 * memory with each other, or partly with an input, or at all with a ROW or COL input,
 * are KILN_ERR_ARG. A used buffer too small for its kind is KILN_ERR_SIZE. rows or cols
 * 0 is a no-op after the checks. Does not wait. */
KILN_API kiln_status kiln_map(kiln_ctx *ctx, const char *expr, size_t rows, size_t cols,
                              const kiln_binding *bindings, size_t count);

/* result[0] = sum, max or min over rows×cols of an elementwise expression: expr is
 * `sum(e)`, `max(e)` or `min(e)` and nothing else (`sum(a) + 1` is an error), e as in
 * kiln_map without statements. One pass over the data into per-group partials (in the
 * context's scratch, as kiln_sum) and a small kernel combining them; sums are
 * compensated, as kiln_sum's. Empty ranges give sum 0, max -Inf, min +Inf; NaN
 * propagates through all three. result overlapping a used input is KILN_ERR_ARG.
 * Does not wait. */
KILN_API kiln_status kiln_map_reduce(kiln_ctx *ctx, const char *expr, size_t rows,
                                     size_t cols, const kiln_binding *bindings,
                                     size_t count, kiln_buf *result);

/* ---------------------------------------------------------------- device groups */

/* Several devices of one host driven at once, each member its own context and queue.
 * A GEMM's rows of C are split among the members in proportion to their weights; each
 * member multiplies its rows, all members at once, and the call waits for all. A group
 * must not be used from several threads at once. A member's failure is the call's: its
 * status, with kiln_last_error(NULL) saying "member 1: " and the member's own message
 * (which kiln_last_error(kiln_group_ctx(g, 1)) also holds). */
typedef struct kiln_group kiln_group;

/* Opens a member per comma-separated device spec of specs, each as kiln_ctx_create
 * takes it ("0,1", "gpu,cpu"; spaces around a spec are dropped); a device may appear
 * twice (two contexts on it). The reserved word all-gpus, checked before the name rule,
 * opens a member on every GPU (none: KILN_ERR_NODEVICE). An empty spec: KILN_ERR_ARG; a
 * spec that opens no context: kiln_ctx_create's status, the message naming the member.
 * Members start with measured weights (kiln_group_set_weights with NULL). The caller
 * owns *out (kiln_group_destroy). */
KILN_API kiln_status kiln_group_create(kiln_group **out, const char *specs);

/* Destroys every member's context; their buffers must be destroyed first. NULL is a
 * no-op. */
KILN_API void kiln_group_destroy(kiln_group *g);

/* Members of g; 0 for NULL. */
KILN_API size_t kiln_group_size(const kiln_group *g);

/* Member `member`'s context, owned by g, for its buffers and settings (GEMM math and
 * back end, which the group's GEMMs honour); NULL when g is NULL or member is out of
 * range. */
KILN_API kiln_ctx *kiln_group_ctx(const kiln_group *g, size_t member);

/* Sets the members' shares of rows: weights holds size() values, finite and >= 0, not
 * all 0 (else KILN_ERR_ARG and the weights stay); a member of weight 0 gets no rows.
 * NULL measures them: GEMMs on each member in turn, from 256³ up by doubling until one
 * takes 2 ms or reaches 4096³, the last one's flop rate the weight (so the split depends
 * on timing: set weights where it must not). Waits. */
KILN_API kiln_status kiln_group_set_weights(kiln_group *g, const float *weights);

/* The rows [*first, *first + *count) of an m-row product that member `member` owns: its
 * share of m by weight, rounded to nearest, members in order, every row owned once
 * (count may be 0 when m is small). member out of range: KILN_ERR_ARG. */
KILN_API kiln_status kiln_group_rows(const kiln_group *g, size_t m, size_t member,
                                     size_t *first, size_t *count);

/* C = α·op(A)·op(B) + β·C as kiln_sgemm, on operands resident on the members: arrays of
 * size() buffers, entry i of member i's context. a[i] holds member i's rows of op(A)
 * (kiln_group_rows; for KILN_TRANS, those columns of A, k rows of ld lda), b[i] all of
 * op(B), c[i] its rows of C; lda, ldb and ldc hold for every member. A member without
 * rows is not called and its entries may be NULL. Every member's share is checked
 * before any runs (the message names the member); then all run at once. Waits. */
KILN_API kiln_status kiln_group_sgemm(kiln_group *g, kiln_trans ta, kiln_trans tb, size_t m,
                                      size_t n, size_t k, float alpha, kiln_buf *const *a,
                                      size_t lda, kiln_buf *const *b, size_t ldb, float beta,
                                      kiln_buf *const *c, size_t ldc);

/* kiln_group_sgemm over host arrays as cblas_sgemm takes them: copies each member its
 * rows of op(A), all of B and (β ≠ 0) its rows of C, multiplies, copies the rows of C
 * back, and waits. Device memory is each member's, kept as the _host conveniences keep
 * theirs. */
KILN_API kiln_status kiln_group_sgemm_host(kiln_group *g, kiln_trans ta, kiln_trans tb,
                                           size_t m, size_t n, size_t k, float alpha,
                                           const float *a, size_t lda, const float *b,
                                           size_t ldb, float beta, float *c, size_t ldc);

/* ---------------------------------------------------------------- conveniences */

/* The same operations over plain host arrays: copy in, run, copy out, wait. Their device
 * buffers stay with the context for later calls (fresh memory costs more than the copies
 * on some devices): idle ones up to 256 MiB and 16 buffers, the least recently used freed
 * first, all of them by kiln_ctx_destroy; calls from several threads never share one. */
KILN_API kiln_status kiln_vadd_host(kiln_ctx *ctx, const float *a, const float *b, float *c,
                                    size_t n);
KILN_API kiln_status kiln_sigmoid_host(kiln_ctx *ctx, const float *x, float *y, size_t n);
KILN_API kiln_status kiln_matmul_host(kiln_ctx *ctx, size_t m, size_t n, size_t k,
                                      const float *a, const float *b, float *c);
KILN_API kiln_status kiln_dense_host(kiln_ctx *ctx, const float *w, const float *x,
                                     const float *bias, float *y, size_t out, size_t in,
                                     size_t batch, kiln_act act);

#ifdef __cplusplus
}
#endif
#endif /* KILN_KILN_H */
