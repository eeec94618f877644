/* The register tiling of cl/gemm_block.cl, shared with cl/conv2d_implicit.cl: included
 * after TILE_M, TILE_N, TILE_K, WPT_M and WPT_N. A work-group of LX×LY work-items computes
 * a TILE_M×TILE_N block of C; each work-item a WPT_M×WPT_N register tile made of float4
 * pieces spread LY·4 rows and LX·4 columns apart, so a work-item's local reads are
 * float4s and neighbours read neighbouring float4s (no bank conflicts, broadcasts across
 * rows). Each run of 32 work-items (a warp on NVIDIA) covers a 4×8 patch of that grid
 * where it divides: its reads per k are then 4 float4s of A and 8 of B, a single pass of
 * local memory each. The slices are k-major: element (p, i) of A at a_tile[p·TILE_M + i],
 * (p, j) of B at b_tile[p·TILE_N + j]; cl/gemm_pipeline.h multiplies them into acc. */
#define LX (TILE_N / WPT_N)
#define LY (TILE_M / WPT_M)
#define THREADS (LX * LY)
#define PATCH_ROWS 4 /* a run of 32 work-items as 4 rows of 8 */
#define PATCH_COLS 8
#define PATCHED (LX % PATCH_COLS == 0 && LY % PATCH_ROWS == 0)

/* Where work-item tid (its number in the group, row-major) sits in the LX×LY grid. */
__attribute__((always_inline))
inline void tile_position(const uint tid, uint *tx, uint *ty)
{
#if PATCHED
    const uint patch = tid / (PATCH_ROWS * PATCH_COLS), lane = tid % (PATCH_ROWS * PATCH_COLS);
    *tx = (patch % (LX / PATCH_COLS)) * PATCH_COLS + lane % PATCH_COLS;
    *ty = (patch / (LX / PATCH_COLS)) * PATCH_ROWS + lane / PATCH_COLS;
#else
    *tx = tid % LX;
    *ty = tid / LX;
#endif
}

/* Reads this work-item's float4s of step p of the local slices a_tile and b_tile. */
#define READ_STEP(a_frag, b_frag, p)                                                      \
    do {                                                                                  \
        for (uint r = 0; r < WPT_M / 4; ++r)                                              \
            (a_frag)[r] = *(__local const float4 *)(a_tile + (p) * TILE_M + (r * LY + ty) * 4); \
        for (uint s = 0; s < WPT_N / 4; ++s)                                              \
            (b_frag)[s] = *(__local const float4 *)(b_tile + (p) * TILE_N + (s * LX + tx) * 4); \
    } while (0)

/* Row r and column s of a work-item's register tile within the block. */
#define TILE_ROW(r) (((r) / 4) * LY * 4 + ty * 4 + (r) % 4)
#define TILE_COL(s) (((s) / 4) * LX * 4 + tx * 4 + (s) % 4)
