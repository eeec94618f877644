/* The elementwise family: z[i] = f(x[i], y[i]) for i < n, one grid-stride loop for
 * every operation, so any n runs on whatever grid the dispatcher sized for the device.
 *
 * OP 1, vadd:    z = x + y
 * OP 2, sigmoid: z = 1 / (1 + exp(-x)); exp(-x) overflows to inf for x < -88, which
 *                correctly gives 0 (built without relaxed math: within 1e-6)
 * OP 3, axpby:   z = alpha·x + beta·y, geam on contiguous matrices; alpha == 0 leaves
 *                x unread and beta == 0 leaves y unread (BLAS: NaN there is ignored);
 *                also axpy (beta 1, z = y) and scale (beta 0, z = x)
 * OP 4-6, act_backward: z = y·act'(x) through the activation's output x, with y the
 *                incoming gradient: 4 sigmoid x(1 - x), 5 relu (x > 0 ? y : 0, so a
 *                NaN or Inf of y where x <= 0 gives 0), 6 tanh 1 - x²
 *
 * VECTOR_ALIGNED 1 when every operand starts on a 16-byte boundary: the body then moves
 * float4s (a 128-bit access per operand) and the n % 4 tail is done after it.
 * INDEX is uint when n plus the grid fits 32 bits, as 64-bit index arithmetic costs
 * GPUs extra instructions per element. Offsets are in elements; z may be x or y. */
#ifndef OP
#define OP 1
#endif
#ifndef VECTOR_ALIGNED
#define VECTOR_ALIGNED 0
#endif
#ifndef INDEX
#define INDEX ulong
#endif

#if OP == 1
#define ELEMENT(xs, ys, zs, i) zs[i] = xs[i] + ys[i]
#elif OP == 2
#define ELEMENT(xs, ys, zs, i) zs[i] = 1.0f / (1.0f + exp(-xs[i]))
#elif OP == 3
#define ELEMENT(xs, ys, zs, i)                                                           \
    zs[i] = (alpha != 0.0f ? alpha * xs[i] : 0.0f) + (beta != 0.0f ? beta * ys[i] : 0.0f)
#elif OP == 4
#define ELEMENT(xs, ys, zs, i) zs[i] = ys[i] * (xs[i] * (1.0f - xs[i]))
#elif OP == 5
/* The condition is an int4 for float4 operands: a per-lane select. */
#define ELEMENT(xs, ys, zs, i) zs[i] = xs[i] > 0.0f ? ys[i] : 0.0f
#elif OP == 6
#define ELEMENT(xs, ys, zs, i) zs[i] = ys[i] * (1.0f - xs[i] * xs[i])
#else
#error "OP must be 1 (vadd), 2 (sigmoid), 3 (axpby) or 4-6 (act_backward)"
#endif

__kernel void elementwise(const ulong n, const float alpha, const float beta,
                          __global const float *x, const ulong x_offset,
                          __global const float *y, const ulong y_offset,
                          __global float *z, const ulong z_offset)
{
    x += x_offset;
    y += y_offset;
    z += z_offset;
    const INDEX count = (INDEX)n;
    const INDEX stride = (INDEX)get_global_size(0);
    INDEX first = (INDEX)get_global_id(0);
#if VECTOR_ALIGNED
    __global const float4 *x4 = (__global const float4 *)x;
    __global const float4 *y4 = (__global const float4 *)y;
    __global float4 *z4 = (__global float4 *)z;
    const INDEX quads = count / 4;
    for (INDEX i = first; i < quads; i += stride)
        ELEMENT(x4, y4, z4, i);
    first += quads * 4;
#endif
    for (INDEX i = first; i < count; i += stride)
        ELEMENT(x, y, z, i);
}
