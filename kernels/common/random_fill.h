// random_fill: fill a buffer with random values that are a pure function of (seed, stream, element
// index), bit-identical on the cpu reference, the kernel emulator and CUDA.
//
// Element i of the output is defined by Philox4x32-10 blocks of kernels/common/random.h:
//   32-bit distributions (uniform_f32, uniform_open_f32, normal_f32, uniform_u32, bits_u32):
//     block j = i / 4 = random_block(seed, stream, j, 0), word i % 4;
//     normal_f32 pairs the words (0, 1) and (2, 3) through Box-Muller (normal_float4);
//     uniform_u32 rejects a word (Lemire) by replacing it with the same word of draw 1, 2, ...
//   64-bit distributions (uniform_f64, normal_f64):
//     block j = i / 2; uniform_f64 uses words (0, 1) for even i and (2, 3) for odd i;
//     normal_f64 is the Box-Muller pair of the block (normal_double2), x for even i, y for odd i.
// Here i is the element's index in the whole sequence: out[k] holds element i = offset + k, so a
// long sequence can be produced in tiles (fill [0, a), then offset a) and every tile matches.
// The value of element i does not depend on count, offset, the grid, or the backend.
//
// Floating-point results are then mapped affinely, out = fma(scale, v, shift) in the output's
// precision (scale and shift rounded to float for the f32 distributions); scale = 1, shift = 0
// (the defaults) leave v unchanged. Integer distributions ignore scale and shift.
#pragma once

#include "kernels/runtime/device.h"

#include <cstddef>
#include <cstdint>

namespace deeper::kernels {

enum class RandomDistribution : std::uint32_t {
  uniform_f32,       // float in [0, 1): 24 bits, k * 2^-24
  uniform_open_f32,  // float in (0, 1): 23 bits, (2k + 1) * 2^-24
  normal_f32,        // float N(0, 1), Box-Muller with deeper's portable log/sin/cos
  uniform_f64,       // double in [0, 1): 53 bits
  normal_f64,        // double N(0, 1)
  uniform_u32,       // uint32 in [0, bound), exactly uniform (Lemire with rejection); bound >= 1
  bits_u32,          // the raw 32-bit Philox words
};

// Bytes per output element of a distribution (4 or 8).
constexpr std::size_t random_element_size(RandomDistribution dist) {
  return (dist == RandomDistribution::uniform_f64 || dist == RandomDistribution::normal_f64) ? 8 : 4;
}

// Output elements per Philox block: 4 for the 32-bit distributions, 2 for the 64-bit ones.
constexpr std::int64_t random_elements_per_block(RandomDistribution dist) {
  return random_element_size(dist) == 8 ? 2 : 4;
}

struct RandomFillParams {
  void* out = nullptr;  // count elements of the distribution's type (float, double or uint32)
  std::int64_t count = 0;
  std::uint64_t seed = 0;
  std::uint32_t stream = 0;
  RandomDistribution dist = RandomDistribution::uniform_f32;
  std::uint64_t offset = 0;  // out[k] holds element offset + k of the sequence
  std::uint32_t bound = 0;   // uniform_u32 only: values in [0, bound)
  double scale = 1.0;        // floating-point distributions: out = fma(scale, v, shift)
  double shift = 0.0;
};

// Throws deeper::Error when the parameters are unusable: count < 0, a null `out` with count > 0,
// offset + count above 2^64 - 1, an unknown distribution, or uniform_u32 with bound == 0. Every
// backend calls it first.
void check_random_fill_params(const RandomFillParams& p);

namespace cpu_impl {
// The reference: element by element from the definition above (OpenMP over elements).
void random_fill(const RandomFillParams& p);
}  // namespace cpu_impl

namespace emu_impl {
// The CUDA kernel of random_fill.cu run by the emulator; out is host memory; stream is ignored.
void random_fill(const RandomFillParams& p, void* stream);
}  // namespace emu_impl

namespace cuda_impl {
// The CUDA kernel; out is device memory; asynchronous on `stream` (a cudaStream_t, or nullptr).
// Exists only when deeper_kernels was built with nvcc (DEEPER_HAVE_CUDA_KERNELS == 1).
void random_fill(const RandomFillParams& p, void* stream);
}  // namespace cuda_impl

// Runs on `device`'s backend (out must be memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream. Throws deeper::Error for cuda when the library was built
// without nvcc.
void random_fill(const Device& device, const RandomFillParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
