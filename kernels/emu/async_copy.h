// cp.async under the emulator: each emulated thread's queue of asynchronous copies.
//
// A copy does not happen when it is issued. cp_async_16 appends it to the thread's uncommitted
// copies; cp_async_commit closes them into a group (an empty group is allowed, as in PTX);
// cp_async_wait<N> performs the oldest committed groups, in issue order, until at most N groups are
// pending. Copies issued but not committed are not waited for (cp.async.wait_group semantics).
// The destination is undefined from the issue to the wait, as on a GPU: cp_async_16 fills its 16
// bytes with 0xFF (NaN, -1) at issue. A kernel that reads shared memory before waiting therefore sees
// garbage under the emulator, whatever was there before (template kernels' __shared__ arrays are
// not poisoned per block, but cp.async destinations are).
//
// A copy reads its source when it is performed, not at issue; a kernel that changes the source in
// between races on a GPU too. A thread that exits with copies still pending (committed or not) is
// an error naming the thread: on a GPU such copies land in shared memory that other threads may
// read without any guarantee. Pending empty groups at exit are harmless and allowed.
#pragma once

#include <cstddef>
#include <vector>

namespace deeper::emu::detail {

struct AsyncCopy {
  void* dst;
  const void* src;
  unsigned src_bytes;  // 0..16; the rest of the 16 destination bytes become zeros
};

struct AsyncCopyQueue {
  std::vector<AsyncCopy> uncommitted;  // issued since the last commit
  std::vector<AsyncCopy> committed;    // the pending groups' copies, oldest first
  std::vector<std::size_t> group_sizes;  // pending groups, oldest first (0 for an empty group)

  void clear() {
    uncommitted.clear();
    committed.clear();
    group_sizes.clear();
  }
  std::size_t pending_copies() const { return uncommitted.size() + committed.size(); }
  void issue(const AsyncCopy& copy) { uncommitted.push_back(copy); }
  void commit();
  // Performs the oldest groups until at most max_pending groups remain.
  void wait(std::size_t max_pending);
};

}  // namespace deeper::emu::detail
