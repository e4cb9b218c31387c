// Batch normalisation backward in inference mode (kernels/nn/batchnorm_inference.h): gradient checks
// of the CPU reference in double against central differences of the inference-mode batchnorm_apply
// (every variant: plain, identity residual, BN'd residual; with and without ReLU; invstd given or
// derived from the running variance), the emulated kernel against the CPU (both pack widths, dx
// aliasing dy), and bad parameters.
#include "nn_test_util.h"

#include "kernels/emu/emulator.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/batchnorm_inference.h"

namespace {

using namespace nn_test;
using dk::BnResidual;

const char* name(BnResidual r) {
  return r == BnResidual::none ? "none" : (r == BnResidual::identity ? "identity" : "batchnorm");
}

// Inference-mode BN data: activations, parameters, running statistics, the loss weights w.
struct BnData {
  std::int64_t rows = 14, channels = 5;
  std::vector<double> x, r, gamma, beta, mean, var, r_gamma, r_beta, r_mean, r_var, w;
};

BnData make_data(unsigned seed) {
  BnData d;
  const auto n = static_cast<std::size_t>(d.rows * d.channels), C = static_cast<std::size_t>(d.channels);
  d.x = random_vector<double>(n, seed, -2.0, 3.0);
  d.r = random_vector<double>(n, seed + 1, -1.0, 1.5);
  d.gamma = random_vector<double>(C, seed + 2, 0.5, 1.5);
  d.beta = random_vector<double>(C, seed + 3, -0.3, 0.3);
  d.mean = random_vector<double>(C, seed + 4, -0.5, 0.5);
  d.var = random_vector<double>(C, seed + 5, 0.3, 2.0);
  d.r_gamma = random_vector<double>(C, seed + 6, 0.5, 1.5);
  d.r_beta = random_vector<double>(C, seed + 7, -0.3, 0.3);
  d.r_mean = random_vector<double>(C, seed + 8, -0.5, 0.5);
  d.r_var = random_vector<double>(C, seed + 9, 0.3, 2.0);
  d.w = random_vector<double>(n, seed + 10);
  return d;
}

constexpr double kEps = 1e-3;

std::vector<double> forward(const BnData& d, BnResidual residual, bool relu) {
  std::vector<double> y(d.x.size());
  dk::BatchNormApplyParamsT<double> a;
  a.rows = d.rows;
  a.channels = d.channels;
  a.x = d.x.data();
  a.bn = {d.gamma.data(), d.beta.data(), d.mean.data(), nullptr, d.var.data(), kEps};
  a.residual = residual;
  a.r = d.r.data();
  a.r_bn = {d.r_gamma.data(), d.r_beta.data(), d.r_mean.data(), nullptr, d.r_var.data(), kEps};
  a.relu = relu;
  a.y = y.data();
  dk::cpu_impl::batchnorm_apply(a);
  return y;
}

TEST(BatchNormInferenceBackward, EveryVariantMatchesCentralDifferences) {
  for (const BnResidual residual : {BnResidual::none, BnResidual::identity, BnResidual::batchnorm}) {
    for (const bool relu : {false, true}) {
      SCOPED_TRACE(std::string("residual ") + name(residual) + (relu ? ", relu" : ""));
      BnData d = make_data(31);
      const std::vector<double> y = forward(d, residual, relu);
      if (relu) {  // no pre-activation near the kink, so the differences see a smooth function
        double nearest = 1e9;
        for (const double z : forward(d, residual, false)) nearest = std::min(nearest, std::abs(z));
        ASSERT_GT(nearest, 1e-3);
      }
      const std::size_t n = d.x.size();
      std::vector<double> dx(n, -1.0), dr(n, -1.0);
      dk::BatchNormInferenceBackwardParamsT<double> b;
      b.rows = d.rows;
      b.channels = d.channels;
      b.dy = d.w.data();
      b.y = y.data();
      b.bn = {d.gamma.data(), nullptr, nullptr, nullptr, d.var.data(), kEps};
      b.residual = residual;
      b.r_bn = {d.r_gamma.data(), nullptr, nullptr, nullptr, d.r_var.data(), kEps};
      b.relu = relu;
      b.dx = dx.data();
      b.dr = residual == BnResidual::none ? nullptr : dr.data();
      dk::cpu_impl::batchnorm_inference_backward(b);
      const auto loss = [&] { return dot(d.w, forward(d, residual, relu)); };
      EXPECT_LT(gradient_error(d.x, loss, dx), kGradTol) << "dx";
      if (residual != BnResidual::none) {
        EXPECT_LT(gradient_error(d.r, loss, dr), kGradTol) << "dr";
      } else {
        EXPECT_EQ(dr, std::vector<double>(n, -1.0)) << "dr written without a residual";
      }
      double norm = 0, zeros = 0;
      for (const double v : dx) {
        norm += v * v;
        zeros += v == 0.0 ? 1 : 0;
      }
      EXPECT_GT(norm, 1e-6);
      if (relu) {
        EXPECT_GT(zeros, 0) << "the relu mask cut nothing: the check would not see a missing mask";
      }

      // A given invstd is used as is: the same gradients as from var + eps.
      std::vector<double> invstd(d.var.size()), r_invstd(d.var.size()), dx2(n), dr2(n);
      for (std::size_t c = 0; c < invstd.size(); ++c) {
        invstd[c] = 1.0 / std::sqrt(d.var[c] + kEps);
        r_invstd[c] = 1.0 / std::sqrt(d.r_var[c] + kEps);
      }
      b.bn = {d.gamma.data(), nullptr, nullptr, invstd.data(), nullptr, 0};
      b.r_bn = {d.r_gamma.data(), nullptr, nullptr, r_invstd.data(), nullptr, 0};
      b.dx = dx2.data();
      b.dr = residual == BnResidual::none ? nullptr : dr2.data();
      dk::cpu_impl::batchnorm_inference_backward(b);
      expect_close(dx2, dx, 1e-15, 1e-14, "dx from invstd");
      if (residual != BnResidual::none) expect_close(dr2, dr, 1e-15, 1e-14, "dr from invstd");
    }
  }
}

// The float kernel on `device`. `offset` shifts every activation pointer (1 forces the scalar
// path); `alias` writes dx over dy.
struct BnGrads {
  std::vector<float> dx, dr;
};

BnGrads run_kernel(const Device& device, std::int64_t rows, std::int64_t C, BnResidual residual, bool relu, std::size_t offset,
        bool alias) {
  const auto n = static_cast<std::size_t>(rows * C), c = static_cast<std::size_t>(C);
  auto dy = random_vector(n + offset, 41), y = random_vector(n + offset, 42);
  const auto gamma = random_vector(c, 43, 0.5, 1.5), var = random_vector(c, 44, 0.2, 2.0),
             r_gamma = random_vector(c, 45, 0.5, 1.5), r_var = random_vector(c, 46, 0.2, 2.0);
  BnGrads out{poisoned(n + offset), poisoned(n + offset)};
  dk::BatchNormInferenceBackwardParams b;
  b.rows = rows;
  b.channels = C;
  b.dy = dy.data() + offset;
  b.y = y.data() + offset;
  b.bn = {gamma.data(), nullptr, nullptr, nullptr, var.data(), 1e-3f};
  b.residual = residual;
  b.r_bn = {r_gamma.data(), nullptr, nullptr, nullptr, r_var.data(), 1e-3f};
  b.relu = relu;
  b.dx = alias ? dy.data() + offset : out.dx.data() + offset;
  b.dr = residual == BnResidual::none ? nullptr : out.dr.data() + offset;
  dk::batchnorm_inference_backward(device, b);
  if (alias) std::copy(dy.begin(), dy.end(), out.dx.begin());
  out.dx.erase(out.dx.begin(), out.dx.begin() + static_cast<std::ptrdiff_t>(offset));
  out.dr.erase(out.dr.begin(), out.dr.begin() + static_cast<std::ptrdiff_t>(offset));
  return out;
}

TEST(BatchNormInferenceBackward, EmulatedKernelMatchesTheCpu) {
  const auto launches = deeper::emu::stats().launches;
  int runs = 0;
  for (const BnResidual residual : {BnResidual::none, BnResidual::identity, BnResidual::batchnorm}) {
    for (const bool relu : {false, true}) {
      // C = 8 aligned: float4 packs; C = 5 or offset 1: one value per thread; the last one aliases.
      const struct {
        std::int64_t rows, C;
        std::size_t offset;
        bool alias;
      } cases[] = {{9, 8, 0, false}, {7, 5, 0, false}, {6, 8, 1, false}, {9, 8, 0, true}};
      for (const auto& k : cases) {
        SCOPED_TRACE(std::string(name(residual)) + (relu ? " relu" : "") + " C " + std::to_string(k.C) + " offset " +
                     std::to_string(k.offset) + (k.alias ? " alias" : ""));
        const BnGrads cpu = run_kernel(kCpu, k.rows, k.C, residual, relu, k.offset, k.alias);
        const BnGrads emu = run_kernel(kEmu, k.rows, k.C, residual, relu, k.offset, k.alias);
        expect_close(emu.dx, cpu.dx, 1e-6, 1e-6, "dx");
        expect_close(emu.dr, cpu.dr, 1e-6, 1e-6, "dr");  // poisoned in both without a residual
        ++runs;
      }
    }
  }
  EXPECT_GE(deeper::emu::stats().launches - launches, static_cast<std::uint64_t>(runs));  // really emulated
}

TEST(BatchNormInferenceBackward, BadParametersAreOneLineErrors) {
  std::vector<float> v(64, 1.0f), dx(64), dr(64);
  auto good = [&] {
    dk::BatchNormInferenceBackwardParams b;
    b.rows = 8;
    b.channels = 8;
    b.dy = v.data();
    b.y = v.data();
    b.bn = {v.data(), nullptr, nullptr, nullptr, v.data(), 1e-3f};
    b.r_bn = b.bn;
    b.relu = true;
    b.dx = dx.data();
    b.dr = dr.data();
    return b;
  };
  for (const Device& d : {kCpu, kEmu}) {
    auto expect = [&](auto edit, const std::string& fragment) {
      auto b = good();
      edit(b);
      expect_error([&] { dk::batchnorm_inference_backward(d, b); }, fragment);
    };
    using P = dk::BatchNormInferenceBackwardParams;
    expect([](P& b) { b.rows = 0; }, "0 rows");
    expect([](P& b) { b.channels = 0; }, "0 channels");
    expect([](P& b) { b.dy = nullptr; }, "null dy or dx");
    expect([](P& b) { b.dx = nullptr; }, "null dy or dx");
    expect([](P& b) { b.y = nullptr; }, "null y");
    expect([](P& b) { b.bn.gamma = nullptr; }, "null gamma (main)");
    expect([](P& b) { b.bn.var = nullptr; }, "neither invstd nor var given (main)");
    expect([](P& b) { b.bn.eps = 0.0f; }, "eps 0 must be positive (main)");
    expect([](P& b) { b.residual = BnResidual::identity, b.dr = nullptr; }, "null residual gradient dr");
    expect([](P& b) { b.residual = BnResidual::identity, b.dr = b.dx; }, "dr may not alias dx or dy");
    expect([](P& b) { b.residual = BnResidual::batchnorm, b.r_bn.gamma = nullptr; }, "null gamma (residual)");
    // Without relu, y is not needed; without a residual, dr is not.
    auto b = good();
    b.relu = false;
    b.y = nullptr;
    b.dr = nullptr;
    dk::batchnorm_inference_backward(d, b);
    EXPECT_FLOAT_EQ(dx[0], 1.0f / std::sqrt(1.0f + 1e-3f)) << d.name();
  }
}

}  // namespace
