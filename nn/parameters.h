// The parameter store: one flat fp32 buffer for the trainable parameters, one for their gradients,
// one per optimizer state slot (SGD: momentum; AdamW: first and second moments), each with the same
// layout, and one for the BN running statistics; every tensor is a named view (nn/resnet10.h).
// All buffers live on the store's device (cuda, or host memory for cpu and emu), so an optimizer is
// one fused kernel over param_buffer_elements() floats and a checkpoint is a few copies.
//
// Initialisation is a pure function of the seed, bit-identical on cpu, emu and cuda: each random
// tensor is drawn with kernels::random_fill (Philox4x32-10, stream rng::streams::nn_weight_init
// "NNIN", uniform_f32 mapped to [-a, a) by out = fma(2a, u, -a) in float), where the element
// index of element i of the k-th trainable tensor (layout order) is k * 2^40 + i, so a tensor's
// values do not depend on the tensors before it. a = sqrt(6 / fan_in) for conv weights (He uniform),
// sqrt(6 / (fan_in + fan_out)) for the classifier (Glorot uniform); biases and BN beta 0, gamma 1,
// running mean 0, running variance 1. Gradients and optimizer state start at zero.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "nn/config.h"
#include "nn/resnet10.h"

namespace deeper::nn {

// Optimizer state slots per optimizer kind, and their names in checkpoints.
int optimizer_slot_count(OptimizerKind kind);
std::string_view optimizer_slot_name(OptimizerKind kind, int slot);  // "momentum", "adam_m", "adam_v"

class ParameterStore {
 public:
  // Allocates every buffer on `device` (zeroed; call initialize for the init above).
  ParameterStore(Device device, NetworkLayout layout, OptimizerKind optimizer);

  const NetworkLayout& layout() const { return layout_; }
  Device device() const { return device_; }
  OptimizerKind optimizer() const { return optimizer_; }
  std::int64_t param_buffer_elements() const { return layout_.param_buffer_elements; }
  std::int64_t stat_buffer_elements() const { return layout_.stat_buffer_elements; }

  float* params() const { return static_cast<float*>(params_.data()); }
  float* grads() const { return static_cast<float*>(grads_.data()); }
  float* stats() const { return static_cast<float*>(stats_.data()); }
  int optimizer_slots() const { return static_cast<int>(state_.size()); }
  float* optimizer_state(int slot) const;  // throws for a slot out of range

  // Device pointers of a named tensor: its parameter or statistic, and (trainable only) its gradient.
  float* data(std::string_view name) const;
  float* grad(std::string_view name) const;

  // He / Glorot weights, constants elsewhere, zero gradients and optimizer state (top comment).
  void initialize(std::uint64_t seed);
  void zero_grads();
  void zero_optimizer_state();

  // Host copies of whole buffers (for checkpoints and tests) and uploads of them (sizes must match).
  std::vector<float> download_params() const;
  std::vector<float> download_grads() const;
  std::vector<float> download_stats() const;
  std::vector<float> download_optimizer_state(int slot) const;
  void upload_params(const std::vector<float>& host);
  void upload_stats(const std::vector<float>& host);
  void upload_optimizer_state(int slot, const std::vector<float>& host);

 private:
  std::vector<float> download(const DeviceBuffer& buffer) const;
  void upload(DeviceBuffer& buffer, const std::vector<float>& host, std::string_view what);

  Device device_;
  NetworkLayout layout_;
  OptimizerKind optimizer_;
  DeviceBuffer params_, grads_, stats_;
  std::vector<DeviceBuffer> state_;
};

}  // namespace deeper::nn
