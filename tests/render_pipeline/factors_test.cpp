// Render factors: deterministic and in range, fixed factors honoured without moving the others,
// out-of-range values rejected with a clear message, and the setup kernel bit-identical on cpu and
// emu (and equal to the host sampling).
#include "kernels/render/synthesis.h"
#include "renderer/factors.h"
#include "render_test_util.h"

#include "core/error.h"

#include "tests/support/error_of.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

namespace deeper::render {
namespace {

namespace dk = deeper::kernels;

bool same(const ImageFactors& a, const ImageFactors& b) { return std::memcmp(&a, &b, sizeof a) == 0; }

using deeper::test_util::error_of;

TEST(RenderFactors, DeterministicAndIndexAddressed) {
  const FactorSampling s = default_sampling(7, 50);
  const auto a = sample_factors(s, 0, 200), b = sample_factors(s, 0, 200);
  const auto tail = sample_factors(s, 150, 10);
  for (int i = 0; i < 200; ++i) EXPECT_TRUE(same(a[i], b[i])) << i;
  for (int i = 0; i < 10; ++i) EXPECT_TRUE(same(a[150 + i], tail[i])) << i;
  const auto other = sample_factors(default_sampling(8, 50), 0, 200);
  int differ = 0;
  for (int i = 0; i < 200; ++i) differ += a[i].yaw != other[i].yaw;
  EXPECT_GT(differ, 190);
}

TEST(RenderFactors, DefaultsInRangeAndSpread) {
  const FactorSampling s = default_sampling(3, 40);
  const auto f = sample_factors(s, 0, 4000);
  std::vector<int> ids(40), expr(7);
  for (const auto& x : f) {
    ASSERT_GE(x.identity, 0);
    ASSERT_LT(x.identity, 40);
    ASSERT_GE(x.expression, 0);
    ASSERT_LT(x.expression, 7);
    ++ids[x.identity];
    ++expr[x.expression];
    validate_factors(x, 40, "sampled");
  }
  for (int c : ids) EXPECT_GT(c, 40);    // expected 100 each
  for (int c : expr) EXPECT_GT(c, 450);  // expected 571
  for (std::string_view name : kContinuousFactors) {
    const FactorRange r = factor_range(s, name);
    double lo = 1e9, hi = -1e9, mean = 0;
    for (const auto& x : f) {
      const double v = factor_value(x, name);
      ASSERT_GE(v, r.lo) << name;
      ASSERT_LE(v, r.hi) << name;
      lo = std::min(lo, v);
      hi = std::max(hi, v);
      mean += v / f.size();
    }
    const double span = r.hi - r.lo;
    EXPECT_LT(lo, r.lo + 0.01 * span) << name;
    EXPECT_GT(hi, r.hi - 0.01 * span) << name;
    EXPECT_NEAR(mean, 0.5 * (r.lo + r.hi), 0.03 * span) << name;  // 6.5 standard errors
  }
  // The documented defaults.
  EXPECT_EQ(s.yaw.lo, -45.0f);
  EXPECT_EQ(s.yaw.hi, 45.0f);
  EXPECT_EQ(s.pitch.hi, 20.0f);
  EXPECT_EQ(s.roll.hi, 10.0f);
  EXPECT_EQ(s.scale.lo, 0.8f);
  EXPECT_EQ(s.scale.hi, 1.2f);
  EXPECT_EQ(s.tx.hi, 0.1f);
}

TEST(RenderFactors, FixedFactorsHonouredOthersUnchanged) {
  const FactorSampling free = default_sampling(11, 30);
  FactorSampling fixed = free;
  fix_factor(fixed, "yaw", 30.0);
  fix_factor(fixed, "identity", 4);
  apply_factor_setting(fixed, "expression=surprise");
  apply_factor_setting(fixed, "scale=1.1");
  apply_factor_setting(fixed, "light_azimuth=-20:20");
  EXPECT_EQ(fixed.fixed_expression, 2);
  const auto a = sample_factors(free, 0, 300), b = sample_factors(fixed, 0, 300);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(b[i].yaw, 30.0f);
    EXPECT_EQ(b[i].scale, 1.1f);
    EXPECT_EQ(b[i].identity, 4);
    EXPECT_EQ(b[i].expression, 2);
    EXPECT_GE(b[i].light_azimuth, -20.0f);
    EXPECT_LE(b[i].light_azimuth, 20.0f);
    // One word per factor: fixing some leaves the others' values alone.
    EXPECT_EQ(a[i].pitch, b[i].pitch);
    EXPECT_EQ(a[i].roll, b[i].roll);
    EXPECT_EQ(a[i].tx, b[i].tx);
    EXPECT_EQ(a[i].diffuse, b[i].diffuse);
    EXPECT_EQ(a[i].intensity, b[i].intensity);
  }
}

TEST(RenderFactors, OutOfRangeRejected) {
  FactorSampling s = default_sampling(1, 10);
  EXPECT_NE(error_of([&] { fix_factor(s, "yaw", 100.0); }).find("yaw = 100 is outside its valid range [-90, 90]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fix_factor(s, "identity", 10); }).find("identity"), std::string::npos);
  EXPECT_NE(error_of([&] { fix_factor(s, "expression", 1.5); }).find("expression"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "scale=0:1"); }).find("scale"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "bogus=1"); }).find("unknown factor 'bogus'"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "yaw"); }).find("NAME=VALUE"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "yaw=abc"); }).find("not a number"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "yaw=10:-10"); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "identity=1:2"); }).find("one index"), std::string::npos);
  EXPECT_EQ(s.yaw.lo, -45.0f);  // nothing changed by the failures
  FactorSampling bad = s;
  bad.pitch = {10.0f, -10.0f};
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("pitch range [10, -10]"), std::string::npos);
  bad = s;
  bad.ambient.hi = NAN;
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("ambient"), std::string::npos);
  bad = s;
  bad.identity_count = 0;
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("identity count 0"), std::string::npos);
  EXPECT_THROW(sample_factors(bad, 0, 1), Error);
  ImageFactors f;
  f.roll = 200.0f;
  EXPECT_NE(error_of([&] { validate_factors(f, 5, "image 3"); }).find("image 3: roll = 200"), std::string::npos);
  f = ImageFactors{};
  f.identity = 5;
  EXPECT_NE(error_of([&] { validate_factors(f, 5, "image 0"); }).find("identity 5 is outside [0, 5)"),
            std::string::npos);
  EXPECT_THROW(default_sampling(1, 0), Error);
}

TEST(RenderFactors, JsonHasEveryFactor) {
  ImageFactors f;
  f.identity = 3;
  f.expression = 1;
  f.yaw = 12.5f;
  const std::string j = factors_json(f, 42);
  for (std::string_view name : factor_names()) EXPECT_NE(j.find(fmt::format("\"{}\"", name)), std::string::npos);
  EXPECT_NE(j.find("\"index\":42"), std::string::npos);
  EXPECT_NE(j.find("\"expression_name\":\"happy\""), std::string::npos);
  EXPECT_NE(j.find("\"yaw\":12.5"), std::string::npos);
}

// The setup kernel on cpu and emu: factors equal the host sampling bit for bit, setups equal.
TEST(RenderFactors, SetupKernelCpuEmuBitIdentical) {
  const std::int64_t b = 37;
  FactorSampling s = default_sampling(99, 12);
  const int a = 4;
  std::vector<float> weights(7 * a);
  for (std::size_t i = 0; i < weights.size(); ++i) weights[i] = 0.1f * static_cast<float>(i % 9) - 0.3f;
  std::vector<ImageFactors> f[2];
  std::vector<dk::RenderSetup> setup[2];
  std::vector<float> coef[2];
  for (int d = 0; d < 2; ++d) {
    f[d].resize(b);
    setup[d].resize(b);
    coef[d].assign(b * a, -1.0f);
    dk::RenderSetupParams p;
    p.batch = b;
    p.first_index = 1000;
    p.sampling = s;
    p.factors_out = f[d].data();
    p.expression_weights = weights.data();
    p.action_units = a;
    p.expression_coef = coef[d].data();
    p.setup = setup[d].data();
    dk::render_setup(d == 0 ? Device::cpu() : Device::emu(), p);
  }
  const auto host = sample_factors(s, 1000, b);
  for (std::int64_t i = 0; i < b; ++i) {
    EXPECT_TRUE(same(f[0][i], host[i])) << i;
    EXPECT_TRUE(same(f[1][i], host[i])) << i;
    EXPECT_EQ(std::memcmp(&setup[0][i], &setup[1][i], sizeof(dk::RenderSetup)), 0) << i;
    for (int k = 0; k < a; ++k) {
      EXPECT_EQ(coef[0][i * a + k], host[i].intensity * weights[host[i].expression * a + k]);
    }
  }
  EXPECT_EQ(std::memcmp(coef[0].data(), coef[1].data(), coef[0].size() * sizeof(float)), 0);
  s.fixed_identity = 12;
  dk::RenderSetupParams p;
  p.batch = 1;
  p.sampling = s;
  p.setup = setup[0].data();
  EXPECT_THROW(dk::render_setup(Device::cpu(), p), Error);
  p.sampling = default_sampling(99, 12);
  p.sampling.lighting = static_cast<dk::Lighting>(3);
  EXPECT_NE(error_of([&] { dk::render_setup(Device::emu(), p); }).find("render_setup: lighting model 3"),
            std::string::npos);
}

TEST(RenderFactors, RotationAndLight) {
  ImageFactors f;
  f.yaw = 90.0f;
  dk::RenderSetup s = dk::make_render_setup(f);
  // yaw 90 turns the face's +z toward +x.
  EXPECT_NEAR(s.rotation[0 * 3 + 2], 1.0f, 1e-7);
  EXPECT_NEAR(s.rotation[2 * 3 + 2], 0.0f, 1e-7);
  f = ImageFactors{};
  f.pitch = 30.0f;
  s = dk::make_render_setup(f);
  EXPECT_NEAR(s.rotation[1 * 3 + 2], 0.5f, 1e-7);  // chin up: +z gets a +y component
  f = ImageFactors{};
  f.yaw = 23.0f;
  f.pitch = -11.0f;
  f.roll = 7.0f;
  f.light_azimuth = 30.0f;
  f.light_elevation = 60.0f;
  s = dk::make_render_setup(f);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 3; ++j) {
      double dot = 0;
      for (int k = 0; k < 3; ++k) dot += double(s.rotation[3 * i + k]) * s.rotation[3 * j + k];
      EXPECT_NEAR(dot, i == j ? 1.0 : 0.0, 1e-6);
    }
  }
  EXPECT_NEAR(s.light[1], std::sin(60.0 * M_PI / 180), 1e-7);
  EXPECT_NEAR(s.light[0], std::cos(60.0 * M_PI / 180) * std::sin(30.0 * M_PI / 180), 1e-7);
  EXPECT_GT(s.light[2], 0.0f);  // frontal hemisphere
}

}  // namespace
}  // namespace deeper::render
