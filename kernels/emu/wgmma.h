// The emulator's warpgroup MMA (sm_90a wgmma.mma_async with both operands in shared memory), its
// fences and groups. kernels/common/wgmma.cuh calls these in the emulated build; kernels use the
// wrappers there, not these.
//
// Asynchrony is modelled per thread, like cp.async (async_copy.h): wgmma_mma_async only records the
// operation; wgmma_commit closes the recorded ones into a group; wgmma_wait(N) performs the oldest
// groups, in issue order, until at most N are pending. Performing one computes the calling
// thread's own accumulator elements (its N/2 floats of the m64nN tile: every element of the D
// fragment depends only on shared memory and on that thread's registers), reading the operands
// from shared memory at that moment. So, as on a GPU:
//   - the accumulator registers hold their old values until the wait (a kernel that reads them
//     earlier sees stale values);
//   - shared memory overwritten between the issue and the wait changes the result (a race on a GPU).
// Checks that fail the thread with a message naming it: a wgmma without a wgmma_fence since the
// thread's last wait (the PTX ISA requires the fence before the first wgmma and after any other
// access to the accumulators); a block whose size does not cover the caller's whole warpgroup;
// a descriptor whose swizzle mode or base offset is not 0 (only the interleaved no-swizzle layout
// is emulated), whose start address or matrix is outside the block's dynamic shared memory; an
// N that m64nNk16 does not have; a thread that exits with wgmma operations not waited for.
// Not checked: that all 128 threads of the warpgroup issue the same instruction (.aligned).
//
// Arithmetic: each D element starts from C (or 0 when scale_d is 0) and adds the 16 exact bf16
// products in k order with fp32 rounding after every addition (as mma_sync.h; a GPU's order and
// internal precision differ in the last bits).
#pragma once

#include <cstdint>
#include <vector>

namespace deeper::emu {

// The shared-memory window address of p (as __cvta_generic_to_shared gives on a GPU): its offset in
// the current block's dynamic shared memory. Fails the thread if p is not in it.
std::uint32_t wgmma_shared_address(const void* p);

void wgmma_fence();
// d: the thread's n / 2 accumulator floats; trans_a / trans_b: 0 K-major, 1 MN-major.
void wgmma_mma_async(float* d, std::uint64_t desc_a, std::uint64_t desc_b, int n, bool scale_d, int trans_a,
                     int trans_b);
void wgmma_commit();
void wgmma_wait(int max_pending_groups);

namespace detail {

struct WgmmaOp {
  float* d;
  std::uint64_t desc_a, desc_b;
  int n;
  bool scale_d;
  int trans_a, trans_b;
};

// One emulated thread's wgmma state (held by the scheduler, cleared when the thread starts).
struct WgmmaQueue {
  std::vector<WgmmaOp> uncommitted;
  std::vector<WgmmaOp> committed;        // the pending groups' operations, oldest first
  std::vector<std::size_t> group_sizes;  // pending groups, oldest first
  bool fenced = false;                   // a wgmma_fence since the last wait (or the start)

  void clear() {
    uncommitted.clear();
    committed.clear();
    group_sizes.clear();
    fenced = false;
  }
  std::size_t pending() const { return uncommitted.size() + committed.size(); }
};

}  // namespace detail
}  // namespace deeper::emu
