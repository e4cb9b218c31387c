// Spherical-harmonics lighting in the render factors and the pipeline: the SH draws come after the
// Lambert ones (no other factor changes), one draw per basis function shared by the colour channels,
// fixing and ranging SH coefficients (per channel and per group), validation errors, JSON records,
// a DC-only SH image equals the Lambert image with that ambient and no diffuse light, a band-1 x
// term lights the viewer's right, lighting is per image (mixed batches), cpu vs emu.
#include "renderer/pipeline.h"
#include "render_test_util.h"

#include "core/error.h"
#include "kernels/raster/rasterize.h"
#include "kernels/render/synthesis.h"

#include "tests/support/error_of.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstddef>
#include <cstring>

namespace deeper::render {
namespace {

namespace dk = deeper::kernels;
using test::max_abs_diff;
using test::same_bits;
using test::small_model;

constexpr int kSize = 40;

using deeper::test_util::error_of;

// Everything of ImageFactors before the lighting model (the Lambert-era factors).
bool same_lambert_part(const ImageFactors& a, const ImageFactors& b) {
  return std::memcmp(&a, &b, offsetof(ImageFactors, lighting)) == 0;
}

const IdentitySet& small_ids() {
  static const IdentitySet ids = make_identities(small_model(), 21, 5);
  return ids;
}

RenderOptions small_options() {
  RenderOptions o;
  o.width = o.height = kSize;
  return o;
}

std::vector<float> render_list(const Device& device, const std::vector<ImageFactors>& f) {
  const RenderModel model(device, small_model(), small_ids());
  Renderer renderer(model, small_options());
  Tensor out = Tensor::empty({static_cast<std::int64_t>(f.size()), kSize, kSize, 3}, DType::f32, device);
  renderer.render(f, out);
  return tensor_to_host(out);
}

// Frontal, neutral, centred factors.
ImageFactors frontal(std::int32_t identity) {
  ImageFactors f;
  f.identity = identity;
  f.expression = 0;
  f.intensity = 0.0f;
  f.light_azimuth = 0.0f;
  f.light_elevation = 0.0f;
  return f;
}

TEST(RenderLighting, ShDrawsLeaveEveryOtherFactorUnchanged) {
  FactorSampling lambert = default_sampling(31, 7);
  FactorSampling sh = lambert;
  sh.lighting = Lighting::sh9;
  const auto a = sample_factors(lambert, 500, 64);
  const auto b = sample_factors(sh, 500, 64);
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(same_lambert_part(a[i], b[i])) << i;
    EXPECT_EQ(a[i].lighting, Lighting::lambert);
    EXPECT_EQ(b[i].lighting, Lighting::sh9);
    for (float x : a[i].sh) EXPECT_EQ(x, 0.0f) << "Lambert images draw no SH values";
    for (int k = 0; k < dk::kShCoefficients; ++k) {
      EXPECT_GE(b[i].sh[k], sh.sh[k].lo) << i << " " << k;
      EXPECT_LE(b[i].sh[k], sh.sh[k].hi) << i << " " << k;
    }
    // Equal default ranges per channel and one draw per basis function: white light.
    for (int k = 0; k < dk::kShBasis; ++k) {
      EXPECT_EQ(b[i].sh[k], b[i].sh[9 + k]);
      EXPECT_EQ(b[i].sh[k], b[i].sh[18 + k]);
    }
  }
  // The SH values are words 14 .. 22 of the image's RFAC sequence (word 13 is reserved).
  for (std::uint64_t i = 0; i < 4; ++i) {
    rng::RandomSequence seq(31, rng::streams::render_factors, 500 + i);
    std::uint32_t w[23];
    for (auto& x : w) x = seq.next_u32();
    for (int c = 0; c < 3; ++c) {
      for (int k = 0; k < 9; ++k) EXPECT_EQ(b[i].sh[9 * c + k], dk::factor_value(sh.sh[9 * c + k], w[14 + k])) << k;
    }
  }
  // The draws vary over images, and a band-1 z term is frontal by default.
  EXPECT_NE(b[0].sh[0], b[1].sh[0]);
  EXPECT_NE(b[0].sh[3], b[1].sh[3]);
  double mean_z = 0;
  for (const auto& f : b) mean_z += f.sh[2] / 64.0;
  EXPECT_GT(mean_z, 0.2);
  EXPECT_LT(mean_z, 0.4);
}

// The setup kernel under sh9: factors equal the host sampling and setups equal on cpu and emu, bit
// for bit; the setup's light holds the 27 coefficients and its lighting is 1.
TEST(RenderLighting, SetupKernelShCpuEmuBitIdentical) {
  FactorSampling s = default_sampling(77, 6);
  s.lighting = Lighting::sh9;
  apply_factor_setting(s, "sh_b1=-0.3:0.1");
  const std::int64_t b = 9;
  std::vector<ImageFactors> f[2];
  std::vector<dk::RenderSetup> setup[2];
  for (int d = 0; d < 2; ++d) {
    f[d].resize(b);
    setup[d].resize(b);
    dk::RenderSetupParams p;
    p.batch = b;
    p.first_index = 300;
    p.sampling = s;
    p.factors_out = f[d].data();
    p.setup = setup[d].data();
    dk::render_setup(d == 0 ? Device::cpu() : Device::emu(), p);
  }
  const auto host = sample_factors(s, 300, b);
  for (std::int64_t i = 0; i < b; ++i) {
    EXPECT_EQ(std::memcmp(&f[0][i], &host[i], sizeof(ImageFactors)), 0) << i;
    EXPECT_EQ(std::memcmp(&f[1][i], &host[i], sizeof(ImageFactors)), 0) << i;
    EXPECT_EQ(std::memcmp(&setup[0][i], &setup[1][i], sizeof(dk::RenderSetup)), 0) << i;
    EXPECT_EQ(setup[0][i].lighting, 1);
    EXPECT_EQ(std::memcmp(setup[0][i].light, host[i].sh, sizeof host[i].sh), 0) << i;
  }
  // Lambert setups: the 9 Lambert values, then zeros.
  const dk::RenderSetup l = dk::make_render_setup(sample_factors(default_sampling(77, 6), 300, 1)[0]);
  EXPECT_EQ(l.lighting, 0);
  for (int k = 9; k < 27; ++k) EXPECT_EQ(l.light[k], 0.0f) << k;
}

TEST(RenderLighting, PerChannelRangesShareTheDraw) {
  FactorSampling s = default_sampling(5, 3);
  s.lighting = Lighting::sh9;
  apply_factor_setting(s, "sh_r0=2.0:2.4");
  apply_factor_setting(s, "sh_b0=1.0:1.2");
  const auto f = sample_factors(s, 0, 16);
  for (const auto& x : f) {
    const double ur = (x.sh[0] - 2.0) / 0.4, ub = (x.sh[18] - 1.0) / 0.2;
    EXPECT_NEAR(ur, ub, 1e-5) << "one word per basis function, shared by the channels";
  }
}

TEST(RenderLighting, FixingShCoefficients) {
  FactorSampling s = default_sampling(8, 4);
  s.lighting = Lighting::sh9;
  const auto free = sample_factors(s, 10, 12);
  FactorSampling fixed = s;
  fix_factor(fixed, "sh_g2", 0.3);
  apply_factor_setting(fixed, "sh1=0.25");         // all three channels
  apply_factor_setting(fixed, "sh_b8=-0.5:-0.5");  // a range with lo = hi
  EXPECT_EQ(factor_range(fixed, "sh_g2").lo, 0.3f);
  EXPECT_EQ(factor_range(fixed, "sh_g2").hi, 0.3f);
  const auto f = sample_factors(fixed, 10, 12);
  for (std::size_t i = 0; i < f.size(); ++i) {
    EXPECT_TRUE(same_lambert_part(f[i], free[i]));
    for (int k = 0; k < dk::kShCoefficients; ++k) {
      if (k == 9 + 2) {
        EXPECT_EQ(f[i].sh[k], 0.3f);
      } else if (k % 9 == 1) {
        EXPECT_EQ(f[i].sh[k], 0.25f);
      } else if (k == 18 + 8) {
        EXPECT_EQ(f[i].sh[k], -0.5f);
      } else {
        EXPECT_EQ(f[i].sh[k], free[i].sh[k]) << "fixing one coefficient leaves the others' draws alone: " << k;
      }
    }
  }
  // The value helpers see the same names.
  ImageFactors x = f[0];
  set_factor_value(x, "sh4", 0.05);
  EXPECT_EQ(x.sh[4], 0.05f);
  EXPECT_EQ(x.sh[13], 0.05f);
  EXPECT_EQ(x.sh[22], 0.05f);
  EXPECT_EQ(factor_value(x, "sh_g2"), 0.3f);
  EXPECT_EQ(factor_limits("sh_r0").lo, 0.0f);
  EXPECT_EQ(factor_limits("sh5").hi, 4.0f);
  const auto names = sh_factor_names();
  ASSERT_EQ(names.size(), 27u);
  EXPECT_EQ(names[0], "sh_r0");
  EXPECT_EQ(names[13], "sh_g4");
  EXPECT_EQ(names[26], "sh_b8");
  for (const auto& n : names) EXPECT_TRUE(is_sh_factor(n)) << n;
  EXPECT_TRUE(is_sh_factor("sh0"));
  EXPECT_FALSE(is_sh_factor("sh9"));
  EXPECT_FALSE(is_sh_factor("sh_x1"));
  EXPECT_FALSE(is_sh_factor("yaw"));
}

TEST(RenderLighting, LightingModelSetting) {
  FactorSampling s = default_sampling(1, 2);
  EXPECT_EQ(s.lighting, Lighting::lambert);
  apply_factor_setting(s, "lighting=sh9");
  EXPECT_EQ(s.lighting, Lighting::sh9);
  apply_factor_setting(s, "lighting=lambert");
  EXPECT_EQ(s.lighting, Lighting::lambert);
  EXPECT_EQ(parse_lighting("sh9"), Lighting::sh9);
  EXPECT_EQ(lighting_name(Lighting::sh9), "sh9");
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "lighting=phong"); })
                .find("unknown lighting model 'phong' (models: lambert, sh9)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { parse_lighting("SH9"); }).find("unknown lighting model"), std::string::npos);
}

TEST(RenderLighting, BadShValuesAreRefused) {
  FactorSampling s = default_sampling(1, 2);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh0=7"); }).find("sh0 = 7 is outside its valid range [0, 6]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { fix_factor(s, "sh_g3", -4.5); }).find("sh_g3 = -4.5 is outside its valid range [-4, 4]"),
            std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh_r1=nan"); }).find("sh_r1 = nan"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh_r1=inf"); }).find("sh_r1 = inf"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh2=0.5:0.1"); }).find("empty"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh_x1=0"); }).find("unknown factor 'sh_x1'"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh9=0"); }).find("unknown factor 'sh9'"), std::string::npos);
  EXPECT_NE(error_of([&] { apply_factor_setting(s, "sh_r1=abc"); }).find("not a number"), std::string::npos);

  FactorSampling bad = default_sampling(1, 2);
  bad.sh[14].lo = std::nanf("");
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("sh_g5 range [nan"), std::string::npos);
  bad = default_sampling(1, 2);
  bad.sh[0] = {-1.0f, 1.0f};
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("sh_r0 range [-1, 1] is outside the valid range [0, 6]"),
            std::string::npos);
  bad = default_sampling(1, 2);
  bad.lighting = static_cast<Lighting>(5);
  EXPECT_NE(error_of([&] { validate_sampling(bad); }).find("lighting model 5"), std::string::npos);

  ImageFactors f = frontal(0);
  f.lighting = Lighting::sh9;
  f.sh[0] = 2.0f;
  EXPECT_NO_THROW(validate_factors(f, 2, "image 0"));
  f.sh[21] = INFINITY;
  EXPECT_NE(error_of([&] { validate_factors(f, 2, "image 4"); })
                .find("image 4: sh_b3 = inf is outside its valid range"),
            std::string::npos);
  f.sh[21] = 0.0f;
  f.sh[9] = -0.5f;
  EXPECT_NE(error_of([&] { validate_factors(f, 2, "image 4"); }).find("sh_g0 = -0.5"), std::string::npos);
  f.sh[9] = 2.0f;
  f.lighting = static_cast<Lighting>(2);
  EXPECT_NE(error_of([&] { validate_factors(f, 2, "image 4"); }).find("lighting model 2"), std::string::npos);
  // Under Lambert the SH values are ignored.
  f.lighting = Lighting::lambert;
  f.sh[21] = NAN;
  EXPECT_NO_THROW(validate_factors(f, 2, "image 4"));

  // The renderer refuses an SH image with a non-finite coefficient before anything runs.
  const RenderModel model(Device::cpu(), small_model(), small_ids());
  Renderer renderer(model, small_options());
  Tensor out = Tensor::empty({1, kSize, kSize, 3}, DType::f32, Device::cpu());
  ImageFactors g = frontal(0);
  g.lighting = Lighting::sh9;
  g.sh[7] = NAN;
  const std::vector<ImageFactors> list = {g};
  EXPECT_NE(error_of([&] { renderer.render(list, out); }).find("render: image 0: sh_r7 = nan"), std::string::npos);
  FactorSampling wide = default_sampling(1, 5);
  wide.lighting = Lighting::sh9;
  wide.sh[3].hi = 9.0f;
  EXPECT_NE(error_of([&] { renderer.render(wide, 0, out); }).find("sh_r3 range"), std::string::npos);
}

TEST(RenderLighting, JsonRecordsCarryTheCoefficientsUnderSh9) {
  FactorSampling s = default_sampling(12, 3);
  const ImageFactors lambert = sample_factors(s, 4, 1)[0];
  const auto jl = nlohmann::json::parse(factors_json(lambert, 4));
  EXPECT_FALSE(jl.contains("sh"));
  EXPECT_FALSE(jl.contains("lighting"));
  s.lighting = Lighting::sh9;
  const ImageFactors sh = sample_factors(s, 4, 1)[0];
  const auto js = nlohmann::json::parse(factors_json(sh, 4));
  EXPECT_EQ(js["lighting"], "sh9");
  ASSERT_EQ(js["sh"].size(), 27u);
  for (int k = 0; k < 27; ++k) EXPECT_EQ(js["sh"][k].get<float>(), sh.sh[k]) << k;
  EXPECT_EQ(js["yaw"].get<float>(), lambert.yaw);
}

// s = 0.282095 sh_c0 with no other term: the Lambert model with that ambient and no diffuse light,
// up to the rounding of 0.282095 (sh_c0 / 0.282095).
TEST(RenderLighting, DcOnlyShEqualsAmbientOnlyLambert) {
  std::vector<ImageFactors> lambert, sh;
  const float ambient[3] = {0.6f, 0.8f, 0.45f};
  for (int i = 0; i < 3; ++i) {
    ImageFactors f = frontal(i);
    f.yaw = -20.0f + 15.0f * static_cast<float>(i);
    f.ambient = ambient[i];
    f.diffuse = 0.0f;
    lambert.push_back(f);
    f.lighting = Lighting::sh9;
    for (int c = 0; c < 3; ++c) f.sh[9 * c] = ambient[i] / 0.282095f;
    sh.push_back(f);
  }
  const auto a = render_list(Device::cpu(), lambert), b = render_list(Device::cpu(), sh);
  EXPECT_LT(max_abs_diff(a, b), 2e-6);
  // And a different SH light changes the image.
  sh[1].sh[2] = sh[1].sh[11] = sh[1].sh[20] = 0.8f;
  EXPECT_GT(max_abs_diff(a, render_list(Device::cpu(), sh)), 0.05);
}

// Band 1 x (k = 3, Y = 0.488603 x) > 0 lights the side of the face on the viewer's right.
TEST(RenderLighting, BandOneXLightsTheViewersRight) {
  std::vector<ImageFactors> f;
  for (float x : {0.9f, -0.9f}) {
    ImageFactors g = frontal(1);
    g.lighting = Lighting::sh9;
    for (int c = 0; c < 3; ++c) {
      g.sh[9 * c] = 2.0f;
      g.sh[9 * c + 3] = x;
    }
    f.push_back(g);
  }
  const RenderModel model(Device::cpu(), small_model(), small_ids());
  Renderer renderer(model, small_options());
  Tensor out = Tensor::empty({2, kSize, kSize, 3}, DType::f32, Device::cpu());
  renderer.render(f, out);
  const auto img = tensor_to_host(out);
  for (int b = 0; b < 2; ++b) {
    double half[2] = {0, 0};
    for (int y = 0; y < kSize; ++y) {
      for (int x = 0; x < kSize; ++x) {
        const std::int64_t px = (std::int64_t{b} * kSize + y) * kSize + x;
        if (dk::raster_pixel_id(renderer.rast() + 4 * px) < 0) continue;
        for (int c = 0; c < 3; ++c) half[x >= kSize / 2] += img[3 * px + c];
      }
    }
    if (b == 0) {
      EXPECT_GT(half[1], 1.2 * half[0]) << "sh3 > 0: the right half is brighter";
    } else {
      EXPECT_GT(half[0], 1.2 * half[1]) << "sh3 < 0: the left half is brighter";
    }
  }
}

// Lighting is per image: in a mixed batch every image equals the image rendered alone.
TEST(RenderLighting, MixedBatchesAndCpuEmuParity) {
  FactorSampling s = default_sampling(44, 5);
  auto f = sample_factors(s, 0, 3);
  s.lighting = Lighting::sh9;
  f[1] = sample_factors(s, 1, 1)[0];
  ASSERT_EQ(f[1].lighting, Lighting::sh9);
  const auto mixed = render_list(Device::cpu(), f);
  const std::size_t plane = std::size_t{kSize} * kSize * 3;
  for (std::size_t i = 0; i < 3; ++i) {
    const auto alone = render_list(Device::cpu(), {f[i]});
    EXPECT_TRUE(same_bits(alone, std::vector<float>(mixed.begin() + i * plane, mixed.begin() + (i + 1) * plane))) << i;
  }
  // The SH image is not the Lambert image of the same factors.
  ImageFactors lambert = f[1];
  lambert.lighting = Lighting::lambert;
  EXPECT_GT(max_abs_diff(render_list(Device::cpu(), {lambert}),
                         std::vector<float>(mixed.begin() + plane, mixed.begin() + 2 * plane)),
            0.02);
  // A sampled SH batch: emu equals cpu (plain fp32 in the same order).
  const RenderModel cpu_model(Device::cpu(), small_model(), small_ids());
  const RenderModel emu_model(Device::emu(), small_model(), small_ids());
  Tensor a = Tensor::empty({3, kSize, kSize, 3}, DType::f32, Device::cpu());
  Tensor b = Tensor::empty({3, kSize, kSize, 3}, DType::f32, Device::emu());
  render_batch(cpu_model, s, 7, small_options(), a);
  render_batch(emu_model, s, 7, small_options(), b);
  const auto ca = tensor_to_host(a), eb = tensor_to_host(b);
  EXPECT_LT(max_abs_diff(ca, eb), 1e-6);
  for (float x : ca) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_GE(x, 0.0f);
    ASSERT_LE(x, 1.0f);
  }
}

}  // namespace
}  // namespace deeper::render
