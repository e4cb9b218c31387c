// Channel padding on the CPU: the reference for channel_pad.cu and the cpu backend (definitions in
// channel_pad.h), OpenMP over rows. Also holds the parameter checks and the backend dispatch.
#include "kernels/nn/channel_pad.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/nn/optimizer.h"

namespace deeper::kernels {

namespace {

bool aligned(const void* p, std::size_t bytes) { return reinterpret_cast<std::uintptr_t>(p) % bytes == 0; }

// [a, a + a_bytes) and [b, b + b_bytes) share a byte.
bool overlap(const void* a, std::int64_t a_bytes, const void* b, std::int64_t b_bytes) {
  const auto x = reinterpret_cast<std::uintptr_t>(a), y = reinterpret_cast<std::uintptr_t>(b);
  return x < y + static_cast<std::uintptr_t>(b_bytes) && y < x + static_cast<std::uintptr_t>(a_bytes);
}

// The checks every op shares: sizes, then (rows > 0) null, alignment and overlap.
void check_common(const char* op, const void* in, std::size_t in_size, const void* out, std::size_t out_size,
                  std::int64_t rows, int channels, int padded_channels, std::int64_t in_channels,
                  std::int64_t out_channels) {
  DEEPER_CHECK(rows >= 0, "{}: negative rows {}", op, rows);
  DEEPER_CHECK(channels >= 1, "{}: channels {} must be at least 1", op, channels);
  DEEPER_CHECK(padded_channels >= channels && padded_channels <= kChannelPadMax,
               "{}: padded_channels {} is outside [channels = {}, {}]", op, padded_channels, channels, kChannelPadMax);
  DEEPER_CHECK(rows <= (std::int64_t{1} << 62) / padded_channels / 4, "{}: {} rows of {} channels is too large", op,
               rows, padded_channels);
  if (rows == 0) return;
  DEEPER_CHECK(in != nullptr && out != nullptr, "{}: null input or output", op);
  DEEPER_CHECK(aligned(in, in_size) && aligned(out, out_size),
               "{}: input or output not aligned to its element size ({} and {} bytes)", op, in_size, out_size);
  DEEPER_CHECK(!overlap(in, rows * in_channels * static_cast<std::int64_t>(in_size), out,
                        rows * out_channels * static_cast<std::int64_t>(out_size)),
               "{}: input and output overlap", op);
}

}  // namespace

void check_pad_channels_to_bf16_params(const PadChannelsToBf16Params& p) {
  check_common("pad_channels_to_bf16", p.in, sizeof(float), p.out, sizeof(std::uint16_t), p.rows, p.channels,
               p.padded_channels, p.channels, p.padded_channels);
}

void check_pad_channels_bf16_params(const PadChannelsBf16Params& p) {
  check_common("pad_channels_bf16", p.in, sizeof(std::uint16_t), p.out, sizeof(std::uint16_t), p.rows, p.channels,
               p.padded_channels, p.channels, p.padded_channels);
}

void check_unpad_channels_params(const UnpadChannelsParams& p) {
  check_common("unpad_channels", p.in, sizeof(float), p.out, sizeof(float), p.rows, p.channels, p.padded_channels,
               p.padded_channels, p.channels);
}

namespace cpu_impl {

void pad_channels_to_bf16(const PadChannelsToBf16Params& p) {
  check_pad_channels_to_bf16_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const float* in = p.in + r * p.channels;
    std::uint16_t* out = p.out + r * p.padded_channels;
    for (int c = 0; c < p.channels; ++c) out[c] = float_to_bf16_bits(in[c]);
    for (int c = p.channels; c < p.padded_channels; ++c) out[c] = 0;
  }
}

void pad_channels_bf16(const PadChannelsBf16Params& p) {
  check_pad_channels_bf16_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const std::uint16_t* in = p.in + r * p.channels;
    std::uint16_t* out = p.out + r * p.padded_channels;
    for (int c = 0; c < p.channels; ++c) out[c] = in[c];
    for (int c = p.channels; c < p.padded_channels; ++c) out[c] = 0;
  }
}

void unpad_channels(const UnpadChannelsParams& p) {
  check_unpad_channels_params(p);
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const float* in = p.in + r * p.padded_channels;
    float* out = p.out + r * p.channels;
    for (int c = 0; c < p.channels; ++c) out[c] = p.accumulate ? out[c] + in[c] : in[c];
  }
}

}  // namespace cpu_impl

void pad_channels_to_bf16(const Device& device, const PadChannelsToBf16Params& p, void* stream) {
  check_pad_channels_to_bf16_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::pad_channels_to_bf16(p);
    case Backend::emu:
      return emu_impl::pad_channels_to_bf16(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::pad_channels_to_bf16(p, stream));
  }
}

void pad_channels_bf16(const Device& device, const PadChannelsBf16Params& p, void* stream) {
  check_pad_channels_bf16_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::pad_channels_bf16(p);
    case Backend::emu:
      return emu_impl::pad_channels_bf16(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::pad_channels_bf16(p, stream));
  }
}

void unpad_channels(const Device& device, const UnpadChannelsParams& p, void* stream) {
  check_unpad_channels_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::unpad_channels(p);
    case Backend::emu:
      return emu_impl::unpad_channels(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::unpad_channels(p, stream));
  }
}

}  // namespace deeper::kernels
