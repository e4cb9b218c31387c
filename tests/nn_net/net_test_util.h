// Helpers of the nn_net suite: tiny ResNet-10 configurations, random inputs, host copies.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "nn/config.h"
#include "nn/network.h"
#include "nn/parameters.h"
#include "nn/resnet10.h"

namespace net_test {

using deeper::Device;

// Widths 3/4/4/5 at 20 px: stem 10 x 10, pool 4 x 4, stages 4, 2, 1, 1; 5 classes.
inline deeper::nn::ModelConfig tiny_model(std::vector<std::int64_t> widths = {3, 4, 4, 5}, std::int64_t size = 20,
                                          std::int64_t classes = 5) {
  deeper::nn::ModelConfig m;
  m.widths = std::move(widths);
  m.input_size = size;
  m.classes = classes;
  return m;
}

inline std::vector<float> random_images(std::int64_t batch, std::int64_t size, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::vector<float> v(static_cast<std::size_t>(batch * size * size * 3));
  for (auto& x : v) x = u(gen);
  return v;
}

inline std::vector<std::int32_t> random_labels(std::int64_t batch, std::int64_t classes, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<std::int32_t> v(static_cast<std::size_t>(batch));
  for (auto& x : v) x = static_cast<std::int32_t>(gen() % static_cast<unsigned>(classes));
  return v;
}

// Parameters initialised by the store, with BN gamma and beta and the conv biases set to random
// values (so every gradient path carries signal).
inline std::vector<float> random_params(const deeper::nn::NetworkLayout& layout, std::uint64_t seed) {
  deeper::nn::ParameterStore store(Device::cpu(), layout, deeper::nn::OptimizerKind::sgd);
  store.initialize(seed);
  std::vector<float> p = store.download_params();
  std::mt19937 gen(static_cast<unsigned>(seed) + 17u);
  std::uniform_real_distribution<float> u(-0.5f, 0.5f);
  for (const auto& v : layout.params) {
    using deeper::nn::ParamKind;
    if (v.kind == ParamKind::bn_gamma) {
      for (std::int64_t i = 0; i < v.numel; ++i) p[static_cast<std::size_t>(v.offset + i)] = 1.0f + u(gen);
    } else if (v.kind == ParamKind::bn_beta || v.kind == ParamKind::conv_bias || v.kind == ParamKind::linear_bias) {
      for (std::int64_t i = 0; i < v.numel; ++i) p[static_cast<std::size_t>(v.offset + i)] = 0.2f * u(gen);
    }
  }
  return p;
}

// A buffer on `device` holding `host`.
template <typename T>
deeper::DeviceBuffer upload(const Device& device, const std::vector<T>& host) {
  deeper::DeviceBuffer b(device, std::max<std::size_t>(host.size() * sizeof(T), 4));
  deeper::copy_bytes(b.data(), device, host.data(), Device::cpu(), host.size() * sizeof(T));
  return b;
}

template <typename T>
std::vector<T> download(const Device& device, const T* data, std::int64_t n) {
  std::vector<T> host(static_cast<std::size_t>(n));
  deeper::copy_bytes(host.data(), Device::cpu(), data, device, host.size() * sizeof(T));
  return host;
}

// Every got[i] within atol + rtol·|want[i]|.
template <typename A, typename B>
void expect_close(const std::vector<A>& got, const std::vector<B>& want, double atol, double rtol,
                  const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    if (!(std::abs(g - w) <= atol + rtol * std::abs(w)) && ++bad <= 5) {
      ADD_FAILURE() << what << "[" << i << "]: got " << g << ", want " << w;
    }
  }
  EXPECT_EQ(bad, 0u) << what << ": values out of tolerance";
}

}  // namespace net_test
