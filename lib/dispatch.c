/* The dispatcher: global and local sizes as pure functions of the device's limits,
 * the kernel's own limits and the problem's shape. No OpenCL call is made here. */
#include "internal.h"

/* Work-groups per compute unit that a 2-D grid-stride launch aims for: enough to hide
 * latency, few enough that each work-item loops over several blocks. */
enum { WAVES_PER_UNIT = 8, ELEMENTWISE_LOCAL = 256 };

/* Elementwise launches give each work-item one step (a float4) up to this many
 * work-groups, and stride beyond. Measured: on PoCL a grid of a few waves ran vadd at
 * 1-2 GB/s, one float4 per work-item at 23 GB/s (each work-group is a vectorised loop
 * over neighbouring items); on the H100 one float4 per work-item also beat a persistent
 * grid (shared/gpu/README.md). 2^20 groups of 256 cover 2^30 float4s. */
enum { ELEMENTWISE_MAX_GROUPS = 1 << 20 };

/* CUDA-based drivers allow 65535 work-groups in the second and third dimension; GEMM
 * kernels stride over tiles and batches, so capping every dimension there costs
 * nothing. */
enum { MAX_GROUPS_PER_DIM = 65535 };

/* cl/gemm_cpu.cl: at most this many floats of register tile (AVX-512 has 512 in all),
 * and blocks per compute unit its tile choice aims for. */
enum { CPU_TILE_MAX = 512, CPU_BLOCKS_PER_UNIT = 4 };

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

static size_t ceil_div(size_t a, size_t b)
{
    return a / b + (a % b != 0);
}

/* The most work-items a group of this kernel may have on this device (at least 1). */
static size_t group_limit(const struct device_limits *device, const struct kernel_limits *kernel)
{
    size_t limit = min_size(device->max_work_group_size, kernel->work_group_size);
    return limit > 0 ? limit : 1;
}

/* The device's compute units, at least one (a driver may report none). */
static size_t unit_count(const struct device_limits *device)
{
    return device->compute_units > 0 ? device->compute_units : 1;
}

static size_t group_cap(const struct device_limits *device)
{
    return unit_count(device) * WAVES_PER_UNIT;
}

struct launch plan_elementwise(const struct device_limits *device,
                               const struct kernel_limits *kernel, size_t n)
{
    size_t local = min_size(group_limit(device, kernel), ELEMENTWISE_LOCAL);
    local = min_size(local, device->max_work_item_sizes[0] > 0 ? device->max_work_item_sizes[0] : 1);
    size_t multiple = kernel->preferred_multiple;
    if (multiple > 1 && local >= multiple)
        local -= local % multiple;
    size_t groups = min_size(ceil_div(n > 0 ? n : 1, local), ELEMENTWISE_MAX_GROUPS);
    return (struct launch){1, {groups * local, 1}, {local, 1}};
}

/* cl/bias_act.cl: groups of up to BIAS_ACT_WIDTH work-items along a row (coalesced) by
 * rows, ELEMENTWISE_LOCAL items in all, a step (a float4, or a float where x and y are
 * off each other's phase) per work-item up to the elementwise launches' group count;
 * `steps` is a row's. */
enum { BIAS_ACT_WIDTH = 64 };

struct launch plan_bias_act(const struct device_limits *device,
                            const struct kernel_limits *kernel, size_t rows, size_t steps)
{
    size_t limit = min_size(group_limit(device, kernel), ELEMENTWISE_LOCAL);
    size_t width = 1, lanes = 1;
    while (width < steps && width * 2 <= min_size(limit, BIAS_ACT_WIDTH) &&
           width * 2 <= device->max_work_item_sizes[0])
        width *= 2;
    while (lanes < rows && width * lanes * 2 <= limit &&
           lanes * 2 <= device->max_work_item_sizes[1])
        lanes *= 2;
    size_t gx = min_size(ceil_div(steps > 0 ? steps : 1, width), ELEMENTWISE_MAX_GROUPS);
    size_t gy = min_size(ceil_div(rows > 0 ? rows : 1, lanes), MAX_GROUPS_PER_DIM);
    gy = min_size(gy, ELEMENTWISE_MAX_GROUPS / gx > 0 ? ELEMENTWISE_MAX_GROUPS / gx : 1);
    return (struct launch){2, {gx * width, gy * lanes}, {width, lanes}};
}

/* cl/softmax_xent.cl: a group per row, a few waves per compute unit and never more
 * groups than the context's partials hold (one partial each). */
struct launch plan_softmax_xent(const struct device_limits *device, size_t local, size_t rows)
{
    size_t groups = min_size(min_size(rows > 0 ? rows : 1, group_cap(device)), SUM_MAX_PARTIALS);
    return (struct launch){1, {groups * local, 1}, {local, 1}};
}

/* Tiles of cl/geam.cl, largest first: a TILE×TILE block moved by TILE×ROWS items. */
static const struct geam_config geam_configs[] = {{32, 8}, {16, 4}, {8, 2}, {4, 1}, {1, 1}};

static size_t geam_config_local_bytes(const struct geam_config *config)
{
    return 2 * sizeof(float) * config->tile * (config->tile + 1);
}

const struct geam_config *plan_geam_config(const struct device_limits *device,
                                           size_t max_threads)
{
    size_t limit = min_size(max_threads, device->max_work_group_size);
    for (size_t i = 0; i < sizeof(geam_configs) / sizeof(geam_configs[0]); ++i) {
        const struct geam_config *config = &geam_configs[i];
        if ((size_t)config->tile * config->rows <= limit &&
            config->tile <= device->max_work_item_sizes[0] &&
            config->rows <= device->max_work_item_sizes[1] &&
            geam_config_local_bytes(config) <= device->local_mem_bytes)
            return config;
    }
    return NULL;
}

struct launch plan_geam(const struct device_limits *device, const struct geam_config *config,
                        size_t rows, size_t cols)
{
    size_t cap = group_cap(device);
    size_t gx = min_size(min_size(ceil_div(cols > 0 ? cols : 1, config->tile), cap),
                         MAX_GROUPS_PER_DIM);
    size_t gy = min_size(min_size(ceil_div(rows > 0 ? rows : 1, config->tile),
                                  cap / gx > 0 ? cap / gx : 1),
                         MAX_GROUPS_PER_DIM);
    return (struct launch){2, {gx * config->tile, gy * config->rows}, {config->tile, config->rows}};
}

size_t gemm_config_threads(const struct gemm_config *config)
{
    return (size_t)(config->tile_m / config->wpt_m) * (config->tile_n / config->wpt_n);
}

/* Each row of the two tiles is padded by one float. */
size_t gemm_config_local_bytes(const struct gemm_config *config)
{
    return sizeof(float) * config->tile_k * (config->tile_m + config->tile_n + 2);
}

bool gemm_config_valid(const struct gemm_config *config, enum gemm_kind kind)
{
    /* The bound keeps local-memory sizes far from overflow for tiles read from a file. */
    const unsigned values[] = {config->tile_m, config->tile_n, config->tile_k, config->wpt_m,
                               config->wpt_n};
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); ++i)
        if (values[i] == 0 || values[i] > GEMM_PARAM_MAX)
            return false;
    if (config->tile_m % config->wpt_m != 0 || config->tile_n % config->wpt_n != 0)
        return false;
    /* cl/gemm_block.cl moves float4 pieces: register tiles and k steps of whole ones. */
    if (kind == GEMM_KIND_BLOCK)
        return config->wpt_m % 4 == 0 && config->wpt_n % 4 == 0 && config->tile_k % 4 == 0;
    /* cl/gemm_cpu.cl's register tile is rows of whole vectors, and stays in registers. */
    if (kind == GEMM_KIND_CPU)
        return config->wpt_n % 4 == 0 && config->wpt_m * config->wpt_n <= CPU_TILE_MAX;
    return true;
}

bool gemm_config_fits(const struct device_limits *device, size_t max_threads,
                      const struct gemm_config *config)
{
    size_t lx = config->tile_n / config->wpt_n, ly = config->tile_m / config->wpt_m;
    return gemm_config_threads(config) <= min_size(max_threads, device->max_work_group_size) &&
           lx <= device->max_work_item_sizes[0] && ly <= device->max_work_item_sizes[1] &&
           gemm_config_local_bytes(config) <= device->local_mem_bytes;
}

const struct gemm_config *plan_gemm_config(const struct device_limits *device,
                                           size_t max_threads)
{
    for (size_t i = 0; i < gemm_portable_config_count; ++i)
        if (gemm_config_fits(device, max_threads, &gemm_portable_configs[i]))
            return &gemm_portable_configs[i];
    return NULL;
}

/* A 2-D plan with the batch as its third dimension when there is more than one. */
static struct launch batched(struct launch plan, size_t batch)
{
    plan.global[2] = min_size(batch > 0 ? batch : 1, MAX_GROUPS_PER_DIM);
    plan.local[2] = 1;
    if (plan.global[2] > 1)
        plan.dims = 3;
    return plan;
}

struct launch plan_gemm(const struct gemm_config *config, size_t m, size_t n, size_t batch)
{
    size_t lx = config->tile_n / config->wpt_n, ly = config->tile_m / config->wpt_m;
    size_t gx = min_size(ceil_div(n > 0 ? n : 1, config->tile_n), MAX_GROUPS_PER_DIM);
    size_t gy = min_size(ceil_div(m > 0 ? m : 1, config->tile_m), MAX_GROUPS_PER_DIM);
    return batched((struct launch){2, {gx * lx, gy * ly}, {lx, ly}}, batch);
}

struct launch plan_gemm_tc(size_t threads, size_t tile_m, size_t tile_n, size_t m, size_t n,
                          size_t batch)
{
    size_t gx = min_size(ceil_div(n > 0 ? n : 1, tile_n), MAX_GROUPS_PER_DIM);
    size_t gy = min_size(ceil_div(m > 0 ? m : 1, tile_m), MAX_GROUPS_PER_DIM);
    return batched((struct launch){2, {gx * threads, gy}, {threads, 1}}, batch);
}

struct launch plan_tf32_pack(const struct device_limits *device, size_t rows, size_t k,
                             size_t batch)
{
    const struct geam_config tile = {TF32_PACK_TILE, TF32_PACK_ROWS};
    return batched(plan_geam(device, &tile, rows, k), batch);
}

/* Local memory of cl/gemm_block.cl: two k-major slices of A and B, double-buffered. */
static size_t gemm_block_local_bytes(const struct gemm_config *config)
{
    return 2 * sizeof(float) * config->tile_k * (config->tile_m + config->tile_n);
}

/* A tile of cl/gemm_block.cl's layout (also cl/conv2d_implicit.cl's) fits the device's
 * work-group and local memory, whatever the shape. */
static bool block_tile_fits(const struct device_limits *device, size_t max_threads,
                            const struct gemm_config *config)
{
    size_t lx = config->tile_n / config->wpt_n, ly = config->tile_m / config->wpt_m;
    return gemm_config_threads(config) <= min_size(max_threads, device->max_work_group_size) &&
           lx <= device->max_work_item_sizes[0] && ly <= device->max_work_item_sizes[1] &&
           gemm_block_local_bytes(config) <= device->local_mem_bytes;
}

bool gemm_block_fits(const struct device_limits *device, size_t max_threads,
                     const struct gemm_config *config, size_t m, size_t n, size_t k)
{
    return block_tile_fits(device, max_threads, config) && k > 0 &&
           m % config->tile_m == 0 && n % config->tile_n == 0 && k % config->tile_k == 0 &&
           m / config->tile_m <= MAX_GROUPS_PER_DIM && n / config->tile_n <= MAX_GROUPS_PER_DIM;
}

const struct gemm_config *plan_gemm_block_config(const struct device_limits *device,
                                                 size_t max_threads, size_t m, size_t n,
                                                 size_t k)
{
    /* The largest tile that still gives three of four compute units a block (on the
     * H100 128 blocks of 128x64 at 1024 beat 256 of 64x64); failing that, the smallest
     * that fits, for the most blocks. */
    const struct gemm_config *chosen = NULL;
    struct gemm_table table = gemm_block_table(device);
    for (size_t i = 0; i < table.count; ++i) {
        const struct gemm_config *config = &table.configs[i];
        if (!gemm_block_fits(device, max_threads, config, m, n, k))
            continue;
        chosen = config;
        if (4 * (m / config->tile_m) * (n / config->tile_n) >= 3 * device->compute_units)
            break;
    }
    return chosen;
}

/* ---- cl/conv2d_implicit.cl */

bool conv2d_implicit_fits(const struct device_limits *device, size_t max_threads,
                          const struct gemm_config *config, size_t m, size_t n)
{
    size_t threads = gemm_config_threads(config);
    /* The kernel stages whole columns of B and, of W, a run of k's within one row of the
     * slice per work-item. */
    size_t w_share = (size_t)config->tile_m * config->tile_k / threads;
    bool stages = threads % config->tile_n == 0 &&
                  config->tile_k % (threads / config->tile_n) == 0 &&
                  (size_t)config->tile_m * config->tile_k % threads == 0 && w_share > 0 &&
                  config->tile_k % w_share == 0;
    return gemm_config_valid(config, GEMM_KIND_BLOCK) && stages &&
           block_tile_fits(device, max_threads, config) && m > 0 && n > 0 &&
           ceil_div(m, config->tile_m) <= MAX_GROUPS_PER_DIM &&
           ceil_div(n, config->tile_n) <= MAX_GROUPS_PER_DIM;
}

/* The blocks of a tile over an m×n C, the edges' partial ones among them. */
static size_t implicit_blocks(const struct gemm_config *config, size_t m, size_t n)
{
    return ceil_div(m, config->tile_m) * ceil_div(n, config->tile_n);
}

/* The padded product a tile computes for an m×n C: whole blocks. */
static size_t padded_area(const struct gemm_config *config, size_t m, size_t n)
{
    return implicit_blocks(config, m, n) * config->tile_m * config->tile_n;
}

/* Below this many implicit-GEMM blocks per compute unit a GPU convolution takes im2col.
 * On the H200 (132 SMs), batch 32, fp32 STRICT, TFLOP/s implicit vs im2col: 64→64 56×56
 * 3×3 29.39 vs 9.30 (784 blocks of 64x128), 256→256 14×14 3×3 22.36 vs 19.67 (196),
 * 256→1024 14×14 1×1 21.24 vs 14.75 (392 of 128x128), 512→512 7×7 3×3 17.61 vs 21.63
 * (104 of 64x128: 28 SMs idle, where im2col's GEMMs fill them). */
enum { CONV2D_IMPLICIT_BLOCKS_PER_UNIT = 1 };

bool conv2d_implicit_fills(const struct device_limits *device,
                           const struct gemm_config *config, size_t m, size_t n, size_t splits)
{
    return implicit_blocks(config, m, n) * splits >=
           CONV2D_IMPLICIT_BLOCKS_PER_UNIT * (size_t)device->compute_units;
}

/* Split-K of the implicit GEMM (cl/conv2d_implicit.cl's SPLIT build and cl/conv2d_split.cl):
 * a GPU whose compute units outnumber half the blocks gets its k's split into the fewest
 * ranges that make CONV2D_SPLIT_BLOCKS_PER_UNIT blocks per unit, at most
 * CONV2D_SPLITS_MAX, each range CONV2D_SPLIT_TAPS_MIN k's or more, so that the partial
 * sums written and read back (splits·m·n floats twice) stay small beside the product's
 * m·n·k FMAs. On the H200 (132 SMs, three 64x128 work-groups per SM): 256→256 14×14 3×3
 * at batch 32 has 196 blocks, k 2304: two splits of 1152, 392 blocks, about one wave;
 * 512→512 7×7 3×3 has 104, k 4608: three of 1536, 312 blocks. Timed there (kiln-bench,
 * $KILN_CONV2D_SPLIT, TFLOP/s for 1 / 2 / 3 / 4 splits): 256→256 22.47 / 28.13 / 23.86 /
 * 26.66, 512→512 17.64 / 19.17 / 21.45 / 18.72 (im2col 21.58), 256→1024 14×14 1×1 (392
 * blocks of 128x128, not split) 21.17 / 15.69 / 14.28 / 13.51. */
enum { CONV2D_SPLIT_BLOCKS_PER_UNIT = 2, CONV2D_SPLITS_MAX = 8, CONV2D_SPLIT_TAPS_MIN = 256 };

size_t conv2d_implicit_splits(const struct device_limits *device,
                              const struct gemm_config *config, size_t m, size_t n, size_t k,
                              size_t most)
{
    const size_t blocks = implicit_blocks(config, m, n);
    const size_t wanted = CONV2D_SPLIT_BLOCKS_PER_UNIT * (size_t)device->compute_units;
    most = min_size(most, CONV2D_SPLITS_MAX);
    size_t splits = 1;
    while (blocks * splits < wanted && splits < most &&
           k / (splits + 1) >= CONV2D_SPLIT_TAPS_MIN)
        ++splits;
    return splits;
}

size_t plan_conv2d_split(size_t k, size_t tile_k, size_t splits, size_t *split_taps)
{
    /* Beyond k's slices a range is one slice, and k's own slices are the ranges. */
    splits = min_size(splits > 0 ? splits : 1, MAX_GROUPS_PER_DIM);
    *split_taps = ceil_div(ceil_div(k, tile_k), splits) * tile_k;
    return ceil_div(k, *split_taps);
}

/* At TF32, unfolding a k×k convolution's images for the tensor cores pays only with
 * filters enough to fill the tf32 GEMM's 128-row tiles. On the H200, batch 32, TFLOP/s
 * at TF32 (im2col, then the tf32 GEMM with its columns packed) vs the fp32 implicit GEMM:
 * 64→64 56×56 3×3 9.29 vs 29.42; 256→256 14×14 3×3 28.64 vs 22.45; 512→512 7×7 3×3
 * 32.60 vs 21.63 (im2col at STRICT). A 1×1 convolution reads x as it is (no unfolding):
 * 256→1024 14×14 72.89 vs 21.22. */
enum { CONV2D_TENSOR_FILTERS_MIN = 128 };

bool conv2d_unfolding_pays(size_t filters)
{
    return filters >= CONV2D_TENSOR_FILTERS_MIN;
}

const struct gemm_config *plan_conv2d_implicit_config(const struct device_limits *device,
                                                      size_t max_threads, size_t m, size_t n)
{
    /* The first tile that wastes at most an eighth of its blocks on C's edges (64
     * filters leave half of a 128-row tile idle) and gives the compute units the blocks
     * the table's fill asks (by default three of four units one, as
     * plan_gemm_block_config); failing that, the tile of the least padded work, the
     * smaller of equals (more blocks). */
    const struct gemm_config *least = NULL;
    struct gemm_table table = conv2d_implicit_table(device);
    for (size_t i = 0; i < table.count; ++i) {
        const struct gemm_config *config = &table.configs[i];
        if (!conv2d_implicit_fits(device, max_threads, config, m, n))
            continue;
        size_t padded = padded_area(config, m, n);
        size_t blocks = implicit_blocks(config, m, n);
        size_t fill = table.fill != NULL ? table.fill[i] : 3;
        if (8 * (padded - m * n) <= padded && 4 * blocks >= fill * device->compute_units)
            return config;
        if (least == NULL || padded <= padded_area(least, m, n))
            least = config;
    }
    return least;
}

/* ---- cl/gemm_cpu.cl */

/* Packed slices of op(A) (tile_m × tile_k) and op(B) (tile_k × tile_n). */
static size_t gemm_cpu_local_bytes(const struct gemm_config *config)
{
    return sizeof(float) * config->tile_k * ((size_t)config->tile_m + config->tile_n);
}

bool gemm_cpu_fits(const struct device_limits *device, const struct gemm_config *config)
{
    return gemm_cpu_local_bytes(config) <= device->local_mem_bytes;
}

/* The device's native float vector, as the CPU kernel can use it: 4, 8 or 16. */
static unsigned cpu_native_width(const struct device_limits *device)
{
    unsigned width = 16;
    while (width > 4 && width > device->vector_width)
        width /= 2;
    return width;
}

unsigned gemm_cpu_vector_width(const struct device_limits *device,
                               const struct gemm_config *config)
{
    unsigned width = cpu_native_width(device);
    while (width > 4 && config->wpt_n % width != 0)
        width /= 2;
    return width;
}

const struct gemm_config *plan_gemm_cpu_config(const struct device_limits *device, size_t m,
                                               size_t n)
{
    /* Two vectors a row keep MR·2 accumulators and the B row in the register file of
     * either width (6 rows: 12 of AVX2's 16 ymm, of AVX-512's 32 zmm). Blocks are
     * handed to PoCL's threads whole, so a few per compute unit balance the load. */
    struct gemm_table table = gemm_cpu_table();
    size_t units = unit_count(device);
    const struct gemm_config *chosen = NULL;
    for (size_t i = 0; i < table.count; ++i) {
        const struct gemm_config *config = &table.configs[i];
        if (config->wpt_n != 2 * cpu_native_width(device) || !gemm_cpu_fits(device, config))
            continue;
        chosen = config;
        if (ceil_div(m, config->tile_m) * ceil_div(n, config->tile_n) >=
            CPU_BLOCKS_PER_UNIT * units)
            break;
    }
    return chosen;
}

struct launch plan_gemm_cpu(const struct gemm_config *config, size_t m, size_t n,
                            size_t batch)
{
    size_t gx = min_size(ceil_div(n > 0 ? n : 1, config->tile_n), MAX_GROUPS_PER_DIM);
    size_t gy = min_size(ceil_div(m > 0 ? m : 1, config->tile_m), MAX_GROUPS_PER_DIM);
    return batched((struct launch){2, {gx, gy}, {1, 1}}, batch);
}

/* GEMV work-groups: at most this many work-items (a reduction tree of 8 steps), and
 * at least this many along a row or a column where the device allows it. */
enum { GEMV_LOCAL = 256, GEMV_MIN_LANES = 8, GEMV_COALESCED = 32 };

static size_t floor_pow2(size_t n)
{
    size_t p = 1;
    while (p <= n / 2)
        p *= 2;
    return p;
}

static size_t ceil_pow2(size_t n)
{
    size_t p = 1;
    while (p < n)
        p *= 2;
    return p;
}

static size_t max_size(size_t a, size_t b)
{
    return a > b ? a : b;
}

struct gemv_config plan_gemv_config(const struct device_limits *device, size_t max_threads,
                                    bool row_major, size_t rows, size_t cols)
{
    /* The reduction holds a float per work-item in local memory. */
    size_t threads = floor_pow2(min_size(min_size(max_threads, device->max_work_group_size),
                                         min_size(GEMV_LOCAL,
                                                  device->local_mem_bytes / sizeof(float))));
    size_t x_cap = min_size(threads, floor_pow2(device->max_work_item_sizes[0]));
    size_t y_cap = floor_pow2(device->max_work_item_sizes[1]);
    size_t lx;
    if (row_major && device->family == FAMILY_CPU) {
        /* A row per work-item: PoCL runs a group's work-items in one thread, and its
         * cores stream rows best whole (measured, 4096²: 1×256 about 20 GB/s, 16×16 and
         * wider 6 to 14 GB/s: the reduction's barriers cost more than they share). */
        lx = 1;
    } else if (row_major) {
        /* Work-items along a row, a float4 each, for as much of the row as fits. */
        lx = min_size(max_size(ceil_pow2(ceil_div(cols, 4)), GEMV_MIN_LANES), x_cap);
    } else {
        /* A work-item per output row; fewer of them per group while that leaves compute
         * units idle, down to a coalesced segment of a column. */
        lx = min_size(max_size(ceil_pow2(rows), GEMV_MIN_LANES), x_cap);
        while (lx > GEMV_COALESCED && ceil_div(rows, lx) < device->compute_units)
            lx /= 2;
    }
    size_t ly = min_size(threads / lx, y_cap);
    return (struct gemv_config){(unsigned)lx, (unsigned)(ly > 0 ? ly : 1)};
}

struct launch plan_gemv(const struct gemv_config *config, bool row_major, size_t rows,
                        size_t batch)
{
    size_t block = row_major ? config->local_y : config->local_x;
    size_t groups = min_size(ceil_div(rows > 0 ? rows : 1, block), MAX_GROUPS_PER_DIM);
    if (row_major)
        return batched((struct launch){2, {config->local_x, groups * config->local_y},
                                       {config->local_x, config->local_y}},
                       batch);
    return batched((struct launch){2, {groups * config->local_x, config->local_y},
                                   {config->local_x, config->local_y}},
                   batch);
}

/* ---- row-wise kernels: cl/reduce.cl, cl/softmax.cl, cl/norm.cl */

/* Work-items of a row group: enough for a wide row's float4s, few enough that the tree
 * stays 8 steps; the kernels loop for the rest. The second pass over partials spans at
 * most PARTIALS_WIDTH results (its rows are short: a wider group would leave few groups),
 * and on GPUs fewer, for lanes enough that each folds at most PARTS_PER_LANE parts.
 * A team gets a row's float4s this many to an item, so short rows share a group. A piece
 * of a row or a chunk of a column gives each lane at least this many float4s or rows, so
 * splitting pays for its partials. */
enum {
    ROW_LOCAL = 256,
    ROW_MAX_GROUPS = 1 << 20,
    PARTIALS_WIDTH = 32,
    PARTS_PER_LANE = 8,
    ROW_QUADS_PER_ITEM = 8,
    PIECE_QUADS_PER_ITEM = 2,
    CHUNK_ROWS_PER_LANE = 4,
};

/* The most items a row group may have, a power of two up to cap. */
static size_t row_items(const struct device_limits *device, size_t max_threads,
                        size_t bytes_per_item, size_t cap)
{
    size_t limit = min_size(min_size(max_threads, device->max_work_group_size), cap);
    limit = min_size(limit, device->max_work_item_sizes[0]);
    if (bytes_per_item > 0)
        limit = min_size(limit, device->local_mem_bytes / bytes_per_item);
    return floor_pow2(limit > 0 ? limit : 1);
}

size_t plan_row_local(const struct device_limits *device, size_t max_threads,
                      size_t bytes_per_item)
{
    return row_items(device, max_threads, bytes_per_item, ROW_LOCAL);
}

struct launch plan_rows(size_t local, size_t rows)
{
    size_t groups = min_size(rows > 0 ? rows : 1, ROW_MAX_GROUPS);
    return (struct launch){1, {groups * local, 1}, {local, 1}};
}

struct launch plan_row_teams(const struct device_limits *device, size_t local, size_t rows,
                             size_t cols)
{
    /* PoCL runs a group's items in turn, each striding along the row: there, narrower
     * teams measured slower for rows longer than the group (row_sum 4096² 315 ms against
     * 233 ms), so only rows shorter than it share a group. */
    size_t per_item = device->family == FAMILY_CPU ? 1 : ROW_QUADS_PER_ITEM;
    size_t team = min_size(ceil_pow2(ceil_div(ceil_div(cols, 4), per_item)), local);
    size_t teams = min_size(local / team, floor_pow2(device->max_work_item_sizes[1]));
    size_t groups = min_size(ceil_div(rows > 0 ? rows : 1, teams), ROW_MAX_GROUPS);
    return (struct launch){2, {groups * team, teams}, {team, teams}};
}

/* The row-wise kernels' values per device family (struct row_params says what each is).
 * NVIDIA (H200: 132 SMs of 2048 threads, 64K registers, 48 KiB local per group):
 * 8 float4s (32 floats) an item keep 128 bytes in flight per item. Rows of up to 8192
 * floats take groups of 256 items (softmax 80 registers, layernorm 98: 3 or 2 groups per
 * SM): rows of 1024 and 8192, many a group, ran at 94–95% of the copy (b958ee8), and at
 * 74–75% (softmax) in groups of 1024 (84b9571). Rows of 32768 take a team of 1024 holding
 * 8 float4s each, a shape fixed at build that caps them at 64 registers (no spills for
 * softmax, 12 bytes for layernorm): softmax 77% of the copy, layernorm 70% (its gamma and
 * beta come from L2), against 61–62% streamed by 256 items, which is what ran until the
 * driver's CL_KERNEL_WORK_GROUP_SIZE of 256 stopped counting (program.c). Where a driver
 * refuses 1024, groups of 512 with items of up to 16 float4s (126 registers within the
 * 128 allowed, no spills). Teams of 8 items read 128 contiguous bytes a load, so rows
 * from 128 floats up go through registers, many rows a group. kiln_sum and rows split
 * into pieces: 4 groups of 256 items per SM stay resident at up to 64 registers an item
 * (ptxas: 27 to 44), so the grid is one wave with no tail; 8 float4 loads in flight per
 * item give each SM 128 KiB in flight (kiln_sum and MAX 4206 and 4233 GB/s at 2^28 on
 * b958ee8). Columns: groups of 32 items (128 columns, 512 contiguous bytes a row) by 8
 * lanes down the rows, 16 groups per SM (two waves): the scratch harness timed widths of
 * 32, 64, 128 and 256 items by 4 to 16 groups per SM and 4 to 16 loads in flight at
 * 65536×1024, 8192² and 4096×32768 (two passes, GB/s): 32×8 at 16 per SM 3057 / 3180 /
 * 3553, at 8 per SM 3072 / 3050 / 3365, 256×1 at 8 per SM (until now) 2811 / 2981 /
 * 3297, 4 per SM 2416–2613; the rows interleaved across groups, or the last group of a
 * column block folding its partials (one pass), were no faster. AMD (not timed): groups
 * of 256 items, as its runtime allows, columns as 20b41c9. CPUs (PoCL runs a group's items
 * in turn, so registers are memory) stream rows, and keep 8 groups per core and 2 loads
 * in flight, as before, and one column group shape (32 items). */
static const struct row_params row_params_table[] = {
    /*     team_min,_max held,_max group_items groups_per_unit unroll column_items,_groups */
    [FAMILY_GPU] = {8, 1024, 8,   16,   256,        4,              8,     32,   16},
    [FAMILY_AMD] = {8, 256,  8,   16,   256,        4,              8,     32,   4},
    [FAMILY_CPU] = {1, 1,    0,   0,    1,          8,              2,     32,   8},
};

const struct row_params *row_params_for(const struct device_limits *device)
{
    return &row_params_table[device->family];
}

/* The groups a grid of one wave has: groups_per_unit on each compute unit. */
static size_t resident_groups(const struct device_limits *device)
{
    return unit_count(device) * row_params_for(device)->groups_per_unit;
}

struct row_map_plan plan_row_map(const struct device_limits *device, size_t max_threads,
                                 size_t bytes_per_item, bool vectors, size_t rows,
                                 size_t cols)
{
    const struct row_params *params = row_params_for(device);
    size_t items = row_items(device, max_threads, bytes_per_item, SIZE_MAX);
    size_t team_max = min_size(params->team_max, items), quads = cols / 4;
    /* A row the team holds whole, its float4s on y's phase: read once. The table's teams
     * bound the rows; a kernel limited to fewer items holds them in more registers each. */
    size_t capacity = min_size((size_t)params->team_max * params->held,
                               team_max * params->held_max);
    if (vectors && params->held > 0 && quads <= capacity) {
        size_t team = ceil_pow2(ceil_div(quads, params->held));
        team = min_size(max_size(team, params->team_min), team_max);
        size_t held = ceil_pow2(max_size(ceil_div(quads, team), 1));
        size_t local = max_size(team, min_size(params->group_items, items));
        size_t teams = min_size(local / team, floor_pow2(device->max_work_item_sizes[1]));
        size_t groups = min_size(ceil_div(rows > 0 ? rows : 1, teams), ROW_MAX_GROUPS);
        return (struct row_map_plan){(unsigned)held, team * teams,
                                     {2, {groups * team, teams}, {team, teams}}};
    }
    /* Longer rows, or y off x's phase: streamed, a team of a few float4s per item. */
    size_t local = plan_row_local(device, max_threads, bytes_per_item);
    return (struct row_map_plan){0, local, plan_row_teams(device, local, rows, cols)};
}

size_t plan_row_pieces(const struct device_limits *device, size_t local, size_t rows,
                       size_t cols)
{
    /* Fewer rows than the device has groups resident at once: share each row among
     * groups, a wave of them at most. */
    size_t wanted = resident_groups(device);
    if (rows == 0 || rows >= wanted)
        return 1;
    size_t pieces = min_size(wanted / rows, cols / 4 / (local * PIECE_QUADS_PER_ITEM));
    pieces = min_size(pieces, REDUCE_MAX_PARTIALS / rows);
    return pieces > 0 ? pieces : 1;
}

/* Items along a row of a partials-like layout: up to `cap` on GPUs, fewer for fewer
 * columns; PoCL builds a kernel again for every group shape, so CPUs keep one. */
static size_t column_width(const struct device_limits *device, size_t local, size_t columns,
                           size_t cap)
{
    size_t wanted = device->family == FAMILY_CPU ? cap : ceil_pow2(columns > 0 ? columns : 1);
    size_t width = min_size(min_size(wanted, cap), local);
    return min_size(width, floor_pow2(device->max_work_item_sizes[0]));
}

/* How many chunks of the rows give `blocks` column blocks the grid the table asks for. */
static size_t column_chunks(const struct device_limits *device, size_t blocks)
{
    return ceil_div(unit_count(device) * row_params_for(device)->column_groups, blocks);
}

struct launch plan_columns(const struct device_limits *device, size_t local, size_t rows,
                           size_t cols)
{
    size_t width = column_width(device, local, ceil_div(cols, 4),
                                row_params_for(device)->column_items);
    size_t lanes = min_size(local / width, floor_pow2(device->max_work_item_sizes[1]));
    size_t blocks = min_size(ceil_div(cols > 0 ? cols : 1, 4 * width), ROW_MAX_GROUPS);
    /* Too few column blocks to fill the device: split the rows into chunks too. */
    size_t chunks = 1;
    if (cols > 0 && column_chunks(device, blocks) > 1) {
        chunks = min_size(column_chunks(device, blocks), rows / (lanes * CHUNK_ROWS_PER_LANE));
        chunks = min_size(min_size(chunks, REDUCE_MAX_PARTIALS / cols), MAX_GROUPS_PER_DIM);
        chunks = chunks > 0 ? chunks : 1;
    }
    return (struct launch){2, {blocks * width, chunks * lanes}, {width, lanes}};
}

struct launch plan_partials(const struct device_limits *device, size_t local, size_t parts,
                            size_t results)
{
    size_t width = column_width(device, local, results, PARTIALS_WIDTH);
    /* A wide column group's thousand chunks would be a long loop per item in few groups
     * (1024 parts of 1024 results: 128 folds an item in 32 groups): on GPUs, narrower
     * groups with more lanes. */
    if (device->family != FAMILY_CPU)
        width = min_size(width, max_size(local / ceil_pow2(ceil_div(parts, PARTS_PER_LANE)), 1));
    size_t lanes = min_size(local / width, floor_pow2(device->max_work_item_sizes[1]));
    size_t groups = min_size(ceil_div(results > 0 ? results : 1, width), ROW_MAX_GROUPS);
    return (struct launch){2, {groups * width, lanes}, {width, lanes}};
}

struct launch plan_sum(const struct device_limits *device, size_t local, size_t n,
                       bool one_wave)
{
    /* A float4 per work-item per step, and never more groups than the context's partials
     * hold. */
    size_t groups = ceil_div(ceil_div(n > 0 ? n : 1, 4), local);
    size_t cap = one_wave ? resident_groups(device) : group_cap(device);
    groups = min_size(min_size(groups, cap), SUM_MAX_PARTIALS);
    return (struct launch){1, {groups * local, 1}, {local, 1}};
}

struct sum_lanes plan_sum_lanes(const struct device_limits *device)
{
    /* PoCL runs a group's items one after another and vectorises only explicit vectors:
     * an item must read whole vectors, from memory next to its neighbour's. */
    if (device->family != FAMILY_CPU)
        return (struct sum_lanes){4, 0};
    unsigned width = device->vector_width >= 16 ? 16 : device->vector_width >= 8 ? 8 : 4;
    return (struct sum_lanes){width, 1};
}
