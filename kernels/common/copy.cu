// Copy kernel: see copy.h.
#include "kernels/common/copy.h"
#include "kernels/common/kernel_prelude.cuh"

namespace deeper::kernels::DEEPER_KERNEL_NS {

// Grid-stride copy in 16-byte words (uint4) over the part where both pointers are 16-byte aligned
// relative to each other, then bytes for the head and tail. Assumes src and dst do not overlap.
__global__ void __launch_bounds__(kCopyThreads) copy_kernel(CopyParams p) {
  const auto* src = static_cast<const unsigned char*>(p.src);
  auto* dst = static_cast<unsigned char*>(p.dst);
  const std::int64_t tid = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const std::int64_t threads = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const auto src_addr = reinterpret_cast<std::uintptr_t>(src);
  const bool vectorizable = (src_addr % 16) == (reinterpret_cast<std::uintptr_t>(dst) % 16);
  std::int64_t head = vectorizable ? static_cast<std::int64_t>((16 - src_addr % 16) % 16) : p.bytes;
  if (head > p.bytes) head = p.bytes;
  const std::int64_t words = (p.bytes - head) / 16;
  const std::int64_t tail_begin = head + words * 16;
  for (std::int64_t i = tid; i < head; i += threads) dst[i] = src[i];
  const auto* src4 = reinterpret_cast<const uint4*>(src + head);
  auto* dst4 = reinterpret_cast<uint4*>(dst + head);
  for (std::int64_t i = tid; i < words; i += threads) dst4[i] = src4[i];
  for (std::int64_t i = tail_begin + tid; i < p.bytes; i += threads) dst[i] = src[i];
}

void copy(const CopyParams& p, void* stream) {
  const unsigned blocks = grid_blocks((p.bytes / 16 + 1), kCopyThreads, 132u * 8u);
  launch(copy_kernel, dim3(blocks), dim3(kCopyThreads), 0, stream, "copy", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
