// Batch normalisation: gradient checks of the CPU reference in double for every variant (plain,
// identity residual, BN'd residual; with and without ReLU), the emulated kernels against the CPU
// (both pack widths, several row splits), running statistics against the PyTorch formulas, and
// inference mode from running statistics.
#include "nn_test_util.h"

#include "kernels/emu/emulator.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/optimizer.h"

#include <cstring>

namespace {

using namespace nn_test;
using dk::BnResidual;

const char* name(BnResidual r) {
  return r == BnResidual::none ? "none" : (r == BnResidual::identity ? "identity" : "batchnorm");
}

// ---------------------------------------------------------------------------------------------
// Gradient checks (double, CPU reference).

struct BnData {
  std::int64_t rows = 18, channels = 5;
  std::vector<double> x, r, gamma, beta, r_gamma, r_beta, w;
};

struct BnForward {
  std::vector<double> y, mean, invstd, r_mean, r_invstd;
};

BnForward forward(const BnData& d, BnResidual residual, bool relu) {
  const auto C = static_cast<std::size_t>(d.channels);
  BnForward f{std::vector<double>(d.x.size()), std::vector<double>(C), std::vector<double>(C),
              std::vector<double>(C), std::vector<double>(C)};
  dk::BatchNormStatsParamsT<double> s;
  s.x = d.x.data();
  s.rows = d.rows;
  s.channels = d.channels;
  s.eps = 1e-3;
  s.save_mean = f.mean.data();
  s.save_invstd = f.invstd.data();
  dk::cpu_impl::batchnorm_stats(s);
  dk::BatchNormApplyParamsT<double> a;
  a.rows = d.rows;
  a.channels = d.channels;
  a.x = d.x.data();
  a.bn = {d.gamma.data(), d.beta.data(), f.mean.data(), f.invstd.data(), nullptr, 0};
  a.residual = residual;
  a.r = d.r.data();
  if (residual == BnResidual::batchnorm) {
    s.x = d.r.data();
    s.save_mean = f.r_mean.data();
    s.save_invstd = f.r_invstd.data();
    dk::cpu_impl::batchnorm_stats(s);
    a.r_bn = {d.r_gamma.data(), d.r_beta.data(), f.r_mean.data(), f.r_invstd.data(), nullptr, 0};
  }
  a.relu = relu;
  a.y = f.y.data();
  dk::cpu_impl::batchnorm_apply(a);
  return f;
}

TEST(BatchNormGrad, EveryVariantMatchesCentralDifferences) {
  for (const BnResidual residual : {BnResidual::none, BnResidual::identity, BnResidual::batchnorm}) {
    for (const bool relu : {false, true}) {
      SCOPED_TRACE(std::string("residual ") + name(residual) + (relu ? ", relu" : ""));
      BnData d;
      const auto n = static_cast<std::size_t>(d.rows * d.channels), C = static_cast<std::size_t>(d.channels);
      d.x = random_vector<double>(n, 1, -2.0, 3.0);
      d.r = random_vector<double>(n, 2, -1.0, 1.5);
      d.gamma = random_vector<double>(C, 3, 0.5, 1.5);
      d.beta = random_vector<double>(C, 4, -0.3, 0.3);
      d.r_gamma = random_vector<double>(C, 5, 0.5, 1.5);
      d.r_beta = random_vector<double>(C, 6, -0.3, 0.3);
      d.w = random_vector<double>(n, 7);
      const BnForward f = forward(d, residual, relu);
      if (relu) {  // no pre-activation near the kink, so the differences see a smooth function
        BnForward linear = forward(d, residual, false);
        double nearest = 1e9;
        for (const double z : linear.y) nearest = std::min(nearest, std::abs(z));
        ASSERT_GT(nearest, 1e-3);
      }
      std::vector<double> dx(n), dgamma(C), dbeta(C), dr(n), dr_gamma(C), dr_beta(C);
      dk::BatchNormBackwardParamsT<double> b;
      b.rows = d.rows;
      b.channels = d.channels;
      b.dy = d.w.data();
      b.y = f.y.data();
      b.x = d.x.data();
      b.bn = {d.gamma.data(), nullptr, f.mean.data(), f.invstd.data(), nullptr, 0};
      b.residual = residual;
      b.r = d.r.data();
      b.r_bn = {d.r_gamma.data(), nullptr, f.r_mean.data(), f.r_invstd.data(), nullptr, 0};
      b.relu = relu;
      b.dx = dx.data();
      b.dgamma = dgamma.data();
      b.dbeta = dbeta.data();
      b.dr = dr.data();
      b.dr_gamma = dr_gamma.data();
      b.dr_beta = dr_beta.data();
      dk::cpu_impl::batchnorm_backward(b);
      const auto loss = [&] { return dot(d.w, forward(d, residual, relu).y); };
      EXPECT_LT(gradient_error(d.x, loss, dx), kGradTol) << "dx";
      EXPECT_LT(gradient_error(d.gamma, loss, dgamma), kGradTol) << "dgamma";
      EXPECT_LT(gradient_error(d.beta, loss, dbeta), kGradTol) << "dbeta";
      if (residual != BnResidual::none) {
        EXPECT_LT(gradient_error(d.r, loss, dr), kGradTol) << "dr";
      }
      if (residual == BnResidual::batchnorm) {
        EXPECT_LT(gradient_error(d.r_gamma, loss, dr_gamma), kGradTol) << "dr_gamma";
        EXPECT_LT(gradient_error(d.r_beta, loss, dr_beta), kGradTol) << "dr_beta";
      }
      // The gradient is not trivially zero (a check that cannot pass by accident).
      double norm = 0;
      for (const double v : dx) norm += v * v;
      EXPECT_GT(norm, 1e-6);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Emulated kernels against the CPU (float).

struct BnRun {
  std::vector<float> y, mean, invstd, r_mean, r_invstd, run_mean, run_var;
  std::vector<float> dx, dgamma, dbeta, dr, dr_gamma, dr_beta;
  std::vector<std::uint16_t> y16, dx16, dr16;  // the bf16 copies (when asked for)
};

// Training forward and backward on `device`. `offset` shifts every activation pointer by that many
// floats (offset 1 forces the scalar path).
BnRun run_bn(const Device& device, std::int64_t rows, std::int64_t C, BnResidual residual, bool relu,
             std::size_t offset, bool bf16_copies = false) {
  const auto n = static_cast<std::size_t>(rows * C), c = static_cast<std::size_t>(C);
  auto x = random_vector(n + offset, 11, -2.0, 4.0), r = random_vector(n + offset, 12), dy = random_vector(n + offset, 13);
  const auto gamma = random_vector(c, 14, 0.5, 1.5), beta = random_vector(c, 15), r_gamma = random_vector(c, 16, 0.5, 1.5),
             r_beta = random_vector(c, 17);
  BnRun out{poisoned(n + offset), poisoned(c), poisoned(c), poisoned(c), poisoned(c),
            std::vector<float>(c, 0.5f), std::vector<float>(c, 2.0f), poisoned(n + offset), poisoned(c), poisoned(c),
            poisoned(n + offset), poisoned(c), poisoned(c), {}, {}, {}};
  if (bf16_copies) out.y16 = out.dx16 = out.dr16 = std::vector<std::uint16_t>(n + offset, 0xFFFFu);
  std::vector<double> ws((dk::batchnorm_workspace_bytes(rows, C) + 7) / 8);
  dk::BatchNormStatsParams s;
  s.x = x.data() + offset;
  s.rows = rows;
  s.channels = C;
  s.eps = 1e-3f;
  s.momentum = 0.1f;
  s.running_mean = out.run_mean.data();
  s.running_var = out.run_var.data();
  s.save_mean = out.mean.data();
  s.save_invstd = out.invstd.data();
  s.workspace = ws.data();
  dk::BatchNormApplyParams a;
  a.rows = rows;
  a.channels = C;
  a.x = x.data() + offset;
  a.bn = {gamma.data(), beta.data(), nullptr, nullptr, nullptr, 0};
  a.residual = residual;
  a.r = r.data() + offset;
  if (residual == BnResidual::batchnorm) {
    dk::BatchNormStatsParams rs = s;
    rs.x = r.data() + offset;
    rs.running_mean = rs.running_var = nullptr;
    rs.save_mean = out.r_mean.data();
    rs.save_invstd = out.r_invstd.data();
    dk::batchnorm_stats(device, rs);
    a.r_bn = {r_gamma.data(), r_beta.data(), out.r_mean.data(), out.r_invstd.data(), nullptr, 0};
  }
  a.relu = relu;
  a.y = out.y.data() + offset;
  if (bf16_copies) a.y_bf16 = out.y16.data() + offset;
  dk::batchnorm_forward_train(device, s, a);
  dk::BatchNormBackwardParams b;
  b.rows = rows;
  b.channels = C;
  b.dy = dy.data() + offset;
  b.y = out.y.data() + offset;
  b.x = x.data() + offset;
  b.bn = {gamma.data(), nullptr, out.mean.data(), out.invstd.data(), nullptr, 0};
  b.residual = residual;
  b.r = r.data() + offset;
  b.r_bn = {r_gamma.data(), nullptr, out.r_mean.data(), out.r_invstd.data(), nullptr, 0};
  b.relu = relu;
  b.dx = out.dx.data() + offset;
  b.dgamma = out.dgamma.data();
  b.dbeta = out.dbeta.data();
  b.dr = residual == BnResidual::none ? nullptr : out.dr.data() + offset;
  b.dr_gamma = out.dr_gamma.data();
  b.dr_beta = out.dr_beta.data();
  b.workspace = ws.data();
  if (bf16_copies) {
    b.dx_bf16 = out.dx16.data() + offset;
    b.dr_bf16 = residual == BnResidual::none ? nullptr : out.dr16.data() + offset;
  }
  dk::batchnorm_backward(device, b);
  return out;
}

void expect_runs_close(const BnRun& emu, const BnRun& cpu, BnResidual residual) {
  expect_close(emu.mean, cpu.mean, 1e-6, 1e-5, "mean");
  expect_close(emu.invstd, cpu.invstd, 1e-6, 1e-5, "invstd");
  expect_close(emu.run_mean, cpu.run_mean, 1e-6, 1e-5, "running mean");
  expect_close(emu.run_var, cpu.run_var, 1e-6, 1e-5, "running var");
  expect_close(emu.y, cpu.y, 1e-5, 1e-5, "y");
  expect_close(emu.dx, cpu.dx, 1e-5, 1e-4, "dx");
  expect_close(emu.dgamma, cpu.dgamma, 1e-4, 1e-4, "dgamma");
  expect_close(emu.dbeta, cpu.dbeta, 1e-4, 1e-4, "dbeta");
  if (residual != BnResidual::none) expect_close(emu.dr, cpu.dr, 1e-5, 1e-4, "dr");
  if (residual == BnResidual::batchnorm) {
    expect_close(emu.r_mean, cpu.r_mean, 1e-6, 1e-5, "residual mean");
    expect_close(emu.dr_gamma, cpu.dr_gamma, 1e-4, 1e-4, "dr_gamma");
    expect_close(emu.dr_beta, cpu.dr_beta, 1e-4, 1e-4, "dr_beta");
  }
}

TEST(BatchNormParity, EmulatedKernelsMatchTheCpuForEveryVariant) {
  // (rows, channels, offset): float4 path; odd channels; misaligned pointers; several row splits.
  const struct {
    std::int64_t rows, channels;
    std::size_t offset;
  } shapes[] = {{70, 8, 0}, {45, 5, 0}, {30, 12, 1}, {700, 36, 0}};
  for (const auto& shape : shapes) {
    for (const BnResidual residual : {BnResidual::none, BnResidual::identity, BnResidual::batchnorm}) {
      for (const bool relu : {false, true}) {
        if (shape.rows == 700 && (residual == BnResidual::identity || !relu)) continue;  // keep the suite quick
        SCOPED_TRACE(::testing::Message() << shape.rows << " x " << shape.channels << " offset " << shape.offset
                                          << ", residual " << name(residual) << (relu ? ", relu" : ""));
        expect_runs_close(run_bn(kEmu, shape.rows, shape.channels, residual, relu, shape.offset),
                          run_bn(kCpu, shape.rows, shape.channels, residual, relu, shape.offset), residual);
      }
    }
  }
  EXPECT_GT(dk::batchnorm_splits(700, 36), 1);
}

TEST(BatchNormParity, Bf16CopiesAreTheRoundedOutputsOnEveryPath) {
  // y_bf16, dx_bf16 and dr_bf16 hold float_to_bf16_bits of the fp32 outputs of the same call, on the
  // cpu and on both pack widths of the kernels (offset 1: scalar path); the fp32 outputs are those of
  // a call without copies.
  const struct {
    std::int64_t rows, channels;
    std::size_t offset;
  } shapes[] = {{70, 8, 0}, {30, 12, 1}, {45, 5, 0}};
  for (const auto& shape : shapes) {
    for (const BnResidual residual : {BnResidual::none, BnResidual::identity, BnResidual::batchnorm}) {
      for (const Device& device : {kCpu, kEmu}) {
        SCOPED_TRACE(::testing::Message() << shape.rows << " x " << shape.channels << " offset " << shape.offset
                                          << ", residual " << name(residual) << " on " << device.name());
        const BnRun with = run_bn(device, shape.rows, shape.channels, residual, true, shape.offset, true);
        const BnRun without = run_bn(device, shape.rows, shape.channels, residual, true, shape.offset, false);
        EXPECT_EQ(with.y, without.y);
        EXPECT_EQ(with.dx, without.dx);
        for (std::size_t i = shape.offset; i < with.y.size(); ++i) {
          ASSERT_EQ(with.y16[i], dk::float_to_bf16_bits(with.y[i])) << "y " << i;
          ASSERT_EQ(with.dx16[i], dk::float_to_bf16_bits(with.dx[i])) << "dx " << i;
          if (residual != BnResidual::none) {
            ASSERT_EQ(with.dr16[i], dk::float_to_bf16_bits(with.dr[i])) << "dr " << i;
          }
        }
        if (residual == BnResidual::none) {
          EXPECT_EQ(with.dr16[shape.offset], 0xFFFFu);  // not written
        }
      }
    }
  }
}

TEST(BatchNormParity, ReductionsAreBitReproducibleAcrossThreadInterleavings) {
  // Fixed-order fp64 partials, no atomics: any emulator interleaving gives the same bits.
  deeper::emu::set_seed(1);
  const BnRun a = run_bn(kEmu, 300, 12, BnResidual::batchnorm, true, 0);
  deeper::emu::set_seed(987654321);
  const BnRun b = run_bn(kEmu, 300, 12, BnResidual::batchnorm, true, 0);
  EXPECT_EQ(a.mean, b.mean);
  EXPECT_EQ(a.invstd, b.invstd);
  EXPECT_EQ(a.dgamma, b.dgamma);
  EXPECT_EQ(a.dr_gamma, b.dr_gamma);
  EXPECT_EQ(a.dx, b.dx);
  EXPECT_EQ(a.dr, b.dr);
}

// The outputs and workspace of one batchnorm_stats call on rows x C values, the running statistics
// starting at (mean0, var0); params() points a BatchNormStatsParams at them (x may be null for
// batchnorm_stats_from_partials).
struct StatsOutputs {
  std::vector<float> mean, invstd, run_mean, run_var;
  std::vector<double> ws;
  StatsOutputs(std::int64_t rows, std::int64_t C, std::vector<float> mean0, std::vector<float> var0)
      : mean(poisoned(static_cast<std::size_t>(C))),
        invstd(poisoned(static_cast<std::size_t>(C))),
        run_mean(std::move(mean0)),
        run_var(std::move(var0)),
        ws((dk::batchnorm_workspace_bytes(rows, C) + 7) / 8) {}
  dk::BatchNormStatsParams params(const float* x, std::int64_t rows, std::int64_t C, float momentum,
                                  const float* x_bias = nullptr) {
    dk::BatchNormStatsParams s;
    s.x = x;
    s.rows = rows;
    s.channels = C;
    s.eps = 1e-3f;
    s.momentum = momentum;
    s.running_mean = run_mean.data();
    s.running_var = run_var.data();
    s.x_bias = x_bias;
    s.save_mean = mean.data();
    s.save_invstd = invstd.data();
    s.workspace = ws.data();
    return s;
  }
};

TEST(BatchNormStats, RunningStatisticsFollowPyTorch) {
  // x = per channel c: values c + {0, 1, 2, 3} (mean c + 1.5, biased var 1.25, unbiased 5/3).
  const std::int64_t rows = 4, C = 3;
  std::vector<float> x(rows * C);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < C; ++c) x[r * C + c] = static_cast<float>(c + r);
  }
  for (const Device& device : {kCpu, kEmu}) {
    StatsOutputs o(rows, C, std::vector<float>(C, 1.0f), std::vector<float>(C, 1.0f));
    dk::batchnorm_stats(device, o.params(x.data(), rows, C, 0.01f));
    for (std::int64_t c = 0; c < C; ++c) {
      EXPECT_NEAR(o.mean[c], c + 1.5, 1e-6);
      EXPECT_NEAR(o.invstd[c], 1.0 / std::sqrt(1.25 + 1e-3), 1e-6);
      EXPECT_NEAR(o.run_mean[c], 0.99 * 1.0 + 0.01 * (c + 1.5), 1e-6);
      EXPECT_NEAR(o.run_var[c], 0.99 * 1.0 + 0.01 * (5.0 / 3.0), 1e-6);
    }
  }
}

TEST(BatchNormInference, RunningStatisticsNormaliseOnEveryBackend) {
  const std::int64_t rows = 21, C = 8;
  const auto x = random_vector(rows * C, 21, -3.0, 3.0), r = random_vector(rows * C, 22);
  const auto gamma = random_vector(C, 23, 0.5, 1.5), beta = random_vector(C, 24), mean = random_vector(C, 25),
             var = random_vector(C, 26, 0.1, 2.0);
  for (const Device& device : {kCpu, kEmu}) {
    auto y = poisoned(rows * C);
    dk::BatchNormApplyParams a;
    a.rows = rows;
    a.channels = C;
    a.x = x.data();
    a.bn = {gamma.data(), beta.data(), mean.data(), nullptr, var.data(), 1e-3f};
    a.residual = BnResidual::identity;
    a.r = r.data();
    a.relu = true;
    a.y = y.data();
    dk::batchnorm_apply(device, a);
    std::vector<double> want(y.size());
    for (std::int64_t i = 0; i < rows * C; ++i) {
      const std::int64_t c = i % C;
      const double z = gamma[c] * (x[i] - mean[c]) / std::sqrt(var[c] + 1e-3) + beta[c] + r[i];
      want[i] = std::max(z, 0.0);
    }
    expect_close(y, want, 1e-5, 1e-5, device.backend == deeper::Backend::cpu ? "cpu" : "emu");
  }
}

// x_bias (the bias of the conv before the BN, never added in memory): the running mean is that of
// x + b while save_mean stays x's, and the apply normalises x + b, both residual BNs included, on
// the float4 path (C = 8) and the scalar one (C = 5).
TEST(BatchNormInputBias, StatisticsAndApplyTreatTheInputAsXPlusTheBias) {
  for (const std::int64_t C : {8, 5}) {
    const std::int64_t rows = 12;
    const auto x = random_vector(rows * C, 31, -2.0, 2.0), r = random_vector(rows * C, 32);
    const auto bias = random_vector(C, 33, -1.0, 1.0), r_bias = random_vector(C, 34, -1.0, 1.0);
    const auto gamma = random_vector(C, 35, 0.5, 1.5), beta = random_vector(C, 36), mean = random_vector(C, 37),
               var = random_vector(C, 38, 0.1, 2.0), r_mean = random_vector(C, 39), r_var = random_vector(C, 40, 0.1, 2.0);
    for (const Device& device : {kCpu, kEmu}) {
      const std::string where = std::string(device.backend == deeper::Backend::cpu ? "cpu" : "emu") + ", C " +
                                std::to_string(C);
      StatsOutputs o(rows, C, std::vector<float>(C, 0.5f), std::vector<float>(C, 1.0f));
      dk::batchnorm_stats(device, o.params(x.data(), rows, C, 0.25f, bias.data()));
      for (std::int64_t c = 0; c < C; ++c) {
        double m = 0;
        for (std::int64_t i = 0; i < rows; ++i) m += x[i * C + c];
        m /= static_cast<double>(rows);
        EXPECT_NEAR(o.mean[c], m, 1e-6) << where;
        EXPECT_NEAR(o.run_mean[c], 0.75 * 0.5 + 0.25 * (m + bias[c]), 1e-6) << where;
      }
      auto y = poisoned(rows * C);
      dk::BatchNormApplyParams a;
      a.rows = rows;
      a.channels = C;
      a.x = x.data();
      a.bn = {gamma.data(), beta.data(), mean.data(), nullptr, var.data(), 1e-3f, bias.data()};
      a.residual = BnResidual::batchnorm;
      a.r = r.data();
      a.r_bn = {gamma.data(), beta.data(), r_mean.data(), nullptr, r_var.data(), 1e-3f, r_bias.data()};
      a.y = y.data();
      dk::batchnorm_apply(device, a);
      std::vector<double> want(y.size());
      for (std::int64_t i = 0; i < rows * C; ++i) {
        const std::int64_t c = i % C;
        want[i] = gamma[c] * (x[i] + bias[c] - mean[c]) / std::sqrt(var[c] + 1e-3) + beta[c] +
                  gamma[c] * (r[i] + r_bias[c] - r_mean[c]) / std::sqrt(r_var[c] + 1e-3) + beta[c];
      }
      expect_close(y, want, 1e-5, 1e-5, where);
    }
  }
}

TEST(BatchNormApply, ReluKeepsNaNAndTheOutputMayAliasTheInput) {
  const std::int64_t rows = 4, C = 4;
  std::vector<float> x = {1, -1, 2, std::numeric_limits<float>::quiet_NaN(), 0, 0, 0, 0, -3, 3, -3, 3, 5, 6, 7, 8};
  const std::vector<float> ones(C, 1.0f), zeros(C, 0.0f);
  for (const Device& device : {kCpu, kEmu}) {
    std::vector<float> y = x;
    dk::BatchNormApplyParams a;
    a.rows = rows;
    a.channels = C;
    a.x = y.data();
    a.bn = {ones.data(), zeros.data(), zeros.data(), ones.data(), nullptr, 0};
    a.relu = true;
    a.y = y.data();  // in place
    dk::batchnorm_apply(device, a);
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(x[i])) {
        EXPECT_TRUE(std::isnan(y[i]));
      } else {
        EXPECT_EQ(y[i], std::max(x[i], 0.0f)) << i;
      }
    }
  }
}

}  // namespace

// batchnorm_stats_from_partials (the second half of batchnorm_stats, fed by another kernel's
// partials: the conv's statistics epilogue) on partials built on the host from x in row blocks
// (1, 5 and 13 splits: fewer and more than the final kernel's 8 row lanes): the emulated kernel
// and the cpu loop agree bit for bit (same order of additions), and both match batchnorm_stats on
// x, running statistics and x_bias included.
TEST(BatchNormStatsFromPartials, MatchesBatchnormStatsAndTheCpuLoopBitForBit) {
  const std::int64_t rows = 91, C = 12;
  auto x = random_vector(static_cast<std::size_t>(rows * C), 41);
  for (std::size_t i = 0; i < x.size(); i += 3) x[i] += 2.0f;  // means away from zero
  const auto bias = random_vector(static_cast<std::size_t>(C), 42);
  const auto rm0 = random_vector(static_cast<std::size_t>(C), 43);
  const std::vector<float> rv0(static_cast<std::size_t>(C), 0.75f);
  auto run = [&](const Device& d, const std::vector<double>* partials, int splits) {
    StatsOutputs o(rows, C, rm0, rv0);
    const dk::BatchNormStatsParams s = o.params(partials != nullptr ? nullptr : x.data(), rows, C, 0.3f, bias.data());
    if (partials != nullptr) {
      dk::batchnorm_stats_from_partials(d, s, partials->data(), splits);
    } else {
      dk::batchnorm_stats(d, s);
    }
    return o;
  };
  const StatsOutputs want = run(kCpu, nullptr, 0);
  for (const int splits : {1, 5, 13}) {
    SCOPED_TRACE(::testing::Message() << splits << " splits");
    std::vector<double> partials(static_cast<std::size_t>(2 * splits * C), 0.0);
    const std::int64_t per = (rows + splits - 1) / splits;
    for (std::int64_t r = 0; r < rows; ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        const double v = x[static_cast<std::size_t>(r * C + c)];
        partials[static_cast<std::size_t>(2 * (r / per) * C + c)] += v;
        partials[static_cast<std::size_t>((2 * (r / per) + 1) * C + c)] += v * v;
      }
    }
    const StatsOutputs emu = run(kEmu, &partials, splits), cpu = run(kCpu, &partials, splits);
    EXPECT_EQ(0, std::memcmp(emu.mean.data(), cpu.mean.data(), C * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(emu.invstd.data(), cpu.invstd.data(), C * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(emu.run_mean.data(), cpu.run_mean.data(), C * sizeof(float)));
    EXPECT_EQ(0, std::memcmp(emu.run_var.data(), cpu.run_var.data(), C * sizeof(float)));
    expect_close(cpu.mean, want.mean, 1e-7, 1e-6, "save_mean");
    expect_close(cpu.invstd, want.invstd, 0, 1e-6, "save_invstd");
    expect_close(cpu.run_mean, want.run_mean, 1e-7, 1e-6, "running_mean");
    expect_close(cpu.run_var, want.run_var, 0, 1e-6, "running_var");
  }
}
