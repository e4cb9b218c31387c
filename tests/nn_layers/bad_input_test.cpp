// Bad inputs get a clear deeper::Error naming the op and the problem, on every host backend:
// zero or negative sizes, null pointers, missing workspaces, bad windows, bad hyper-parameters,
// segments that do not cover the buffer.
#include "nn_test_util.h"

#include "kernels/nn/activation.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/linear.h"
#include "kernels/nn/optimizer.h"
#include "kernels/nn/pooling.h"

namespace {

using namespace nn_test;

TEST(NnBadInput, BatchNorm) {
  std::vector<float> x(64, 1.0f), c(4, 1.0f), y(64);
  std::vector<double> ws(1024);
  for (const Device& device : {kCpu, kEmu}) {
    dk::BatchNormStatsParams s;
    s.x = x.data();
    s.rows = 16;
    s.channels = 4;
    s.save_mean = c.data();
    s.save_invstd = c.data();
    s.workspace = ws.data();
    auto bad = s;
    bad.rows = 1;
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "batchnorm_stats: 1 rows");
    bad = s;
    bad.channels = 0;
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "0 channels");
    bad = s;
    bad.x = nullptr;
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "null input");
    bad = s;
    bad.running_mean = c.data();
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "both running_mean and running_var");
    bad = s;
    bad.momentum = 1.5f;
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "momentum 1.5");
    bad = s;
    bad.eps = 0;
    expect_error([&] { dk::batchnorm_stats(device, bad); }, "eps 0");
    if (device.backend == deeper::Backend::emu) {
      bad = s;
      bad.workspace = nullptr;
      expect_error([&] { dk::batchnorm_stats(device, bad); }, "null workspace");
      bad.workspace = reinterpret_cast<unsigned char*>(ws.data()) + 4;
      expect_error([&] { dk::batchnorm_stats(device, bad); }, "16-byte aligned");
    }
    dk::BatchNormApplyParams a;
    a.rows = 16;
    a.channels = 4;
    a.x = x.data();
    a.y = y.data();
    a.bn = {c.data(), c.data(), c.data(), nullptr, nullptr, 1e-3f};
    expect_error([&] { dk::batchnorm_apply(device, a); }, "neither invstd nor var");
    a.bn.var = c.data();
    a.residual = dk::BnResidual::identity;
    expect_error([&] { dk::batchnorm_apply(device, a); }, "null residual");
    a.r = x.data();
    a.residual = dk::BnResidual::batchnorm;
    expect_error([&] { dk::batchnorm_apply(device, a); }, "null gamma (residual)");
    a.rows = 0;
    expect_error([&] { dk::batchnorm_apply(device, a); }, "batchnorm_apply: 0 rows");
    dk::BatchNormBackwardParams b;
    b.rows = 16;
    b.channels = 4;
    b.dy = x.data();
    b.x = x.data();
    b.dx = y.data();
    b.dgamma = b.dbeta = c.data();
    b.bn = {c.data(), nullptr, c.data(), c.data(), nullptr, 0};
    b.workspace = ws.data();
    b.relu = true;
    expect_error([&] { dk::batchnorm_backward(device, b); }, "null y");
    b.relu = false;
    b.bn.invstd = nullptr;
    expect_error([&] { dk::batchnorm_backward(device, b); }, "null saved invstd");
    b.bn.invstd = c.data();
    b.residual = dk::BnResidual::identity;
    expect_error([&] { dk::batchnorm_backward(device, b); }, "null residual gradient");
  }
  dk::BatchNormStatsParams s;
  s.x = x.data();
  s.rows = 16;
  s.channels = 4;
  dk::BatchNormApplyParams a;
  a.x = x.data();
  a.rows = 8;
  a.channels = 4;
  expect_error([&] { dk::batchnorm_forward_train(kCpu, s, a); }, "must read the same x");
}

TEST(NnBadInput, Elementwise) {
  std::vector<float> v(8);
  for (const Device& device : {kCpu, kEmu}) {
    expect_error([&] { dk::relu_forward(device, {-1, v.data(), v.data()}); }, "relu_forward: negative size -1");
    expect_error([&] { dk::relu_forward(device, {8, nullptr, v.data()}); }, "relu_forward: null");
    expect_error([&] { dk::relu_backward(device, {8, v.data(), nullptr, v.data()}); }, "relu_backward: null");
    expect_error([&] { dk::add(device, {8, v.data(), v.data(), nullptr}); }, "add: null");
    EXPECT_NO_THROW(dk::add(device, {0, nullptr, nullptr, nullptr}));  // nothing to do
  }
}

TEST(NnBadInput, Pooling) {
  std::vector<float> v(256);
  std::vector<std::int32_t> am(256);
  for (const Device& device : {kCpu, kEmu}) {
    expect_error([&] { dk::maxpool_forward(device, {0, 4, 4, 2, 3, 2, 1, v.data(), v.data(), am.data()}); },
                 "must all be at least 1");
    expect_error([&] { dk::maxpool_forward(device, {1, 4, 4, 2, 3, 2, 2, v.data(), v.data(), am.data()}); },
                 "pad 2 is more than half the kernel 3");
    expect_error([&] { dk::maxpool_forward(device, {1, 2, 2, 2, 5, 1, 1, v.data(), v.data(), am.data()}); },
                 "window 5 is larger than the padded input");
    expect_error([&] { dk::maxpool_forward(device, {1, 4, 4, 2, 3, 0, 1, v.data(), v.data(), am.data()}); }, "stride 0");
    expect_error([&] { dk::maxpool_forward(device, {1, 4, 4, 2, 3, 2, 1, v.data(), v.data(), nullptr}); }, "null");
    expect_error([&] { dk::maxpool_backward(device, {1, 4, 4, 2, 3, 2, 1, v.data(), nullptr, v.data()}); }, "null");
    expect_error([&] { dk::global_avgpool_forward(device, {1, 4, 0, 2, v.data(), v.data()}); }, "at least 1");
    expect_error([&] { dk::global_avgpool_backward(device, {1, 4, 4, 2, nullptr, v.data()}); }, "null dy");
  }
}

TEST(NnBadInput, LinearAndCrossEntropy) {
  std::vector<float> v(64);
  std::vector<std::int32_t> labels(4, 0);
  for (const Device& device : {kCpu, kEmu}) {
    expect_error([&] { dk::linear_forward(device, {0, 4, 4, v.data(), v.data(), nullptr, v.data()}); },
                 "linear_forward: sizes rows 0");
    expect_error([&] { dk::linear_forward(device, {4, 4, 4, v.data(), nullptr, nullptr, v.data()}); }, "null");
    expect_error([&] { dk::linear_backward(device, {4, 4, 4, v.data(), nullptr, v.data(), v.data(), nullptr, nullptr}); },
                 "dx needs the weight");
    expect_error([&] { dk::linear_backward(device, {4, 4, 4, nullptr, v.data(), v.data(), nullptr, v.data(), nullptr}); },
                 "dweight needs the input");
    dk::CrossEntropyParams p;
    p.rows = 4;
    p.classes = 4;
    p.logits = v.data();
    p.labels = labels.data();
    expect_error([&] { dk::cross_entropy_forward(device, p); }, "null sample_loss");
    expect_error([&] { dk::cross_entropy_backward(device, p); }, "null dlogits");
    p.sample_loss = v.data();
    p.rows = 0;
    expect_error([&] { dk::cross_entropy_forward(device, p); }, "0 rows");
    p.rows = 4;
    p.classes = 0;
    expect_error([&] { dk::cross_entropy_forward(device, p); }, "0 classes");
    p.classes = 4;
    p.labels = nullptr;
    expect_error([&] { dk::cross_entropy_forward(device, p); }, "null logits or labels");
  }
}

TEST(NnBadInput, Optimizers) {
  std::vector<float> v(16);
  for (const Device& device : {kCpu, kEmu}) {
    dk::SgdParams s;
    s.n = 16;
    s.weights = v.data();
    s.grads = v.data();
    s.momentum = 0.9f;
    expect_error([&] { dk::sgd_step(device, s); }, "null momentum buffer");
    s.momentum_buffer = v.data();
    s.step = 0;
    expect_error([&] { dk::sgd_step(device, s); }, "step 0");
    s.step = 1;
    s.lr = -1;
    expect_error([&] { dk::sgd_step(device, s); }, "lr -1");
    s.lr = 0.1;
    s.momentum = 0;
    s.nesterov = true;
    expect_error([&] { dk::sgd_step(device, s); }, "Nesterov momentum needs momentum > 0");
    s.nesterov = false;
    s.segments.size = 2;
    s.segments.segment[0] = {0, 8, true};
    s.segments.segment[1] = {9, 7, false};
    expect_error([&] { dk::sgd_step(device, s); }, "segment 1 is [9, 9 + 7)");
    s.segments.segment[1] = {8, 7, false};
    expect_error([&] { dk::sgd_step(device, s); }, "the segments cover [0, 15), not the 16 parameters");
    s.segments.size = dk::kMaxParamSegments + 1;
    expect_error([&] { dk::sgd_step(device, s); }, "segments is outside");
    dk::AdamWParams a;
    a.n = 16;
    a.weights = a.exp_avg = a.exp_avg_sq = v.data();
    a.grads = v.data();
    a.beta2 = 1.0f;
    expect_error([&] { dk::adamw_step(device, a); }, "betas (0.9, 1) must be in [0, 1)");
    a.beta2 = 0.999f;
    a.eps = 0;
    expect_error([&] { dk::adamw_step(device, a); }, "eps 0 must be positive");
    a.eps = 1e-8f;
    a.exp_avg_sq = nullptr;
    expect_error([&] { dk::adamw_step(device, a); }, "null weights, gradients, exp_avg or exp_avg_sq");
  }
}

}  // namespace
