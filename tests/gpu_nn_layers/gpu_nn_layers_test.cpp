// kernels/nn layers (batch norm and its fused tails, ReLU, add, max-pool, global average pool,
// linear, cross-entropy, SGD, AdamW) with the cuda backend against the CPU reference on ResNet-10
// shapes at batch 8, 112 px input: the stem's 8 x 56 x 56 x 64 map, the lab's 'valid' 3x3/2 pool
// (56 -> 27) and torchvision's padded one (56 -> 28), the stage-5 block tail at 8 x 4 x 4 x 512, the
// 512 -> 2000 classifier, and one optimizer step over 5,944,848 parameters; max-pool's vector and
// scalar kernels on small odd maps. Every test skips without a usable GPU.
#include "core/error.h"
#include "kernels/nn/activation.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/cross_entropy.h"
#include "kernels/nn/linear.h"
#include "kernels/nn/optimizer.h"
#include "kernels/nn/pooling.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test_util.h"

#include <cmath>
#include <random>
#include <string>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace dk = deeper::kernels;
using deeper::Device;

const Device kGpu = Device::cuda(0);
const Device kCpu = Device::cpu();

std::vector<float> random_vector(std::size_t n, unsigned seed, float lo = -1.0f, float hi = 1.0f) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Device buffers of one test, freed together.
struct Gpu {
  std::vector<deeper::DeviceBuffer> buffers;
  template <typename T>
  T* put(const std::vector<T>& host) {
    buffers.push_back(deeper::test::to_gpu(host));
    return static_cast<T*>(buffers.back().data());
  }
  template <typename T>
  T* make(std::size_t n) {
    buffers.emplace_back(kGpu, std::max<std::size_t>(n * sizeof(T), 4));
    return static_cast<T*>(buffers.back().data());
  }
};

template <typename T>
std::vector<T> get(const T* ptr, std::size_t n) {
  std::vector<T> host(n);
  deeper::copy_bytes(host.data(), kCpu, ptr, kGpu, n * sizeof(T));
  return host;
}

template <typename T>
void expect_close(const std::vector<T>& got, const std::vector<T>& want, double atol, double rtol, const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  std::size_t bad = 0;
  double worst = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double g = static_cast<double>(got[i]), w = static_cast<double>(want[i]);
    const double err = std::abs(g - w);
    const bool ok = std::isnan(w) ? std::isnan(g) : err <= atol + rtol * std::abs(w);
    if (!ok && ++bad <= 5) ADD_FAILURE() << what << "[" << i << "]: got " << g << ", want " << w;
    if (!std::isnan(w)) worst = std::max(worst, err);
  }
  EXPECT_EQ(bad, 0u) << what << " (largest difference " << worst << ")";
}

void check_bn(std::int64_t rows, std::int64_t C, dk::BnResidual residual, bool relu) {
  const auto n = static_cast<std::size_t>(rows * C), c = static_cast<std::size_t>(C);
  const auto x = random_vector(n, 1, -2.0f, 4.0f), r = random_vector(n, 2), dy = random_vector(n, 3);
  const auto gamma = random_vector(c, 4, 0.5f, 1.5f), beta = random_vector(c, 5), r_gamma = random_vector(c, 6, 0.5f, 1.5f),
             r_beta = random_vector(c, 7);
  // The CPU reference.
  std::vector<float> run_mean(c, 0.0f), run_var(c, 1.0f), mean(c), invstd(c), r_mean(c), r_invstd(c), y(n), dx(n),
      dr(n), dgamma(c), dbeta(c), dr_gamma(c), dr_beta(c);
  dk::BatchNormStatsParams s;
  s.rows = rows;
  s.channels = C;
  s.eps = 1e-3f;
  s.momentum = 0.01f;
  dk::BatchNormApplyParams a;
  a.rows = rows;
  a.channels = C;
  a.residual = residual;
  a.relu = relu;
  dk::BatchNormBackwardParams b;
  b.rows = rows;
  b.channels = C;
  b.residual = residual;
  b.relu = relu;
  const auto run = [&](const Device& device, const float* px, const float* pr, const float* pdy, const float* pg,
                       const float* pb, const float* prg, const float* prb, float* prm, float* prv, float* pm,
                       float* pi, float* prmean, float* printv, float* py, float* pdx, float* pdr, float* pdg,
                       float* pdb, float* pdrg, float* pdrb, void* ws, const float* py_backward) {
    s.x = px;
    s.running_mean = prm;
    s.running_var = prv;
    s.save_mean = pm;
    s.save_invstd = pi;
    s.workspace = ws;
    if (residual == dk::BnResidual::batchnorm) {
      auto rs = s;
      rs.x = pr;
      rs.running_mean = rs.running_var = nullptr;
      rs.save_mean = prmean;
      rs.save_invstd = printv;
      dk::batchnorm_stats(device, rs);
    }
    a.x = px;
    a.bn = {pg, pb, nullptr, nullptr, nullptr, 0};
    a.r = pr;
    a.r_bn = {prg, prb, prmean, printv, nullptr, 0};
    a.y = py;
    dk::batchnorm_forward_train(device, s, a);
    b.dy = pdy;
    b.y = py_backward;
    b.x = px;
    b.bn = {pg, nullptr, pm, pi, nullptr, 0};
    b.r = pr;
    b.r_bn = {prg, nullptr, prmean, printv, nullptr, 0};
    b.dx = pdx;
    b.dr = residual == dk::BnResidual::none ? nullptr : pdr;
    b.dgamma = pdg;
    b.dbeta = pdb;
    b.dr_gamma = pdrg;
    b.dr_beta = pdrb;
    b.workspace = ws;
    dk::batchnorm_backward(device, b);
  };
  run(kCpu, x.data(), r.data(), dy.data(), gamma.data(), beta.data(), r_gamma.data(), r_beta.data(), run_mean.data(),
      run_var.data(), mean.data(), invstd.data(), r_mean.data(), r_invstd.data(), y.data(), dx.data(), dr.data(),
      dgamma.data(), dbeta.data(), dr_gamma.data(), dr_beta.data(), nullptr, y.data());
  Gpu g;
  float* grm = g.put(std::vector<float>(c, 0.0f));
  float* grv = g.put(std::vector<float>(c, 1.0f));
  float *gm = g.make<float>(c), *gi = g.make<float>(c), *grmean = g.make<float>(c), *grinv = g.make<float>(c);
  float *gy = g.make<float>(n), *gdx = g.make<float>(n), *gdr = g.make<float>(n);
  float *gdg = g.make<float>(c), *gdb = g.make<float>(c), *gdrg = g.make<float>(c), *gdrb = g.make<float>(c);
  void* ws = g.make<unsigned char>(dk::batchnorm_workspace_bytes(rows, C));
  // The backward pass reads the CPU's forward output on both sides: a pre-activation within an ulp
  // of 0 may round to the other side of the ReLU on the GPU (FMA), which would move dgamma by a
  // whole term; y itself is compared with a tolerance below.
  run(kGpu, g.put(x), g.put(r), g.put(dy), g.put(gamma), g.put(beta), g.put(r_gamma), g.put(r_beta), grm, grv, gm, gi,
      grmean, grinv, gy, gdx, gdr, gdg, gdb, gdrg, gdrb, ws, g.put(y));
  expect_close(get(gm, c), mean, 1e-6, 1e-5, "mean");
  expect_close(get(gi, c), invstd, 1e-6, 1e-5, "invstd");
  expect_close(get(grm, c), run_mean, 1e-6, 1e-5, "running mean");
  expect_close(get(grv, c), run_var, 1e-6, 1e-5, "running var");
  expect_close(get(gy, n), y, 1e-5, 1e-5, "y");
  expect_close(get(gdx, n), dx, 1e-5, 1e-4, "dx");
  expect_close(get(gdg, c), dgamma, 1e-3, 1e-4, "dgamma");
  expect_close(get(gdb, c), dbeta, 1e-3, 1e-4, "dbeta");
  if (residual != dk::BnResidual::none) expect_close(get(gdr, n), dr, 1e-5, 1e-4, "dr");
  if (residual == dk::BnResidual::batchnorm) {
    expect_close(get(gdrg, c), dr_gamma, 1e-3, 1e-4, "dr_gamma");
    expect_close(get(gdrb, c), dr_beta, 1e-3, 1e-4, "dr_beta");
  }
}

TEST(GpuNnLayers, BatchNormStemAndBlockTailsMatchTheCpu) {
  DEEPER_REQUIRE_CUDA();
  {
    SCOPED_TRACE("stem: 8 x 56 x 56 x 64, BN + ReLU");
    check_bn(8 * 56 * 56, 64, dk::BnResidual::none, true);
  }
  {
    SCOPED_TRACE("stage 2 tail: 8 x 27 x 27 x 64, relu(bn + bn_sc)");
    check_bn(8 * 27 * 27, 64, dk::BnResidual::batchnorm, true);
  }
  {
    SCOPED_TRACE("stage 5 tail: 8 x 4 x 4 x 512, relu(bn + bn_sc)");
    check_bn(8 * 4 * 4, 512, dk::BnResidual::batchnorm, true);
  }
  {
    SCOPED_TRACE("identity residual, odd channels (scalar path): 8 x 14 x 14 x 129");
    check_bn(8 * 14 * 14, 129, dk::BnResidual::identity, false);
  }
}

TEST(GpuNnLayers, ReluAddAndPoolingMatchTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t N = 8, H = 56, W = 56, C = 64, n = N * H * W * C;
  const auto x = random_vector(static_cast<std::size_t>(n), 10), g = random_vector(static_cast<std::size_t>(n), 11);
  Gpu gpu;
  const float *gx = gpu.put(x), *gg = gpu.put(g);
  float *gy = gpu.make<float>(n), *gdx = gpu.make<float>(n), *gsum = gpu.make<float>(n);
  std::vector<float> y(n), dx(n), sum(n);
  dk::relu_forward(kCpu, {n, x.data(), y.data()});
  dk::relu_backward(kCpu, {n, g.data(), y.data(), dx.data()});
  dk::add(kCpu, {n, x.data(), g.data(), sum.data()});
  dk::relu_forward(kGpu, {n, gx, gy});
  dk::relu_backward(kGpu, {n, gg, gy, gdx});
  dk::add(kGpu, {n, gx, gg, gsum});
  expect_close(get(gy, n), y, 0, 0, "relu");
  expect_close(get(gdx, n), dx, 0, 0, "relu backward");
  expect_close(get(gsum, n), sum, 0, 0, "add");
  for (const int pad : {0, 1}) {
    SCOPED_TRACE(pad == 0 ? "3x3/2 valid (56 -> 27)" : "3x3/2 pad 1 (56 -> 28)");
    const std::int64_t Ho = dk::pool_output_size(H, 3, 2, pad), out = N * Ho * Ho * C;
    const auto dy = random_vector(static_cast<std::size_t>(out), 12);
    std::vector<float> py(out), pdx(n);
    std::vector<std::int32_t> am(out);
    dk::maxpool_forward(kCpu, {N, H, W, C, 3, 2, pad, x.data(), py.data(), am.data()});
    dk::maxpool_backward(kCpu, {N, H, W, C, 3, 2, pad, dy.data(), am.data(), pdx.data()});
    float *gpy = gpu.make<float>(out), *gpdx = gpu.make<float>(n);
    auto* gam = gpu.make<std::int32_t>(out);
    dk::maxpool_forward(kGpu, {N, H, W, C, 3, 2, pad, gx, gpy, gam});
    dk::maxpool_backward(kGpu, {N, H, W, C, 3, 2, pad, gpu.put(dy), gam, gpdx});
    expect_close(get(gpy, out), py, 0, 0, "maxpool y");
    EXPECT_EQ(get(gam, out), am);
    expect_close(get(gpdx, n), pdx, 0, 0, "maxpool dx");  // the gather adds in the CPU's order
  }
  // global average pool of the stage-5 map
  const std::int64_t h5 = 4, c5 = 512, n5 = N * h5 * h5 * c5;
  const auto x5 = random_vector(static_cast<std::size_t>(n5), 13), dy5 = random_vector(static_cast<std::size_t>(N * c5), 14);
  std::vector<float> avg(N * c5), davg(n5);
  dk::global_avgpool_forward(kCpu, {N, h5, h5, c5, x5.data(), avg.data()});
  dk::global_avgpool_backward(kCpu, {N, h5, h5, c5, dy5.data(), davg.data()});
  float *gavg = gpu.make<float>(N * c5), *gdavg = gpu.make<float>(n5);
  dk::global_avgpool_forward(kGpu, {N, h5, h5, c5, gpu.put(x5), gavg});
  dk::global_avgpool_backward(kGpu, {N, h5, h5, c5, gpu.put(dy5), gdavg});
  expect_close(get(gavg, N * c5), avg, 1e-6, 1e-5, "avgpool y");
  expect_close(get(gdavg, n5), davg, 0, 1e-6, "avgpool dx");
}

// Max-pool's four kernels (float4 or scalar, k = 3 unrolled or general) on small maps with ties,
// NaN and infinities: y, argmax and dx equal to the CPU's. `offset` shifts every pointer by 4 bytes
// (scalar path on C % 4 == 0).
TEST(GpuNnLayers, MaxPoolVectorAndScalarPathsMatchTheCpu) {
  DEEPER_REQUIRE_CUDA();
  struct Case {
    std::int64_t n, h, w, c;
    int k, s, p;
    std::size_t offset;
  };
  const Case cases[] = {{4, 28, 28, 64, 3, 2, 1, 0}, {4, 28, 28, 64, 3, 2, 1, 1}, {4, 31, 29, 3, 3, 2, 1, 0},
                        {2, 16, 16, 8, 2, 2, 0, 0},  {2, 13, 11, 5, 5, 1, 2, 0},  {2, 15, 17, 12, 2, 3, 1, 0}};
  unsigned seed = 40;
  for (const Case& cs : cases) {
    SCOPED_TRACE(::testing::Message() << cs.n << "x" << cs.h << "x" << cs.w << "x" << cs.c << " k " << cs.k << " s "
                                      << cs.s << " p " << cs.p << " offset " << cs.offset);
    const std::int64_t Ho = dk::pool_output_size(cs.h, cs.k, cs.s, cs.p), Wo = dk::pool_output_size(cs.w, cs.k, cs.s, cs.p);
    const auto in = static_cast<std::size_t>(cs.n * cs.h * cs.w * cs.c), out = static_cast<std::size_t>(cs.n * Ho * Wo * cs.c);
    const std::size_t off = cs.offset;
    auto x = random_vector(in + off, seed++);
    for (std::size_t i = 0; i < x.size(); i += 3) x[i] = std::round(x[i] * 2.0f);  // ties
    x[off + in / 2] = std::nanf("");
    x[off + in / 3] = INFINITY;
    x[off + in / 5] = -INFINITY;
    const auto dy = random_vector(out + off, seed++);
    std::vector<float> y(out + off), dx(in + off);
    std::vector<std::int32_t> am(out + off);
    dk::maxpool_forward(kCpu, {cs.n, cs.h, cs.w, cs.c, cs.k, cs.s, cs.p, x.data() + off, y.data() + off, am.data() + off});
    dk::maxpool_backward(kCpu, {cs.n, cs.h, cs.w, cs.c, cs.k, cs.s, cs.p, dy.data() + off, am.data() + off, dx.data() + off});
    Gpu gpu;
    float *gy = gpu.make<float>(out + off), *gdx = gpu.make<float>(in + off);
    auto* gam = gpu.make<std::int32_t>(out + off);
    dk::maxpool_forward(kGpu, {cs.n, cs.h, cs.w, cs.c, cs.k, cs.s, cs.p, gpu.put(x) + off, gy + off, gam + off});
    dk::maxpool_backward(kGpu, {cs.n, cs.h, cs.w, cs.c, cs.k, cs.s, cs.p, gpu.put(dy) + off, gam + off, gdx + off});
    const auto got_y = get(gy + off, out), got_dx = get(gdx + off, in);
    std::size_t bad = 0;
    for (std::size_t i = 0; i < out; ++i) {
      const float want = y[off + i];
      const bool ok = std::isnan(want) ? std::isnan(got_y[i]) : got_y[i] == want;  // == also for infinities
      if (!ok && ++bad <= 5) ADD_FAILURE() << "maxpool y[" << i << "]: got " << got_y[i] << ", want " << want;
    }
    EXPECT_EQ(bad, 0u) << "maxpool y differs";
    EXPECT_EQ(get(gam + off, out), std::vector<std::int32_t>(am.begin() + static_cast<std::ptrdiff_t>(off), am.end()));
    expect_close(got_dx, std::vector<float>(dx.begin() + static_cast<std::ptrdiff_t>(off), dx.end()), 0, 0, "maxpool dx");
  }
}

TEST(GpuNnLayers, ClassifierAndLossMatchTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t rows = 8, in = 512, out = 2000;
  const auto x = random_vector(rows * in, 20), w = random_vector(out * in, 21, -0.05f, 0.05f), b = random_vector(out, 22),
             g = random_vector(rows * out, 23);
  std::vector<float> y(rows * out), dx(rows * in), dw(out * in), db(out);
  dk::linear_forward(kCpu, {rows, in, out, x.data(), w.data(), b.data(), y.data()});
  dk::linear_backward(kCpu, {rows, in, out, x.data(), w.data(), g.data(), dx.data(), dw.data(), db.data()});
  Gpu gpu;
  const float *gx = gpu.put(x), *gw = gpu.put(w);
  float *gy = gpu.make<float>(rows * out), *gdx = gpu.make<float>(rows * in), *gdw = gpu.make<float>(out * in),
        *gdb = gpu.make<float>(out);
  dk::linear_forward(kGpu, {rows, in, out, gx, gw, gpu.put(b), gy});
  dk::linear_backward(kGpu, {rows, in, out, gx, gw, gpu.put(g), gdx, gdw, gdb});
  expect_close(get(gy, rows * out), y, 1e-5, 1e-4, "linear y");
  expect_close(get(gdx, rows * in), dx, 1e-4, 1e-4, "linear dx");
  expect_close(get(gdw, out * in), dw, 1e-5, 1e-4, "linear dweight");
  expect_close(get(gdb, out), db, 1e-5, 1e-5, "linear dbias");

  std::vector<std::int32_t> labels(rows);
  for (std::int64_t i = 0; i < rows; ++i) labels[i] = static_cast<std::int32_t>((i * 263) % out);
  std::vector<float> sample(rows), dl(rows * out);
  std::vector<std::int32_t> pred(rows), correct(rows);
  float loss = 0;
  std::int32_t num_correct = -1;
  dk::CrossEntropyParams p;
  p.rows = rows;
  p.classes = out;
  p.logits = y.data();
  p.labels = labels.data();
  p.sample_loss = sample.data();
  p.predicted = pred.data();
  p.correct = correct.data();
  p.loss = &loss;
  p.num_correct = &num_correct;
  p.dlogits = dl.data();
  dk::cross_entropy_forward(kCpu, p);
  dk::cross_entropy_backward(kCpu, p);
  auto* glabels = gpu.put(labels);
  dk::check_labels(kGpu, glabels, rows, out);
  p.logits = gpu.put(y);  // the CPU's logits, so that the loss is compared on identical inputs
  p.labels = glabels;
  p.sample_loss = gpu.make<float>(rows);
  p.predicted = gpu.make<std::int32_t>(rows);
  p.correct = gpu.make<std::int32_t>(rows);
  p.loss = gpu.make<float>(1);
  p.num_correct = gpu.make<std::int32_t>(1);
  p.dlogits = gpu.make<float>(rows * out);
  dk::cross_entropy_forward(kGpu, p);
  dk::cross_entropy_backward(kGpu, p);
  expect_close(get(p.sample_loss, rows), sample, 1e-5, 1e-5, "sample loss");
  expect_close(get(p.loss, 1), std::vector<float>{loss}, 1e-5, 1e-5, "loss");
  expect_close(get(p.dlogits, rows * out), dl, 1e-7, 1e-4, "dlogits");
  EXPECT_EQ(get(p.predicted, rows), pred);
  EXPECT_EQ(get(p.correct, rows), correct);
  EXPECT_EQ(get(p.num_correct, 1)[0], num_correct);
  std::vector<std::int32_t> bad = labels;
  bad[5] = static_cast<std::int32_t>(out);
  EXPECT_THROW(dk::check_labels(kGpu, gpu.put(bad), rows, out), deeper::Error);
}

TEST(GpuNnLayers, OptimizerStepsOverTheResNet10BufferMatchTheCpu) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t n = 5944848;
  dk::ParamSegments segs;
  segs.size = 3;
  segs.segment[0] = {0, 4907072, true};        // conv kernels and biases
  segs.segment[1] = {4907072, 11776, false};   // BN gamma, beta (and moving statistics)
  segs.segment[2] = {4918848, n - 4918848, true};  // dense
  const auto w0 = random_vector(n, 30), g1 = random_vector(n, 31), g2 = random_vector(n, 32);
  for (const bool adam : {false, true}) {
    SCOPED_TRACE(adam ? "adamw" : "sgd nesterov");
    std::vector<float> w = w0, s1(n, 0.0f), s2(n, 0.0f);
    std::vector<std::uint16_t> bf(n);
    Gpu gpu;
    float *gw = gpu.put(w0), *gs1 = gpu.put(s1), *gs2 = gpu.put(s2);
    auto* gbf = gpu.make<std::uint16_t>(n);
    const float *gg1 = gpu.put(g1), *gg2 = gpu.put(g2);
    for (int step = 1; step <= 2; ++step) {
      if (adam) {
        dk::AdamWParams p;
        p.n = n;
        p.segments = segs;
        p.step = step;
        p.weights = w.data();
        p.grads = (step == 1 ? g1 : g2).data();
        p.exp_avg = s1.data();
        p.exp_avg_sq = s2.data();
        p.weights_bf16 = bf.data();
        dk::adamw_step(kCpu, p);
        p.weights = gw;
        p.grads = step == 1 ? gg1 : gg2;
        p.exp_avg = gs1;
        p.exp_avg_sq = gs2;
        p.weights_bf16 = gbf;
        dk::adamw_step(kGpu, p);
      } else {
        dk::SgdParams p;
        p.n = n;
        p.segments = segs;
        p.step = step;
        p.lr = 0.1;
        p.momentum = 0.9;
        p.nesterov = true;
        p.weight_decay = 5e-4;
        p.weights = w.data();
        p.grads = (step == 1 ? g1 : g2).data();
        p.momentum_buffer = s1.data();
        p.weights_bf16 = bf.data();
        dk::sgd_step(kCpu, p);
        p.weights = gw;
        p.grads = step == 1 ? gg1 : gg2;
        p.momentum_buffer = gs1;
        p.weights_bf16 = gbf;
        dk::sgd_step(kGpu, p);
      }
    }
    expect_close(get(gw, n), w, 1e-7, 1e-6, "weights");
    expect_close(get(gs1, n), s1, 1e-7, 1e-6, "state 1");
    if (adam) expect_close(get(gs2, n), s2, 1e-9, 1e-6, "state 2");
    const auto gpu_bf = get(gbf, n);
    const auto gpu_w = get(gw, n);
    std::size_t mismatched = 0;
    for (std::int64_t i = 0; i < n; ++i) mismatched += gpu_bf[i] != dk::float_to_bf16_bits(gpu_w[i]);
    EXPECT_EQ(mismatched, 0u) << "bf16 copy differs from the rounded fp32 weights";
  }
}

}  // namespace
#else
TEST(GpuNnLayers, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
