/* c[i] = a[i] + b[i] for i < n.
 * A grid-stride loop: any n runs on whatever grid the dispatcher sized for the device.
 * Offsets are in elements, so views at any float offset work. c may be a or b. */
__kernel void vadd(const ulong n,
                   __global const float *a, const ulong a_offset,
                   __global const float *b, const ulong b_offset,
                   __global float *c, const ulong c_offset)
{
    a += a_offset;
    b += b_offset;
    c += c_offset;
    const ulong stride = get_global_size(0);
    for (ulong i = get_global_id(0); i < n; i += stride)
        c[i] = a[i] + b[i];
}
