// What an emulated CUDA thread can ask the emulator: its indices, barriers, warp collectives.
// Used by cuda_shim.h (the CUDA environment of emulated kernel code) and implemented in
// scheduler.cpp. Not for direct use by kernels.
#pragma once

#include <vector_types.h>

#include <cstddef>

namespace deeper::emu::detail {

struct ThreadIdentity {
  uint3 thread_idx;
  unsigned linear;  // threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z)
  unsigned lane;    // linear % 32
  unsigned warp;    // linear / 32
};

struct BlockIdentity {
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
  unsigned char* dynamic_shared;
  std::size_t dynamic_shared_bytes;
};

// The calling emulated thread and its block (defined in scheduler.cpp, out of line: kernel code
// never touches the scheduler's thread-local state directly).
const ThreadIdentity& this_thread();
const BlockIdentity& this_block();

enum class BarrierKind { sync, count, all, any };
// __syncthreads and its predicate variants: waits for every live thread of the block.
int block_barrier(BarrierKind kind, int predicate);

// Kinds of warp collective; lanes meeting in one collective must agree on the kind and the mask.
enum class WarpOp {
  syncwarp, shfl, vote_ballot, vote_any, vote_all, match_any, match_all,
  reduce_add, reduce_min, reduce_max, reduce_and, reduce_or, reduce_xor,
  wmma_load, wmma_store, wmma_mma, active_mask,
  // kernels/emu/mma_sync.h: mma.sync.m16n8k16 and ldmatrix (each count and .trans is its own kind,
  // so lanes that disagree wait forever and are reported as a deadlock naming both)
  mma_m16n8k16, ldmatrix_x1, ldmatrix_x2, ldmatrix_x4, ldmatrix_x1_trans, ldmatrix_x2_trans, ldmatrix_x4_trans,
};
const char* warp_op_name(WarpOp op);

// Completes a collective once every lane named in the mask has arrived: slots[lane] is what each
// participating lane deposited (nullptr for lanes that do not take part).
using WarpCompletion = void (*)(void* const* slots, unsigned participants);

// Waits until every existing lane of the warp named in `mask` has reached a collective of the same
// kind and mask; then the last lane to arrive runs `complete` once for all of them.
void warp_collective(unsigned mask, WarpOp op, void* slot, WarpCompletion complete);

// Throws deeper::Error "emulator: <kernel, block, thread, warp, lane of the caller>: <what>" (for
// errors an intrinsic detects in the calling thread, e.g. a misaligned address).
[[noreturn]] void thread_fail(const char* what);

// The calling thread's queue of pending cp.async copies (kernels/emu/async_copy.h). The scheduler
// empties it when the thread starts and reports copies still pending when the thread exits.
struct AsyncCopyQueue;
AsyncCopyQueue& async_copy_queue();

// The calling thread's wgmma state (kernels/emu/wgmma.h): cleared when the thread starts; operations
// still pending when it exits are reported.
struct WgmmaQueue;
WgmmaQueue& wgmma_queue();

// Throws deeper::Error: a shuffle width that is not a power of two in [1, 32].
[[noreturn]] void throw_bad_width(int width);

// __activemask(): waits until no lane of the warp can run on without blocking (each has exited, or
// waits at a barrier, a collective or here), then returns the lanes waiting here: the lanes that
// converged at this point, which is what the intrinsic reports on a GPU.
unsigned active_mask();

}  // namespace deeper::emu::detail
