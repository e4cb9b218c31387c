// Watertightness: closed tessellated quads and fans cover every pixel centre inside them exactly
// once (counted by the per-pixel fragment counter, before the depth test) and none outside, for
// pixel-centre-aligned edges, sub-pixel offsets, rotations, sub-pixel triangles, partly off-screen
// meshes and perspective; culling by facing and by the camera plane. On cpu and emu alike.
#include "raster_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <string>

#include "kernels/raster/camera.h"

namespace {

using namespace raster_test;

struct GridImage {
  double ox, oy, cell, degrees;  // origin (screen px), cell size (px), rotation
};

constexpr int kN = 20;  // 20 x 20 quads, 800 triangles

// One image of the shared grid topology: vertex (r, c) at origin + c·cell·ex + r·cell·ey, snapped to
// 1/256 px, w = 1 (exact snapping on a power-of-two image). Returns the four corners.
std::vector<double> add_grid_image(Mesh& m, const GridImage& g, int width, int height) {
  const double a = g.degrees * std::numbers::pi / 180.0;
  const double ex = std::cos(a), ey = std::sin(a);
  std::vector<double> corners;
  for (int r = 0; r <= kN; ++r) {
    for (int c = 0; c <= kN; ++c) {
      const double sx = snap256(g.ox + g.cell * (c * ex - r * ey)), sy = snap256(g.oy + g.cell * (c * ey + r * ex));
      push_screen_vertex(m.pos, sx, sy, width, height);
      if ((r == 0 || r == kN) && (c == 0 || c == kN)) corners.insert(corners.end(), {sx, sy});
    }
  }
  // corners in row-major order (0,0), (0,N), (N,0), (N,N): reorder into a polygon
  return {corners[0], corners[1], corners[2], corners[3], corners[6], corners[7], corners[4], corners[5]};
}

// Checks one image: count 1 and a valid id inside, 0 and -1 outside, at most one on the boundary.
// Returns the number of covered pixels.
std::int64_t expect_covers_once(const Raster& r, std::int64_t b, const std::vector<double>& poly, double tol,
                                std::int64_t triangles, const std::string& what) {
  std::int64_t covered = 0, errors = 0;
  for (int j = 0; j < r.height; ++j) {
    for (int i = 0; i < r.width; ++i) {
      const int side = polygon_side(poly, i + 0.5, j + 0.5, tol);
      const std::uint32_t n = r.count(b, i, j);
      const std::int32_t id = r.id(b, i, j);
      const bool ok = (side > 0 && n == 1 && id >= 0 && id < triangles) || (side < 0 && n == 0 && id == -1) ||
                      (side == 0 && n <= 1 && (n == 1) == (id >= 0 && id < triangles));
      covered += n == 1;
      if (!ok && errors++ < 5) {
        ADD_FAILURE() << what << ": image " << b << " pixel (" << i << ", " << j << ") side " << side << " count " << n
                      << " id " << id;
      }
    }
  }
  EXPECT_EQ(errors, 0) << what;
  return covered;
}

const std::vector<GridImage> kGrids = {
    {8.5, 8.5, 2.0, 0},       // every vertex on a pixel centre: edges and diagonals through centres
    {9.0, 7.0, 2.0, 0},       // vertices on pixel corners
    {10.25, 6.75, 1.5, 0},    // edges through centres in one direction only
    {30.3, 3.1, 1.37, 33.0},  // rotated, sub-pixel offsets
    {50.7, 20.2, 1.1, 90.0},  // a quarter turn
    {20.1, 25.9, 0.37, 17.0}, // sub-pixel triangles (the face's at 64 px)
    {-9.3, -11.6, 2.9, 8.0},  // partly off the image
    {33.0, 33.0, 1.25, 45.0}, // diagonal edges
};

TEST(RasterCoverage, TessellatedQuadsCoverEachInsidePixelExactlyOnce) {
  const int size = 64;
  Mesh m;
  m.batch = static_cast<std::int64_t>(kGrids.size());
  m.vertices = (kN + 1) * (kN + 1);
  m.tri = grid_triangles(kN, true);
  std::vector<std::vector<double>> polys;
  for (const auto& g : kGrids) polys.push_back(add_grid_image(m, g, size, size));
  for (const Device& device : {kCpu, kEmu}) {
    const Raster r = rasterize(device, m, size, size);
    for (std::int64_t b = 0; b < m.batch; ++b) {
      const auto& g = kGrids[static_cast<std::size_t>(b)];
      // Axis-aligned images snap exactly: only centres exactly on the boundary are ambiguous.
      const double tol = g.degrees == 0 ? 1e-9 : 1.0 / 256;
      const std::int64_t covered = expect_covers_once(r, b, polys[static_cast<std::size_t>(b)], tol, m.triangles(),
                                                      device.name());
      EXPECT_GT(covered, 0);
      EXPECT_EQ(r.culled[static_cast<std::size_t>(b)], 0u);
    }
    // Image 0 spans [8.5, 48.5]^2 with its boundary on pixel centres: the left and top edges are
    // covered by the fill rule, the right and bottom ones are not, so exactly columns and rows 8..47.
    for (int j = 0; j < size; ++j) {
      for (int i = 0; i < size; ++i) {
        const bool inside = i >= 8 && i <= 47 && j >= 8 && j <= 47;
        ASSERT_EQ(r.count(0, i, j), inside ? 1u : 0u) << device.name() << " pixel " << i << ", " << j;
      }
    }
  }
}

TEST(RasterCoverage, FacingFlagsCullWholeMeshesAndWindingDoesNotMatter) {
  const int size = 64;
  Mesh m;
  m.batch = 2;
  m.vertices = (kN + 1) * (kN + 1);
  m.tri = grid_triangles(kN, false);
  add_grid_image(m, kGrids[0], size, size);
  add_grid_image(m, kGrids[3], size, size);
  Mesh flipped = m;  // every triangle reversed: counter-clockwise in NDC, front faces
  for (std::size_t t = 0; t < flipped.tri.size(); t += 3) std::swap(flipped.tri[t + 1], flipped.tri[t + 2]);
  Mesh mixed = m;  // every third triangle reversed: inconsistent winding, still one surface
  for (std::size_t t = 0; t < mixed.tri.size(); t += 9) std::swap(mixed.tri[t + 1], mixed.tri[t + 2]);
  for (const Device& device : {kCpu, kEmu}) {
    const Raster none = rasterize(device, m, size, size);
    const Raster back = rasterize(device, m, size, size, dk::RasterCull::back);
    const Raster front = rasterize(device, m, size, size, dk::RasterCull::front);
    const Raster flipped_back = rasterize(device, flipped, size, size, dk::RasterCull::back);
    const Raster flipped_front = rasterize(device, flipped, size, size, dk::RasterCull::front);
    const Raster mixed_none = rasterize(device, mixed, size, size);
    std::int64_t covered0 = 0;  // image 0: exactly the 40 x 40 pixels (previous test)
    for (std::size_t k = 0; k < none.fragments.size(); ++k) {
      if (k < static_cast<std::size_t>(size * size)) covered0 += none.fragments[k];
      EXPECT_EQ(back.fragments[k], 0u);
      EXPECT_EQ(front.fragments[k], none.fragments[k]);
      EXPECT_EQ(flipped_back.fragments[k], none.fragments[k]);
      EXPECT_EQ(flipped_front.fragments[k], 0u);
      EXPECT_EQ(mixed_none.fragments[k], none.fragments[k]);
      ASSERT_LE(none.fragments[k], 1u);
    }
    EXPECT_EQ(covered0, 1600);
  }
}

// A fan of triangles around a centre vertex that sits exactly on a pixel centre.
Mesh fan(double cx, double cy, const std::vector<double>& rim, int size) {
  Mesh m;
  m.batch = 1;
  push_screen_vertex(m.pos, cx, cy, size, size);
  const auto n = static_cast<std::int32_t>(rim.size() / 2);
  for (std::int32_t k = 0; k < n; ++k) {
    push_screen_vertex(m.pos, rim[2 * static_cast<std::size_t>(k)], rim[2 * static_cast<std::size_t>(k) + 1], size, size);
    m.tri.insert(m.tri.end(), {0, 1 + k, 1 + (k + 1) % n});
  }
  m.vertices = n + 1;
  return m;
}

TEST(RasterCoverage, FansAroundAPixelCentreCoverItOnce) {
  const int size = 64;
  // Spokes along the axes and diagonals, through pixel centres; the rim is a square.
  std::vector<double> square;
  const int dirs[8][2] = {{8, 0}, {8, 8}, {0, 8}, {-8, 8}, {-8, 0}, {-8, -8}, {0, -8}, {8, -8}};
  for (const auto& d : dirs) square.insert(square.end(), {24.5 + d[0], 24.5 + d[1]});
  const std::vector<double> square_poly = {16.5, 16.5, 32.5, 16.5, 32.5, 32.5, 16.5, 32.5};
  // 13 spokes at irregular angles to a snapped circle, clockwise on the screen.
  std::vector<double> circle;
  for (int k = 0; k < 13; ++k) {
    const double a = -2.0 * std::numbers::pi * (k + 0.1 * (k % 3)) / 13.0;
    circle.insert(circle.end(), {snap256(40.5 + 9.3 * std::cos(a)), snap256(30.5 + 9.3 * std::sin(a))});
  }
  for (const Device& device : {kCpu, kEmu}) {
    const Raster sq = rasterize(device, fan(24.5, 24.5, square, size), size, size);
    EXPECT_EQ(sq.count(0, 24, 24), 1u) << device.name();
    expect_covers_once(sq, 0, square_poly, 1e-9, 8, device.name() + " square fan");
    const Raster ci = rasterize(device, fan(40.5, 30.5, circle, size), size, size);
    EXPECT_EQ(ci.count(0, 40, 30), 1u) << device.name();
    expect_covers_once(ci, 0, circle, 1e-9, 13, device.name() + " circular fan");
  }
}

TEST(RasterCoverage, PerspectiveTiltedGridIsWatertight) {
  const int width = 72, height = 56;
  const auto camera = dk::PerspectiveCamera::from_fov_y(40.0, width, height, 1.0, 100.0);
  const auto proj = dk::projection_matrix(camera);
  Mesh m;
  m.batch = 2;
  m.vertices = (kN + 1) * (kN + 1);
  m.tri = grid_triangles(kN, true);
  std::vector<std::vector<double>> polys;
  for (int b = 0; b < 2; ++b) {
    // A 6 x 6 square in the plane tilted by 55 (or -35) degrees about x and 20 about y, centred
    // 10 units in front of the camera.
    const double ax = (b == 0 ? 55.0 : -35.0) * std::numbers::pi / 180.0, ay = 20.0 * std::numbers::pi / 180.0;
    std::vector<float> xyz;
    std::vector<double> corners;
    for (int r = 0; r <= kN; ++r) {
      for (int c = 0; c <= kN; ++c) {
        const double s = 6.0 * c / kN - 3.0, t = 6.0 * r / kN - 3.0;
        const double y = t * std::cos(ax), z0 = t * std::sin(ax);
        const double x = s * std::cos(ay) + z0 * std::sin(ay), z = -s * std::sin(ay) + z0 * std::cos(ay) - 10.0;
        xyz.insert(xyz.end(), {static_cast<float>(x), static_cast<float>(y), static_cast<float>(z)});
        if ((r == 0 || r == kN) && (c == 0 || c == kN)) {
          const auto px = dk::project_to_pixel(camera, xyz[xyz.size() - 3], xyz[xyz.size() - 2], xyz.back());
          corners.insert(corners.end(), {px[0], px[1]});
        }
      }
    }
    std::vector<float> clip(static_cast<std::size_t>(m.vertices) * 4);
    dk::transform_points(proj, xyz.data(), m.vertices, clip.data());
    m.pos.insert(m.pos.end(), clip.begin(), clip.end());
    polys.push_back({corners[0], corners[1], corners[2], corners[3], corners[6], corners[7], corners[4], corners[5]});
  }
  for (const Device& device : {kCpu, kEmu}) {
    const Raster r = rasterize(device, m, height, width);
    for (int b = 0; b < 2; ++b) {
      // fp32 projection and 1/256 snapping move the outline by less than 0.01 px
      EXPECT_GT(expect_covers_once(r, b, polys[static_cast<std::size_t>(b)], 0.01, m.triangles(), device.name()), 300);
    }
  }
}

TEST(RasterCoverage, TrianglesTouchingTheCameraPlaneAreCulledAndCounted) {
  const int size = 32;
  Mesh m;
  m.batch = 1;
  // Four triangles over the same pixels; w of one vertex: 1 (kept), 0 (on the plane), -1 (behind),
  // 1e-6 (= min_w: culled), 2e-6 (kept).
  const double ws[5] = {1.0, 0.0, -1.0, 1e-6, 2e-6};
  for (int k = 0; k < 5; ++k) {
    push_screen_vertex(m.pos, 4, 4, size, size);
    push_screen_vertex(m.pos, 28, 4, size, size);
    push_screen_vertex(m.pos, 4, 28, size, size, ws[k]);
    m.tri.insert(m.tri.end(), {3 * k, 3 * k + 1, 3 * k + 2});
  }
  m.vertices = 15;
  for (const Device& device : {kCpu, kEmu}) {
    const Raster r = rasterize(device, m, size, size);
    EXPECT_EQ(r.culled[0], 3u) << device.name();
    std::int64_t covered = 0;
    for (int j = 0; j < size; ++j) {
      for (int i = 0; i < size; ++i) {
        const std::int32_t id = r.id(0, i, j);
        EXPECT_TRUE(id == -1 || id == 0 || id == 4) << device.name() << " id " << id;
        covered += id >= 0;
      }
    }
    EXPECT_GT(covered, 200);
  }
}

}  // namespace
