// random_fill kernel: fills count elements with values of one distribution, each a pure function
// of (seed, stream, element index) as defined in kernels/common/random_fill.h. Built by nvcc
// (cuda_impl) and by the host compiler for the emulator (emu_impl); the values match the cpu
// reference (random_fill_cpu.cpp) bit for bit on both.
//
// Layout: out is a contiguous array of float, double or uint32 (by distribution); no alignment
// beyond the element's is assumed. One thread computes one Philox block (4 outputs of 32 bits or 2
// of 64 bits) in a grid-stride loop with 64-bit indices; the first and last blocks may be partial
// (an offset that is not a multiple of the block's elements, a count that ends mid-block).
// Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/random.h"
#include "kernels/common/random_fill.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

// Unrolled loops keep the Philox words in registers (a dynamic index would spill them to local memory).
#if defined(__CUDA_ARCH__)
#define DEEPER_RANDOM_UNROLL _Pragma("unroll")
#else
#define DEEPER_RANDOM_UNROLL
#endif

// Output elements per Philox block for distribution D.
template <RandomDistribution D>
DEEPER_HD_INLINE constexpr int per_block() {
  return (D == RandomDistribution::uniform_f64 || D == RandomDistribution::normal_f64) ? 2 : 4;
}

// One thread per Philox block j (grid-stride over the blocks that hold elements [offset,
// offset + count)): computes the block's values and stores the ones in that range.
template <RandomDistribution D>
__global__ void random_fill_kernel(RandomFillParams p) {
  constexpr int per = per_block<D>();
  const std::uint64_t begin = p.offset;
  const std::uint64_t end = p.offset + static_cast<std::uint64_t>(p.count);
  const std::uint64_t first_block = begin / per;
  const std::uint64_t blocks = (end - 1) / per - first_block + 1;
  const std::uint64_t stride = static_cast<std::uint64_t>(gridDim.x) * blockDim.x;
  const bool affine = !(p.scale == 1.0 && p.shift == 0.0);
  for (std::uint64_t t = static_cast<std::uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < blocks;
       t += stride) {
    const std::uint64_t j = first_block + t;
    const rng::Philox4x32Block b = rng::random_block(p.seed, p.stream, j);
    const std::uint64_t i0 = j * per;  // element of word/pair 0; out[i - begin] holds element i
    if constexpr (D == RandomDistribution::uniform_u32 || D == RandomDistribution::bits_u32) {
      std::uint32_t* out = static_cast<std::uint32_t*>(p.out);
      DEEPER_RANDOM_UNROLL
      for (int l = 0; l < per; ++l) {
        if (i0 + l >= begin && i0 + l < end) {
          out[i0 + l - begin] = D == RandomDistribution::bits_u32
                                    ? b.w[l]
                                    : rng::uniform_int_at(p.seed, p.stream, j, l, b.w[l], p.bound);
        }
      }
    } else if constexpr (per == 4) {
      const rng::Float4 v = D == RandomDistribution::uniform_f32        ? rng::uniform_float4(b)
                            : D == RandomDistribution::uniform_open_f32 ? rng::uniform_float_open4(b)
                                                                        : rng::normal_float4(b);
      const float scale = static_cast<float>(p.scale);
      const float shift = static_cast<float>(p.shift);
      float* out = static_cast<float*>(p.out);
      DEEPER_RANDOM_UNROLL
      for (int l = 0; l < per; ++l) {
        if (i0 + l >= begin && i0 + l < end)
          out[i0 + l - begin] = affine ? rng::exact::fma(scale, v.v[l], shift) : v.v[l];
      }
    } else {
      const rng::Double2 r =
          D == RandomDistribution::uniform_f64 ? rng::uniform_double2(b) : rng::normal_double2(b);
      const double v[2] = {r.x, r.y};
      double* out = static_cast<double*>(p.out);
      DEEPER_RANDOM_UNROLL
      for (int l = 0; l < per; ++l) {
        if (i0 + l >= begin && i0 + l < end)
          out[i0 + l - begin] = affine ? rng::exact::fma(p.scale, v[l], p.shift) : v[l];
      }
    }
  }
}

template <RandomDistribution D>
void launch_fill(const RandomFillParams& p, void* stream) {
  const std::uint64_t end = p.offset + static_cast<std::uint64_t>(p.count);
  const std::uint64_t blocks = (end - 1) / per_block<D>() - p.offset / per_block<D>() + 1;
  deeper::launch(random_fill_kernel<D>, dim3(deeper::grid_blocks(static_cast<long long>(blocks), kThreads)),
                 dim3(kThreads), 0, stream, "random_fill", p);
}

}  // namespace

void random_fill(const RandomFillParams& p, void* stream) {
  check_random_fill_params(p);
  if (p.count == 0) return;
  switch (p.dist) {
    case RandomDistribution::uniform_f32:
      return launch_fill<RandomDistribution::uniform_f32>(p, stream);
    case RandomDistribution::uniform_open_f32:
      return launch_fill<RandomDistribution::uniform_open_f32>(p, stream);
    case RandomDistribution::normal_f32:
      return launch_fill<RandomDistribution::normal_f32>(p, stream);
    case RandomDistribution::uniform_f64:
      return launch_fill<RandomDistribution::uniform_f64>(p, stream);
    case RandomDistribution::normal_f64:
      return launch_fill<RandomDistribution::normal_f64>(p, stream);
    case RandomDistribution::uniform_u32:
      return launch_fill<RandomDistribution::uniform_u32>(p, stream);
    case RandomDistribution::bits_u32:
      return launch_fill<RandomDistribution::bits_u32>(p, stream);
  }
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
