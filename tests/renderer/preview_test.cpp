// The CPU preview renderer: a known quad covers exactly the expected pixels; back faces are culled;
// the nearer of two overlapping triangles wins; the texture and the light reach the image.
#include <gtest/gtest.h>

#include "core/error.h"
#include "renderer/preview.h"

namespace deeper::render {
namespace {

// A 20 x 20 mm square at depth z, two triangles, counter-clockwise seen from +z.
Mesh quad_mesh() {
  Mesh m;
  m.uv = {0, 0, 1, 0, 0, 1, 1, 1};
  m.triangles = {0, 2, 3, 0, 3, 1};
  return m;
}

std::vector<float> quad_positions(float half, float z, float dx = 0) {
  return {-half + dx, half, z, half + dx, half, z, -half + dx, -half, z, half + dx, -half, z};
}

PreviewView flat_view() {
  PreviewView v;
  v.width = v.height = 64;
  v.pixels_per_mm = 2.0f;
  v.center_y = 0.0f;
  v.ambient = 1.0f;
  v.diffuse = 0.0f;
  v.background = {0, 0, 0};
  v.supersample = 1;
  return v;
}

TEST(RendererPreview, QuadCoversItsPixels) {
  const Mesh mesh = quad_mesh();
  const std::vector<float> white(2 * 2 * 3, 1.0f);
  const auto image = render_preview(mesh, quad_positions(10, 0), white, 2, 2, flat_view());
  // x, y in [-10, 10] mm -> pixels [12, 52) on both axes (centres 12.5 .. 51.5).
  int covered = 0;
  for (int y = 0; y < 64; ++y)
    for (int x = 0; x < 64; ++x) {
      const bool inside = x >= 12 && x < 52 && y >= 12 && y < 52;
      const float r = image[(static_cast<std::size_t>(y) * 64 + x) * 3];
      EXPECT_EQ(r, inside ? 1.0f : 0.0f) << x << "," << y;
      covered += r > 0;
    }
  EXPECT_EQ(covered, 40 * 40);
}

TEST(RendererPreview, BackFacesAreCulledAndNearerWins) {
  Mesh mesh = quad_mesh();
  const std::vector<float> white(12, 1.0f);
  std::swap(mesh.triangles[1], mesh.triangles[2]);
  std::swap(mesh.triangles[4], mesh.triangles[5]);
  auto image = render_preview(mesh, quad_positions(10, 0), white, 2, 2, flat_view());
  for (float v : image) EXPECT_EQ(v, 0.0f);
  // Two quads: a red one at z = 0 and a green one at z = 5, overlapping in x in [0, 10].
  Mesh two = quad_mesh();
  two.uv = {0.1f, 0.5f, 0.1f, 0.5f, 0.1f, 0.5f, 0.1f, 0.5f, 0.9f, 0.5f, 0.9f, 0.5f, 0.9f, 0.5f, 0.9f, 0.5f};
  two.triangles.insert(two.triangles.end(), {4, 6, 7, 4, 7, 5});
  std::vector<float> pos = quad_positions(10, 0, -5);
  const auto near = quad_positions(10, 5, 5);
  pos.insert(pos.end(), near.begin(), near.end());
  const std::vector<float> tex{1, 0, 0, 0, 1, 0};  // 1 x 2: red left, green right
  image = render_preview(two, pos, tex, 1, 2, flat_view());
  auto pixel = [&](int x, int y, int c) { return image[(static_cast<std::size_t>(y) * 64 + x) * 3 + c]; };
  EXPECT_EQ(pixel(34, 32, 1), 1.0f) << "overlap shows the nearer (green) quad";
  EXPECT_EQ(pixel(34, 32, 0), 0.0f);
  EXPECT_EQ(pixel(10, 32, 0), 1.0f) << "red where only the far quad is";
}

TEST(RendererPreview, LambertShadingAndErrors) {
  const Mesh mesh = quad_mesh();
  const std::vector<float> white(12, 1.0f);
  PreviewView v = flat_view();
  v.ambient = 0.2f;
  v.diffuse = 0.5f;
  v.light = {0, 0, 1};
  auto image = render_preview(mesh, quad_positions(10, 0), white, 2, 2, v);
  EXPECT_NEAR(image[(32 * 64 + 32) * 3], 0.7f, 1e-6f);
  v.yaw_deg = 60.0f;  // the normal turns 60 degrees away from the light
  v.pivot_z = 0.0f;
  image = render_preview(mesh, quad_positions(10, 0), white, 2, 2, v);
  EXPECT_NEAR(image[(32 * 64 + 32) * 3], 0.2f + 0.5f * 0.5f, 1e-5f);
  EXPECT_THROW(render_preview(mesh, std::vector<float>(11), white, 2, 2, flat_view()), Error);
  EXPECT_THROW(render_preview(mesh, quad_positions(10, 0), white, 3, 2, flat_view()), Error);
}

}  // namespace
}  // namespace deeper::render
