// Geometry against analytic values: the camera model (known points land on the expected pixels,
// clip planes map to NDC depth -1 and +1), perspective-correct barycentrics and depth of a tilted
// triangle against ray-plane intersections in double, interpolated positions on the surface, and
// the depth test (nearer wins; equal depth goes to the smaller id). On cpu and emu alike.
#include "raster_test_util.h"

#include "kernels/raster/camera.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>

namespace {

using namespace raster_test;

std::array<double, 4> clip_of(const std::array<float, 16>& m, double x, double y, double z) {
  std::array<double, 4> c{};
  for (int r = 0; r < 4; ++r) c[r] = m[4 * r] * x + m[4 * r + 1] * y + m[4 * r + 2] * z + m[4 * r + 3];
  return c;
}

TEST(RasterCamera, KnownPointsLandOnTheirPixels) {
  const int width = 53, height = 37;
  const auto cam = dk::PerspectiveCamera::from_fov_y(30.0, width, height, 10.0, 1000.0);
  EXPECT_NEAR(cam.fy, 0.5 * height / std::tan(15.0 * std::acos(-1.0) / 180.0), 1e-12);
  const auto m = dk::projection_matrix(cam);
  // The optical axis hits the image centre; a point at (x, y) = (f/10, -f/20) px per unit at
  // depth 10 lands 1 px right of and 0.5 px below it (rows grow down).
  const auto axis = dk::project_to_pixel(cam, 0, 0, -50);
  EXPECT_DOUBLE_EQ(axis[0], 26.5);
  EXPECT_DOUBLE_EQ(axis[1], 18.5);
  const auto p = dk::project_to_pixel(cam, 1.0 / cam.fx * 10, -0.5 / cam.fy * 10, -10);
  EXPECT_NEAR(p[0], 27.5, 1e-12);
  EXPECT_NEAR(p[1], 19.0, 1e-12);
  // Near and far planes map to NDC depth -1 and +1; w = -z.
  const auto near = clip_of(m, 0.3, -0.2, -10.0), far = clip_of(m, 3, 2, -1000.0);
  EXPECT_NEAR(near[2] / near[3], -1.0, 1e-6);
  EXPECT_NEAR(far[2] / far[3], 1.0, 1e-6);
  EXPECT_NEAR(near[3], 10.0, 1e-6);
  // Points at several depths through the matrix agree with the pixel formula, and a small
  // triangle around each point's pixel centre covers exactly that pixel.
  const double points[][3] = {{0.0, 0.0, -40.0}, {3.1, 1.7, -25.0}, {-7.5, -4.2, -60.0}, {9.0, -2.0, -33.0}};
  for (const auto& pt : points) {
    const auto px = dk::project_to_pixel(cam, pt[0], pt[1], pt[2]);
    const auto c = clip_of(m, pt[0], pt[1], pt[2]);
    EXPECT_NEAR((c[0] / c[3] + 1) * 0.5 * width, px[0], 1e-4);
    EXPECT_NEAR((1 - c[1] / c[3]) * 0.5 * height, px[1], 1e-4);
    const int i = static_cast<int>(std::floor(px[0])), j = static_cast<int>(std::floor(px[1]));
    ASSERT_TRUE(i >= 0 && i < width && j >= 0 && j < height);
    // A 0.3 px triangle around the pixel centre (i + 0.5, j + 0.5) at the point's depth, made in
    // camera space by unprojecting, then projected by the matrix.
    Mesh mesh;
    mesh.batch = 1;
    mesh.vertices = 3;
    mesh.tri = {0, 1, 2};
    const double offsets[3][2] = {{-0.15, 0.1}, {0.15, 0.1}, {0.0, -0.15}};
    for (const auto& o : offsets) {
      const double sx = i + 0.5 + o[0], sy = j + 0.5 + o[1], d = -pt[2];
      const auto v = clip_of(m, (sx - cam.cx) / cam.fx * d, -(sy - cam.cy) / cam.fy * d, pt[2]);
      for (const double x : v) mesh.pos.push_back(static_cast<float>(x));
    }
    for (const Device& device : {kCpu, kEmu}) {
      const Raster r = rasterize(device, mesh, height, width);
      for (int jj = 0; jj < height; ++jj) {
        for (int ii = 0; ii < width; ++ii) {
          ASSERT_EQ(r.id(0, ii, jj), ii == i && jj == j ? 0 : -1) << device.name() << " " << ii << ", " << jj;
        }
      }
      const double ndc_z = c[2] / c[3];
      EXPECT_NEAR(r.depth(0, i, j), ndc_z, 1e-5);
    }
  }
}

TEST(RasterGeometry, PerspectiveCorrectBarycentricsAndDepthOfATiltedTriangle) {
  const int width = 64, height = 48;
  const auto cam = dk::PerspectiveCamera::from_fov_y(45.0, width, height, 0.5, 50.0);
  const auto m = dk::projection_matrix(cam);
  // Strongly tilted: the vertices lie at depths 2, 3.5 and 9.
  const double P[3][3] = {{-1.2, -0.9, -2.0}, {2.5, -0.6, -3.5}, {0.4, 2.8, -9.0}};
  Mesh mesh;
  mesh.batch = 1;
  mesh.vertices = 3;
  mesh.tri = {0, 1, 2};
  std::vector<float> xyz;
  for (const auto& p : P) {
    const auto c = clip_of(m, p[0], p[1], p[2]);
    for (const double x : c) mesh.pos.push_back(static_cast<float>(x));
    for (int k = 0; k < 3; ++k) xyz.push_back(static_cast<float>(p[k]));
  }
  for (const Device& device : {kCpu, kEmu}) {
    const Raster r = rasterize(device, mesh, height, width);
    const auto surface = interpolate(device, mesh, r, xyz, 3, false);
    int covered = 0;
    double worst_b = 0, worst_z = 0, worst_p = 0;
    for (int j = 0; j < height; ++j) {
      for (int i = 0; i < width; ++i) {
        if (r.id(0, i, j) != 0) continue;
        ++covered;
        // The ray through the pixel centre, intersected with the triangle's plane (double).
        const double d[3] = {(i + 0.5 - cam.cx) / cam.fx, -(j + 0.5 - cam.cy) / cam.fy, -1.0};
        const double e1[3] = {P[1][0] - P[0][0], P[1][1] - P[0][1], P[1][2] - P[0][2]};
        const double e2[3] = {P[2][0] - P[0][0], P[2][1] - P[0][1], P[2][2] - P[0][2]};
        // Solve t d = P0 + b1 e1 + b2 e2 by Cramer's rule.
        const auto det3 = [](const double* a, const double* b, const double* c) {
          return a[0] * (b[1] * c[2] - b[2] * c[1]) - a[1] * (b[0] * c[2] - b[2] * c[0]) +
                 a[2] * (b[0] * c[1] - b[1] * c[0]);
        };
        const double md[3] = {-d[0], -d[1], -d[2]}, p0[3] = {-P[0][0], -P[0][1], -P[0][2]};
        const double det = det3(e1, e2, md);
        const double b1 = det3(p0, e2, md) / det, b2 = det3(e1, p0, md) / det, t = det3(e1, e2, p0) / det;
        const double b0 = 1 - b1 - b2;
        const double z = t * d[2];
        const auto c = clip_of(m, t * d[0], t * d[1], z);
        worst_b = std::max({worst_b, std::abs(r.u(0, i, j) - b0), std::abs(r.v(0, i, j) - b1)});
        worst_z = std::max(worst_z, std::abs(r.depth(0, i, j) - c[2] / c[3]));
        const float* s = &surface[3 * (static_cast<std::size_t>(j) * width + i)];
        worst_p = std::max({worst_p, std::abs(s[0] - t * d[0]), std::abs(s[1] - t * d[1]), std::abs(s[2] - z)});
        EXPECT_GE(b0, -1e-9);  // the covered pixel centre really is inside
        EXPECT_GE(b1, -1e-9);
        EXPECT_GE(b2, -1e-9);
      }
    }
    EXPECT_GT(covered, 200) << device.name();
    EXPECT_LT(worst_b, 1e-6) << device.name();
    EXPECT_LT(worst_z, 1e-6) << device.name();
    EXPECT_LT(worst_p, 5e-6) << device.name();  // camera-space units, surface 2 to 9 away (fp32 ulp there ~5e-7)
  }
}

TEST(RasterGeometry, NearerTriangleWinsAndEqualDepthGoesToTheSmallerId) {
  const int size = 32;
  Mesh m;
  m.batch = 2;
  m.vertices = 9;
  // Triangles 0 and 1 overlap; triangle 2 overlaps both in the middle.
  m.tri = {0, 1, 2, 3, 4, 5, 6, 7, 8};
  const double z_image[2][3] = {{0.5, -0.5, 0.9},   // image 0: triangle 1 nearest, then 0, then 2
                                {0.0, 0.0, 0.0}};   // image 1: all at depth 0 exactly
  for (int b = 0; b < 2; ++b) {
    const double xy[3][3][2] = {{{2, 2}, {26, 2}, {2, 26}}, {{6, 6}, {30, 6}, {6, 30}}, {{4, 4}, {28, 4}, {4, 28}}};
    for (int t = 0; t < 3; ++t) {
      for (const auto& v : xy[t]) push_screen_vertex(m.pos, v[0], v[1], size, size, 1.0, z_image[b][t]);
    }
  }
  // The same geometry, triangles in reverse id order: the depths still decide in image 0.
  Mesh rev = m;
  rev.tri = {6, 7, 8, 3, 4, 5, 0, 1, 2};
  for (const Device& device : {kCpu, kEmu}) {
    const Raster r = rasterize(device, m, size, size), rr = rasterize(device, rev, size, size);
    int all_three = 0;
    for (int j = 0; j < size; ++j) {
      for (int i = 0; i < size; ++i) {
        const std::uint32_t n = r.count(0, i, j);
        ASSERT_EQ(n, r.count(1, i, j));
        if (n == 0) continue;
        // which triangles cover (i, j): a triangle with corner (a, a) and legs 24 covers centre
        // (x, y) iff x > a, y > a, x + y < 2a + 24 (up to the fill rule on the hypotenuse)
        bool in[3];
        const double a[3] = {2, 6, 4};
        for (int t = 0; t < 3; ++t) {
          const double x = i + 0.5, y = j + 0.5;
          in[t] = x > a[t] && y > a[t] && x + y < 2 * a[t] + 24;
        }
        if (!(in[0] || in[1] || in[2])) continue;  // a centre on an edge: skip
        all_three += in[0] && in[1] && in[2];
        const std::int32_t nearest = in[1] ? 1 : (in[0] ? 0 : 2);
        EXPECT_EQ(r.id(0, i, j), nearest) << device.name() << " " << i << ", " << j;
        EXPECT_EQ(rr.id(0, i, j), 2 - nearest);  // ids reversed, same surfaces
        const std::int32_t smallest = in[0] ? 0 : (in[1] ? 1 : 2);
        EXPECT_EQ(r.id(1, i, j), smallest) << device.name() << " " << i << ", " << j;
        EXPECT_EQ(r.depth(1, i, j), 0.0f);
      }
    }
    EXPECT_GT(all_three, 50);
  }
}

}  // namespace
