// The emulator's wgmma.mma_async (shared-memory operands, no swizzle): see wgmma.h and
// kernels/common/wgmma.cuh for the descriptor and fragment layouts.
#include "kernels/emu/wgmma.h"

#include "kernels/emu/bf16_bits.h"
#include "kernels/emu/thread_context.h"

#include "core/error.h"

#include <string>

namespace deeper::emu {
namespace {

using detail::WgmmaOp;

[[noreturn]] void thread_fail(const std::string& what) { detail::thread_fail(what.c_str()); }

// A decoded matrix descriptor: byte offsets in the block's dynamic shared memory.
struct Desc {
  std::uint32_t start, lbo, sbo;
};

Desc decode(std::uint64_t desc, const char* operand) {
  const unsigned swizzle = static_cast<unsigned>(desc >> 62);
  const unsigned base_offset = static_cast<unsigned>(desc >> 49) & 7u;
  if (swizzle != 0 || base_offset != 0) {
    thread_fail(fmt::format("wgmma: the descriptor of {} (0x{:016x}) has swizzle mode {} and base offset {}; the "
                            "emulator implements only the interleaved layout (both 0)",
                            operand, desc, swizzle, base_offset));
  }
  return Desc{static_cast<std::uint32_t>(desc & 0x3FFFu) << 4, static_cast<std::uint32_t>(desc >> 16 & 0x3FFFu) << 4,
              static_cast<std::uint32_t>(desc >> 32 & 0x3FFFu) << 4};
}

// Byte offset of element (mn, k) of an operand in the interleaved layout: 8 x 8 core matrices of
// 128 contiguous bytes, K-major (8 rows of mn, each 8 consecutive k) or MN-major (8 rows of k, each
// 8 consecutive mn); core matrices LBO apart along K and SBO apart along M or N.
std::uint32_t element_offset(const Desc& d, bool mn_major, int mn, int k) {
  const std::uint32_t core = d.start + static_cast<std::uint32_t>(mn / 8) * d.sbo + static_cast<std::uint32_t>(k / 8) * d.lbo;
  return mn_major ? core + static_cast<std::uint32_t>(k % 8) * 16 + static_cast<std::uint32_t>(mn % 8) * 2
                  : core + static_cast<std::uint32_t>(mn % 8) * 16 + static_cast<std::uint32_t>(k % 8) * 2;
}

// Performs one operation for the calling thread: its rows r0 = 16 * (warp % 4) + lane / 4 and r0 + 8,
// columns 8 j + 2 (lane % 4) + {0, 1}, j < n / 8 (d[4 j + i]: row r0 + 8 (i / 2), column ... + i % 2).
void perform(const WgmmaOp& op) {
  const detail::BlockIdentity& block = detail::this_block();
  const detail::ThreadIdentity& me = detail::this_thread();
  const unsigned char* smem = block.dynamic_shared;
  const std::size_t bytes = block.dynamic_shared_bytes;
  const Desc a = decode(op.desc_a, "A"), b = decode(op.desc_b, "B");
  auto read = [&](const Desc& d, bool mn_major, int mn, int k, const char* operand) {
    const std::uint32_t off = element_offset(d, mn_major, mn, k);
    if (off + 2 > bytes) {
      thread_fail(fmt::format("wgmma: element ({}, {}) of {} is at byte {} of shared memory, past the block's {} "
                              "bytes of dynamic shared memory (start {}, LBO {}, SBO {})",
                              mn, k, operand, off, bytes, d.start, d.lbo, d.sbo));
    }
    return detail::bf16_load(smem + off);
  };
  const int r0 = 16 * static_cast<int>(me.warp % 4) + static_cast<int>(me.lane / 4);
  const int c0 = 2 * static_cast<int>(me.lane % 4);
  float arow[2][16];
  for (int h = 0; h < 2; ++h) {
    for (int k = 0; k < 16; ++k) arow[h][k] = read(a, op.trans_a != 0, r0 + 8 * h, k, "A");
  }
  for (int j = 0; j < op.n / 8; ++j) {
    for (int e = 0; e < 2; ++e) {
      const int col = 8 * j + c0 + e;
      float bcol[16];
      for (int k = 0; k < 16; ++k) bcol[k] = read(b, op.trans_b != 0, col, k, "B");
      for (int h = 0; h < 2; ++h) {
        float acc = op.scale_d ? op.d[4 * j + 2 * h + e] : 0.0f;
        for (int k = 0; k < 16; ++k) acc += arow[h][k] * bcol[k];  // each product exact in fp32
        op.d[4 * j + 2 * h + e] = acc;
      }
    }
  }
}

detail::WgmmaQueue& queue() { return detail::wgmma_queue(); }

}  // namespace

std::uint32_t wgmma_shared_address(const void* p) {
  const detail::BlockIdentity& block = detail::this_block();
  const auto* c = static_cast<const unsigned char*>(p);
  if (block.dynamic_shared == nullptr || c < block.dynamic_shared ||
      c >= block.dynamic_shared + block.dynamic_shared_bytes) {
    thread_fail(fmt::format("wgmma: {} is not in the block's dynamic shared memory (the emulator's wgmma reads "
                            "operands from dynamic shared memory only)",
                            p));
  }
  return static_cast<std::uint32_t>(c - block.dynamic_shared);
}

void wgmma_fence() { queue().fenced = true; }

void wgmma_mma_async(float* d, std::uint64_t desc_a, std::uint64_t desc_b, int n, bool scale_d, int trans_a,
                     int trans_b) {
  const detail::BlockIdentity& block = detail::this_block();
  const detail::ThreadIdentity& me = detail::this_thread();
  const unsigned threads = block.block_dim.x * block.block_dim.y * block.block_dim.z;
  if ((me.warp / 4 + 1) * 128 > threads) {
    thread_fail(fmt::format("wgmma: warp {} belongs to warpgroup {}, which this {}-thread block does not fill (a "
                            "warpgroup is 4 whole warps, 128 threads)",
                            me.warp, me.warp / 4, threads));
  }
  if (n < 8 || n > 256 || n % 8 != 0) thread_fail(fmt::format("wgmma: m64n{}k16 does not exist (N = 8, 16, ..., 256)", n));
  if (trans_a < 0 || trans_a > 1 || trans_b < 0 || trans_b > 1) {
    thread_fail(fmt::format("wgmma: transpose flags ({}, {}) must be 0 or 1", trans_a, trans_b));
  }
  detail::WgmmaQueue& q = queue();
  if (!q.fenced) {
    thread_fail("wgmma: wgmma_mma_async without a wgmma_fence since the thread's last wgmma_wait (the PTX ISA "
                "requires wgmma.fence before the first wgmma and after other accesses to the accumulators)");
  }
  decode(desc_a, "A");
  decode(desc_b, "B");
  q.uncommitted.push_back(WgmmaOp{d, desc_a, desc_b, n, scale_d, trans_a, trans_b});
}

void wgmma_commit() {
  detail::WgmmaQueue& q = queue();
  q.group_sizes.push_back(q.uncommitted.size());
  q.committed.insert(q.committed.end(), q.uncommitted.begin(), q.uncommitted.end());
  q.uncommitted.clear();
}

void wgmma_wait(int max_pending_groups) {
  if (max_pending_groups < 0) thread_fail(fmt::format("wgmma_wait<{}>: N must be >= 0", max_pending_groups));
  detail::WgmmaQueue& q = queue();
  std::size_t groups = 0, ops = 0;
  while (q.group_sizes.size() - groups > static_cast<std::size_t>(max_pending_groups)) ops += q.group_sizes[groups++];
  for (std::size_t i = 0; i < ops; ++i) perform(q.committed[i]);
  q.committed.erase(q.committed.begin(), q.committed.begin() + static_cast<std::ptrdiff_t>(ops));
  q.group_sizes.erase(q.group_sizes.begin(), q.group_sizes.begin() + static_cast<std::ptrdiff_t>(groups));
  q.fenced = false;
}

}  // namespace deeper::emu
