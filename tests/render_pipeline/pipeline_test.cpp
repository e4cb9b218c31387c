// The whole render pipeline: cpu and emu give the same images, an image does not depend on the
// batch it is rendered in, a frontal face covers the image centre and leaves the corners to the
// background, antialias with the edge masks equals antialias without, bf16 output is the rounded f32, factor lists equal sampled factors, colour maps
// replace the texture, and bad calls are refused.
#include "renderer/pipeline.h"
#include "render_test_util.h"

#include "core/error.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/rasterize.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace deeper::render {
namespace {

using test::max_abs_diff;
using test::same_bits;
using test::small_model;

constexpr int kSize = 40;

const IdentitySet& small_ids() {
  static const IdentitySet ids = make_identities(small_model(), 21, 5);
  return ids;
}

RenderOptions small_options() {
  RenderOptions o;
  o.width = kSize;
  o.height = kSize;
  return o;
}

std::vector<float> render_images(const Device& device, const FactorSampling& s, std::uint64_t first,
                                 std::int64_t batch, const RenderOptions& o = small_options()) {
  const RenderModel model(device, small_model(), small_ids());
  Tensor out = Tensor::empty({batch, o.height, o.width, 3}, DType::f32, device, Layout::nhwc);
  render_batch(model, s, first, o, out);
  return tensor_to_host(out);
}

TEST(RenderPipeline, CpuAndEmuGiveTheSameImages) {
  const FactorSampling s = default_sampling(3, 5);
  const auto cpu = render_images(Device::cpu(), s, 0, 3);
  const auto emu = render_images(Device::emu(), s, 0, 3);
  EXPECT_LT(max_abs_diff(cpu, emu), 1e-6);
  for (float x : cpu) {
    ASSERT_TRUE(std::isfinite(x));
    ASSERT_GE(x, 0.0f);
    ASSERT_LE(x, 1.0f);
  }
}

// The pipeline runs antialias with the silhouette-edge masks (kernels/raster/antialias.h); the
// image is exactly antialias without them, recomputed here from the saved intermediates.
TEST(RenderPipeline, AntialiasWithEdgeMasksChangesNoBit) {
  const FactorSampling s = default_sampling(9, 5);
  for (const Device& device : {Device::cpu(), Device::emu()}) {
    SCOPED_TRACE(device.name());
    const RenderModel model(device, small_model(), small_ids());
    Renderer renderer(model, small_options());
    const std::int64_t batch = 3;
    Tensor out = Tensor::empty({batch, kSize, kSize, 3}, DType::f32, device, Layout::nhwc);
    renderer.render(s, 0, out);
    const std::vector<float> image = tensor_to_host(out);
    Tensor plain = Tensor::empty({batch, kSize, kSize, 3}, DType::f32, device, Layout::nhwc);
    kernels::AntialiasParams ap;
    ap.color = renderer.composed();
    ap.rast = renderer.rast();
    ap.pos = renderer.clip();
    ap.tri = model.tri();
    ap.topology = model.edge_topology();
    ap.batch = batch;
    ap.vertices = model.vertices();
    ap.triangles = model.triangles();
    ap.channels = 3;
    ap.height = ap.width = kSize;
    ap.out = static_cast<float*>(plain.data_raw());
    kernels::antialias(device, ap);
    EXPECT_TRUE(same_bits(image, tensor_to_host(plain)));
    std::vector<float> composed(image.size());
    copy_bytes(composed.data(), Device::cpu(), renderer.composed(), device, composed.size() * sizeof(float));
    std::size_t blended = 0;
    for (std::size_t i = 0; i < image.size(); ++i) blended += image[i] != composed[i];
    EXPECT_GT(blended, 100u) << "the silhouette is antialiased";
  }
}

TEST(RenderPipeline, DeterministicAcrossRunsAndBatchSizes) {
  const FactorSampling s = default_sampling(17, 5);
  const auto six = render_images(Device::cpu(), s, 0, 6);
  const auto again = render_images(Device::cpu(), s, 0, 6);
  EXPECT_TRUE(same_bits(six, again));
  const auto two = render_images(Device::cpu(), s, 2, 2);
  const std::size_t image = kSize * kSize * 3;
  const std::vector<float> slice(six.begin() + 2 * image, six.begin() + 4 * image);
  EXPECT_TRUE(same_bits(slice, two));
  const auto one_emu = render_images(Device::emu(), s, 3, 1);
  const std::vector<float> third(six.begin() + 3 * image, six.begin() + 4 * image);
  EXPECT_LT(max_abs_diff(third, one_emu), 1e-6);
  // Different images differ.
  EXPECT_GT(max_abs_diff(std::vector<float>(six.begin(), six.begin() + image),
                         std::vector<float>(six.begin() + image, six.begin() + 2 * image)),
            0.05);
}

TEST(RenderPipeline, FrontalFaceCoversTheCentre) {
  FactorSampling s = default_sampling(1, 5);
  for (const char* fix : {"yaw=0", "pitch=0", "roll=0", "scale=1", "tx=0", "ty=0", "light_azimuth=0",
                          "light_elevation=0", "ambient=0.5", "diffuse=0.5", "expression=neutral"}) {
    apply_factor_setting(s, fix);
  }
  RenderOptions o = small_options();
  o.background = {0.0f, 0.0f, 1.0f};
  const RenderModel model(Device::cpu(), small_model(), small_ids());
  Renderer renderer(model, o);
  Tensor out = Tensor::empty({5, kSize, kSize, 3}, DType::f32, Device::cpu());
  renderer.render(s, 0, out);
  const auto img = tensor_to_host(out);
  const float* rast = renderer.rast();
  for (int b = 0; b < 5; ++b) {
    const std::int64_t plane = std::int64_t{b} * kSize * kSize;
    std::int64_t covered = 0;
    for (int y = 0; y < kSize; ++y) {
      for (int x = 0; x < kSize; ++x) covered += kernels::raster_pixel_id(rast + 4 * (plane + y * kSize + x)) >= 0;
    }
    // The face (~132 x 156 mm in a ~189 mm frame) covers a large central part of the image.
    EXPECT_GT(covered, kSize * kSize / 4) << b;
    EXPECT_LT(covered, kSize * kSize * 9 / 10) << b;
    for (int dy = -2; dy <= 2; ++dy) {
      for (int dx = -2; dx <= 2; ++dx) {
        const std::int64_t c = plane + (kSize / 2 + dy) * kSize + kSize / 2 + dx;
        EXPECT_GE(kernels::raster_pixel_id(rast + 4 * c), 0) << b;
        EXPECT_GT(img[3 * c], 0.05f);  // skin has red; the background has none
      }
    }
    for (const std::int64_t corner : {plane, plane + kSize - 1, plane + (kSize - 1) * kSize,
                                      plane + kSize * kSize - 1}) {
      EXPECT_EQ(img[3 * corner], 0.0f);
      EXPECT_EQ(img[3 * corner + 2], 1.0f);
    }
    // Left-right symmetry of coverage for a frontal pose (the mesh is mirror-symmetric up to
    // identity asymmetries): the covered column span is centred.
    int left = kSize, right = -1;
    for (int x = 0; x < kSize; ++x) {
      if (kernels::raster_pixel_id(rast + 4 * (plane + (kSize / 2) * kSize + x)) >= 0) {
        left = std::min(left, x);
        right = std::max(right, x);
      }
    }
    EXPECT_LE(std::abs((left + right + 1) - kSize), 2) << b;
  }
  const auto f = renderer.last_factors();
  ASSERT_EQ(f.size(), 5u);
  for (const auto& x : f) {
    EXPECT_EQ(x.yaw, 0.0f);
    EXPECT_EQ(x.expression, 0);
  }
}

TEST(RenderPipeline, Bf16IsRoundedF32AndListsEqualSampling) {
  const FactorSampling s = default_sampling(8, 5);
  const RenderModel model(Device::cpu(), small_model(), small_ids());
  Renderer renderer(model, small_options());
  Tensor f32 = Tensor::empty({3, kSize, kSize, 3}, DType::f32, Device::cpu());
  Tensor bf16 = Tensor::empty({3, kSize, kSize, 3}, DType::bf16, Device::cpu());
  renderer.render(s, 10, f32);
  renderer.render(s, 10, bf16);
  const auto a = tensor_to_host(f32), b = tensor_to_host(bf16);
  for (std::size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], std::fabs(a[i]) * 0.0040 + 1e-30) << i;
  const auto factors = sample_factors(s, 10, 3);
  Tensor listed = Tensor::empty({3, kSize, kSize, 3}, DType::f32, Device::cpu());
  renderer.render(factors, listed);
  EXPECT_TRUE(same_bits(tensor_to_host(listed), a));
  const auto back = renderer.last_factors();
  EXPECT_EQ(std::memcmp(back.data(), factors.data(), factors.size() * sizeof(ImageFactors)), 0);
}

TEST(RenderPipeline, ColourMapsReplaceTheTexture) {
  FactorSampling s = default_sampling(4, 5);
  apply_factor_setting(s, "yaw=0");
  apply_factor_setting(s, "tx=0");
  apply_factor_setting(s, "ty=0");
  RenderOptions o = small_options();
  o.background = {0.0f, 0.0f, 0.0f};
  o.antialias = false;
  const RenderModel model(Device::emu(), small_model(), small_ids());
  Renderer renderer(model, o);
  std::vector<float> red(static_cast<std::size_t>(3 * model.vertices()), 0.0f);
  for (std::size_t i = 0; i < red.size(); i += 3) red[i] = 1.0f;
  renderer.set_vertex_colors(red);
  Tensor out = Tensor::empty({2, kSize, kSize, 3}, DType::f32, Device::emu());
  renderer.render(s, 0, out);
  auto img = tensor_to_host(out);
  int lit = 0;
  for (std::size_t i = 0; i < img.size(); i += 3) {
    EXPECT_EQ(img[i + 1], 0.0f);
    EXPECT_EQ(img[i + 2], 0.0f);
    lit += img[i] > 0.1f;
  }
  EXPECT_GT(lit, kSize * kSize / 3);
  renderer.set_vertex_colors({});
  const std::vector<float> green = {0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f, 0.0f, 1.0f, 0.0f};
  renderer.set_texture_override(green, 2, 2);
  renderer.render(s, 0, out);
  img = tensor_to_host(out);
  for (std::size_t i = 0; i < img.size(); i += 3) {
    EXPECT_EQ(img[i], 0.0f);
    EXPECT_EQ(img[i + 2], 0.0f);
  }
  EXPECT_THROW(renderer.set_vertex_colors(std::vector<float>(5, 0.0f)), Error);
  EXPECT_THROW(renderer.set_texture_override(green, 2, 3), Error);
}

TEST(RenderPipeline, BadCallsRefused) {
  const RenderModel model(Device::cpu(), small_model(), small_ids());
  Renderer renderer(model, small_options());
  const FactorSampling s = default_sampling(1, 5);
  Tensor wrong_size = Tensor::empty({2, kSize, kSize + 1, 3}, DType::f32, Device::cpu());
  Tensor wrong_type = Tensor::empty({2, kSize, kSize, 3}, DType::f64, Device::cpu());
  Tensor wrong_device = Tensor::empty({2, kSize, kSize, 3}, DType::f32, Device::emu());
  Tensor good = Tensor::empty({2, kSize, kSize, 3}, DType::f32, Device::cpu());
  EXPECT_THROW(renderer.render(s, 0, wrong_size), Error);
  EXPECT_THROW(renderer.render(s, 0, wrong_type), Error);
  EXPECT_THROW(renderer.render(s, 0, wrong_device), Error);
  EXPECT_THROW(renderer.render(default_sampling(1, 6), 0, good), Error);  // 6 identities, model has 5
  FactorSampling bad = s;
  bad.yaw = {-100.0f, 0.0f};
  EXPECT_THROW(renderer.render(bad, 0, good), Error);
  std::vector<ImageFactors> list(2);
  list[1].scale = 0.0f;
  EXPECT_THROW(renderer.render(list, good), Error);
  list.resize(3);
  EXPECT_THROW(renderer.render(list, good), Error);
  RenderOptions o = small_options();
  o.width = 0;
  EXPECT_THROW(Renderer(model, o), Error);
  o = small_options();
  o.distance_mm = 50.0f;
  EXPECT_THROW(Renderer(model, o), Error);
  o = small_options();
  o.background[1] = NAN;
  EXPECT_THROW(Renderer(model, o), Error);
}

}  // namespace
}  // namespace deeper::render
