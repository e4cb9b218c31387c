// The rasterizer's procedural test mesh, shared by bench_raster and tests/gpu_raster: a displaced
// sphere cap on an n x n vertex grid (n = 68: 4,624 vertices, 8,978 triangles, about the face
// model's size), shared vertex indices, front faces towards the camera, and B posed copies of it
// projected by a perspective camera so that it fills about 80% of the frame (as a face does,
// shared/reference/rasterizer.md §8). Deterministic: a pure function of (n, B, H, W).
#pragma once

#include "kernels/raster/camera.h"

#include <cmath>
#include <cstdint>
#include <numbers>
#include <vector>

namespace deeper::raster_bench {

struct TestMesh {
  std::int64_t vertices = 0;
  std::vector<float> xyz;          // vertices x 3, millimetres, apex at the origin facing +z
  std::vector<std::int32_t> tri;   // triangles x 3, counter-clockwise seen from +z
  std::int64_t triangles() const { return static_cast<std::int64_t>(tri.size() / 3); }
};

// A cap of a 100 mm sphere spanning ±50 degrees both ways, with a smooth 3% relief.
inline TestMesh sphere_cap_mesh(int n = 68) {
  TestMesh m;
  m.vertices = static_cast<std::int64_t>(n) * n;
  const double radius = 100.0, span = 50.0 * std::numbers::pi / 180.0;
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      const double u = 2.0 * c / (n - 1) - 1.0, v = 1.0 - 2.0 * r / (n - 1);  // x right, y up
      const double ax = u * span, ay = v * span;
      const double rho = radius * (1.0 + 0.03 * std::sin(5.0 * u) * std::sin(4.0 * v));
      m.xyz.push_back(static_cast<float>(rho * std::sin(ax) * std::cos(ay)));
      m.xyz.push_back(static_cast<float>(rho * std::sin(ay)));
      m.xyz.push_back(static_cast<float>(rho * std::cos(ax) * std::cos(ay) - radius));
    }
  }
  for (int r = 0; r + 1 < n; ++r) {
    for (int c = 0; c + 1 < n; ++c) {
      const std::int32_t a = r * n + c, b = a + 1, d = a + n, e = d + 1;  // rows go down in y
      m.tri.insert(m.tri.end(), {a, e, b, a, d, e});
    }
  }
  return m;
}

// Clip-space positions (B x V x 4) of `batch` posed copies: image b is turned by yaw
// 35° sin(1.7 b) and pitch 15° cos(2.3 b), shifted by up to ±5% of the frame, 450 mm in front of a
// camera with a 24° vertical field of view.
inline std::vector<float> posed_clip_positions(const TestMesh& m, std::int64_t batch, int height, int width) {
  const auto camera = kernels::PerspectiveCamera::from_fov_y(24.0, width, height, 50.0, 2000.0);
  const auto proj = kernels::projection_matrix(camera);
  std::vector<float> pos(static_cast<std::size_t>(batch * m.vertices * 4));
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < batch; ++b) {
    const double yaw = 35.0 * std::numbers::pi / 180.0 * std::sin(1.7 * static_cast<double>(b));
    const double pitch = 15.0 * std::numbers::pi / 180.0 * std::cos(2.3 * static_cast<double>(b));
    const double tx = 4.0 * std::sin(0.9 * static_cast<double>(b)), ty = 4.0 * std::cos(1.3 * static_cast<double>(b));
    std::vector<float> xyz(static_cast<std::size_t>(m.vertices * 3));
    for (std::int64_t k = 0; k < m.vertices; ++k) {
      const double x = m.xyz[static_cast<std::size_t>(3 * k)], y = m.xyz[static_cast<std::size_t>(3 * k + 1)],
                   z = m.xyz[static_cast<std::size_t>(3 * k + 2)];
      const double x1 = std::cos(yaw) * x + std::sin(yaw) * z, z1 = -std::sin(yaw) * x + std::cos(yaw) * z;
      const double y2 = std::cos(pitch) * y - std::sin(pitch) * z1, z2 = std::sin(pitch) * y + std::cos(pitch) * z1;
      xyz[static_cast<std::size_t>(3 * k)] = static_cast<float>(x1 + tx);
      xyz[static_cast<std::size_t>(3 * k + 1)] = static_cast<float>(y2 + ty);
      xyz[static_cast<std::size_t>(3 * k + 2)] = static_cast<float>(z2 - 450.0);
    }
    kernels::transform_points(proj, xyz.data(), m.vertices, pos.data() + b * m.vertices * 4);
  }
  return pos;
}

}  // namespace deeper::raster_bench
