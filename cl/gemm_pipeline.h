/* The k loop of the register-tiled kernels (cl/gemm_block.cl, cl/conv2d_implicit.cl),
 * included as statements in the body that computes a work-group's block, so its text
 * reaches the compiler as if written there, pragmas included (a function taking acc
 * could put it on the stack). It declares acc[WPT_M][WPT_N], which holds the block's
 * products after it.
 *
 * TILE_K-deep slices of A and B are staged k-major (cl/gemm_tile.h's layout) in the
 * local buffers a_store[2] and b_store[2]: while the work-group multiplies one, the next
 * slice is already loaded into registers and then stored into the other, so there is
 * one barrier per slice and global latency hides behind the arithmetic; within a slice
 * the operands of step p + 1 are read while step p multiplies. The includer defines
 * LOAD_NEXT(k0) (its registers ← the slices from k0 on), STORE_NEXT(slot) (registers →
 * a_store[slot], b_store[slot]), DEPTH (k) and DEPTH_TYPE (its type). */
LOAD_NEXT(0);
STORE_NEXT(0);
barrier(CLK_LOCAL_MEM_FENCE);

float acc[WPT_M][WPT_N];
for (uint r = 0; r < WPT_M; ++r)
    for (uint s = 0; s < WPT_N; ++s)
        acc[r][s] = 0.0f;

uint current = 0;
for (DEPTH_TYPE k0 = 0; k0 < DEPTH; k0 += TILE_K) {
    const bool more = k0 + TILE_K < DEPTH;
    if (more)
        LOAD_NEXT(k0 + TILE_K);
    __local const float *a_tile = (__local const float *)a_store[current];
    __local const float *b_tile = (__local const float *)b_store[current];
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
    if (more)
        STORE_NEXT(current ^ 1);
    barrier(CLK_LOCAL_MEM_FENCE);
    current ^= 1;
}
