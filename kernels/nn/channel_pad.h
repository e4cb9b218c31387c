// channel_pad: widen the channel axis of a channels-last tensor with zeros, and narrow it back.
// Used to run the ResNet-10 stem (C = 3) as a C = 8 convolution, so that the bf16 conv kernels can
// move 16-byte vectors (kernels/nn/conv2d.h, conv2d_vector_operands): the padded channels hold
// exact zeros in both the input and the weights, so the conv's sums see the same nonzero products.
//
// Layout: a tensor is `rows` rows of `channels` contiguous values (row stride = channels, no gaps):
// NHWC images (rows = N·H·W) and KRSC weights (rows = K·R·S) alike. The padded tensor has rows of
// `padded_channels` >= channels values; channel c < channels of a row is copied, the rest are 0.
//
//   pad_channels_to_bf16  fp32 rows x C  -> bf16 rows x C_pad: out[r, c] = bf16(in[r, c]) (round to
//                         nearest even, kernels/nn/optimizer.h float_to_bf16_bits, the same bits as
//                         to_bf16), 0 for c >= C. The stem's input images: replaces their to_bf16
//                         pass (one pass either way). 4·C B read + 2·C_pad B written per row.
//   pad_channels_bf16     bf16 rows x C  -> bf16 rows x C_pad: out[r, c] = in[r, c], 0 for c >= C.
//                         The stem's weights (K·R·S = 3,136 rows at 64 channels: 19 KiB read, 50 KiB
//                         written). 2·C B read + 2·C_pad B written per row.
//   unpad_channels        fp32 rows x C_pad -> fp32 rows x C: out[r, c] = in[r, c] for c < C (or
//                         out += in with accumulate, the conv's accumulate semantics); the padded
//                         channels are dropped. The stem's weight gradient. 4·C B read (in sectors of
//                         the padded rows) + 4·C B written per row (8·C with accumulate).
//
// Kernels (one version each): the two pad kernels give each thread 8 output channels of one row and
// write them as one 16-byte store when C_pad is a multiple of 8 and `out` is 16-byte aligned (the
// network's case); otherwise one thread per output value. unpad_channels is one thread per output
// value (C = 3 values per row: nothing to vectorise). Grid-stride loops, 64-bit indices.
//
// Errors (deeper::Error, one line naming the op): negative rows, channels < 1, padded_channels <
// channels or above kChannelPadMax, null pointers (when rows > 0), pointers not aligned to their
// element size, overlapping input and output.
#pragma once

#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

inline constexpr int kChannelPadMax = 1 << 16;

// The padded channel count used to make C a multiple of `multiple` (8 for 16-byte bf16 vectors).
constexpr int padded_channel_count(int channels, int multiple = 8) {
  return (channels + multiple - 1) / multiple * multiple;
}

struct PadChannelsToBf16Params {
  const float* in = nullptr;     // rows x channels, fp32
  std::uint16_t* out = nullptr;  // rows x padded_channels, bf16 bits
  std::int64_t rows = 0;
  int channels = 0, padded_channels = 0;
};

struct PadChannelsBf16Params {
  const std::uint16_t* in = nullptr;  // rows x channels, bf16 bits
  std::uint16_t* out = nullptr;       // rows x padded_channels, bf16 bits
  std::int64_t rows = 0;
  int channels = 0, padded_channels = 0;
};

struct UnpadChannelsParams {
  const float* in = nullptr;  // rows x padded_channels, fp32
  float* out = nullptr;       // rows x channels, fp32
  std::int64_t rows = 0;
  int channels = 0, padded_channels = 0;
  bool accumulate = false;  // out += in instead of out = in
};

// Throw deeper::Error when the parameters are unusable.
void check_pad_channels_to_bf16_params(const PadChannelsToBf16Params& p);
void check_pad_channels_bf16_params(const PadChannelsBf16Params& p);
void check_unpad_channels_params(const UnpadChannelsParams& p);

namespace cpu_impl {
void pad_channels_to_bf16(const PadChannelsToBf16Params& p);
void pad_channels_bf16(const PadChannelsBf16Params& p);
void unpad_channels(const UnpadChannelsParams& p);
}  // namespace cpu_impl
namespace emu_impl {
void pad_channels_to_bf16(const PadChannelsToBf16Params& p, void* stream);
void pad_channels_bf16(const PadChannelsBf16Params& p, void* stream);
void unpad_channels(const UnpadChannelsParams& p, void* stream);
}  // namespace emu_impl
namespace cuda_impl {
void pad_channels_to_bf16(const PadChannelsToBf16Params& p, void* stream);
void pad_channels_bf16(const PadChannelsBf16Params& p, void* stream);
void unpad_channels(const UnpadChannelsParams& p, void* stream);
}  // namespace cuda_impl

// Run on `device`'s backend (every pointer memory of that device); `stream` is a Stream::native()
// handle, nullptr for the default stream.
void pad_channels_to_bf16(const Device& device, const PadChannelsToBf16Params& p, void* stream = nullptr);
void pad_channels_bf16(const Device& device, const PadChannelsBf16Params& p, void* stream = nullptr);
void unpad_channels(const Device& device, const UnpadChannelsParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
