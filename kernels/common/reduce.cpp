// Float sum reduction: CPU reference, block count and backend dispatch (see reduce.h).
#include "kernels/common/reduce.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <vector>

namespace deeper::kernels {

unsigned reduce_sum_blocks(std::int64_t n) {
  DEEPER_CHECK(n >= 0, "reduce_sum: negative length {}", n);
  // Four loads per thread per round at least; at most 4 blocks per SM of a 132-SM H100.
  const std::int64_t wanted = (n + 4 * kReduceThreads - 1) / (4 * kReduceThreads);
  return static_cast<unsigned>(wanted < 1 ? 1 : (wanted > 528 ? 528 : wanted));
}

namespace cpu_impl {

// Two passes like the kernels, but shaped for a CPU: block b sums the contiguous range
// [b n / blocks, (b + 1) n / blocks) with SIMD into partials[b] (fp32), then the partials are summed
// in fp64. The result depends on n only, not on the thread count.
void reduce_sum(const ReduceSumParams& p) {
  const unsigned blocks = reduce_sum_blocks(p.n);
#pragma omp parallel for schedule(static)
  for (int b = 0; b < static_cast<int>(blocks); ++b) {
    const std::int64_t begin = p.n * b / blocks, end = p.n * (b + 1) / blocks;
    float block_total = 0.0f;
#pragma omp simd reduction(+ : block_total)
    for (std::int64_t i = begin; i < end; ++i) block_total += p.in[i];
    p.partials[b] = block_total;
  }
  double total = 0.0;
  for (unsigned b = 0; b < blocks; ++b) total += p.partials[b];
  *p.out = static_cast<float>(total);
}

}  // namespace cpu_impl

void reduce_sum(const Device& device, const ReduceSumParams& p, void* stream) {
  DEEPER_CHECK(p.n >= 0, "reduce_sum: negative length {}", p.n);
  DEEPER_CHECK((p.in != nullptr || p.n == 0) && p.partials != nullptr && p.out != nullptr,
               "reduce_sum: null input, workspace or output pointer");
  switch (device.backend) {
    case Backend::cpu: return cpu_impl::reduce_sum(p);
    case Backend::emu: return emu_impl::reduce_sum(p, stream);
    case Backend::cuda: return DEEPER_CUDA_KERNEL(cuda_impl::reduce_sum(p, stream));
  }
}

}  // namespace deeper::kernels
