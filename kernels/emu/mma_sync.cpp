// The emulator's mma.sync m16n8k16, ldmatrix and cp.async: see mma_sync.h and async_copy.h.
#include "kernels/emu/mma_sync.h"

#include "kernels/emu/async_copy.h"
#include "kernels/emu/bf16_bits.h"
#include "kernels/emu/shared_memory.h"
#include "kernels/emu/thread_context.h"

#include "core/error.h"

#include <cstring>
#include <string>

namespace deeper::emu {
namespace {

using detail::bf16_bits_to_float;
using detail::WarpOp;

[[noreturn]] void lane_fail(const std::string& what) { detail::thread_fail(what.c_str()); }

// mma.sync and ldmatrix are .aligned: all 32 lanes execute them. A warp cut short by the block size
// (blockDim not a multiple of 32) can never complete one.
void require_full_warp(const char* op) {
  const dim3 b = detail::this_block().block_dim;
  const unsigned threads = b.x * b.y * b.z;
  const unsigned warp = detail::this_thread().warp;
  const unsigned lanes = threads - warp * 32 >= 32 ? 32 : threads - warp * 32;
  if (lanes != 32) {
    lane_fail(fmt::format("{} needs all 32 lanes of the warp, but warp {} of this {}-thread block has {}", op, warp,
                          threads, lanes));
  }
}

// ---------------------------------------------------------------------------------------------
// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, PTX fragment layout: lane l, group g = l/4,
// t = l%4. A: register i holds row g + 8*(i%2), columns 2t + 8*(i/2) (low half) and the next one.
// B: register i holds rows (k) 2t + 8*i (low half) and the next one, column (n) g. C/D: element i
// is row g + 8*(i/2), column 2t + i%2.

struct MmaSlot {
  float* d;
  const std::uint32_t* a;
  const std::uint32_t* b;
  const float* c;
};

void complete_mma(void* const* slots, unsigned) {
  float A[16][16], B[16][8], C[16][8];
  for (unsigned lane = 0; lane < 32; ++lane) {
    const auto* s = static_cast<const MmaSlot*>(slots[lane]);
    const unsigned g = lane / 4, t = lane % 4;
    for (unsigned i = 0; i < 4; ++i) {
      for (unsigned h = 0; h < 2; ++h) {
        A[g + 8 * (i % 2)][2 * t + h + 8 * (i / 2)] = bf16_bits_to_float(static_cast<std::uint16_t>(s->a[i] >> (16 * h)));
      }
      C[g + 8 * (i / 2)][2 * t + i % 2] = s->c[i];
    }
    for (unsigned i = 0; i < 2; ++i) {
      for (unsigned h = 0; h < 2; ++h) {
        B[2 * t + h + 8 * i][g] = bf16_bits_to_float(static_cast<std::uint16_t>(s->b[i] >> (16 * h)));
      }
    }
  }
  // Every lane's inputs are read above before any output is written: d may alias c (and another
  // lane's registers never alias these, each lane's live on its own fiber stack).
  float D[16][8];
  for (int i = 0; i < 16; ++i) {
    for (int j = 0; j < 8; ++j) {
      float acc = C[i][j];
      for (int k = 0; k < 16; ++k) {
        const float product = A[i][k] * B[k][j];  // exact: two 8-bit significands
        acc += product;
      }
      D[i][j] = acc;
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    const auto* s = static_cast<const MmaSlot*>(slots[lane]);
    const unsigned g = lane / 4, t = lane % 4;
    for (unsigned i = 0; i < 4; ++i) s->d[i] = D[g + 8 * (i / 2)][2 * t + i % 2];
  }
}

// ---------------------------------------------------------------------------------------------
// ldmatrix.sync.aligned.m8n8.x{1,2,4}{.trans}.shared.b16

struct LdmatrixSlot {
  const unsigned char* row;
  std::uint32_t* r;
};

template <int Count, bool Trans>
void complete_ldmatrix(void* const* slots, unsigned) {
  std::uint16_t m[Count][8][8];
  for (int j = 0; j < Count; ++j) {
    for (int i = 0; i < 8; ++i) std::memcpy(m[j][i], static_cast<const LdmatrixSlot*>(slots[8 * j + i])->row, 16);
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    const unsigned row = lane / 4, col = 2 * (lane % 4);
    for (int j = 0; j < Count; ++j) {
      const std::uint32_t lo = Trans ? m[j][col][row] : m[j][row][col];
      const std::uint32_t hi = Trans ? m[j][col + 1][row] : m[j][row][col + 1];
      static_cast<const LdmatrixSlot*>(slots[lane])->r[j] = lo | hi << 16;
    }
  }
}

template <int Count, bool Trans>
constexpr WarpOp ldmatrix_op() {
  if constexpr (Count == 1) return Trans ? WarpOp::ldmatrix_x1_trans : WarpOp::ldmatrix_x1;
  if constexpr (Count == 2) return Trans ? WarpOp::ldmatrix_x2_trans : WarpOp::ldmatrix_x2;
  return Trans ? WarpOp::ldmatrix_x4_trans : WarpOp::ldmatrix_x4;
}

template <int Count, bool Trans>
void ldmatrix_impl(std::uint32_t* r, const void* smem_row) {
  constexpr WarpOp op = ldmatrix_op<Count, Trans>();
  const char* name = detail::warp_op_name(op);
  require_full_warp(name);
  const unsigned lane = detail::this_thread().lane;
  if (lane < 8u * Count) {  // the lanes whose row address is used
    if (classify_address(smem_row) == AddressKind::other) {
      lane_fail(fmt::format("{}: lane {}'s row address {} is not in shared memory (ldmatrix reads .shared only)", name,
                            lane, smem_row));
    }
    if (reinterpret_cast<std::uintptr_t>(smem_row) % 16 != 0) {
      lane_fail(fmt::format("{}: lane {}'s row address {} is not 16-byte aligned (the GPU faults: misaligned address)",
                            name, lane, smem_row));
    }
  }
  LdmatrixSlot slot{static_cast<const unsigned char*>(smem_row), r};
  detail::warp_collective(0xFFFFFFFFu, op, &slot, &complete_ldmatrix<Count, Trans>);
}

}  // namespace

void mma_m16n8k16_bf16(float* d, const std::uint32_t* a, const std::uint32_t* b, const float* c) {
  require_full_warp(detail::warp_op_name(WarpOp::mma_m16n8k16));
  MmaSlot slot{d, a, b, c};
  detail::warp_collective(0xFFFFFFFFu, WarpOp::mma_m16n8k16, &slot, &complete_mma);
}

void ldmatrix(std::uint32_t* r, int count, bool trans, const void* smem_row) {
  switch (count * 2 + (trans ? 1 : 0)) {
    case 2: return ldmatrix_impl<1, false>(r, smem_row);
    case 3: return ldmatrix_impl<1, true>(r, smem_row);
    case 4: return ldmatrix_impl<2, false>(r, smem_row);
    case 5: return ldmatrix_impl<2, true>(r, smem_row);
    case 8: return ldmatrix_impl<4, false>(r, smem_row);
    case 9: return ldmatrix_impl<4, true>(r, smem_row);
    default: lane_fail(fmt::format("ldmatrix: {} matrices requested; ldmatrix loads 1, 2 or 4", count));
  }
}

// ---------------------------------------------------------------------------------------------
// cp.async.cg.shared.global, 16 bytes with zero fill

void cp_async_16(void* smem_dst, const void* src, int src_bytes) {
  if (src_bytes < 0 || src_bytes > 16) {
    lane_fail(fmt::format("cp_async_16: src_bytes {} is outside [0, 16]", src_bytes));
  }
  if (classify_address(smem_dst) == AddressKind::other) {
    lane_fail(fmt::format("cp_async_16: destination {} is not in shared memory", smem_dst));
  }
  if (reinterpret_cast<std::uintptr_t>(smem_dst) % 16 != 0 || reinterpret_cast<std::uintptr_t>(src) % 16 != 0) {
    lane_fail(fmt::format("cp_async_16: destination {} and source {} must both be 16-byte aligned (the GPU faults: "
                          "misaligned address)",
                          smem_dst, src));
  }
  if (src_bytes > 0 && src == nullptr) lane_fail(fmt::format("cp_async_16: null source with src_bytes {}", src_bytes));
  if (src != nullptr && classify_address(src) == AddressKind::shared) {
    lane_fail(fmt::format("cp_async_16: source {} is in shared memory; cp.async copies from global memory", src));
  }
  // Until the copy completes the destination is undefined on a GPU: poison it now, so that a read
  // before the wait sees garbage even where shared memory is not poisoned per block (template kernels).
  std::memset(smem_dst, 0xFF, 16);
  detail::async_copy_queue().issue(detail::AsyncCopy{smem_dst, src, static_cast<unsigned>(src_bytes)});
}

void cp_async_commit() { detail::async_copy_queue().commit(); }

void cp_async_wait(int max_pending_groups) {
  if (max_pending_groups < 0) lane_fail(fmt::format("cp_async_wait<{}>: N must be >= 0", max_pending_groups));
  detail::async_copy_queue().wait(static_cast<std::size_t>(max_pending_groups));
}

namespace detail {

void AsyncCopyQueue::commit() {
  group_sizes.push_back(uncommitted.size());
  committed.insert(committed.end(), uncommitted.begin(), uncommitted.end());
  uncommitted.clear();
}

void AsyncCopyQueue::wait(std::size_t max_pending) {
  std::size_t groups = 0, copies = 0;
  while (group_sizes.size() - groups > max_pending) copies += group_sizes[groups++];
  for (std::size_t i = 0; i < copies; ++i) {
    const AsyncCopy& c = committed[i];
    auto* dst = static_cast<unsigned char*>(c.dst);
    if (c.src_bytes > 0) std::memcpy(dst, c.src, c.src_bytes);
    std::memset(dst + c.src_bytes, 0, 16 - c.src_bytes);
  }
  committed.erase(committed.begin(), committed.begin() + static_cast<std::ptrdiff_t>(copies));
  group_sizes.erase(group_sizes.begin(), group_sizes.begin() + static_cast<std::ptrdiff_t>(groups));
}

}  // namespace detail
}  // namespace deeper::emu
