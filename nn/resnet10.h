// The lab's ResNet-10 as data: every layer's shapes, padding and cost, and every parameter tensor's
// name, shape and place in the flat buffers (../shared/reference/resnet10.md).
//
// Network (H x W x C, NHWC; w0..w3 = model.widths, N = model.classes):
//   stem     conv 7x7/2 pad 3 (3 -> w0) + BN + ReLU, max-pool 3x3/2 'valid'
//   stage2   conv 3x3/1 'same' (w0 -> w0) + BN + ReLU, conv 3x3/1 'same' (w0 -> w0) + BN,
//            projection conv 1x1/1 (w0 -> w0) + BN, add, ReLU
//   stage3-5 the same with w1, w2, w3 channels; the first 3x3 conv and the projection have stride 2
//            ('same' with stride 2 pads Keras-style: total = max((out - 1) s + k - in, 0), floor(total / 2)
//            before and the rest after, so 55 -> 28 pads (1, 1) but 28 -> 14 pads (0, 1))
//   head     global average pool -> w3-d embedding -> linear (w3 -> N)
//
// Parameters (trainable, in the parameter buffer, in this order, each starting at a multiple of
// kParamAlignment floats so that kernels can use 128-bit and wider accesses; the gaps are zeros and
// stay zero under every optimizer since their gradients are zero):
//   <conv>.weight  [K, R, S, C] (KRSC = OHWI, out channels first)   He uniform, +-sqrt(6 / (R S C))
//   <conv>.bias    [K]                      zeros (only with model.conv_bias)
//   <bn>.gamma     [C]  ones;   <bn>.beta [C]  zeros
//   fc.weight      [N, w3] (out, in: y = x W^T + b)                 Glorot uniform, +-sqrt(6 / (w3 + N))
//   fc.bias        [N]                      zeros
// BN running statistics (not trainable; the statistics buffer): <bn>.running_mean [C] zeros,
// <bn>.running_var [C] ones.
// Conv and BN names: stem.conv, stem.bn, stage<k>.conv1, .bn1, .conv2, .bn2, .proj, .proj_bn (k = 2..5).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "nn/config.h"

namespace deeper::nn {

inline constexpr std::int64_t kParamAlignment = 64;  // floats (256 bytes)

enum class ParamKind { conv_weight, conv_bias, bn_gamma, bn_beta, bn_running_mean, bn_running_var, linear_weight, linear_bias };
std::string_view to_string(ParamKind kind);

struct ParamView {
  std::string name;                 // "stage3.conv1.weight"
  std::vector<std::int64_t> shape;  // see the top comment
  std::int64_t offset = 0;          // first element in its buffer (a multiple of kParamAlignment)
  std::int64_t numel = 0;
  ParamKind kind = ParamKind::conv_weight;
  std::int64_t fan_in = 0;   // weights: inputs per output (R S C, or w3)
  std::int64_t fan_out = 0;  // weights: outputs per input (R S K, or N)
};

enum class LayerKind { conv, maxpool, global_avgpool, linear };

// One layer of the forward pass. BN, ReLU and the residual add are not rows of their own: each conv
// is followed by its BN (`bn`, same name pattern), ReLU where the top comment says so.
struct LayerInfo {
  std::string name;  // "stem.conv", "stem.pool", "stage2.conv1", ..., "pool", "fc"
  LayerKind kind = LayerKind::conv;
  std::string op;                   // "conv 7x7/2 pad (3,3)", "maxpool 3x3/2 valid", ...
  std::array<std::int64_t, 3> in{};   // H, W, C
  std::array<std::int64_t, 3> out{};  // H, W, C
  std::int64_t kernel = 1, stride = 1;
  std::int64_t pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  std::string bn;  // the BN after it ("stem.bn"), "" for pools and fc
  // Forward FLOPs per image: convs and fc 2 x MACs (bias adds not counted); max-pool one comparison
  // per window element and output, global average pool one add per input element.
  double flops = 0.0;
  std::int64_t params = 0;  // trainable parameters of this layer and its BN
};

struct NetworkLayout {
  ModelConfig model;
  std::vector<LayerInfo> layers;
  std::vector<ParamView> params;  // trainable, in the parameter (and gradient, optimizer state) buffers
  std::vector<ParamView> stats;   // BN running statistics, in the statistics buffer
  std::int64_t param_count = 0;   // sum of params' numel (no padding)
  std::int64_t stat_count = 0;
  std::int64_t param_buffer_elements = 0;  // with alignment padding
  std::int64_t stat_buffer_elements = 0;

  const ParamView& param(std::string_view name) const;  // trainable or statistic; throws (did you mean)
  double forward_flops() const;                         // per image
  // A training step costs about 3x the forward pass (forward, input and weight gradients).
  double train_flops() const { return 3.0 * forward_flops(); }
};

// The layout for a model config (throws deeper::Error for invalid widths, sizes or classes).
NetworkLayout resnet10_layout(const ModelConfig& model);

// 'same' padding, Keras-style: (before, after) for input n, kernel k, stride s; the output is ceil(n / s).
std::array<std::int64_t, 2> same_padding(std::int64_t n, std::int64_t k, std::int64_t s);

// The layer table as text (name, op, output H x W x C, parameters, forward MFLOPs per image), with totals.
std::string layer_table(const NetworkLayout& layout);

}  // namespace deeper::nn
