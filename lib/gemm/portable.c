/* The portable GEMM back end: on CPUs cl/gemm_cpu.cl (gemm/cpu.c), elsewhere
 * cl/gemm_block.cl for shapes made of whole blocks with float4-aligned f32 matrices, and
 * cl/gemm.cl for everything else, each with a tile shape the dispatcher picks. The CPU
 * kernel is float-only (it keeps partial sums in C), so on CPUs calls with f16 or bf16
 * operands take cl/gemm.cl. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static void gemm_options(const struct gemm_config *config, kiln_trans ta, kiln_trans tb,
                         kiln_act act, char *options, size_t size)
{
    snprintf(options, size,
             "-DTILE_M=%u -DTILE_N=%u -DTILE_K=%u -DWPT_M=%u -DWPT_N=%u -DTRANS_A=%d "
             "-DTRANS_B=%d -DACT=%d",
             config->tile_m, config->tile_n, config->tile_k, config->wpt_m, config->wpt_n,
             (int)ta, (int)tb, (int)act);
}

/* cl/gemm.cl's options for the call: the tile, transposes, epilogue and element types. */
static void portable_options(const struct gemm_config *config, const struct gemm_call *call,
                             char *options, size_t size)
{
    gemm_options(config, call->ta, call->tb, call->act, options, size);
    gemm_type_options(call, options, size);
}

/* cl/gemm_block.cl's options: a batch loop only for batches, as the loop costs a
 * single product registers (168 against 127 at 128x128 on the H100). */
static void block_options(const struct gemm_config *config, const struct gemm_call *call,
                          char *options, size_t size)
{
    gemm_options(config, call->ta, call->tb, call->act, options, size);
    size_t used = strlen(options);
    snprintf(options + used, size - used, " -DBATCHED=%d", call->batch > 1);
    gemm_type_options(call, options, size);
}

kiln_status gemm_portable_pick(kiln_ctx *ctx, const struct gemm_call *call,
                               struct gemm_kernel *out)
{
    out->kind = GEMM_KIND_PORTABLE;
    out->max_threads = ctx->limits.max_work_group_size;
    for (;;) {
        out->config = plan_gemm_config(&ctx->limits, out->max_threads);
        if (out->config == NULL)
            return fail(ctx, KILN_ERR_CL,
                        "no GEMM tile fits this device (max work-group %zu, local memory "
                        "%zu bytes)",
                        ctx->limits.max_work_group_size, ctx->limits.local_mem_bytes);
        const struct gemm_config *config = out->config;
        portable_options(config, call, out->options, sizeof(out->options));
        CHECK(kernel_get(ctx, "gemm", out->options, "gemm", &out->kernel));
        size_t threads = gemm_config_threads(config);
        if (out->kernel->limits.work_group_size >= threads)
            return KILN_OK;
        out->max_threads = threads - 1;
    }
}

/* Every matrix of the batch starts, and has its rows, where cl/gemm_block.cl can move
 * four elements at once: f32 on a float4 boundary; f16 and bf16 anywhere (vload_half4
 * and vload4 need only their own alignment, and C's 16-bit stores go one by one). */
static bool float4_aligned(const kiln_buf *buf, kiln_dtype type, size_t ld, size_t stride)
{
    return type != KILN_DTYPE_F32 ||
           (buf->offset % (4 * sizeof(float)) == 0 && ld % 4 == 0 && stride % 4 == 0);
}

static bool call_aligned(const struct gemm_call *call)
{
    return float4_aligned(call->a, call->a_type, call->lda, call->stride_a) &&
           float4_aligned(call->b, call->a_type, call->ldb, call->stride_b) &&
           float4_aligned(call->c, call->c_type, call->ldc, call->stride_c);
}

/* The shape and alignment half of the decision: no OpenCL call. */
static enum gemm_block_verdict gemm_block_config(const kiln_ctx *ctx,
                                                 const struct gemm_call *call,
                                                 size_t max_threads,
                                                 const struct gemm_config **config)
{
    *config = NULL;
    if (ctx->limits.family == FAMILY_CPU && !gemm_call_is_f32(call))
        return GEMM_BLOCK_ON_CPU;
    if (call->alpha == 0.0f)
        return GEMM_BLOCK_ALPHA_ZERO;
    if (!call_aligned(call))
        return GEMM_BLOCK_UNALIGNED;
    *config = plan_gemm_block_config(&ctx->limits, max_threads, call->m, call->n, call->k);
    return *config != NULL ? GEMM_BLOCK_USED : GEMM_BLOCK_NO_TILE;
}

kiln_status gemm_block_pick(kiln_ctx *ctx, const struct gemm_call *call,
                            struct gemm_kernel *out, enum gemm_block_verdict *verdict)
{
    /* A built kernel may allow fewer work-items than its tile has (registers): then
     * the next smaller tile is tried, and with none left the call goes to gemm.cl. */
    size_t max_threads = ctx->limits.max_work_group_size;
    bool limited = false;
    for (;;) {
        const struct gemm_config *config;
        *verdict = gemm_block_config(ctx, call, max_threads, &config);
        if (*verdict != GEMM_BLOCK_USED) {
            if (limited && *verdict == GEMM_BLOCK_NO_TILE)
                *verdict = GEMM_BLOCK_KERNEL_LIMIT;
            return KILN_OK;
        }
        struct gemm_kernel picked = {GEMM_KIND_BLOCK, config, NULL, max_threads, ""};
        block_options(config, call, picked.options, sizeof(picked.options));
        CHECK(kernel_get(ctx, "gemm_block", picked.options, "gemm_block", &picked.kernel));
        *out = picked;
        size_t threads = gemm_config_threads(config);
        if (picked.kernel->limits.work_group_size >= threads)
            return KILN_OK;
        limited = true;
        max_threads = threads - 1;
    }
}

/* Whether the kernel of this kind can run the call with this tile on the device. */
static bool config_suits(const kiln_ctx *ctx, const struct gemm_call *call, enum gemm_kind kind,
                         const struct gemm_config *config)
{
    size_t limit = ctx->limits.max_work_group_size;
    if (!gemm_config_valid(config, kind))
        return false;
    switch (kind) {
    case GEMM_KIND_BLOCK:
        return call->alpha != 0.0f && call_aligned(call) &&
               gemm_block_fits(&ctx->limits, limit, config, call->m, call->n, call->k);
    case GEMM_KIND_CPU:
        return gemm_cpu_applies(call) && gemm_cpu_fits(&ctx->limits, config);
    default:
        return gemm_config_fits(&ctx->limits, limit, config);
    }
}

/* The kernel of this kind built with this tile for the call, or KILN_ERR_ARG when the
 * tile does not suit the kernel, the device or the call, or the built kernel allows
 * fewer work-items than the tile has. */
static kiln_status config_kernel(kiln_ctx *ctx, const struct gemm_call *call,
                                 enum gemm_kind kind, const struct gemm_config *config,
                                 struct gemm_kernel *out)
{
    if (!config_suits(ctx, call, kind, config))
        return fail(ctx, KILN_ERR_ARG, "%s tile %ux%ux%u %ux%u does not suit this device "
                    "or a %zux%zux%zu call", gemm_kind_name(kind), config->tile_m,
                    config->tile_n, config->tile_k, config->wpt_m, config->wpt_n, call->m,
                    call->n, call->k);
    if (kind == GEMM_KIND_CPU) /* one work-item per work-group: any kernel takes it */
        return gemm_cpu_build(ctx, call, config, out);
    size_t limit = ctx->limits.max_work_group_size;
    bool block = kind == GEMM_KIND_BLOCK;
    struct gemm_kernel picked = {kind, config, NULL, limit, ""};
    const char *source = block ? "gemm_block" : "gemm";
    if (block)
        block_options(config, call, picked.options, sizeof(picked.options));
    else
        portable_options(config, call, picked.options, sizeof(picked.options));
    CHECK(kernel_get(ctx, source, picked.options, source, &picked.kernel));
    if (picked.kernel->limits.work_group_size < gemm_config_threads(config))
        return fail(ctx, KILN_ERR_ARG, "the %s kernel of tile %ux%ux%u allows %zu work-items, "
                    "fewer than its %zu", gemm_kind_name(kind), config->tile_m, config->tile_n,
                    config->tile_k, picked.kernel->limits.work_group_size,
                    gemm_config_threads(config));
    *out = picked;
    return KILN_OK;
}

/* kiln-tune's tile for the call's shape, if one is stored and works here (*tile holds
 * it); one that does not is given up for the table, silently but counted. */
static bool tuned_pick(kiln_ctx *ctx, const struct gemm_call *call, struct gemm_config *tile,
                       struct gemm_kernel *out)
{
    struct tuned_entry entry;
    size_t index;
    if (!gemm_call_is_f32(call)) /* kiln-tune times float calls only */
        return false;
    unsigned kinds = GEMM_KIND_BIT(GEMM_KIND_PORTABLE);
    if (call->alpha != 0.0f && call_aligned(call))
        kinds |= GEMM_KIND_BIT(GEMM_KIND_BLOCK);
    if (gemm_cpu_applies(call))
        kinds |= GEMM_KIND_BIT(GEMM_KIND_CPU);
    if (!tuning_lookup(ctx, kinds, call->m, call->n, call->k, &entry, &index))
        return false;
    *tile = entry.config;
    if (config_kernel(ctx, call, entry.kind, tile, out) != KILN_OK) {
        tuning_mark_broken(ctx, index);
        return false;
    }
    atomic_fetch_add(&ctx->tuning.used, 1);
    return true;
}

/* A tuned tile, else on CPUs the CPU kernel's table, else the block kernel's, else the
 * portable kernel's. */
static kiln_status gemm_pick(kiln_ctx *ctx, const struct gemm_call *call,
                             struct gemm_config *tile, struct gemm_kernel *out)
{
    if (tuned_pick(ctx, call, tile, out))
        return KILN_OK;
    if (ctx->limits.family == FAMILY_CPU) {
        bool used;
        CHECK(gemm_cpu_pick(ctx, call, out, &used));
        if (used)
            return KILN_OK;
    }
    enum gemm_block_verdict verdict;
    CHECK(gemm_block_pick(ctx, call, out, &verdict));
    if (verdict != GEMM_BLOCK_USED)
        CHECK(gemm_portable_pick(ctx, call, out));
    return KILN_OK;
}

/* What a forced run names: a kernel and its tile. */
struct forced_tile {
    enum gemm_kind kind;
    const struct gemm_config *config;
};

/* The call with the dispatcher's kernel, or the forced one (NULL: none). */
static kiln_status gemm_enqueue_with(kiln_ctx *ctx, const struct gemm_call *call,
                                     const struct forced_tile *forced)
{
    if (forced == NULL && gemv_applies(call)) /* a matrix-vector product: read A once */
        return gemv_enqueue(ctx, call);
    struct gemm_config tile;
    struct gemm_kernel picked;
    CHECK(forced != NULL ? config_kernel(ctx, call, forced->kind, forced->config, &picked)
                         : gemm_pick(ctx, call, &tile, &picked));
    struct launch plan = picked.kind == GEMM_KIND_CPU
                             ? plan_gemm_cpu(picked.config, call->m, call->n, call->batch)
                             : plan_gemm(picked.config, call->m, call->n, call->batch);

    return gemm_launch(ctx, picked.kernel, &plan, call);
}

kiln_status gemm_portable_enqueue(kiln_ctx *ctx, const struct gemm_call *call)
{
    return gemm_enqueue_with(ctx, call, NULL);
}

kiln_status gemm_run_config(kiln_ctx *ctx, const struct gemm_call *call, enum gemm_kind kind,
                            const struct gemm_config *config)
{
    const struct forced_tile forced = {kind, config};
    return gemm_enqueue_with(ctx, call, &forced);
}
