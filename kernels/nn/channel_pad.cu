// Channel padding kernels (definitions, layout and bytes in kernels/nn/channel_pad.h). Version 1:
// the pad kernels write 8 bf16 channels of a row per thread as one 16-byte store when C_pad % 8 == 0
// and `out` is 16-byte aligned (one thread per value otherwise); unpad is one thread per value.
// Grid-stride, 64-bit indices. Built by nvcc (cuda_impl) and for the emulator (emu_impl); the values
// are those of the cpu reference (channel_pad_cpu.cpp) bit for bit (a copy, a zero, or the same
// float_to_bf16_bits rounding).
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/common/vector16.cuh"
#include "kernels/nn/channel_pad.h"
#include "kernels/nn/optimizer.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;

struct alignas(16) Bits16x8 {
  std::uint16_t v[8];
};

__device__ __forceinline__ std::uint16_t bf16_of(const float* in, std::int64_t i) { return float_to_bf16_bits(in[i]); }
__device__ __forceinline__ std::uint16_t bf16_of(const std::uint16_t* in, std::int64_t i) { return in[i]; }

// In: rows x C (fp32 or bf16 bits), out: rows x C_pad bf16 bits. kVec: one thread per 8 output
// channels (C_pad % 8 == 0, out 16-byte aligned), else one per output value.
template <bool kVec, typename In>
__global__ void __launch_bounds__(kThreads)
    pad_kernel(const In* __restrict__ in, std::uint16_t* __restrict__ out, std::int64_t rows, int channels,
               int padded_channels) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t first = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if constexpr (kVec) {
    const int groups = padded_channels / 8;  // per row
    const std::int64_t total = rows * groups;
    for (std::int64_t u = first; u < total; u += stride) {
      const std::int64_t row = u / groups;
      const int c0 = static_cast<int>(u - row * groups) * 8;
      const std::int64_t src = row * channels;
      Bits16x8 v;
      for (int j = 0; j < 8; ++j) v.v[j] = c0 + j < channels ? bf16_of(in, src + c0 + j) : std::uint16_t{0};
      copy16(out + u * 8, &v);
    }
  } else {
    const std::int64_t total = rows * padded_channels;
    for (std::int64_t i = first; i < total; i += stride) {
      const std::int64_t row = i / padded_channels;
      const int c = static_cast<int>(i - row * padded_channels);
      out[i] = c < channels ? bf16_of(in, row * channels + c) : std::uint16_t{0};
    }
  }
}

__global__ void __launch_bounds__(kThreads) unpad_kernel(UnpadChannelsParams p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  const std::int64_t total = p.rows * p.channels;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::int64_t row = i / p.channels;
    const float v = p.in[row * p.padded_channels + (i - row * p.channels)];
    p.out[i] = p.accumulate ? p.out[i] + v : v;
  }
}

bool vector_out(const std::uint16_t* out, int padded_channels) {
  return padded_channels % 8 == 0 && (reinterpret_cast<std::uintptr_t>(out) & 15u) == 0;
}

template <typename In>
void launch_pad(const In* in, std::uint16_t* out, std::int64_t rows, int channels, int padded_channels,
                void* stream, const char* name) {
  if (rows == 0) return;
  if (vector_out(out, padded_channels)) {
    const std::int64_t total = rows * (padded_channels / 8);
    launch(pad_kernel<true, In>, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, name, in, out, rows,
           channels, padded_channels);
  } else {
    const std::int64_t total = rows * padded_channels;
    launch(pad_kernel<false, In>, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, name, in, out, rows,
           channels, padded_channels);
  }
}

}  // namespace

void pad_channels_to_bf16(const PadChannelsToBf16Params& p, void* stream) {
  check_pad_channels_to_bf16_params(p);
  launch_pad(p.in, p.out, p.rows, p.channels, p.padded_channels, stream, "pad_channels_to_bf16");
}

void pad_channels_bf16(const PadChannelsBf16Params& p, void* stream) {
  check_pad_channels_bf16_params(p);
  launch_pad(p.in, p.out, p.rows, p.channels, p.padded_channels, stream, "pad_channels_bf16");
}

void unpad_channels(const UnpadChannelsParams& p, void* stream) {
  check_unpad_channels_params(p);
  const std::int64_t total = p.rows * p.channels;
  if (total == 0) return;
  launch(unpad_kernel, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, "unpad_channels", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
