// The parameter store (nn/parameters.h).
#include "nn/parameters.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "kernels/common/random_fill.h"
#include "kernels/common/random_streams.h"

namespace deeper::nn {

namespace {

DeviceBuffer zeroed(Device device, std::int64_t elements) {
  DeviceBuffer b(device, static_cast<std::size_t>(elements) * sizeof(float));
  if (b.bytes() > 0) fill_bytes(b.data(), device, 0, b.bytes());
  return b;
}

}  // namespace

int optimizer_slot_count(OptimizerKind kind) { return kind == OptimizerKind::sgd ? 1 : 2; }

std::string_view optimizer_slot_name(OptimizerKind kind, int slot) {
  DEEPER_CHECK(slot >= 0 && slot < optimizer_slot_count(kind), "optimizer {} has no state slot {}", to_string(kind), slot);
  if (kind == OptimizerKind::sgd) return "momentum";
  return slot == 0 ? "adam_m" : "adam_v";
}

ParameterStore::ParameterStore(Device device, NetworkLayout layout, OptimizerKind optimizer)
    : device_(device), layout_(std::move(layout)), optimizer_(optimizer) {
  params_ = zeroed(device_, layout_.param_buffer_elements);
  grads_ = zeroed(device_, layout_.param_buffer_elements);
  stats_ = zeroed(device_, layout_.stat_buffer_elements);
  for (int s = 0; s < optimizer_slot_count(optimizer_); ++s) state_.push_back(zeroed(device_, layout_.param_buffer_elements));
}

float* ParameterStore::optimizer_state(int slot) const {
  DEEPER_CHECK(slot >= 0 && slot < optimizer_slots(), "optimizer state slot {} out of range [0, {})", slot, optimizer_slots());
  return static_cast<float*>(state_[static_cast<std::size_t>(slot)].data());
}

float* ParameterStore::data(std::string_view name) const {
  const ParamView& v = layout_.param(name);
  const bool stat = v.kind == ParamKind::bn_running_mean || v.kind == ParamKind::bn_running_var;
  return (stat ? stats() : params()) + v.offset;
}

float* ParameterStore::grad(std::string_view name) const {
  const ParamView& v = layout_.param(name);
  if (v.kind == ParamKind::bn_running_mean || v.kind == ParamKind::bn_running_var) {
    fail("'{}' is a BN running statistic and has no gradient", name);
  }
  return grads() + v.offset;
}

void ParameterStore::initialize(std::uint64_t seed) {
  // Constants through one host image of each buffer, then the random tensors on the device.
  std::vector<float> host(static_cast<std::size_t>(layout_.param_buffer_elements), 0.0f);
  for (const auto& v : layout_.params) {
    if (v.kind == ParamKind::bn_gamma) std::fill_n(host.begin() + v.offset, v.numel, 1.0f);
  }
  upload(params_, host, "parameters");
  std::vector<float> stats(static_cast<std::size_t>(layout_.stat_buffer_elements), 0.0f);
  for (const auto& v : layout_.stats) {
    if (v.kind == ParamKind::bn_running_var) std::fill_n(stats.begin() + v.offset, v.numel, 1.0f);
  }
  upload(stats_, stats, "BN statistics");
  for (std::size_t k = 0; k < layout_.params.size(); ++k) {
    const ParamView& v = layout_.params[k];
    double bound = 0.0;
    if (v.kind == ParamKind::conv_weight) {
      bound = std::sqrt(6.0 / static_cast<double>(v.fan_in));
    } else if (v.kind == ParamKind::linear_weight) {
      bound = std::sqrt(6.0 / static_cast<double>(v.fan_in + v.fan_out));
    } else {
      continue;
    }
    kernels::RandomFillParams p;
    p.out = params() + v.offset;
    p.count = v.numel;
    p.seed = seed;
    p.stream = rng::streams::nn_weight_init;
    p.dist = kernels::RandomDistribution::uniform_f32;
    p.offset = static_cast<std::uint64_t>(k) << 40;
    p.scale = 2.0 * bound;
    p.shift = -bound;
    kernels::random_fill(device_, p);
  }
  zero_grads();
  zero_optimizer_state();
}

void ParameterStore::zero_grads() {
  if (grads_.bytes() > 0) fill_bytes(grads_.data(), device_, 0, grads_.bytes());
}

void ParameterStore::zero_optimizer_state() {
  for (auto& s : state_) {
    if (s.bytes() > 0) fill_bytes(s.data(), device_, 0, s.bytes());
  }
}

std::vector<float> ParameterStore::download(const DeviceBuffer& buffer) const {
  std::vector<float> host(buffer.bytes() / sizeof(float));
  if (!host.empty()) copy_bytes(host.data(), Device::cpu(), buffer.data(), device_, buffer.bytes());
  return host;
}

void ParameterStore::upload(DeviceBuffer& buffer, const std::vector<float>& host, std::string_view what) {
  if (host.size() * sizeof(float) != buffer.bytes()) {
    fail("ParameterStore: {} upload of {} floats into a buffer of {}", what, host.size(), buffer.bytes() / sizeof(float));
  }
  if (!host.empty()) copy_bytes(buffer.data(), device_, host.data(), Device::cpu(), buffer.bytes());
}

std::vector<float> ParameterStore::download_params() const { return download(params_); }
std::vector<float> ParameterStore::download_grads() const { return download(grads_); }
std::vector<float> ParameterStore::download_stats() const { return download(stats_); }
std::vector<float> ParameterStore::download_optimizer_state(int slot) const {
  optimizer_state(slot);  // range check
  return download(state_[static_cast<std::size_t>(slot)]);
}
void ParameterStore::upload_params(const std::vector<float>& host) { upload(params_, host, "parameters"); }
void ParameterStore::upload_stats(const std::vector<float>& host) { upload(stats_, host, "BN statistics"); }
void ParameterStore::upload_optimizer_state(int slot, const std::vector<float>& host) {
  optimizer_state(slot);
  upload(state_[static_cast<std::size_t>(slot)], host, optimizer_slot_name(optimizer_, slot));
}

}  // namespace deeper::nn
