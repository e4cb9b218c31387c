// Helpers of the rasterizer suite: run rasterize/interpolate on a host device (cpu or emu) with
// poisoned outputs, and build meshes in screen space.
#pragma once

#include "kernels/raster/interpolate.h"
#include "kernels/raster/rasterize.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace raster_test {

namespace dk = deeper::kernels;
using deeper::Device;

inline const Device kCpu = Device::cpu();
inline const Device kEmu = Device::emu();

// A batch of meshes sharing topology: pos is B x V x 4 clip-space.
struct Mesh {
  std::int64_t batch = 0, vertices = 0;
  std::vector<float> pos;
  std::vector<std::int32_t> tri;
  std::int64_t triangles() const { return static_cast<std::int64_t>(tri.size() / 3); }
};

struct Raster {
  int height = 0, width = 0;
  std::vector<float> out;                // B x H x W x 4
  std::vector<unsigned long long> keys;  // B x H x W
  std::vector<std::uint32_t> culled;     // B
  std::vector<std::uint32_t> fragments;  // B x H x W

  std::int64_t pixel(std::int64_t b, int i, int j) const { return (b * height + j) * width + i; }
  std::int32_t id(std::int64_t b, int i, int j) const { return dk::raster_pixel_id(&out[4 * pixel(b, i, j)]); }
  float u(std::int64_t b, int i, int j) const { return out[4 * pixel(b, i, j)]; }
  float v(std::int64_t b, int i, int j) const { return out[4 * pixel(b, i, j) + 1]; }
  float depth(std::int64_t b, int i, int j) const { return out[4 * pixel(b, i, j) + 2]; }
  std::uint32_t count(std::int64_t b, int i, int j) const { return fragments[pixel(b, i, j)]; }
};

// Runs rasterize on a host device with every output poisoned, so unwritten values show.
inline Raster rasterize(const Device& device, const Mesh& m, int height, int width,
                        dk::RasterCull cull = dk::RasterCull::none, bool check_indices = true) {
  const auto pixels = static_cast<std::size_t>(m.batch * height * width);
  Raster r{height, width, std::vector<float>(4 * pixels, 12345.0f), std::vector<unsigned long long>(pixels, 0x5A5A5A5A5A5A5A5Aull),
           std::vector<std::uint32_t>(static_cast<std::size_t>(m.batch), 0xDEADBEEFu),
           std::vector<std::uint32_t>(pixels, 0xDEADBEEFu)};
  dk::RasterizeParams p;
  p.pos = m.pos.data();
  p.tri = m.tri.data();
  p.batch = m.batch;
  p.vertices = m.vertices;
  p.triangles = m.triangles();
  p.height = height;
  p.width = width;
  p.cull = cull;
  p.check_indices = check_indices;
  p.keys = r.keys.data();
  p.out = r.out.data();
  p.culled = r.culled.data();
  p.fragments = r.fragments.data();
  dk::rasterize(device, p);
  return r;
}

// Runs interpolate on a host device with a poisoned output.
inline std::vector<float> interpolate(const Device& device, const Mesh& m, const Raster& r,
                                      const std::vector<float>& attr, std::int64_t channels, bool batched,
                                      const std::vector<float>* background = nullptr) {
  std::vector<float> out(static_cast<std::size_t>(m.batch * r.height * r.width * channels), -9999.0f);
  dk::InterpolateParams p;
  p.attr = attr.data();
  p.attr_batched = batched;
  p.rast = r.out.data();
  p.tri = m.tri.data();
  p.batch = m.batch;
  p.vertices = m.vertices;
  p.triangles = m.triangles();
  p.channels = channels;
  p.height = r.height;
  p.width = r.width;
  p.background = background ? background->data() : nullptr;
  p.out = out.data();
  dk::interpolate(device, p);
  return out;
}

// The clip-space vertex that lands on screen point (sx, sy) (pixels, rows down) of a W x H image at
// homogeneous weight w, with NDC depth z_ndc. With w = 1, a power-of-two W and H, and sx, sy
// multiples of 1/256, the vertex snaps exactly to (sx, sy).
inline void push_screen_vertex(std::vector<float>& pos, double sx, double sy, int width, int height,
                               double w = 1.0, double z_ndc = 0.0) {
  pos.push_back(static_cast<float>((2.0 * sx / width - 1.0) * w));
  pos.push_back(static_cast<float>((1.0 - 2.0 * sy / height) * w));
  pos.push_back(static_cast<float>(z_ndc * w));
  pos.push_back(static_cast<float>(w));
}

// Rounds to a multiple of 1/256 (the snapping grid).
inline double snap256(double x) { return std::nearbyint(x * 256.0) / 256.0; }

// The triangles of an n x n grid of quads over vertices numbered row-major ((n+1) x (n+1)), each
// quad split along one diagonal (alternating when `alternate`). With vertex (r, c) at screen
// position origin + c·ex + r·ey for a rotation of the axes (ex right, ey down), every triangle is
// clockwise in NDC: a back face under the OpenGL convention.
inline std::vector<std::int32_t> grid_triangles(int n, bool alternate) {
  std::vector<std::int32_t> tri;
  for (int r = 0; r < n; ++r) {
    for (int c = 0; c < n; ++c) {
      const std::int32_t a = r * (n + 1) + c, b = a + 1, d = a + (n + 1), e = d + 1;
      if (!alternate || (r + c) % 2 == 0) {
        tri.insert(tri.end(), {a, b, e, a, e, d});
      } else {
        tri.insert(tri.end(), {a, b, d, b, e, d});
      }
    }
  }
  return tri;
}

// Whether screen point (x, y) lies inside the convex polygon `poly` (x, y pairs, either winding)
// by more than `tol` pixels (+1), outside by more than tol (-1), or within tol of its boundary (0).
inline int polygon_side(const std::vector<double>& poly, double x, double y, double tol) {
  const std::size_t n = poly.size() / 2;
  double area = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t l = (k + 1) % n;
    area += poly[2 * k] * poly[2 * l + 1] - poly[2 * l] * poly[2 * k + 1];
  }
  const double sign = area > 0 ? 1.0 : -1.0;
  double nearest = 1e300;
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t l = (k + 1) % n;
    const double ex = poly[2 * l] - poly[2 * k], ey = poly[2 * l + 1] - poly[2 * k + 1];
    const double d = sign * (ex * (y - poly[2 * k + 1]) - ey * (x - poly[2 * k])) / std::hypot(ex, ey);
    nearest = d < nearest ? d : nearest;
  }
  return nearest > tol ? 1 : (nearest < -tol ? -1 : 0);
}

}  // namespace raster_test
