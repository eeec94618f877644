/* What every tensor-core GEMM kernel shares after its products: the order its work-groups
 * walk the blocks of C in, and the C epilogue. Needs TILE_M, TILE_N, C_TYPE, cl/dtype.h and
 * cl/activation.h first. */
#ifndef BAND
#define BAND 8 /* block rows the launch walks together (L2 reuse) */
#endif

/* The origin of the t-th block of an m×n C in the launch's order: BAND block rows at a
 * time, column by column, so the work-groups running at once share rows of A and
 * columns of B in the L2 cache (+8% at 8192³ against plain row order on the H200). */
__attribute__((always_inline))
inline void block_origin(const ulong t, const ulong m, const ulong n, ulong *row0, ulong *col0)
{
    const ulong rows = (m + TILE_M - 1) / TILE_M, cols = (n + TILE_N - 1) / TILE_N;
    const ulong band = t / (BAND * cols), band_rows = min(rows - band * BAND, (ulong)BAND);
    const ulong in_band = t % (BAND * cols);
    *row0 = (band * BAND + in_band % band_rows) * TILE_M;
    *col0 = in_band / band_rows * TILE_N;
}

/* Blocks of an m×n C. */
#define BLOCKS(m, n) ((((m) + TILE_M - 1) / TILE_M) * (((n) + TILE_N - 1) / TILE_N))

/* Two neighbouring elements of C as floats, and their store (rounded to nearest even):
 * one 2-element access, for an address of a whole pair. */
#if C_TYPE == 0
#define C_LOAD2(p) vload2(0, p)
#define C_STORE2(p, v) vstore2(v, 0, p)
#elif C_TYPE == 2
#define C_LOAD2(p) ((float2)(bf16_to_float((p)[0]), bf16_to_float((p)[1])))
#define C_STORE2(p, v) \
    (*(__global uint *)(p) = float_to_bf16((v).x) | (uint)float_to_bf16((v).y) << 16)
#else /* f16: a NaN goes through f16_store, which keeps its payload */
#define C_LOAD2(p) ((float2)(f16_load(p), f16_load((p) + 1)))
#define C_STORE2(p, v)                                                                    \
    (isnan((v).x) || isnan((v).y) ? (f16_store((v).x, p), f16_store((v).y, (p) + 1))       \
                                  : vstore_half2_rte(v, 0, (__global half *)(p)))
#endif

/* *p = act(alpha·v + beta·*p + shift); beta == 0 leaves *p unread. */
__attribute__((always_inline))
inline void c_store(__global ELEM(C_TYPE) *p, const float v, const float alpha,
                    const float beta, const float shift)
{
    float r = alpha * v;
    if (beta != 0.0f)
        r += beta * LOAD(C_TYPE, p, 0);
    STORE(C_TYPE, ACTIVATE(r + shift), p, 0);
}

/* C(row, col + e) = act(alpha·v[e] + beta·C(row, col + e) + shift) for e = 0, 1 inside
 * the m×n C (col is; row < m is the caller's); beta == 0 leaves C unread. */
__attribute__((always_inline))
inline void c_store_pair(__global ELEM(C_TYPE) *c, const ulong ldc, const ulong n,
                         const ulong row, const ulong col, const float2 v, const float alpha,
                         const float beta, const float shift)
{
    __global ELEM(C_TYPE) *p = c + row * ldc + col;
    if (col + 1 < n && ((size_t)p & (2 * sizeof(ELEM(C_TYPE)) - 1)) == 0) {
        float2 r = alpha * v;
        if (beta != 0.0f)
            r += beta * C_LOAD2(p);
        C_STORE2(p, ((float2)(ACTIVATE(r.x + shift), ACTIVATE(r.y + shift))));
        return;
    }
    for (uint e = 0; e < 2 && col + e < n; ++e)
        c_store(p + e, e ? v.y : v.x, alpha, beta, shift);
}

/* Four neighbouring elements of C as floats, and their store (rounded to nearest even):
 * one 4-element access, for an address of a whole quad. */
#if C_TYPE == 0
#define C_LOAD4(p) vload4(0, p)
#define C_STORE4(p, v) vstore4(v, 0, p)
#elif C_TYPE == 2
#define C_LOAD4(p) \
    ((float4)(bf16_to_float((p)[0]), bf16_to_float((p)[1]), bf16_to_float((p)[2]), \
              bf16_to_float((p)[3])))
#define C_STORE4(p, v)                                                                    \
    (*(__global uint2 *)(p) =                                                             \
         (uint2)(float_to_bf16((v).x) | (uint)float_to_bf16((v).y) << 16,                  \
                 float_to_bf16((v).z) | (uint)float_to_bf16((v).w) << 16))
#else /* f16: a NaN goes through f16_store, which keeps its payload */
#define C_LOAD4(p) \
    ((float4)(f16_load(p), f16_load((p) + 1), f16_load((p) + 2), f16_load((p) + 3)))
#define C_STORE4(p, v)                                                                    \
    (any(isnan(v)) ? (f16_store((v).x, p), f16_store((v).y, (p) + 1),                     \
                      f16_store((v).z, (p) + 2), f16_store((v).w, (p) + 3))               \
                   : vstore_half4_rte(v, 0, (__global half *)(p)))
#endif

/* C(row, col + e) = act(alpha·v[e] + beta·C(row, col + e) + shift) for e = 0 .. 3 inside
 * the m×n C (col is; row < m is the caller's); beta == 0 leaves C unread. */
__attribute__((always_inline))
inline void c_store_quad(__global ELEM(C_TYPE) *c, const ulong ldc, const ulong n,
                         const ulong row, const ulong col, const float4 v, const float alpha,
                         const float beta, const float shift)
{
    __global ELEM(C_TYPE) *p = c + row * ldc + col;
    if (col + 3 < n && ((size_t)p & (4 * sizeof(ELEM(C_TYPE)) - 1)) == 0) {
        float4 r = alpha * v;
        if (beta != 0.0f)
            r += beta * C_LOAD4(p);
        C_STORE4(p, ((float4)(ACTIVATE(r.x + shift), ACTIVATE(r.y + shift),
                              ACTIVATE(r.z + shift), ACTIVATE(r.w + shift))));
        return;
    }
    /* components by name: an indexed array would live in private memory */
    for (uint e = 0; e < 4 && col + e < n; ++e)
        c_store(p + e, e == 0 ? v.x : e == 1 ? v.y : e == 2 ? v.z : v.w, alpha, beta, shift);
}

