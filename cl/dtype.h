/* The element types of buffers (the values of kiln_dtype): 0 f32, 1 f16, 2 bf16.
 * Kernels include it; lib/program.c puts its text in their place. f16 and bf16 live in
 * buffers as 16-bit words (ushort), so no kernel needs cl_khr_fp16: f16 goes through
 * vload_half and vstore_half_rte (OpenCL 1.2 core), bf16 through bit manipulation.
 * Arithmetic is always in float; a store rounds to nearest even.
 *
 * ELEM(t) is the type a buffer of type t is declared with, LOAD(t, p, i) element i of
 * it as a float, STORE(t, v, p, i) writes float v there. t is a -D value (A_TYPE, ...).
 */
#define ELEM_0 float
#define ELEM_1 ushort
#define ELEM_2 ushort
#define ELEM_(t) ELEM_##t
#define ELEM(t) ELEM_(t)

#define LOAD_0(p, i) ((p)[i])
#define LOAD_1(p, i) f16_load((p) + (i))
#define LOAD_2(p, i) bf16_to_float((p)[i])
#define LOAD_(t, p, i) LOAD_##t(p, i)
#define LOAD(t, p, i) LOAD_(t, p, i)

#define STORE_0(v, p, i) ((p)[i] = (v))
#define STORE_1(v, p, i) f16_store((v), (p) + (i))
#define STORE_2(v, p, i) ((p)[i] = float_to_bf16(v))
#define STORE_(t, v, p, i) STORE_##t(v, p, i)
#define STORE(t, v, p, i) STORE_(t, v, p, i)

/* The GEMM kernels' operands (cl/gemm.cl, cl/gemv.cl): A_TYPE is A's and B's type, C_TYPE
 * C's, f32 unless a kernel or -D says otherwise; a_elem and c_elem their buffers'. */
#ifndef A_TYPE
#define A_TYPE 0
#endif
#ifndef C_TYPE
#define C_TYPE 0
#endif
typedef ELEM(A_TYPE) a_elem;
typedef ELEM(C_TYPE) c_elem;

/* A NaN keeps its sign and payload, made quiet, both ways: vload_half and vstore_half
 * give every NaN one pattern on NVIDIA's driver. */
__attribute__((always_inline))
inline float f16_load(__global const ushort *p)
{
    const uint h = *p;
    if ((h & 0x7c00u) == 0x7c00u && (h & 0x03ffu) != 0)
        return as_float(((h & 0x8000u) << 16) | 0x7fc00000u | ((h & 0x03ffu) << 13));
    return vload_half(0, (__global const half *)p);
}

__attribute__((always_inline))
inline void f16_store(const float v, __global ushort *p)
{
    const uint u = as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        *p = (ushort)(((u >> 16) & 0x8000u) | 0x7e00u | ((u >> 13) & 0x03ffu));
    else
        vstore_half_rte(v, 0, (__global half *)p);
}

/* bf16 is the top half of a float: widening is exact; a signalling NaN comes back
 * quiet, as IEEE conversions do. */
__attribute__((always_inline))
inline float bf16_to_float(const ushort h)
{
    uint u = (uint)h << 16;
    if ((u & 0x7fffffffu) > 0x7f800000u)
        u |= 0x00400000u;
    return as_float(u);
}

/* Rounds to nearest, ties to even, on the bits (no float arithmetic, so nothing is
 * flushed): adding 0x7fff plus the kept part's lowest bit carries exactly when the
 * dropped half is above a tie, or a tie with an odd kept part; a carry out of the
 * largest finite value gives Inf. NaN keeps its sign and top payload and is made quiet
 * (the carry would otherwise turn a small payload into Inf). */
__attribute__((always_inline))
inline ushort float_to_bf16(const float v)
{
    const uint u = as_uint(v);
    if ((u & 0x7fffffffu) > 0x7f800000u)
        return (ushort)((u >> 16) | 0x0040u);
    return (ushort)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* Four consecutive elements at p as a float4, and a float4 stored there, for kernels
 * that move vectors (cl/gemm_block.cl): f32 needs p on 16 bytes, f16 and bf16 only on
 * their own 2. A NaN read this way may lose its payload; arithmetic on it gives NaN all
 * the same. */
#define LOAD4_0(p) (*(__global const float4 *)(p))
#define LOAD4_1(p) vload_half4(0, (__global const half *)(p))
#define LOAD4_2(p) as_float4(convert_uint4(vload4(0, (p))) << 16)
#define LOAD4_(t, p) LOAD4_##t(p)
#define LOAD4(t, p) LOAD4_(t, p)

#define STORE4_0(v, p) (*(__global float4 *)(p) = (v))
#define STORE4_1(v, p) store4_by_element((v), (p), 0)
#define STORE4_2(v, p) store4_by_element((v), (p), 1)
#define STORE4_(t, v, p) STORE4_##t(v, p)
#define STORE4(t, v, p) STORE4_(t, v, p)

/* Each element of a 16-bit type through STORE: the same rounding and NaN as a single
 * store. bf16 is a constant where it is called, so one branch is left. */
__attribute__((always_inline))
inline void store4_by_element(const float4 v, __global ushort *p, const int bf16)
{
    const float elements[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
    for (uint i = 0; i < 4; ++i) {
        if (bf16)
            STORE_2(elements[i], p, i);
        else
            STORE_1(elements[i], p, i);
    }
}
