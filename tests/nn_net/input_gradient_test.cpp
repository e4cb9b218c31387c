// The input gradient of a logit (nn/network.h input_gradient, nn/inference.h): central differences
// of Σ_b logit[b, c_b] with respect to input pixels in double on the CPU reference (inference-mode
// BN, random running statistics), the float cpu path against the double one, emu against cpu
// (simt_f32 and wmma_bf16), InferenceModel against the network with one-hot rows, and bad use.
#include "net_test_util.h"

#include "core/error.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "nn/inference.h"
#include "nn/network.h"

#include <algorithm>
#include <cmath>
#include <functional>

namespace {

using namespace net_test;
using deeper::DeviceBuffer;
using deeper::DType;
using deeper::Tensor;
using deeper::nn::BnMode;
using deeper::nn::InferenceModel;
using deeper::nn::NetworkBuffersT;
using deeper::nn::NetworkT;
using deeper::nn::ParamKind;
namespace dk = deeper::kernels;

const Device kCpu = Device::cpu();
const Device kEmu = Device::emu();

// BN running statistics with some spread: means in [-0.3, 0.3], variances in [0.5, 2].
std::vector<float> random_stats(const deeper::nn::NetworkLayout& layout, unsigned seed) {
  std::vector<float> s(static_cast<std::size_t>(layout.stat_buffer_elements), 0.0f);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (const auto& v : layout.stats) {
    for (std::int64_t i = 0; i < v.numel; ++i) {
      s[static_cast<std::size_t>(v.offset + i)] =
          v.kind == ParamKind::bn_running_var ? 0.5f + 1.5f * u(gen) : 0.6f * u(gen) - 0.3f;
    }
  }
  return s;
}

// One-hot rows of the target classes: d_logits of Σ_b logit[b, c_b].
template <typename T>
std::vector<T> one_hot(const std::vector<std::int32_t>& classes, std::int64_t num_classes) {
  std::vector<T> d(classes.size() * static_cast<std::size_t>(num_classes), T(0));
  for (std::size_t b = 0; b < classes.size(); ++b) {
    d[b * static_cast<std::size_t>(num_classes) + static_cast<std::size_t>(classes[b])] = T(1);
  }
  return d;
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (const double x : v) m = std::max(m, std::abs(x));
  return m;
}

struct DoubleNet {
  deeper::nn::ModelConfig model;
  deeper::nn::NetworkLayout layout;
  std::vector<double> params, stats, images;
  std::vector<std::int32_t> targets;
  std::int64_t batch;
  NetworkT<double> net;

  DoubleNet(const deeper::nn::ModelConfig& m, std::int64_t b)
      : model(m), layout(deeper::nn::resnet10_layout(m)), batch(b), net(kCpu, layout, b) {
    const auto p = random_params(layout, 5);
    params.assign(p.begin(), p.end());
    const auto s = random_stats(layout, 6);
    stats.assign(s.begin(), s.end());
    const auto img = random_images(batch, m.input_size, 11);
    images.assign(img.begin(), img.end());
    targets = random_labels(batch, m.classes, 13);
  }
  NetworkBuffersT<double> buffers() { return {params.data(), nullptr, stats.data(), nullptr}; }
  // Σ_b logit[b, c_b] of an inference forward.
  double objective() {
    const double* logits = net.forward(buffers(), images.data(), batch, BnMode::inference);
    double sum = 0;
    for (std::int64_t b = 0; b < batch; ++b) sum += logits[b * model.classes + targets[static_cast<std::size_t>(b)]];
    return sum;
  }
  std::vector<double> gradient() {
    objective();
    std::vector<double> d(images.size(), std::nan(""));
    const auto dl = one_hot<double>(targets, model.classes);
    net.input_gradient(buffers(), dl.data(), d.data());
    return d;
  }
};

// The network is piecewise linear in the image in inference mode (affine BN, ReLU, max-pool), so a
// central difference that crosses no kink is exact up to rounding: the tolerance is tight.
TEST(InputGradient, CentralDifferencesInDoubleMatch) {
  DoubleNet d(tiny_model(), 3);
  const std::vector<double> g = d.gradient();
  const double scale = max_abs(g);
  ASSERT_GT(scale, 1e-4) << "a vanishing gradient would make the check vacuous";
  const double h = 1e-6;
  std::mt19937 gen(3);
  std::uniform_int_distribution<std::size_t> pick(0, d.images.size() - 1);
  int bad = 0, nonzero = 0;
  for (int k = 0; k < 60; ++k) {
    const std::size_t i = k < 3 ? (k * d.images.size()) / 3 + 631 : pick(gen);  // every image, then random
    const double x = d.images[i];
    d.images[i] = x + h;
    const double up = d.objective();
    d.images[i] = x - h;
    const double down = d.objective();
    d.images[i] = x;
    const double numeric = (up - down) / (2 * h);
    const double err = std::abs(numeric - g[i]) / std::max({std::abs(numeric), std::abs(g[i]), 1e-3 * scale});
    if (err >= 1e-6 && ++bad <= 10) {
      ADD_FAILURE() << "pixel " << i << ": input_gradient " << g[i] << ", central difference " << numeric;
    }
    nonzero += g[i] != 0.0 ? 1 : 0;
  }
  EXPECT_EQ(bad, 0);
  EXPECT_GE(nonzero, 40);
  // Every image has a gradient of its own target logit (none is left zero or unwritten).
  const std::size_t per = d.images.size() / static_cast<std::size_t>(d.batch);
  for (std::int64_t b = 0; b < d.batch; ++b) {
    const std::vector<double> part(g.begin() + static_cast<std::ptrdiff_t>(b * per),
                                   g.begin() + static_cast<std::ptrdiff_t>((b + 1) * per));
    EXPECT_GT(max_abs(part), 1e-5) << "image " << b;
    EXPECT_TRUE(std::none_of(part.begin(), part.end(), [](double v) { return std::isnan(v); })) << "image " << b;
  }
}

// Linear in d_logits: the gradient of 2·logit[b, c] - logit[b, c'] is the same combination of the
// one-hot gradients.
TEST(InputGradient, IsLinearInTheLogitGradient) {
  DoubleNet d(tiny_model(), 2);
  const auto classes = d.model.classes;
  d.objective();
  auto grad_of = [&](const std::vector<double>& dl) {
    std::vector<double> out(d.images.size());
    d.net.input_gradient(d.buffers(), dl.data(), out.data());
    return out;
  };
  const auto a = grad_of(one_hot<double>({1, 4}, classes)), b = grad_of(one_hot<double>({2, 0}, classes));
  std::vector<double> mixed(static_cast<std::size_t>(2 * classes), 0.0);
  mixed[1] = 2.0, mixed[2] = -1.0, mixed[static_cast<std::size_t>(classes) + 4] = 2.0,
  mixed[static_cast<std::size_t>(classes)] = -1.0;
  const auto c = grad_of(mixed);
  std::vector<double> want(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) want[i] = 2 * a[i] - b[i];
  expect_close(c, want, 1e-13, 1e-10, "linear combination");
  EXPECT_NE(a, b);
}

// A float network on `device` with `math`: the input gradient of Σ_b logit[b, c_b] (the same
// parameters, statistics, images and targets as DoubleNet), and the logits before and after.
struct FloatGrad {
  std::vector<float> d_images, logits_before, logits_after;
};

FloatGrad run_float(const Device& device, dk::ConvMath math, const deeper::nn::ModelConfig& m, std::int64_t batch) {
  const auto layout = deeper::nn::resnet10_layout(m);
  const auto p = random_params(layout, 5);
  DeviceBuffer params = upload(device, p);
  DeviceBuffer stats = upload(device, random_stats(layout, 6));
  DeviceBuffer bf16(device, p.size() * sizeof(std::uint16_t));
  deeper::nn::params_to_bf16(device, static_cast<const float*>(params.data()), static_cast<std::uint16_t*>(bf16.data()),
                             static_cast<std::int64_t>(p.size()));
  const auto img = random_images(batch, m.input_size, 11);
  DeviceBuffer images = upload(device, img);
  DeviceBuffer dl = upload(device, one_hot<float>(random_labels(batch, m.classes, 13), m.classes));
  DeviceBuffer d_images = upload(device, std::vector<float>(img.size(), std::nanf("")));
  NetworkT<float> net(device, layout, batch, math);
  const NetworkBuffersT<float> b{static_cast<const float*>(params.data()), nullptr, static_cast<float*>(stats.data()),
                                 static_cast<const std::uint16_t*>(bf16.data())};
  FloatGrad out;
  const float* logits = net.forward(b, static_cast<const float*>(images.data()), batch, BnMode::inference);
  out.logits_before = download(device, logits, batch * m.classes);
  net.input_gradient(b, static_cast<const float*>(dl.data()), static_cast<float*>(d_images.data()));
  out.logits_after = download(device, net.activation(11), batch * m.classes);
  out.d_images = download(device, static_cast<const float*>(d_images.data()), static_cast<std::int64_t>(img.size()));
  return out;
}

TEST(InputGradient, FloatCpuMatchesDouble) {
  const auto m = tiny_model();
  DoubleNet d(m, 3);
  const std::vector<double> want = d.gradient();
  const FloatGrad f = run_float(kCpu, dk::ConvMath::simt_f32, m, 3);
  expect_close(f.d_images, want, 1e-5 * max_abs(want), 1e-3, "float vs double input gradient");
  EXPECT_EQ(f.logits_after, f.logits_before);  // the forward's activations are left alone
}

TEST(InputGradient, EmuMatchesCpuSimtAndWmmaBf16) {
  const auto m = tiny_model({8, 8, 8, 8}, 20, 6);
  const FloatGrad cpu = run_float(kCpu, dk::ConvMath::simt_f32, m, 2);
  const FloatGrad emu = run_float(kEmu, dk::ConvMath::simt_f32, m, 2);
  std::vector<double> ref(cpu.d_images.begin(), cpu.d_images.end());
  const double scale = max_abs(ref);
  ASSERT_GT(scale, 0.0);
  expect_close(emu.d_images, cpu.d_images, 1e-5 * scale, 1e-4, "emu simt_f32");
  const FloatGrad cpu_bf = run_float(kCpu, dk::ConvMath::wmma_bf16, m, 2);
  const FloatGrad emu_bf = run_float(kEmu, dk::ConvMath::wmma_bf16, m, 2);
  expect_close(emu_bf.d_images, cpu_bf.d_images, 1e-4 * scale, 1e-3, "emu wmma_bf16");
  // bf16 operands move the gradient, but not far from fp32.
  EXPECT_NE(cpu_bf.d_images, cpu.d_images);
  double diff = 0, norm = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    diff += std::pow(cpu_bf.d_images[i] - ref[i], 2);
    norm += ref[i] * ref[i];
  }
  EXPECT_LT(std::sqrt(diff / norm), 0.05);
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(InputGradient, NetworkRefusesBadUse) {
  const auto m = tiny_model();
  const auto layout = deeper::nn::resnet10_layout(m);
  auto p = random_params(layout, 3);
  auto stats = random_stats(layout, 4);
  const auto images = random_images(2, m.input_size, 1);
  std::vector<float> dl(static_cast<std::size_t>(2 * m.classes), 1.0f), dimg(images.size());
  std::vector<float> grads(p.size(), 7.0f);
  NetworkT<float> net(kCpu, layout, 2);
  NetworkBuffersT<float> b{p.data(), grads.data(), stats.data(), nullptr};
  expect_error([&] { net.input_gradient(b, dl.data(), dimg.data()); }, "no forward pass");
  net.forward(b, images.data(), 2, BnMode::train);
  expect_error([&] { net.input_gradient(b, dl.data(), dimg.data()); }, "training mode; needs BnMode::inference");
  net.forward(b, images.data(), 2, BnMode::inference);
  expect_error([&] { net.input_gradient(b, nullptr, dimg.data()); }, "null d_logits");
  expect_error([&] { net.input_gradient(b, dl.data(), nullptr); }, "null d_images");
  expect_error([&] { net.input_gradient({nullptr, nullptr, stats.data(), nullptr}, dl.data(), dimg.data()); },
               "null parameter buffer");
  expect_error([&] { net.input_gradient({p.data(), nullptr, nullptr, nullptr}, dl.data(), dimg.data()); },
               "null statistics buffer");
  // The parameter gradients are neither needed nor touched; a training backward is still refused.
  net.input_gradient(b, dl.data(), dimg.data());
  EXPECT_TRUE(std::all_of(grads.begin(), grads.end(), [](float v) { return v == 7.0f; }));
  expect_error([&] { net.backward(b); }, "training-mode forward");
  // Nothing is allocated per call.
  const auto count = DeviceBuffer::allocation_count();
  net.forward(b, images.data(), 1, BnMode::inference);
  net.input_gradient(b, dl.data(), dimg.data());
  EXPECT_EQ(DeviceBuffer::allocation_count(), count);
  NetworkT<float> bf(kCpu, layout, 2, dk::ConvMath::wmma_bf16);
  std::vector<std::uint16_t> w16(p.size());
  bf.forward({p.data(), nullptr, stats.data(), w16.data()}, images.data(), 2, BnMode::inference);
  expect_error([&] { bf.input_gradient(b, dl.data(), dimg.data()); }, "bf16 weight copy");
}

Tensor images_on(const Device& device, std::int64_t batch, std::int64_t size, unsigned seed) {
  const auto host = random_images(batch, size, seed);
  Tensor t = Tensor::empty({batch, size, size, 3}, DType::f32, device);
  deeper::copy_bytes(t.data_raw(), device, host.data(), Device::cpu(), t.nbytes());
  return t;
}

std::vector<float> host_of(const Tensor& t) {
  std::vector<float> h(static_cast<std::size_t>(t.numel()));
  deeper::copy_bytes(h.data(), Device::cpu(), t.data_raw(), t.device(), t.nbytes());
  return h;
}

TEST(InputGradient, InferenceModelMatchesTheNetworkWithOneHotRows) {
  const auto m = tiny_model({4, 8, 8, 8}, 20, 6);
  const auto layout = deeper::nn::resnet10_layout(m);
  deeper::nn::ParameterStore store(kCpu, layout, deeper::nn::OptimizerKind::sgd);
  store.upload_params(random_params(layout, 8));
  store.upload_stats(random_stats(layout, 9));
  InferenceModel model(store, 4);
  const Tensor images = images_on(kCpu, 3, 20, 5);
  Tensor d_images = Tensor::empty({3, 20, 20, 3}, DType::f32, kCpu);
  const std::vector<std::int32_t> targets = {5, 0, 2};
  model.input_gradient(images, targets, d_images);
  // Afterwards the model describes this batch.
  EXPECT_EQ(model.batch(), 3);
  const std::vector<float> logits = host_of(model.logits());
  const std::vector<std::int32_t> decisions = model.decisions_host();
  for (std::size_t b = 0; b < 3; ++b) {
    const auto row = logits.begin() + static_cast<std::ptrdiff_t>(b * 6);
    EXPECT_EQ(decisions[b], std::max_element(row, row + 6) - row);
  }
  // The same as the network with one-hot rows.
  NetworkT<float> net(kCpu, layout, 3);
  const NetworkBuffersT<float> b{store.params(), nullptr, store.stats(), nullptr};
  net.forward(b, images.data<float>(), 3, BnMode::inference);
  const auto dl = one_hot<float>(targets, 6);
  std::vector<float> want(static_cast<std::size_t>(images.numel()));
  net.input_gradient(b, dl.data(), want.data());
  EXPECT_EQ(host_of(d_images), want);
  EXPECT_EQ(logits, std::vector<float>(net.activation(11), net.activation(11) + 18));
  // Another target for image 0 changes only image 0's gradient.
  Tensor d2 = Tensor::empty({3, 20, 20, 3}, DType::f32, kCpu);
  model.input_gradient(images, std::vector<std::int32_t>{1, 0, 2}, d2);
  const auto g1 = host_of(d_images), g2 = host_of(d2);
  const std::size_t per = 20 * 20 * 3;
  EXPECT_NE(std::vector<float>(g1.begin(), g1.begin() + per), std::vector<float>(g2.begin(), g2.begin() + per));
  EXPECT_EQ(std::vector<float>(g1.begin() + per, g1.end()), std::vector<float>(g2.begin() + per, g2.end()));
}

TEST(InputGradient, InferenceModelRefusesBadInput) {
  const auto m = tiny_model({4, 8, 8, 8}, 20, 6);
  const auto layout = deeper::nn::resnet10_layout(m);
  deeper::nn::ParameterStore store(kCpu, layout, deeper::nn::OptimizerKind::sgd);
  store.initialize(1);
  InferenceModel model(store, 2);
  const Tensor images = images_on(kCpu, 2, 20, 1);
  Tensor d = Tensor::empty({2, 20, 20, 3}, DType::f32, kCpu);
  const std::vector<std::int32_t> two = {0, 1};
  expect_error([&] { model.input_gradient(images, std::vector<std::int32_t>{0}, d); }, "1 target classes for a batch of 2");
  expect_error([&] { model.input_gradient(images, std::vector<std::int32_t>{0, 6}, d); },
               "target class 6 of image 1 is not in [0, 6)");
  expect_error([&] { model.input_gradient(images, std::vector<std::int32_t>{-1, 0}, d); }, "target class -1");
  Tensor small = Tensor::empty({1, 20, 20, 3}, DType::f32, kCpu);
  expect_error([&] { model.input_gradient(images, two, small); }, "d_images has shape");
  Tensor f64 = Tensor::empty({2, 20, 20, 3}, DType::f64, kCpu);
  expect_error([&] { model.input_gradient(images, two, f64); }, "d_images must be f32");
  Tensor on_emu = Tensor::empty({2, 20, 20, 3}, DType::f32, kEmu);
  expect_error([&] { model.input_gradient(images, two, on_emu); }, "d_images is on emu, the model on cpu");
  Tensor undefined;
  expect_error([&] { model.input_gradient(images, two, undefined); }, "undefined d_images");
  expect_error([&] { model.input_gradient(images_on(kCpu, 2, 24, 1), two, d); }, "B x 20 x 20 x 3");
  expect_error([&] { model.input_gradient(Tensor::empty({2, 20, 20, 3}, DType::f64), two, d); }, "images must be f32");
  expect_error([&] { model.input_gradient(images_on(kEmu, 2, 20, 1), two, d); }, "images are on emu");
  Tensor big = Tensor::empty({3, 20, 20, 3}, DType::f32, kCpu);
  expect_error([&] { model.input_gradient(images_on(kCpu, 3, 20, 1), std::vector<std::int32_t>{0, 1, 2}, big); },
               "batch 3 is not in [1, 2]");
  EXPECT_EQ(model.batch(), 0);  // nothing ran
  model.input_gradient(images, two, d);
  EXPECT_EQ(model.batch(), 2);
}

}  // namespace
