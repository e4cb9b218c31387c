// compose_faces with fused interpolation (kernels/render/compose.h) against the staged path
// (interpolate UVs, normals and vertex colours, then compose_faces): bit for bit on cpu and emu,
// for identity textures, a shared texture and vertex colours, Lambert and SH9 images in one batch,
// background pixels and corrupt rasterize ids / triangle indices (NaN either way); the bf16 output
// equals to_bf16 of the f32 one (alone and together); bad parameters are refused with one line.
#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"
#include "kernels/render/compose.h"
#include "renderer/pipeline.h"
#include "render_test_util.h"

#include "core/error.h"
#include "tests/support/bf16_bits.h"
#include "tests/support/error_of.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace deeper::render {
namespace {

using deeper::test_util::bf16_bits;

namespace dk = deeper::kernels;
using deeper::test_util::error_of;
using test::small_model;

constexpr int kH = 24, kW = 20;
constexpr std::int64_t kBatch = 4;

template <typename T>
std::vector<T> host_copy(const void* data, const Device& device, std::size_t count) {
  std::vector<T> out(count);
  if (count > 0) copy_bytes(out.data(), Device::cpu(), data, device, count * sizeof(T));
  return out;
}

// A rendered batch's compose inputs in host memory: two Lambert and two SH9 images (the full
// pipeline on the CPU), with a few rasterize ids corrupted (out of range, negative) and one
// triangle's index pointing past the vertices, so every interpolate case occurs.
struct Scene {
  std::int64_t vertices = 0, triangles = 0;
  int tex_h = 0, tex_w = 0;
  std::int64_t tex_count = 0;
  std::vector<float> rast, vnormal, uv, textures, vcolor;
  std::vector<std::int32_t> tri;
  std::vector<dk::RenderSetup> setup;
};

const Scene& scene() {
  static const Scene s = [] {
    Scene sc;
    const IdentitySet ids = make_identities(small_model(), 5, 3);
    const RenderModel model(Device::cpu(), small_model(), ids);
    RenderOptions o;
    o.height = kH;
    o.width = kW;
    Renderer renderer(model, o);
    FactorSampling lambert = default_sampling(11, 3), sh = default_sampling(12, 3);
    sh.lighting = Lighting::sh9;
    std::vector<ImageFactors> f = sample_factors(lambert, 0, 2);
    for (const ImageFactors& x : sample_factors(sh, 0, 2)) f.push_back(x);
    Tensor out = Tensor::empty({kBatch, kH, kW, 3}, DType::f32, Device::cpu());
    renderer.render(f, out);
    sc.vertices = model.vertices();
    sc.triangles = model.triangles();
    sc.tex_h = model.texture_height();
    sc.tex_w = model.texture_width();
    sc.tex_count = model.identity_count();
    const auto px = static_cast<std::size_t>(kBatch * kH * kW);
    const auto v = static_cast<std::size_t>(sc.vertices);
    sc.rast = host_copy<float>(renderer.rast(), Device::cpu(), px * 4);
    sc.vnormal = host_copy<float>(renderer.vertex_normals(), Device::cpu(), kBatch * v * 3);
    sc.uv = host_copy<float>(model.uv(), Device::cpu(), v * 2);
    sc.tri = host_copy<std::int32_t>(model.tri(), Device::cpu(), static_cast<std::size_t>(sc.triangles) * 3);
    sc.textures = host_copy<float>(model.identity_textures(), Device::cpu(),
                                   static_cast<std::size_t>(sc.tex_count * sc.tex_h * sc.tex_w * 3));
    sc.setup = host_copy<dk::RenderSetup>(renderer.setups(), Device::cpu(), kBatch);
    sc.vcolor.resize(v * 3);
    for (std::size_t i = 0; i < sc.vcolor.size(); ++i) sc.vcolor[i] = 0.1f + 0.8f * static_cast<float>((i * 37) % 101) / 101.0f;
    // Corruptions: ids out of range and negative (not -1), and a covered triangle with a bad index.
    int face = 0, background = 0;
    std::int32_t broken = -1;
    for (std::size_t p = 0; p < px; ++p) {
      const std::int32_t id = dk::raster_pixel_id(&sc.rast[4 * p]);
      if (id == -1) {
        ++background;
        continue;
      }
      ++face;
      std::int32_t bad = 0;
      if (face == 40) bad = static_cast<std::int32_t>(sc.triangles) + 5;
      if (face == 90) bad = -7;
      if (bad != 0) std::memcpy(&sc.rast[4 * p + 3], &bad, sizeof bad);
      if (face == 150) broken = id;
    }
    EXPECT_GT(background, 50);
    EXPECT_GT(face, 300);
    EXPECT_GE(broken, 0);
    if (broken >= 0) sc.tri[static_cast<std::size_t>(3 * broken + 1)] = static_cast<std::int32_t>(sc.vertices + 3);
    return sc;
  }();
  return s;
}

enum class Albedo { identity_texture, shared_texture, vertex_colours };

dk::ComposeParams base_params(const Scene& s, Albedo mode) {
  dk::ComposeParams p;
  p.batch = kBatch;
  p.height = kH;
  p.width = kW;
  p.rast = s.rast.data();
  p.textures = s.textures.data();
  p.tex_count = mode == Albedo::shared_texture ? 1 : s.tex_count;
  p.tex_height = s.tex_h;
  p.tex_width = s.tex_w;
  p.shared_texture = mode == Albedo::shared_texture;
  p.setup = s.setup.data();
  p.background[0] = 0.25f;
  p.background[1] = 0.5f;
  p.background[2] = 0.75f;
  return p;
}

std::vector<float> interpolated(const Device& device, const Scene& s, const std::vector<float>& attr, int channels,
                                bool batched) {
  std::vector<float> out(static_cast<std::size_t>(kBatch * kH * kW * channels), -1234.0f);
  dk::InterpolateParams ip;
  ip.attr = attr.data();
  ip.attr_batched = batched;
  ip.rast = s.rast.data();
  ip.tri = s.tri.data();
  ip.batch = kBatch;
  ip.vertices = s.vertices;
  ip.triangles = s.triangles;
  ip.channels = channels;
  ip.height = kH;
  ip.width = kW;
  ip.check_indices = false;  // one index is deliberately bad
  ip.out = out.data();
  dk::interpolate(device, ip);
  return out;
}

std::vector<float> staged(const Device& device, const Scene& s, Albedo mode) {
  const std::vector<float> uv = interpolated(device, s, s.uv, 2, false);
  const std::vector<float> normal = interpolated(device, s, s.vnormal, 3, true);
  const std::vector<float> albedo = interpolated(device, s, s.vcolor, 3, false);
  std::vector<float> out(static_cast<std::size_t>(kBatch * kH * kW * 3), -1.0f);
  dk::ComposeParams p = base_params(s, mode);
  p.uv = uv.data();
  p.normal = normal.data();
  if (mode == Albedo::vertex_colours) p.albedo = albedo.data();
  p.out = out.data();
  dk::compose_faces(device, p);
  return out;
}

dk::ComposeParams fused_params(const Scene& s, Albedo mode) {
  dk::ComposeParams p = base_params(s, mode);
  p.fused = true;
  p.tri = s.tri.data();
  p.vertices = s.vertices;
  p.triangles = s.triangles;
  p.check_indices = false;
  p.vertex_normal = s.vnormal.data();
  if (mode == Albedo::vertex_colours) {
    p.vertex_albedo = s.vcolor.data();
  } else {
    p.vertex_uv = s.uv.data();
  }
  return p;
}

std::vector<float> fused(const Device& device, const Scene& s, Albedo mode, std::vector<std::uint16_t>* bf16 = nullptr) {
  std::vector<float> out(static_cast<std::size_t>(kBatch * kH * kW * 3), -1.0f);
  dk::ComposeParams p = fused_params(s, mode);
  p.out = out.data();
  if (bf16) {
    bf16->assign(out.size(), 0xFFFFu);
    p.out_bf16 = bf16->data();
  }
  dk::compose_faces(device, p);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const char* mode_name(Albedo m) {
  return m == Albedo::identity_texture ? "identity textures" : (m == Albedo::shared_texture ? "shared texture" : "vertex colours");
}

TEST(ComposeFused, BitIdenticalToInterpolateThenCompose) {
  const Scene& s = scene();
  for (const Albedo mode : {Albedo::identity_texture, Albedo::shared_texture, Albedo::vertex_colours}) {
    SCOPED_TRACE(mode_name(mode));
    const std::vector<float> reference = staged(Device::cpu(), s, mode);
    int nan = 0, background = 0, face = 0;
    for (std::size_t p = 0; p < reference.size() / 3; ++p) {
      const bool is_nan = std::isnan(reference[3 * p]);
      nan += is_nan;
      background += !is_nan && reference[3 * p] == 0.25f && reference[3 * p + 2] == 0.75f;
      face += !is_nan && reference[3 * p] != 0.25f;
    }
    // Both corrupt ids and the broken triangle's pixels show as NaN; backgrounds and faces exist.
    EXPECT_GE(nan, 3);
    EXPECT_GT(background, 50);
    EXPECT_GT(face, 300);
    for (const Device& device : {Device::cpu(), Device::emu()}) {
      SCOPED_TRACE(device.name());
      EXPECT_TRUE(same_bits(fused(device, s, mode), reference));
      if (device.backend == Backend::emu) {
        EXPECT_TRUE(same_bits(staged(device, s, mode), reference));
      }
    }
  }
}

TEST(ComposeFused, LightingModelsBothPresentAndDiffer) {
  // The scene's batch holds two Lambert and two SH9 images; relighting all four with Lambert changes
  // the SH images only (so the bit-identity above covers both models).
  Scene s = scene();
  ASSERT_EQ(s.setup[0].lighting, 0);
  ASSERT_EQ(s.setup[1].lighting, 0);
  ASSERT_EQ(s.setup[2].lighting, 1);
  ASSERT_EQ(s.setup[3].lighting, 1);
  const std::vector<float> mixed = fused(Device::cpu(), s, Albedo::identity_texture);
  for (auto& x : s.setup) x.lighting = 0;
  const std::vector<float> lambert = fused(Device::cpu(), s, Albedo::identity_texture);
  const std::size_t image = static_cast<std::size_t>(kH * kW * 3);
  EXPECT_EQ(std::memcmp(mixed.data(), lambert.data(), 2 * image * sizeof(float)), 0);
  EXPECT_NE(std::memcmp(mixed.data() + 2 * image, lambert.data() + 2 * image, 2 * image * sizeof(float)), 0);
}

TEST(ComposeFused, Bf16OutputIsToBf16OfTheF32Output) {
  const Scene& s = scene();
  for (const Device& device : {Device::cpu(), Device::emu()}) {
    SCOPED_TRACE(device.name());
    for (const Albedo mode : {Albedo::identity_texture, Albedo::vertex_colours}) {
      std::vector<std::uint16_t> both;
      const std::vector<float> f32 = fused(device, s, mode, &both);
      EXPECT_EQ(both, bf16_bits(f32));
      // bf16 only (no f32 image), fused and staged.
      std::vector<std::uint16_t> only(f32.size(), 0xFFFFu);
      dk::ComposeParams p = fused_params(s, mode);
      p.out_bf16 = only.data();
      dk::compose_faces(device, p);
      EXPECT_EQ(only, both);
      const std::vector<float> uv = interpolated(device, s, s.uv, 2, false);
      const std::vector<float> normal = interpolated(device, s, s.vnormal, 3, true);
      const std::vector<float> albedo = interpolated(device, s, s.vcolor, 3, false);
      dk::ComposeParams q = base_params(s, mode);
      q.uv = uv.data();
      q.normal = normal.data();
      if (mode == Albedo::vertex_colours) q.albedo = albedo.data();
      std::fill(only.begin(), only.end(), 0xFFFFu);
      q.out_bf16 = only.data();
      dk::compose_faces(device, q);
      EXPECT_EQ(only, both);
    }
  }
}

TEST(ComposeFused, BadParametersRefused) {
  const Scene& s = scene();
  std::vector<float> out(static_cast<std::size_t>(kBatch * kH * kW * 3));
  const auto run = [&](const std::function<void(dk::ComposeParams&)>& edit) {
    return error_of([&] {
      dk::ComposeParams p = fused_params(s, Albedo::identity_texture);
      p.out = out.data();
      edit(p);
      dk::compose_faces(Device::cpu(), p);
    });
  };
  EXPECT_NE(run([](dk::ComposeParams& p) { p.vertex_normal = nullptr; }).find("null vertex normals"), std::string::npos);
  EXPECT_NE(run([](dk::ComposeParams& p) { p.vertex_uv = nullptr; }).find("null vertex uv or textures"), std::string::npos);
  EXPECT_NE(run([](dk::ComposeParams& p) { p.tri = nullptr; }).find("null triangles"), std::string::npos);
  EXPECT_NE(run([](dk::ComposeParams& p) { p.vertices = 0; }).find("0 vertices is outside"), std::string::npos);
  EXPECT_NE(run([](dk::ComposeParams& p) { p.triangles = -1; }).find("-1 triangles is outside"), std::string::npos);
  EXPECT_NE(run([&](dk::ComposeParams& p) { p.uv = s.uv.data(); }).find("but per-pixel uv, normal or albedo"),
            std::string::npos);
  EXPECT_NE(run([](dk::ComposeParams& p) { p.out = nullptr; }).find("null rasterize output, setup or output"),
            std::string::npos);
  // The scene's broken triangle, found when indices are checked.
  EXPECT_NE(run([](dk::ComposeParams& p) { p.check_indices = true; }).find("compose_faces: triangle"),
            std::string::npos);
  // Vertex attributes without fused = true.
  EXPECT_NE(run([](dk::ComposeParams& p) { p.fused = false; }).find("vertex attributes given without fused"),
            std::string::npos);
}

}  // namespace
}  // namespace deeper::render
