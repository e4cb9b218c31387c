// random_fill on the CPU: the reference for the kernel in random_fill.cu, computed straight from
// the element definition in random_fill.h (element i = offset + k from Philox block i / per, word
// or pair i % per, stored at out[k]), one block per loop iteration, OpenMP over blocks. It is also
// the cpu backend's implementation. This file also holds check_random_fill_params, which every
// backend calls first, and the backend dispatch.
#include <cstddef>
#include <cstdint>

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/common/random.h"
#include "kernels/common/random_fill.h"

namespace deeper::kernels {

void check_random_fill_params(const RandomFillParams& p) {
  DEEPER_CHECK(p.count >= 0, "random_fill: count must be >= 0, got {}", p.count);
  DEEPER_CHECK(p.count == 0 || p.out != nullptr, "random_fill: null output buffer for {} elements", p.count);
  DEEPER_CHECK(static_cast<std::uint64_t>(p.count) <= ~std::uint64_t{0} - p.offset,
               "random_fill: offset {} + count {} passes 2^64 - 1", p.offset, p.count);
  const auto d = static_cast<std::uint32_t>(p.dist);
  DEEPER_CHECK(d <= static_cast<std::uint32_t>(RandomDistribution::bits_u32),
               "random_fill: unknown distribution {}", d);
  DEEPER_CHECK(p.dist != RandomDistribution::uniform_u32 || p.bound >= 1,
               "random_fill: uniform_u32 needs bound >= 1 (values in [0, bound))");
}

namespace cpu_impl {

namespace {

// The value of one 32-bit-distribution element: word `lane` of Philox block `j`.
float float_element(RandomDistribution dist, const rng::Philox4x32Block& b, int lane) {
  switch (dist) {
    case RandomDistribution::uniform_f32:
      return rng::uniform_float(b.w[lane]);
    case RandomDistribution::uniform_open_f32:
      return rng::uniform_float_open(b.w[lane]);
    default: {
      const int pair = lane & ~1;  // Box-Muller on words (0, 1) or (2, 3)
      const rng::Float2 z = rng::normal_float2(b.w[pair], b.w[pair + 1]);
      return (lane & 1) ? z.y : z.x;
    }
  }
}

double double_element(RandomDistribution dist, const rng::Philox4x32Block& b, int lane) {
  if (dist == RandomDistribution::uniform_f64) {
    return lane == 0 ? rng::uniform_double(b.w[0], b.w[1]) : rng::uniform_double(b.w[2], b.w[3]);
  }
  const rng::Double2 z = rng::normal_double2(b.w[0], b.w[1], b.w[2], b.w[3]);
  return lane == 0 ? z.x : z.y;
}

}  // namespace

void random_fill(const RandomFillParams& p) {
  check_random_fill_params(p);
  if (p.count == 0) return;
  const auto per = static_cast<std::uint64_t>(random_elements_per_block(p.dist));
  const std::uint64_t begin = p.offset;                                      // first element
  const std::uint64_t end = p.offset + static_cast<std::uint64_t>(p.count);  // one past the last
  const std::uint64_t first_block = begin / per;
  const auto blocks = static_cast<std::int64_t>((end - 1) / per - first_block + 1);
  const bool affine = !(p.scale == 1.0 && p.shift == 0.0);
  const float scale_f = static_cast<float>(p.scale);
  const float shift_f = static_cast<float>(p.shift);

#pragma omp parallel for schedule(static) if (blocks > 4096)
  for (std::int64_t t = 0; t < blocks; ++t) {
    const std::uint64_t j = first_block + static_cast<std::uint64_t>(t);
    const rng::Philox4x32Block b = rng::random_block(p.seed, p.stream, j);
    for (int lane = 0; lane < static_cast<int>(per); ++lane) {
      const std::uint64_t i = j * per + static_cast<std::uint64_t>(lane);  // <= 2^64 - 1: no wrap
      if (i < begin || i >= end) continue;
      const std::size_t k = static_cast<std::size_t>(i - begin);  // position in out
      switch (p.dist) {
        case RandomDistribution::bits_u32:
          static_cast<std::uint32_t*>(p.out)[k] = b.w[lane];
          break;
        case RandomDistribution::uniform_u32: {
          // Lemire's test on the word, then the same word of draws 1, 2, ... until one is accepted.
          std::uint32_t value = 0;
          std::uint32_t word = b.w[lane];
          for (std::uint32_t draw = 1; !rng::uniform_int_try(word, p.bound, &value); ++draw) {
            word = rng::random_block(p.seed, p.stream, j, draw).w[lane];
          }
          static_cast<std::uint32_t*>(p.out)[k] = value;
          break;
        }
        case RandomDistribution::uniform_f64:
        case RandomDistribution::normal_f64: {
          const double v = double_element(p.dist, b, lane);
          static_cast<double*>(p.out)[k] = affine ? rng::exact::fma(p.scale, v, p.shift) : v;
          break;
        }
        default: {
          const float v = float_element(p.dist, b, lane);
          static_cast<float*>(p.out)[k] = affine ? rng::exact::fma(scale_f, v, shift_f) : v;
          break;
        }
      }
    }
  }
}

}  // namespace cpu_impl

void random_fill(const Device& device, const RandomFillParams& p, void* stream) {
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::random_fill(p);
    case Backend::emu:
      return emu_impl::random_fill(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::random_fill(p, stream));
  }
  fail("random_fill: unknown backend {}", static_cast<int>(device.backend));
}

}  // namespace deeper::kernels
