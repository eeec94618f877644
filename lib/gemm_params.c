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
