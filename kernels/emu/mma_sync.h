// The emulator's warp-level mma.sync, ldmatrix and cp.async (kernels/common/mma_sync.cuh calls
// these in the emulated build; kernels use the wrappers there, not these).
//
// mma_m16n8k16_bf16 and ldmatrix are warp collectives over all 32 lanes (thread_context.h): each
// lane deposits its registers or its row address, the last lane to arrive computes every lane's
// result at once, and a lane that never arrives (it exited, or waits elsewhere) is reported as a
// deadlock naming it. Fragment layouts are those of the PTX ISA (see mma_sync.cuh).
//
// mma: D = A B + C with A 16x16 and B 16x8 in bf16, C and D 16x8 in fp32. Each product of two bf16
// values is exact in fp32 (8-bit significands) unless it overflows or underflows; each D[i][j]
// starts from C[i][j] and adds the 16 products in k order (k = 0..15) with fp32 rounding after
// every addition. A GPU's tensor core sums in an unspecified order with its own internal precision,
// so results can differ from it in the last bits (tests use a tolerance or exact values).
//
// ldmatrix: lane l supplies the address of row l % 8 of matrix l / 8 (lanes 0-7, 0-15 or all 32 for
// x1, x2, x4; the other lanes' addresses are ignored, as on a GPU). Each used address must be 16-byte
// aligned and in shared memory (classify_address in shared_memory.h: an address the emulator knows
// is not shared memory, such as the heap or a thread's stack, is an error; static storage is
// accepted because a template kernel's __shared__ array lives there).
//
// cp.async: see async_copy.h for the deferred-copy semantics. Both addresses must be 16-byte
// aligned, the destination in shared memory and the source not in it, and src_bytes in [0, 16].
#pragma once

#include <cstdint>

namespace deeper::emu {

void mma_m16n8k16_bf16(float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c);
// r[0..count) receives matrices 0..count-1 (count 1, 2 or 4); trans: the transposed matrices.
void ldmatrix(std::uint32_t* r, int count, bool trans, const void* smem_row);
void cp_async_16(void* smem_dst, const void* src, int src_bytes);
void cp_async_commit();
void cp_async_wait(int max_pending_groups);

}  // namespace deeper::emu
