/* Multiplies the local slices a_tile and b_tile (TILE_K steps, cl/gemm_tile.h's layout)
 * into the work-item's register tile acc[WPT_M][WPT_N]. Included as a block of
 * statements inside the k loop of cl/gemm_block.cl and cl/conv2d_implicit.cl, with
 * a_tile, b_tile, acc, tx and ty in scope: text rather than a function, so acc stays in
 * registers on every compiler. The operands of step p + 1 are read while step p
 * multiplies. */
{
    float4 a_frag[2][WPT_M / 4], b_frag[2][WPT_N / 4];
    READ_STEP(a_frag[0], b_frag[0], 0);
#pragma unroll
    for (uint p = 0; p < TILE_K; ++p) {
        if (p + 1 < TILE_K)
            READ_STEP(a_frag[(p + 1) % 2], b_frag[(p + 1) % 2], p + 1);
        float a_reg[WPT_M], b_reg[WPT_N];
#pragma unroll
        for (uint r = 0; r < WPT_M / 4; ++r)
            vstore4(a_frag[p % 2][r], 0, a_reg + r * 4);
#pragma unroll
        for (uint s = 0; s < WPT_N / 4; ++s)
            vstore4(b_frag[p % 2][s], 0, b_reg + s * 4);
#pragma unroll
        for (uint r = 0; r < WPT_M; ++r)
#pragma unroll
            for (uint s = 0; s < WPT_N; ++s)
                acc[r][s] += a_reg[r] * b_reg[s];
    }
}
