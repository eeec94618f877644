/* y[i] = 1 / (1 + exp(-x[i])) for i < n; y may be x.
 * exp(-x) overflows to inf for x < -88, which correctly gives 0; built without relaxed
 * math so the result stays within 1e-6 of the exact value. */
__kernel void sigmoid(const ulong n,
                      __global const float *x, const ulong x_offset,
                      __global float *y, const ulong y_offset)
{
    x += x_offset;
    y += y_offset;
    const ulong stride = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += stride)
        y[i] = 1.0f / (1.0f + exp(-x[i]));
}
