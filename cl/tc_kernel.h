/* The kernel entry of a tensor-core kernel, included at the end of its file: KERNEL is
 * its name and block_multiply(...) computes one TILE_M×TILE_N block of C into place;
 * OPERAND is the element type A and B are read as (16-bit words unless it says).
 * Work-groups stride over the blocks of C in block_origin's order (dimensions 0 and 1)
 * and the batch (dimension 2): matrix i starts i·stride elements after the first; the
 * bias is shared. The ring is 512-byte aligned: wgmma's swizzle repeats from the atoms'
 * own addresses. */
#ifndef OPERAND
#define OPERAND ushort
#endif

__kernel __attribute__((reqd_work_group_size(THREADS, 1, 1)))
void KERNEL(const ulong m, const ulong n, const ulong k, const float alpha,
            __global const OPERAND *a, const ulong a_offset, const ulong lda,
            __global const OPERAND *b, const ulong b_offset, const ulong ldb, const float beta,
            __global ELEM(C_TYPE) *c, const ulong c_offset, const ulong ldc,
            __global const float *bias, const ulong bias_offset, const int has_bias,
            const ulong batch, const ulong stride_a, const ulong stride_b,
            const ulong stride_c)
{
    __local uint4 ring[STAGES * STAGE_BYTES / 16] __attribute__((aligned(512)));
    const uint ring_base = (uint)(size_t)ring;
    const ulong groups = (ulong)get_num_groups(0) * get_num_groups(1);
    const ulong first = (ulong)get_group_id(1) * get_num_groups(0) + get_group_id(0);
    for (ulong i = get_group_id(2); i < batch; i += get_num_groups(2))
        for (ulong t = first; t < BLOCKS(m, n); t += groups) {
            ulong row0, col0;
            block_origin(t, m, n, &row0, &col0);
            block_multiply(m, n, k, alpha, a + a_offset + i * stride_a, lda,
                           b + b_offset + i * stride_b, ldb, beta, c + c_offset + i * stride_c,
                           ldc, bias + bias_offset, has_bias, row0, col0, ring_base);
        }
}
