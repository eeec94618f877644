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

/* Tile shapes of the whole-block kernel (cl/gemm_block.cl), largest first; WPT_M and
 * WPT_N are multiples of 4 (float4 pieces). The dispatcher takes the largest tile that
 * still gives every compute unit a block. Measured on the H100 (2026-11-24, through
 * build-gpu/tune, n×n×n): 128x128 with 8x8 per work-item ran 46.9 TFLOP/s at 4096 with
 * TILE_K 8 against 31.3 with TILE_K 16 (141 registers and a 32 KiB double buffer
 * allowed one work-group per SM; 126 registers and 16 KiB allow two); the smaller
 * tiles keep 1024- and 512-sized products spread over the 132 SMs. */
const struct gemm_config gemm_block_configs[] = {
    /* tile_m tile_n tile_k wpt_m wpt_n */
    {128, 128, 8, 8, 8}, /* 256 work-items, 16 KiB local */
    {64, 64, 8, 4, 4},   /* 256 work-items, 8 KiB local */
    {32, 64, 8, 4, 4},   /* 128 work-items, 6 KiB local */
};

const size_t gemm_block_config_count =
    sizeof(gemm_block_configs) / sizeof(gemm_block_configs[0]);
