// The CPU preview renderer (preview.h).
#include "renderer/preview.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "renderer/evaluate.h"

namespace deeper::render {
namespace {

struct Rotation {
  float m[3][3];
  Vec3 apply(Vec3 p) const {
    return {m[0][0] * p.x + m[0][1] * p.y + m[0][2] * p.z, m[1][0] * p.x + m[1][1] * p.y + m[1][2] * p.z,
            m[2][0] * p.x + m[2][1] * p.y + m[2][2] * p.z};
  }
};

Rotation multiply(const Rotation& a, const Rotation& b) {
  Rotation r{};
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j)
      for (int k = 0; k < 3; ++k) r.m[i][j] += a.m[i][k] * b.m[k][j];
  return r;
}

// R = roll (z) * pitch (x) * yaw (y).
Rotation rotation(float yaw_deg, float pitch_deg, float roll_deg) {
  constexpr float kDeg = 3.14159265358979f / 180.0f;
  const float y = yaw_deg * kDeg, p = -pitch_deg * kDeg, r = roll_deg * kDeg;
  const Rotation ry{{{std::cos(y), 0, std::sin(y)}, {0, 1, 0}, {-std::sin(y), 0, std::cos(y)}}};
  const Rotation rx{{{1, 0, 0}, {0, std::cos(p), -std::sin(p)}, {0, std::sin(p), std::cos(p)}}};
  const Rotation rz{{{std::cos(r), -std::sin(r), 0}, {std::sin(r), std::cos(r), 0}, {0, 0, 1}}};
  return multiply(rz, multiply(rx, ry));
}

Vec3 sample_bilinear(std::span<const float> tex, int h, int w, float u, float v) {
  const float fx = std::clamp(u * static_cast<float>(w) - 0.5f, 0.0f, static_cast<float>(w - 1));
  const float fy = std::clamp(v * static_cast<float>(h) - 0.5f, 0.0f, static_cast<float>(h - 1));
  const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
  const int x1 = std::min(x0 + 1, w - 1), y1 = std::min(y0 + 1, h - 1);
  const float ax = fx - static_cast<float>(x0), ay = fy - static_cast<float>(y0);
  auto at = [&](int yy, int xx) {
    const float* t = &tex[(static_cast<std::size_t>(yy) * w + xx) * 3];
    return Vec3{std::clamp(t[0], 0.0f, 1.0f), std::clamp(t[1], 0.0f, 1.0f), std::clamp(t[2], 0.0f, 1.0f)};
  };
  const Vec3 top = (1 - ax) * at(y0, x0) + ax * at(y0, x1);
  const Vec3 bottom = (1 - ax) * at(y1, x0) + ax * at(y1, x1);
  return (1 - ay) * top + ay * bottom;
}

}  // namespace

std::vector<float> render_preview(const Mesh& mesh, std::span<const float> positions, std::span<const float> texture,
                                  int tex_height, int tex_width, const PreviewView& view) {
  const std::size_t nv = static_cast<std::size_t>(mesh.vertex_count());
  if (positions.size() != nv * 3) fail("render_preview: {} position values for {} vertices", positions.size(), nv);
  if (tex_height <= 0 || tex_width <= 0 ||
      texture.size() != static_cast<std::size_t>(tex_height) * static_cast<std::size_t>(tex_width) * 3)
    fail("render_preview: the texture has {} values, not {} x {} x 3", texture.size(), tex_height, tex_width);
  if (view.width <= 0 || view.height <= 0 || view.width > 8192 || view.height > 8192 || view.supersample < 1 ||
      view.supersample > 8)
    fail("render_preview: bad image size {} x {} or supersampling {}", view.width, view.height, view.supersample);
  const int ss = view.supersample;
  const int w = view.width * ss, h = view.height * ss;
  const float scale = (view.pixels_per_mm > 0 ? view.pixels_per_mm : static_cast<float>(view.height) / 170.0f) *
                      static_cast<float>(ss);
  const Rotation rot = rotation(view.yaw_deg, view.pitch_deg, view.roll_deg);
  const Vec3 pivot{0, view.center_y, view.pivot_z};
  // Project: screen x, y (pixels of the supersampled image) and depth (larger = nearer).
  std::vector<Vec3> screen(nv);
  for (std::size_t i = 0; i < nv; ++i) {
    const Vec3 p = rot.apply(Vec3{positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]} - pivot) + pivot;
    screen[i] = {0.5f * static_cast<float>(w) + scale * p.x, 0.5f * static_cast<float>(h) - scale * (p.y - view.center_y),
                 p.z};
  }
  const std::vector<float> normals = vertex_normals(mesh, positions);
  // Rasterize: per sample, the nearest triangle and its barycentrics.
  const std::size_t samples = static_cast<std::size_t>(w) * h;
  std::vector<float> depth(samples, -std::numeric_limits<float>::infinity());
  std::vector<std::int32_t> tri_id(samples, -1);
  std::vector<float> bary(samples * 2);
  for (std::int64_t t = 0; t < mesh.triangle_count(); ++t) {
    const std::int32_t* tri = &mesh.triangles[static_cast<std::size_t>(t) * 3];
    const Vec3 a = screen[tri[0]], b = screen[tri[1]], c = screen[tri[2]];
    // Signed area with screen y pointing down: counter-clockwise triangles (front faces) are negative.
    const float area = (b.x - a.x) * (c.y - a.y) - (b.y - a.y) * (c.x - a.x);
    if (!(area < 0.0f)) continue;
    const int x0 = std::max(0, static_cast<int>(std::floor(std::min({a.x, b.x, c.x}) - 0.5f)));
    const int x1 = std::min(w - 1, static_cast<int>(std::ceil(std::max({a.x, b.x, c.x}) - 0.5f)));
    const int y0 = std::max(0, static_cast<int>(std::floor(std::min({a.y, b.y, c.y}) - 0.5f)));
    const int y1 = std::min(h - 1, static_cast<int>(std::ceil(std::max({a.y, b.y, c.y}) - 0.5f)));
    for (int py = y0; py <= y1; ++py) {
      const float sy = static_cast<float>(py) + 0.5f;
      for (int px = x0; px <= x1; ++px) {
        const float sx = static_cast<float>(px) + 0.5f;
        const float wa = ((b.x - sx) * (c.y - sy) - (b.y - sy) * (c.x - sx)) / area;
        const float wb = ((c.x - sx) * (a.y - sy) - (c.y - sy) * (a.x - sx)) / area;
        const float wc = 1.0f - wa - wb;
        if (wa < 0.0f || wb < 0.0f || wc < 0.0f) continue;
        const float z = wa * a.z + wb * b.z + wc * c.z;
        const std::size_t s = static_cast<std::size_t>(py) * w + px;
        if (z > depth[s]) {
          depth[s] = z;
          tri_id[s] = static_cast<std::int32_t>(t);
          bary[2 * s] = wa;
          bary[2 * s + 1] = wb;
        }
      }
    }
  }
  // Shade each sample, then box-filter the supersamples.
  const Vec3 light = normalized(view.light);
  std::vector<float> image(static_cast<std::size_t>(view.width) * view.height * 3, 0.0f);
  const float inv = 1.0f / static_cast<float>(ss * ss);
  for (int py = 0; py < h; ++py) {
    for (int px = 0; px < w; ++px) {
      const std::size_t s = static_cast<std::size_t>(py) * w + px;
      Vec3 colour = view.background;
      if (tri_id[s] >= 0) {
        const std::int32_t* tri = &mesh.triangles[static_cast<std::size_t>(tri_id[s]) * 3];
        const float wt[3] = {bary[2 * s], bary[2 * s + 1], 1.0f - bary[2 * s] - bary[2 * s + 1]};
        Vec3 n{};
        float u = 0, v = 0;
        for (int k = 0; k < 3; ++k) {
          const std::size_t vi = static_cast<std::size_t>(tri[k]);
          n = n + wt[k] * Vec3{normals[3 * vi], normals[3 * vi + 1], normals[3 * vi + 2]};
          u += wt[k] * mesh.uv[2 * vi];
          v += wt[k] * mesh.uv[2 * vi + 1];
        }
        const float lambert = std::max(0.0f, dot(normalized(rot.apply(n)), light));
        colour = (view.ambient + view.diffuse * lambert) * sample_bilinear(texture, tex_height, tex_width, u, v);
      }
      float* o = &image[(static_cast<std::size_t>(py / ss) * view.width + px / ss) * 3];
      o[0] += inv * colour.x;
      o[1] += inv * colour.y;
      o[2] += inv * colour.z;
    }
  }
  return image;
}

}  // namespace deeper::render
