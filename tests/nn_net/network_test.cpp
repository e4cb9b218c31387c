// The ResNet-10 network (nn/network.h): whole-network gradient check by central differences in
// double on the CPU reference, emu against cpu (simt_f32 and wmma_bf16), BN modes, activations,
// no allocation per step, and bad use.
#include "net_test_util.h"

#include "core/error.h"
#include "kernels/runtime/memory.h"
#include "nn/network.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <string>

namespace {

using namespace net_test;
using deeper::DeviceBuffer;
using deeper::nn::BnMode;
using deeper::nn::NetworkBuffersT;
using deeper::nn::NetworkT;
using deeper::nn::ParamKind;
namespace dk = deeper::kernels;

const Device kCpu = Device::cpu();
const Device kEmu = Device::emu();

struct DoubleNet {
  deeper::nn::NetworkLayout layout;
  std::vector<double> params, grads, stats;
  std::vector<double> images;
  std::vector<std::int32_t> labels;
  std::int64_t batch;
  NetworkT<double> net;

  DoubleNet(const deeper::nn::ModelConfig& m, std::int64_t b)
      : layout(deeper::nn::resnet10_layout(m)), batch(b), net(kCpu, layout, b) {
    const auto p = random_params(layout, 5);
    params.assign(p.begin(), p.end());
    grads.assign(params.size(), 0.0);
    stats.assign(static_cast<std::size_t>(layout.stat_buffer_elements), 0.0);
    const auto img = random_images(batch, m.input_size, 11);
    images.assign(img.begin(), img.end());
    labels = random_labels(batch, m.classes, 13);
  }
  NetworkBuffersT<double> buffers() { return {params.data(), grads.data(), stats.data(), nullptr}; }
  double loss() {
    net.forward(buffers(), images.data(), batch, BnMode::train);
    return net.loss(labels.data()).loss;
  }
};

// Caffe-style check: |g - n| <= 1e-6 + 1e-4 max(|g|, |n|), a few elements of every trainable tensor.
TEST(NetworkGradient, CentralDifferencesInDoubleMatchBackwardForEveryTensor) {
  DoubleNet d(tiny_model(), 4);
  d.loss();
  d.net.backward(d.buffers());
  const std::vector<double> analytic = d.grads;
  const double h = 1e-6;
  std::map<ParamKind, int> checked;
  int bad = 0;
  for (const auto& v : d.layout.params) {
    const std::int64_t picks[3] = {0, v.numel / 2, v.numel - 1};
    for (std::int64_t i : picks) {
      const auto at = static_cast<std::size_t>(v.offset + i);
      const double w = d.params[at];
      d.params[at] = w + h;
      const double up = d.loss();
      d.params[at] = w - h;
      const double down = d.loss();
      d.params[at] = w;
      const double numeric = (up - down) / (2 * h), g = analytic[at];
      if (std::abs(g - numeric) > 1e-6 + 1e-4 * std::max(std::abs(g), std::abs(numeric))) {
        if (++bad <= 10) ADD_FAILURE() << v.name << "[" << i << "]: backward " << g << ", central difference " << numeric;
      }
      ++checked[v.kind];
    }
  }
  EXPECT_EQ(bad, 0);
  for (ParamKind k : {ParamKind::conv_weight, ParamKind::conv_bias, ParamKind::bn_gamma, ParamKind::bn_beta,
                      ParamKind::linear_weight, ParamKind::linear_bias}) {
    EXPECT_GE(checked[k], 3) << deeper::nn::to_string(k);
  }
  // A conv bias before BN has no effect in training mode: its gradient is zero up to rounding.
  const auto& bias = d.layout.param("stage3.conv1.bias");
  for (std::int64_t i = 0; i < bias.numel; ++i) EXPECT_NEAR(analytic[static_cast<std::size_t>(bias.offset + i)], 0.0, 1e-12);
  // The weight gradients are not all zero (the check is not vacuous).
  const auto& w = d.layout.param("stage5.conv2.weight");
  double norm = 0;
  for (std::int64_t i = 0; i < w.numel; ++i) norm += std::abs(analytic[static_cast<std::size_t>(w.offset + i)]);
  EXPECT_GT(norm, 1e-3);
}

// float network on `device` with `math`; returns logits, loss, gradients, statistics.
struct FloatRun {
  std::vector<float> logits, grads, stats, act1, act9;
  double loss = 0;
  std::int64_t correct = 0;
};

// epilogue_stats: Network::set_epilogue_bn_stats; epilogue_convs (optional): the forward's
// epilogue_stat_convs().
FloatRun run_float(const Device& device, dk::ConvMath math, const deeper::nn::ModelConfig& m, std::int64_t batch,
                   bool epilogue_stats = true, int* epilogue_convs = nullptr, int bf16_kernel = 0) {
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto p = random_params(layout, 5);
  DeviceBuffer params = upload(device, p);
  DeviceBuffer grads(device, p.size() * sizeof(float));
  deeper::fill_bytes(grads.data(), device, 0, grads.bytes());
  std::vector<float> s0(static_cast<std::size_t>(layout.stat_buffer_elements), 0.5f);
  DeviceBuffer stats = upload(device, s0);
  DeviceBuffer bf16(device, p.size() * sizeof(std::uint16_t));
  deeper::nn::params_to_bf16(device, static_cast<const float*>(params.data()), static_cast<std::uint16_t*>(bf16.data()),
                             static_cast<std::int64_t>(p.size()));
  DeviceBuffer images = upload(device, random_images(batch, m.input_size, 11));
  DeviceBuffer labels = upload(device, random_labels(batch, m.classes, 13));
  NetworkT<float> net(device, layout, batch, math);
  net.set_epilogue_bn_stats(epilogue_stats);
  net.set_bf16_conv_kernel(bf16_kernel);
  NetworkBuffersT<float> b{static_cast<float*>(params.data()), static_cast<float*>(grads.data()),
                           static_cast<float*>(stats.data()), static_cast<std::uint16_t*>(bf16.data())};
  const float* logits = net.forward(b, static_cast<float*>(images.data()), batch, BnMode::train);
  if (epilogue_convs != nullptr) *epilogue_convs = net.epilogue_stat_convs();
  const auto r = net.loss(static_cast<std::int32_t*>(labels.data()));
  net.backward(b);
  FloatRun out;
  out.logits = download(device, logits, batch * m.classes);
  out.loss = r.loss;
  out.correct = r.correct;
  out.grads = download(device, static_cast<float*>(grads.data()), static_cast<std::int64_t>(p.size()));
  out.stats = download(device, static_cast<float*>(stats.data()), layout.stat_buffer_elements);
  const auto s1 = net.activation_shape(1), s9 = net.activation_shape(9);
  out.act1 = download(device, net.activation(1), batch * s1[0] * s1[1] * s1[2]);
  out.act9 = download(device, net.activation(9), batch * s9[0] * s9[1] * s9[2]);
  return out;
}

void expect_runs_close(const FloatRun& got, const FloatRun& want, double tol, const std::string& what) {
  expect_close(got.logits, want.logits, tol, tol, what + " logits");
  EXPECT_NEAR(got.loss, want.loss, tol * (1 + std::abs(want.loss))) << what;
  expect_close(got.grads, want.grads, tol, 10 * tol, what + " gradients");
  expect_close(got.stats, want.stats, tol, tol, what + " running statistics");
  expect_close(got.act1, want.act1, tol, tol, what + " layer 1");
  expect_close(got.act9, want.act9, tol, tol, what + " layer 9");
}

TEST(NetworkParity, EmuMatchesCpuForwardAndBackwardSimt) {
  const auto m = tiny_model({4, 8, 8, 8}, 20, 6);
  const FloatRun cpu = run_float(kCpu, dk::ConvMath::simt_f32, m, 4);
  const FloatRun emu = run_float(kEmu, dk::ConvMath::simt_f32, m, 4);
  expect_runs_close(emu, cpu, 2e-4, "emu simt_f32");
}

TEST(NetworkParity, EmuMatchesCpuForwardAndBackwardWmmaBf16) {
  const auto m = tiny_model({8, 8, 16, 8}, 20, 6);
  const FloatRun cpu = run_float(kCpu, dk::ConvMath::wmma_bf16, m, 4);
  const FloatRun emu = run_float(kEmu, dk::ConvMath::wmma_bf16, m, 4);
  expect_runs_close(emu, cpu, 2e-3, "emu wmma_bf16");
  // bf16 operands move the result, but not far from fp32.
  const FloatRun f32 = run_float(kCpu, dk::ConvMath::simt_f32, m, 4);
  EXPECT_NEAR(cpu.loss, f32.loss, 0.05 * (1 + f32.loss));
  EXPECT_NE(cpu.logits, f32.logits);
}

// BN statistics from the forward conv's epilogue (wmma_bf16, version 2 on emu): all 13 convs take
// them (the stem runs channel-padded), and the training step equals the batchnorm_stats path (the
// same fp64 sums in another order) in logits, loss, gradients, running statistics and activations.
// Version 3 takes them too; with bf16 kernel 1, or on the cpu, no conv does and batchnorm_stats runs.
TEST(NetworkEpilogueStats, TrainingStepEqualsTheBatchnormStatsPath) {
  const auto m = tiny_model({8, 8, 16, 8}, 20, 6);
  int with = -1, without = -1, v1 = -1, cpu = -1;
  const FloatRun epi = run_float(kEmu, dk::ConvMath::wmma_bf16, m, 4, true, &with);
  const FloatRun old = run_float(kEmu, dk::ConvMath::wmma_bf16, m, 4, false, &without);
  EXPECT_EQ(with, 13);
  EXPECT_EQ(without, 0);
  expect_runs_close(epi, old, 2e-5, "epilogue statistics vs batchnorm_stats");
  run_float(kEmu, dk::ConvMath::wmma_bf16, m, 2, true, &v1, 1);
  EXPECT_EQ(v1, 0);
  int v3 = -1;
  run_float(kEmu, dk::ConvMath::wmma_bf16, m, 2, true, &v3, 3);
  EXPECT_EQ(v3, 13);
  run_float(kCpu, dk::ConvMath::wmma_bf16, m, 2, true, &cpu);
  EXPECT_EQ(cpu, 0);
}

// The float cpu network agrees with the double one (the gradient-check oracle).
TEST(NetworkParity, FloatCpuMatchesDouble) {
  const auto m = tiny_model();
  DoubleNet d(m, 4);
  const double loss = d.loss();
  d.net.backward(d.buffers());
  const FloatRun f = run_float(kCpu, dk::ConvMath::simt_f32, m, 4);
  EXPECT_NEAR(f.loss, loss, 1e-5);
  expect_close(f.grads, d.grads, 2e-5, 1e-2, "float vs double gradients");  // fp32 rounding through 4-row BNs
}

TEST(NetworkModes, TrainingUpdatesRunningStatisticsInferenceReadsThem) {
  const auto m = tiny_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto p = random_params(layout, 3);
  std::vector<float> stats(static_cast<std::size_t>(layout.stat_buffer_elements), 0.0f);
  for (const auto& v : layout.stats) {
    if (v.kind == ParamKind::bn_running_var) std::fill_n(stats.begin() + v.offset, v.numel, 1.0f);
  }
  const auto images = random_images(4, m.input_size, 1);
  NetworkT<float> net(kCpu, layout, 4);
  NetworkBuffersT<float> b{p.data(), nullptr, stats.data(), nullptr};
  const auto before = stats;
  const float* y = net.forward(b, images.data(), 4, BnMode::inference);
  const std::vector<float> inference(y, y + 4 * m.classes);
  EXPECT_EQ(stats, before) << "an inference forward must not touch the running statistics";
  // Same input, same statistics: the same logits (deterministic).
  y = net.forward(b, images.data(), 4, BnMode::inference);
  EXPECT_EQ(std::vector<float>(y, y + 4 * m.classes), inference);
  y = net.forward(b, images.data(), 4, BnMode::train);
  const std::vector<float> train(y, y + 4 * m.classes);
  EXPECT_NE(stats, before) << "a training forward updates the running statistics";
  EXPECT_NE(train, inference);
  // Keras momentum 0.99: running_var = 0.99 * 1 + 0.01 * unbiased batch variance, so it moved a little.
  const auto& rv = layout.param("stem.bn.running_var");
  for (std::int64_t i = 0; i < rv.numel; ++i) {
    const float v = stats[static_cast<std::size_t>(rv.offset + i)];
    EXPECT_GT(v, 0.99f - 1e-6f);
    EXPECT_NE(v, 1.0f);
  }
  // Inference now reads the new statistics.
  y = net.forward(b, images.data(), 4, BnMode::inference);
  EXPECT_NE(std::vector<float>(y, y + 4 * m.classes), inference);
}

// The conv bias is the BN's x_bias (never added to the conv output in memory). What that must keep:
// training mode is blind to it (the same logits with every conv bias zeroed) while the running mean
// moves with it; inference normalises conv output + bias. With bn_momentum 0 the running statistics
// become the batch's, so the biased and the zero-bias nets' statistics differ by exactly the biases
// in the means, and each net in inference mode with its own statistics gives the same logits, while
// the zero-bias net with the biased net's statistics does not (the bias matters in inference).
TEST(NetworkConvBias, TrainingIsBlindToItAndInferenceNormalisesConvOutputPlusBias) {
  auto m = tiny_model({8, 8, 16, 16}, 24, 6);
  m.bn_momentum = 0.0;  // running statistics := batch statistics
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto with_bias = random_params(layout, 7);
  auto zero_bias = with_bias;
  std::vector<std::pair<const deeper::nn::ParamView*, const deeper::nn::ParamView*>> bias_and_mean;
  for (const auto& v : layout.params) {
    if (v.kind != ParamKind::conv_bias) continue;
    const std::string conv = v.name.substr(0, v.name.rfind('.'));  // "stage2.conv1.bias" -> "stage2.conv1"
    const auto layer = std::find_if(layout.layers.begin(), layout.layers.end(),
                                    [&](const deeper::nn::LayerInfo& L) { return L.name == conv; });
    ASSERT_NE(layer, layout.layers.end()) << v.name;
    bias_and_mean.emplace_back(&v, &layout.param(layer->bn + ".running_mean"));
    for (std::int64_t i = 0; i < v.numel; ++i) {
      ASSERT_NE(with_bias[static_cast<std::size_t>(v.offset + i)], 0.0f);
      zero_bias[static_cast<std::size_t>(v.offset + i)] = 0.0f;
    }
  }
  ASSERT_EQ(bias_and_mean.size(), 13u);
  std::vector<float> initial(static_cast<std::size_t>(layout.stat_buffer_elements), 0.0f);
  for (const auto& v : layout.stats) {
    if (v.kind == ParamKind::bn_running_var) std::fill_n(initial.begin() + v.offset, v.numel, 1.0f);
  }
  const auto images = random_images(4, m.input_size, 5);
  const std::size_t n = static_cast<std::size_t>(4 * m.classes);
  for (const Device& device : {kCpu, kEmu}) {
    const std::string where = device.backend == deeper::Backend::cpu ? "cpu" : "emu";
    NetworkT<float> net(device, layout, 4);
    auto run = [&](const std::vector<float>& params, std::vector<float>& st, BnMode mode) {
      const float* y = net.forward({params.data(), nullptr, st.data(), nullptr}, images.data(), 4, mode);
      return std::vector<float>(y, y + n);
    };
    auto biased = initial, plain = initial;
    expect_close(run(with_bias, biased, BnMode::train), run(zero_bias, plain, BnMode::train), 1e-5, 1e-4,
                 where + ": training mode, with and without biases");
    for (const auto& [bias, mean] : bias_and_mean) {
      for (std::int64_t i = 0; i < bias->numel; ++i) {
        const auto k = static_cast<std::size_t>(mean->offset + i);
        EXPECT_NEAR(biased[k] - plain[k], with_bias[static_cast<std::size_t>(bias->offset + i)], 1e-5)
            << where << " " << mean->name << "[" << i << "]";
      }
    }
    auto s1 = biased, s2 = plain, s3 = biased;
    const auto want = run(with_bias, s1, BnMode::inference);
    expect_close(run(zero_bias, s2, BnMode::inference), want, 1e-5, 1e-4, where + ": inference, each net its statistics");
    const auto unshifted = run(zero_bias, s3, BnMode::inference);
    double largest = 0;
    for (std::size_t i = 0; i < n; ++i) largest = std::max(largest, static_cast<double>(std::abs(unshifted[i] - want[i])));
    EXPECT_GT(largest, 1e-3) << where << ": the biases must matter in inference mode";
  }
}

TEST(NetworkMemory, AStepAllocatesNothingAndTheArenaIsSizedAtConstruction) {
  const auto m = tiny_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  auto p = random_params(layout, 3);
  std::vector<float> g(p.size()), stats(static_cast<std::size_t>(layout.stat_buffer_elements), 1.0f);
  const auto images = random_images(8, m.input_size, 1);
  const auto labels = random_labels(8, m.classes, 2);
  NetworkT<float> net(kCpu, layout, 8);
  EXPECT_GT(net.arena_bytes(), 0u);
  NetworkBuffersT<float> b{p.data(), g.data(), stats.data(), nullptr};
  const auto count = DeviceBuffer::allocation_count();
  for (std::int64_t batch : {8, 5, 2}) {
    net.forward(b, images.data(), batch, BnMode::train);
    net.loss(labels.data());
    net.backward(b);
  }
  EXPECT_EQ(DeviceBuffer::allocation_count(), count);
}

// The same on emu with wmma_bf16 and the statistics epilogue (its partials in the BN workspace
// sized at construction): smaller batches need no more room, and nothing is allocated per step.
TEST(NetworkMemory, TheEpilogueStatisticsAllocateNothingPerStep) {
  const auto m = tiny_model({8, 8, 16, 8}, 20, 6);
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto p = random_params(layout, 3);
  DeviceBuffer params = upload(kEmu, p), grads(kEmu, p.size() * sizeof(float));
  DeviceBuffer stats = upload(kEmu, std::vector<float>(static_cast<std::size_t>(layout.stat_buffer_elements), 1.0f));
  DeviceBuffer bf16(kEmu, p.size() * sizeof(std::uint16_t));
  deeper::nn::params_to_bf16(kEmu, static_cast<const float*>(params.data()), static_cast<std::uint16_t*>(bf16.data()),
                             static_cast<std::int64_t>(p.size()));
  DeviceBuffer images = upload(kEmu, random_images(4, m.input_size, 1));
  DeviceBuffer labels = upload(kEmu, random_labels(4, m.classes, 2));
  NetworkT<float> net(kEmu, layout, 4, dk::ConvMath::wmma_bf16);
  NetworkBuffersT<float> b{static_cast<float*>(params.data()), static_cast<float*>(grads.data()),
                           static_cast<float*>(stats.data()), static_cast<std::uint16_t*>(bf16.data())};
  const auto count = DeviceBuffer::allocation_count();
  for (std::int64_t batch : {4, 3, 2}) {
    net.forward(b, static_cast<const float*>(images.data()), batch, BnMode::train);
    EXPECT_EQ(net.epilogue_stat_convs(), 13) << "batch " << batch;
    net.loss(static_cast<const std::int32_t*>(labels.data()));
    net.backward(b);
  }
  EXPECT_EQ(DeviceBuffer::allocation_count(), count);
}

TEST(NetworkActivations, LabLayersHaveTheLayoutShapesAndNames) {
  const auto m = tiny_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  NetworkT<float> net(kCpu, layout, 2);
  EXPECT_EQ(net.activation_shape(1), (std::array<std::int64_t, 3>{10, 10, 3}));
  EXPECT_EQ(net.activation_shape(2), (std::array<std::int64_t, 3>{4, 4, 3}));
  EXPECT_EQ(net.activation_shape(4), (std::array<std::int64_t, 3>{2, 2, 4}));
  EXPECT_EQ(net.activation_shape(9), (std::array<std::int64_t, 3>{1, 1, 5}));
  EXPECT_EQ(net.activation_shape(10), (std::array<std::int64_t, 3>{1, 1, 5}));
  EXPECT_EQ(net.activation_shape(11), (std::array<std::int64_t, 3>{1, 1, 5}));
  EXPECT_EQ(deeper::nn::lab_layer_name(1), "stem.relu");
  EXPECT_EQ(deeper::nn::lab_layer_name(2), "stage2.relu1");
  EXPECT_EQ(deeper::nn::lab_layer_name(9), "stage5.out");
  EXPECT_EQ(deeper::nn::lab_layer_keras_name(3), "activation_3");
  EXPECT_EQ(deeper::nn::lab_layer_keras_name(10), "flatten_1");
  EXPECT_EQ(deeper::nn::lab_layer_keras_name(11), "fcOut");
  // After a forward, layer 10 is the average of layer 9 over space (1 x 1 here: equal).
  auto p = random_params(layout, 3);
  std::vector<float> stats(static_cast<std::size_t>(layout.stat_buffer_elements), 1.0f);
  const auto images = random_images(2, m.input_size, 1);
  net.forward({p.data(), nullptr, stats.data(), nullptr}, images.data(), 2, BnMode::inference);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(net.activation(9)[i], net.activation(10)[i]);
  for (int i = 0; i < 3 * 100 * 2; ++i) EXPECT_GE(net.activation(1)[i], 0.0f);  // ReLU output
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(NetworkErrors, BadUseIsAOneLineErrorNamingTheProblem) {
  const auto m = tiny_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  auto p = random_params(layout, 3);
  std::vector<float> g(p.size()), stats(static_cast<std::size_t>(layout.stat_buffer_elements), 1.0f);
  const auto images = random_images(4, m.input_size, 1);
  std::vector<std::int32_t> labels = {0, 1, 2, 3};
  expect_error([&] { NetworkT<float> n(kCpu, layout, 0); }, "max_batch 0");
  expect_error([&] { NetworkT<double> n(kEmu, layout, 2); }, "cpu only");
  expect_error([&] { NetworkT<double> n(kCpu, layout, 2, dk::ConvMath::wmma_bf16); }, "needs float");
  NetworkT<float> net(kCpu, layout, 4);
  NetworkBuffersT<float> b{p.data(), g.data(), stats.data(), nullptr};
  expect_error([&] { net.forward(b, images.data(), 5, BnMode::train); }, "batch 5 is not in [1, 4]");
  expect_error([&] { net.forward(b, nullptr, 2, BnMode::train); }, "null images");
  expect_error([&] { net.forward(b, images.data(), 1, BnMode::train); }, "at least 2 values per channel");
  expect_error([&] { net.loss(labels.data()); }, "no forward pass");
  expect_error([&] { net.activation(3); }, "no forward pass");
  net.forward(b, images.data(), 4, BnMode::inference);
  expect_error([&] { net.backward(b); }, "training-mode forward");
  net.forward(b, images.data(), 4, BnMode::train);
  expect_error([&] { net.backward(b); }, "needs loss()");
  labels[2] = 9;
  expect_error([&] { net.loss(labels.data()); }, "label");
  expect_error([&] { net.activation(12); }, "lab layer 12 is not in [1, 11]");
  expect_error([&] { net.activation_shape(0); }, "lab layer 0");
  NetworkT<float> bf(kCpu, layout, 4, dk::ConvMath::wmma_bf16);
  expect_error([&] { bf.forward(b, images.data(), 4, BnMode::train); }, "bf16 weight copy");
  // Inference with one image is fine (no batch statistics).
  EXPECT_NO_THROW(net.forward(b, images.data(), 1, BnMode::inference));
}

}  // namespace
