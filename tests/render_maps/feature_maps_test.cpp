// Maps drawn on the average face and in UV space (renderer/feature_maps.h), downsampling and the
// per-identity features: a varying input gives a varying face on the background, a constant one a
// constant face, masks draw grey, the three-view panel's middle view is the single view and its side
// views mirror each other, texel grids land where their rows and columns are, emu draws what cpu
// draws; errors name the problem.
#include "renderer/colour_map.h"
#include "renderer/evaluate.h"
#include "renderer/feature_maps.h"
#include "render_maps_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

namespace {

namespace dr = deeper::render;
using deeper::Device;
using render_maps_test::error_of;
using render_maps_test::small_model;
using Rgb = std::array<float, 3>;

Rgb pixel(const std::vector<float>& img, int width, int y, int x) {
  const std::size_t i = 3 * (static_cast<std::size_t>(y) * width + x);
  return {img[i], img[i + 1], img[i + 2]};
}

double distance(const Rgb& a, const Rgb& b) {
  return std::fabs(a[0] - b[0]) + std::fabs(a[1] - b[1]) + std::fabs(a[2] - b[2]);
}

double luma(const Rgb& c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; }

const Rgb kWhite{1.0f, 1.0f, 1.0f};

std::vector<double> vertex_u() {
  const auto& m = small_model();
  std::vector<double> u(static_cast<std::size_t>(m.vertex_count()));
  for (std::size_t i = 0; i < u.size(); ++i) u[i] = m.mesh.uv[2 * i];
  return u;
}

dr::MapStyle style(int size) {
  dr::MapStyle s;
  s.size = size;
  s.shading = 0.0f;  // flat light: colours exactly as mapped
  return s;
}

TEST(VertexMap, VaryingValuesVaryOnTheFaceOverTheBackground) {
  const int n = 48;
  const std::vector<double> u = vertex_u();  // 0 at the face's left edge (viewer's left) .. 1 at its right
  const std::vector<float> img = dr::draw_vertex_map(Device::cpu(), small_model(), u, style(n));
  ASSERT_EQ(img.size(), static_cast<std::size_t>(n * n * 3));
  for (int y : {0, n - 1}) {
    for (int x : {0, n - 1}) EXPECT_EQ(pixel(img, n, y, x), kWhite) << y << ", " << x;
  }
  int face = 0;
  double left = 0, right = 0;
  int nl = 0, nr = 0;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const Rgb c = pixel(img, n, y, x);
      if (distance(c, kWhite) < 0.05) continue;
      ++face;
      (x < n / 2 ? left : right) += luma(c);
      (x < n / 2 ? nl : nr) += 1;
    }
  }
  EXPECT_GT(face, n * n / 4);
  EXPECT_LT(face, n * n * 9 / 10);
  ASSERT_GT(nl, 0);
  ASSERT_GT(nr, 0);
  EXPECT_GT(right / nr, left / nl + 0.2) << "low values (dark) on the left, high (bright) on the right";
  // A pixel near the centre shows the middle of the scale.
  EXPECT_LT(distance(pixel(img, n, n / 2, n / 2), dr::colour_map(0.5)), 0.12);
}

TEST(VertexMap, ConstantValuesAndMask) {
  const int n = 32;
  const auto v = static_cast<std::size_t>(small_model().vertex_count());
  const std::vector<double> constant(v, 0.25);
  const Rgb expected = dr::colour_map(0.25);
  const std::vector<float> img = dr::draw_vertex_map(Device::cpu(), small_model(), constant, style(n));
  dr::MapStyle masked = style(n);
  masked.mask.assign(v, 0);
  const std::vector<double> with_nan(v, std::nan(""));  // masked values may be NaN
  const std::vector<float> grey = dr::draw_vertex_map(Device::cpu(), small_model(), with_nan, masked);
  int inside = 0;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      const Rgb c = pixel(img, n, y, x);
      if (distance(c, kWhite) < 1e-6) continue;
      // Face pixels: the constant colour, or a blend with the background along the silhouette.
      const bool blend = distance(c, kWhite) + distance(c, expected) <= distance(kWhite, expected) + 1e-4;
      EXPECT_TRUE(blend) << y << ", " << x;
      if (distance(c, expected) < 1e-4) {
        ++inside;
        EXPECT_LT(distance(pixel(grey, n, y, x), dr::kMaskedColour), 1e-4) << y << ", " << x;
      }
    }
  }
  EXPECT_GT(inside, n * n / 4);
}

TEST(VertexMap, PanelHoldsThreeViewsThatMirror) {
  const int n = 32;
  const auto& m = small_model();
  std::vector<double> v(static_cast<std::size_t>(m.vertex_count()));  // left-right symmetric values
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = std::fabs(m.mesh.uv[2 * i] - 0.5) + m.mesh.uv[2 * i + 1];
  dr::MapStyle s = style(n);
  s.lo = 0;
  s.hi = 1.5;
  s.shading = 0.3f;
  const std::vector<float> panel = dr::draw_vertex_map_panel(Device::cpu(), m, v, s);
  ASSERT_EQ(panel.size(), static_cast<std::size_t>(n * 3 * n * 3));
  const std::vector<float> single = dr::draw_vertex_map(Device::cpu(), m, v, s);
  double mirror = 0, sides = 0;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      EXPECT_EQ(pixel(panel, 3 * n, y, n + x), pixel(single, n, y, x)) << y << ", " << x;
      mirror += distance(pixel(panel, 3 * n, y, x), pixel(panel, 3 * n, y, 3 * n - 1 - x));
      sides += distance(pixel(panel, 3 * n, y, x), pixel(panel, 3 * n, y, n + x));
    }
  }
  EXPECT_LT(mirror / (n * n), 0.01) << "yaw -40 and +40 views of a symmetric map mirror each other";
  EXPECT_GT(sides / (n * n), 0.05) << "the side view differs from the frontal one";
}

TEST(VertexMap, EmuDrawsWhatCpuDraws) {
  const std::vector<double> u = vertex_u();
  dr::MapStyle s = style(24);
  s.diverging = true;
  s.lo = -1;
  s.hi = 1;
  const std::vector<float> cpu = dr::draw_vertex_map(Device::cpu(), small_model(), u, s);
  const std::vector<float> emu = dr::draw_vertex_map(Device::emu(), small_model(), u, s);
  ASSERT_EQ(cpu.size(), emu.size());
  for (std::size_t i = 0; i < cpu.size(); ++i) EXPECT_NEAR(cpu[i], emu[i], 1e-4) << i;
}

TEST(VertexMap, Errors) {
  const auto& m = small_model();
  const auto v = static_cast<std::size_t>(m.vertex_count());
  const std::vector<double> short_values(v - 1, 0.5);
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, short_values, style(16)); })
                .find("vertex map: 288 values for 289 vertices"),
            std::string::npos);
  std::vector<double> nan_values(v, 0.5);
  nan_values[7] = std::nan("");
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, nan_values, style(16)); }).find("value 7 is nan"),
            std::string::npos);
  const std::vector<double> values(v, 0.5);
  dr::MapStyle s = style(16);
  s.lo = s.hi = 1;
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, values, s); }).find("lo < hi"), std::string::npos);
  s = style(16);
  s.mask.assign(3, 1);
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, values, s); }).find("mask has 3 entries"),
            std::string::npos);
  s = style(0);
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, values, s); }).find("image size 0"), std::string::npos);
  s = style(16);
  s.yaw_deg = 120;
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, values, s); }).find("yaw 120"), std::string::npos);
  s = style(16);
  s.shading = 2;
  EXPECT_NE(error_of([&] { dr::draw_vertex_map(Device::cpu(), m, values, s); }).find("shading 2"), std::string::npos);
}

TEST(TexelMap, UvImageBlockLayout) {
  const std::vector<double> values{0, 1, 2, 3, 4, 5};  // 2 x 3
  dr::MapStyle s;
  s.lo = 0;
  s.hi = 5;
  s.mask = {1, 1, 1, 1, 0, 1};
  const int scale = 4;
  const std::vector<float> img = dr::texel_map_image(values, 2, 3, s, scale);
  ASSERT_EQ(img.size(), static_cast<std::size_t>(2 * scale * 3 * scale * 3));
  for (int y = 0; y < 2 * scale; ++y) {
    for (int x = 0; x < 3 * scale; ++x) {
      const int k = (y / scale) * 3 + x / scale;
      const Rgb want = k == 4 ? dr::kMaskedColour : dr::colour_map(values[k] / 5.0);
      EXPECT_EQ(pixel(img, 3 * scale, y, x), want) << y << ", " << x;
    }
  }
  EXPECT_NE(error_of([&] { dr::texel_map_image(values, 3, 3, s, 2); }).find("6 values for a 3 x 3 grid"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dr::texel_map_image(values, 2, 3, s, 0); }).find("scale 0"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::texel_map_image(values, 2, 3, s, 1 << 14); }).find("too large"), std::string::npos);
}

TEST(TexelMap, RowsAndColumnsLandOnTheFace) {
  const int n = 48, g = 4;
  std::vector<double> rows(g * g), cols(g * g);
  for (int r = 0; r < g; ++r) {
    for (int c = 0; c < g; ++c) {
      rows[r * g + c] = r;
      cols[r * g + c] = c;
    }
  }
  dr::MapStyle s = style(n);
  s.lo = 0;
  s.hi = g - 1;
  const std::vector<float> by_row = dr::draw_texel_map_on_face(Device::cpu(), small_model(), rows, g, g, s);
  const std::vector<float> by_col = dr::draw_texel_map_on_face(Device::cpu(), small_model(), cols, g, g, s);
  // Face rows from top to bottom: the top of the face shows row 0 (low), the bottom row g - 1 (high);
  // the viewer's left shows column 0.
  int top = n, bottom = -1, first = n, last = -1;
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) {
      if (distance(pixel(by_row, n, y, x), kWhite) < 0.05) continue;
      top = std::min(top, y);
      bottom = std::max(bottom, y);
      first = std::min(first, x);
      last = std::max(last, x);
    }
  }
  ASSERT_LT(top + 8, bottom);
  ASSERT_LT(first + 8, last);
  EXPECT_LT(distance(pixel(by_row, n, top + 2, n / 2), dr::colour_map(0.0)), 0.05);
  EXPECT_LT(distance(pixel(by_row, n, bottom - 2, n / 2), dr::colour_map(1.0)), 0.05);
  EXPECT_LT(distance(pixel(by_col, n, n / 2, first + 2), dr::colour_map(0.0)), 0.05);
  EXPECT_LT(distance(pixel(by_col, n, n / 2, last - 2), dr::colour_map(1.0)), 0.05);
  // The panel's middle view is the single view.
  const std::vector<float> panel = dr::draw_texel_map_panel(Device::cpu(), small_model(), rows, g, g, s);
  ASSERT_EQ(panel.size(), by_row.size() * 3);
  for (int y = 0; y < n; ++y) {
    for (int x = 0; x < n; ++x) EXPECT_EQ(pixel(panel, 3 * n, y, n + x), pixel(by_row, n, y, x));
  }
  EXPECT_NE(error_of([&] { dr::draw_texel_map_on_face(Device::cpu(), small_model(), rows, 3, 3, s); })
                .find("a 3 x 3 grid does not divide the model's 32 x 32 texture"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dr::draw_texel_map_on_face(Device::cpu(), small_model(), rows, 8, 8, s); })
                .find("16 values for a 8 x 8 grid"),
            std::string::npos);
}

TEST(Downsample, BoxAverageAndErrors) {
  const int ht = 4, wt = 6;
  std::vector<float> tex(ht * wt * 3);
  for (std::size_t i = 0; i < tex.size(); ++i) tex[i] = static_cast<float>((i * 37) % 11);
  const std::vector<float> same = dr::downsample_texture(tex.data(), ht, wt, 1);
  EXPECT_EQ(same, tex);
  const std::vector<float> half = dr::downsample_texture(tex.data(), ht, wt, 2);
  ASSERT_EQ(half.size(), static_cast<std::size_t>(2 * 3 * 3));
  for (int y = 0; y < 2; ++y) {
    for (int x = 0; x < 3; ++x) {
      for (int c = 0; c < 3; ++c) {
        double s = 0;
        for (int dy = 0; dy < 2; ++dy) {
          for (int dx = 0; dx < 2; ++dx) s += tex[((2 * y + dy) * wt + 2 * x + dx) * 3 + c];
        }
        EXPECT_FLOAT_EQ(half[(y * 3 + x) * 3 + c], static_cast<float>(s / 4)) << y << ", " << x << ", " << c;
      }
    }
  }
  EXPECT_NE(error_of([&] { dr::downsample_texture(tex.data(), ht, wt, 4); }).find("factor 4 does not divide the 4 x 6"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dr::downsample_texture(tex.data(), ht, wt, 0); }).find("factor 0"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::downsample_texture(nullptr, ht, wt, 2); }).find("null"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::downsample_texture(tex.data(), 0, wt, 1); }).find("not positive"), std::string::npos);
}

TEST(IdentityFeatures, EqualEvaluateVerticesAndDownsampledTexture) {
  const auto& m = small_model();
  const dr::Identity id = dr::make_identity(m, 11, 3);
  const auto v3 = static_cast<std::size_t>(3 * m.vertex_count());
  std::vector<float> verts(v3), texels(16 * 16 * 3);
  dr::identity_features(m, id, 2, verts.data(), texels.data());
  EXPECT_EQ(verts, dr::vertices(m, id));
  const std::vector<float> tex = dr::texture(m, id);
  EXPECT_EQ(texels, dr::downsample_texture(tex.data(), 32, 32, 2));
  std::vector<float> full(32 * 32 * 3);
  dr::identity_features(m, id, 1, nullptr, full.data());
  EXPECT_EQ(full, tex);
  EXPECT_NE(error_of([&] { dr::identity_features(m, id, 5, nullptr, full.data()); }).find("factor 5 does not divide"),
            std::string::npos);
  dr::Identity bad = id;
  bad.shape.pop_back();
  EXPECT_NE(error_of([&] { dr::identity_features(m, bad, 1, verts.data(), nullptr); })
                .find("the identity has 5 shape and 5 texture coefficients, the model 6 and 5"),
            std::string::npos);
}

}  // namespace
