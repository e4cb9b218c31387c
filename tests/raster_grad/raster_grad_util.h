// Helpers of the raster_grad suite: small test meshes with shared vertices in clip space,
// rasterize on a host device, and random tensors.
#pragma once

#include "core/error.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/rasterize.h"

#include <cstdint>
#include <random>
#include <vector>

namespace raster_grad_test {

namespace dk = deeper::kernels;
using deeper::Device;

inline const Device kCpu = Device::cpu();
inline const Device kEmu = Device::emu();

struct Mesh {
  std::int64_t batch = 0, vertices = 0;
  std::vector<double> pos;  // B x V x 4 clip space (double: the gradient checks perturb it)
  std::vector<std::int32_t> tri;
  std::int64_t triangles() const { return static_cast<std::int64_t>(tri.size() / 3); }
  std::vector<float> pos_float() const { return {pos.begin(), pos.end()}; }
};

// An n x n grid of shared vertices spanning NDC [x0, x1] x [y0, y1] (jittered, perspective w in
// [1, 2], depth z/w around `depth`), two counter-clockwise triangles per cell; appended to m.
inline void add_grid(Mesh& m, int n, double x0, double x1, double y0, double y1, double depth, std::mt19937& gen) {
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  const auto base = static_cast<std::int32_t>(m.vertices);
  std::vector<double> added;
  for (std::int64_t b = 0; b < m.batch; ++b) {
    for (int r = 0; r < n; ++r) {
      for (int c = 0; c < n; ++c) {
        const double w = 1.5 + 0.5 * uni(gen);
        const double jitter = 0.15 * (x1 - x0) / (n - 1);
        const double x = x0 + (x1 - x0) * c / (n - 1) + jitter * uni(gen);
        const double y = y0 + (y1 - y0) * r / (n - 1) + jitter * uni(gen);
        const double z = depth + 0.05 * uni(gen);
        added.insert(added.end(), {x * w, y * w, z * w, w});
      }
    }
  }
  // Interleave: image b's vertices are [old V, then the n² new ones].
  std::vector<double> merged;
  const std::int64_t nv = static_cast<std::int64_t>(n) * n;
  for (std::int64_t b = 0; b < m.batch; ++b) {
    merged.insert(merged.end(), m.pos.begin() + 4 * b * m.vertices, m.pos.begin() + 4 * (b + 1) * m.vertices);
    merged.insert(merged.end(), added.begin() + 4 * b * nv, added.begin() + 4 * (b + 1) * nv);
  }
  m.pos = std::move(merged);
  m.vertices += nv;
  for (int r = 0; r + 1 < n; ++r) {
    for (int c = 0; c + 1 < n; ++c) {
      const std::int32_t a = base + r * n + c;
      // y grows with r, so (a, a+1, a+n+1) is counter-clockwise in NDC.
      m.tri.insert(m.tri.end(), {a, a + 1, a + n + 1});
      m.tri.insert(m.tri.end(), {a, a + n + 1, a + n});
    }
  }
}

// Two overlapping grids: a back one and a smaller one in front of it, so that there are silhouettes
// against the background and against another surface.
inline Mesh two_grids(std::int64_t batch, unsigned seed) {
  std::mt19937 gen(seed);
  Mesh m;
  m.batch = batch;
  add_grid(m, 5, -0.8, 0.7, -0.75, 0.8, 0.5, gen);
  add_grid(m, 3, -0.3, 0.45, -0.4, 0.3, -0.2, gen);
  return m;
}

struct Raster {
  int height = 0, width = 0;
  std::vector<float> out;
  std::vector<unsigned long long> keys;
};

inline Raster rasterize(const Device& device, const std::vector<float>& pos, const Mesh& m, int height, int width) {
  const auto pixels = static_cast<std::size_t>(m.batch * height * width);
  Raster r{height, width, std::vector<float>(4 * pixels, 12345.0f), std::vector<unsigned long long>(pixels)};
  dk::RasterizeParams p;
  p.pos = pos.data();
  p.tri = m.tri.data();
  p.batch = m.batch;
  p.vertices = m.vertices;
  p.triangles = m.triangles();
  p.height = height;
  p.width = width;
  p.cull = dk::RasterCull::none;
  p.keys = r.keys.data();
  p.out = r.out.data();
  dk::rasterize(device, p);
  return r;
}

inline std::int32_t id_at(const Raster& r, std::int64_t pixel) { return dk::raster_pixel_id(&r.out[4 * pixel]); }

inline std::vector<double> random_vector(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<double> uni(lo, hi);
  std::vector<double> v(n);
  for (auto& x : v) x = uni(gen);
  return v;
}

template <typename T>
std::vector<float> to_float(const std::vector<T>& v) {
  return {v.begin(), v.end()};
}

inline double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

}  // namespace raster_grad_test
