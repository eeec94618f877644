/* dst[i] = src[i] converted from SRC_TYPE to DST_TYPE for i < n (cl/dtype.h's types:
 * 0 f32, 1 f16, 2 bf16), one grid-stride loop so any n runs on any grid.
 *
 * Every value goes through float, which holds f16 and bf16 exactly, so a narrowing
 * rounds once (f16 <-> bf16 included): to nearest even, overflowing to ±Inf. NaN stays
 * NaN with its sign and comes out quiet. The same type on both sides copies the bits.
 * Offsets are in elements. */
#ifndef SRC_TYPE
#define SRC_TYPE 0
#endif
#ifndef DST_TYPE
#define DST_TYPE 0
#endif

#include "dtype.h" /* ELEM, LOAD, STORE */

/* Drivers may keep a signalling NaN signalling through vload_half: quiet it here. */
__attribute__((always_inline))
inline float quieted(const float v)
{
    return isnan(v) ? as_float(as_uint(v) | 0x00400000u) : v;
}

__kernel void convert(const ulong n, __global const ELEM(SRC_TYPE) *src, const ulong src_offset,
                      __global ELEM(DST_TYPE) *dst, const ulong dst_offset)
{
    src += src_offset;
    dst += dst_offset;
    const ulong stride = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += stride) {
#if SRC_TYPE == DST_TYPE && SRC_TYPE == 0
        ((__global uint *)dst)[i] = ((__global const uint *)src)[i];
#elif SRC_TYPE == DST_TYPE
        dst[i] = src[i];
#else
        STORE(DST_TYPE, quieted(LOAD(SRC_TYPE, src, i)), dst, i);
#endif
    }
}
