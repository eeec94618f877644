/* Tile shapes of the portable GEMM kernel (cl/gemm.cl), largest first. The dispatcher
 * takes the first that fits the device's work-group size and local memory, so small
 * devices fall back to smaller tiles; the last runs on a device of one work-item.
 * Tuning per device family is a later step (issue 6). */
#include "internal.h"

const struct gemm_config gemm_portable_configs[] = {
    /* tile_m tile_n tile_k wpt_m wpt_n */
    {64, 64, 16, 4, 4}, /* 256 work-items, 8.3 KiB local */
    {32, 32, 16, 4, 4}, /* 64 work-items */
    {16, 16, 8, 4, 4},  /* 16 work-items, 1 KiB local */
    {8, 8, 4, 4, 4},    /* 4 work-items */
    {4, 4, 4, 4, 4},    /* 1 work-item */
};

const size_t gemm_portable_config_count =
    sizeof(gemm_portable_configs) / sizeof(gemm_portable_configs[0]);

/* Tile shapes of the whole-block kernel (cl/gemm_block.cl), one table per device
 * family, largest first; WPT_M and WPT_N are multiples of 4 (float4 pieces). The
 * dispatcher takes the largest tile that still gives every compute unit a block. */

/* GPUs. Measured on the H100 (2026-11-24, n×n×n, random data): 128x128 with 8x8 per
 * work-item ran 44.6 TFLOP/s at 4096 with TILE_K 8 against 31.3 with TILE_K 16 (127
 * against 141 registers and a 16 instead of 32 KiB double buffer: two work-groups per
 * SM instead of one); 64x64x16 ran 29.1 at 1024 (26.1 with TILE_K 8) and 32x64x8 13.2
 * at 512 (cuBLAS 8.4), keeping small products spread over the 132 SMs; kiln-tune
 * then found 128x64x16 with 8x8 at 1024: 35.9 against 64x64x16's 29.2. Tried and
 * left out: 128x256 with 512 work-items ran 46.3 before the kernel looped over batches
 * and 42.7 after (capped at 128 registers it spills), where 128x128 ran 44.1 (168
 * registers); banding block rows so they share B in the cache changed nothing. With
 * warps laid over 4x8 patches (cl/gemm_block.cl) 128x128x8 runs 47.4 at 4096 and 47.6
 * at 8192 (128 registers, no spills); then 128x256 and 256x128 ran 44.5 and 43.7,
 * 16x8 or 8x16 per work-item 35.5-37.8 (199-218 registers, one group per SM), TILE_K 16
 * 40.1 (145 registers) and padded local rows 41.9. */
static const struct gemm_config gpu_configs[] = {
    /* tile_m tile_n tile_k wpt_m wpt_n */
    {128, 128, 8, 8, 8}, /* 256 work-items, 16 KiB local */
    {128, 64, 16, 8, 8}, /* 128 work-items, 24 KiB local: kiln-tune's pick at 1024 */
    {64, 64, 16, 4, 4},  /* 256 work-items, 16 KiB local */
    {32, 64, 8, 4, 4},   /* 128 work-items, 6 KiB local */
};

/* AMD GPUs (CDNA gfx90a, RDNA gfx1030). Not timed: there is no AMD hardware here.
 * From the architecture: a CDNA compute unit has 64 KiB of LDS and 512 VGPRs per lane,
 * so 256 work-items (four wave64s) with 8x8 register tiles fit, and a TILE_K 16 double
 * buffer of 32 KiB leaves room for two work-groups per CU; an RDNA work-group processor
 * has 128 KiB of LDS and runs the same 256 items as eight wave32s. Smaller tiles spread
 * small products over the CUs as on NVIDIA. tools/check-amd compiles each row for
 * gfx90a and gfx1030 in CI. */
static const struct gemm_config amd_configs[] = {
    {128, 128, 16, 8, 8}, /* 256 work-items, 32 KiB local */
    {64, 64, 16, 4, 4},   /* 256 work-items, 16 KiB local */
    {32, 64, 8, 4, 4},    /* 128 work-items, 6 KiB local */
};

#define TABLE(family, configs) {family, configs, sizeof(configs) / sizeof(configs[0]), NULL}

struct gemm_table gemm_block_table(const struct device_limits *device)
{
    switch (device->family) {
    case FAMILY_AMD:
        return (struct gemm_table)TABLE("amd", amd_configs);
    case FAMILY_GPU:
    case FAMILY_CPU: /* CPUs run cl/gemm_cpu.cl; this table serves forced block tiles */
        break;
    }
    return (struct gemm_table)TABLE("gpu", gpu_configs);
}

/* Tiles of the implicit-GEMM convolution (cl/conv2d_implicit.cl), one table per device
 * family, preferred first; plan_conv2d_implicit_config takes the first that wastes little
 * on C's edges and gives the compute units the blocks its row of `fill` asks, and the
 * plan splits k where the blocks are still few. The kernel has cl/gemm_block.cl's
 * register tiling, so its rows come from gpu_configs. On the H200 (kiln-bench with
 * $KILN_CONV2D_TILE, batch 32, STRICT, unsplit, TFLOP/s at 64→64 56x56 3x3, 256→256 14x14
 * 3x3, 256→1024 14x14 1x1, 512→512 7x7 3x3): 64x128x8 29.40 / 22.47 / 25.28 / 17.68
 * (256→256 split in two: 28.13), 128x128x8 19.30 / 25.06 / 21.28 / 12.88, 64x64x16
 * 25.49 / 25.60 / 22.97 / 18.42, 32x64x8 21.85 / 20.85 / 23.05 / 14.73, 128x64x16 12.77
 * / 13.21 / 17.05 / 11.40; at 256→256 and 128→128 of 56x56 3x3, 128x128 35.57 and 34.27,
 * 64x128 32.83 and 31.75. So 128x128 runs where it has 4 blocks per compute unit (two
 * waves of its two work-groups per SM: 784 and more above, 392 at 256→1024 not), else
 * 64x128. Per work-item at 128x128x8 with 8x8: 64 accumulators, 32 floats of operand
 * fragments and 8 staged floats, 128 registers in clang-15's PTX for sm_90, as
 * gemm_block's, and 16 KiB of local memory; 64x128x8 takes 138 registers and 12 KiB
 * (three work-groups of 128 per SM). THREADS must be a multiple of TILE_N (each
 * work-item stages one column of B), and TILE_K of the floats of W each stages.
 * $KILN_CONV2D_TILE runs another tile, to time one without rebuilding. */
static const struct gemm_config conv_gpu_configs[] = {
    /* tile_m tile_n tile_k wpt_m wpt_n */
    {128, 128, 8, 8, 8}, /* 256 work-items, 16 KiB local: gemm_block's H100 row */
    {64, 128, 8, 8, 8},  /* 128 work-items, 12 KiB local */
    {128, 64, 16, 8, 8}, /* 128 work-items, 24 KiB local */
    {64, 64, 16, 4, 4},  /* 256 work-items, 16 KiB local */
    {32, 64, 8, 4, 4},   /* 128 work-items, 6 KiB local: few filters, small layers */
};
static const unsigned conv_gpu_fill[] = {16, 3, 3, 3, 3};
_Static_assert(sizeof(conv_gpu_fill) / sizeof(conv_gpu_fill[0]) ==
                   sizeof(conv_gpu_configs) / sizeof(conv_gpu_configs[0]),
               "a fill for every convolution tile");

/* AMD: amd_configs' rows with the 64-filter shape added; not timed. */
static const struct gemm_config conv_amd_configs[] = {
    {128, 128, 16, 8, 8}, /* 256 work-items, 32 KiB local */
    {64, 128, 16, 8, 8},  /* 128 work-items, 24 KiB local */
    {64, 64, 16, 4, 4},   /* 256 work-items, 16 KiB local */
    {32, 64, 8, 4, 4},    /* 128 work-items, 6 KiB local */
};

struct gemm_table conv2d_implicit_table(const struct device_limits *device)
{
    if (device->family == FAMILY_AMD)
        return (struct gemm_table)TABLE("amd", conv_amd_configs);
    /* CPUs take im2col unless forced (ops/conv2d.c); forced, they run the GPU rows */
    struct gemm_table table = TABLE("gpu", conv_gpu_configs);
    table.fill = conv_gpu_fill;
    return table;
}

/* cl/gemm_cpu.cl's tiles: MC×NC blocks, KC-deep slices, MR×NR register tiles. The
 * dispatcher takes the rows whose register tile is two of the device's native vectors
 * wide (AVX-512, AVX2, 128-bit), the larger block where it gives every core a few.
 * Measured on the 2-core EPYC CI machine (Zen 4 with AVX-512, PoCL 3.1; 2026-11-24,
 * n×n×n, repeated runs; the machine is noisy, ±30%): at 1024 kiln-bench ran 6x32
 * 96x256x256 at 108-174 GFLOP/s, 0.66-0.88 of OpenBLAS's 150-201 beside it and 6-9
 * times CLBlast's 17-24 (cl/gemm_block.cl's 64x64x64, the table's row before: 28-33);
 * 0.67-0.89 of OpenBLAS from 128 to 2048, 1000 and 1023 included. One launch at 1024 ran about 160 with
 * every transpose's packing of B at 126-163. Alike within the noise there: KC 128 or
 * 512, NC 512, MR 4, 8 or 12, NR 16 or 64; slower: MC 192 (92), MC 48 (134), and
 * packing a transposed B a k at a time across its rows rather than along each row (80
 * against 140). */
static const struct gemm_config cpu_configs[] = {
    /* tile_m tile_n tile_k wpt_m wpt_n */
    {96, 256, 256, 6, 32}, /* AVX-512: 12 zmm accumulators; 352 KiB packed */
    {48, 128, 256, 6, 32},
    {96, 256, 256, 6, 16}, /* AVX2: 12 ymm accumulators, the classic 6x16 */
    {48, 128, 256, 6, 16},
    {96, 256, 256, 6, 8}, /* 128-bit vectors */
    {48, 128, 256, 6, 8},
};

struct gemm_table gemm_cpu_table(void)
{
    return (struct gemm_table)TABLE("cpu", cpu_configs);
}
