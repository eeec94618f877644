/* The operands of the tf32 tensor-core GEMM (cl/gemm_wgmma.cl with A_TYPE 0), which
 * reads both K-major: y, rows×k with rows ldy apart, = op(x), where x is stored rows×k
 * (TRANS 0) or k×rows (TRANS 1), for each matrix of a batch (matrix i of x at
 * i·stride_x elements, of y at i·stride_y).
 *
 * SPLIT 0 (TF32) copies x as it is: the tensor cores read its tf32 part. SPLIT 1
 * (3xTF32) writes hi = tf32(x) and, rows·ldy elements on, lo = tf32(x − hi), both
 * rounded to nearest with ties away from zero (as PTX's cvt.rna.tf32.f32); lo is 0 where
 * hi is not finite, and a finite x that rounds past the largest tf32 becomes Inf.
 *
 * A work-group of TILE×TILE_ROWS items moves TILE×TILE blocks of y, striding over the
 * blocks and the batch; a transposed x goes through local memory (padded by one float
 * against bank conflicts) so that reads and writes both run along rows. */
#ifndef TRANS
#define TRANS 0
#endif
#ifndef SPLIT
#define SPLIT 0
#endif
#define TILE 32
#define TILE_ROWS 8

/* x rounded to tf32, ties away from zero, on the bits: a carry out of the mantissa
 * steps the exponent, up to Inf. Inf and NaN stay as they are. */
__attribute__((always_inline))
inline float tf32_round(const float x)
{
    return isfinite(x) ? as_float((as_uint(x) + 0x1000u) & 0xffffe000u) : x;
}

/* Element e of y's hi part takes v (and its lo part, with SPLIT). */
__attribute__((always_inline))
inline void pack_store(__global float *y, const ulong e, const ulong lo_at, const float v)
{
#if SPLIT
    const float hi = tf32_round(v);
    y[e] = hi;
    y[lo_at + e] = isfinite(hi) ? tf32_round(v - hi) : 0.0f;
#else
    (void)lo_at;
    y[e] = v;
#endif
}

__kernel __attribute__((reqd_work_group_size(TILE, TILE_ROWS, 1)))
void tf32_pack(const ulong rows, const ulong k, const ulong batch,
               __global const float *x, const ulong x_offset, const ulong ldx,
               const ulong stride_x, __global float *y, const ulong y_offset,
               const ulong ldy, const ulong stride_y)
{
    __local float tile[TILE][TILE + 1];
    const uint tx = get_local_id(0), ty = get_local_id(1);
    const ulong lo_at = rows * ldy;
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2)) {
        __global const float *xi = x + x_offset + i * stride_x;
        __global float *yi = y + y_offset + i * stride_y;
        for (ulong r0 = (ulong)get_group_id(1) * TILE; r0 < rows;
             r0 += (ulong)get_num_groups(1) * TILE)
            for (ulong k0 = (ulong)get_group_id(0) * TILE; k0 < k;
                 k0 += (ulong)get_num_groups(0) * TILE) {
#if TRANS /* x's stored rows run along y's rows: read them, then write columns of them */
                for (uint r = ty; r < TILE; r += TILE_ROWS) {
                    const ulong kk = k0 + r, row = r0 + tx;
                    tile[r][tx] = kk < k && row < rows ? xi[kk * ldx + row] : 0.0f;
                }
                barrier(CLK_LOCAL_MEM_FENCE);
#endif
                for (uint r = ty; r < TILE; r += TILE_ROWS) {
                    const ulong row = r0 + r, kk = k0 + tx;
                    if (row >= rows || kk >= k)
                        continue;
#if TRANS
                    pack_store(yi, row * ldy + kk, lo_at, tile[tx][r]);
#else
                    pack_store(yi, row * ldy + kk, lo_at, xi[row * ldx + kk]);
#endif
                }
#if TRANS
                barrier(CLK_LOCAL_MEM_FENCE); /* the tile is read before the next block's */
#endif
            }
    }
}
