// antialias_edge_mask: the per-(image, triangle) silhouette-edge mask against a direct evaluation of
// the rule written out here, and antialias / antialias_grad with the mask bit-identical to without
// it (cpu and emulator; deterministic position gradient on the emulator), on scenes with
// silhouettes against the background and against another surface (two overlapping grids),
// vertices behind the camera (w <= 0, also as rasterized ids) and a vertex index out of range.
#include "raster_grad_util.h"

#include "kernels/emu/emulator.h"

#include <gtest/gtest.h>

#include <cstring>

namespace {

using namespace raster_grad_test;

constexpr int kH = 19, kW = 23;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void set_id(std::vector<float>& rast, std::int64_t pixel, std::int32_t id) {
  std::memcpy(&rast[static_cast<std::size_t>(4 * pixel + 3)], &id, sizeof id);
}

// A scene: positions, the triangles antialias sees (possibly with a bad index) and the rasterized
// image of the valid mesh, with some pixel ids replaced (ids of unusable triangles).
struct Scene {
  const char* name;
  Mesh m;
  std::vector<float> pos;
  std::vector<std::int32_t> tri;  // as passed to the mask and antialias
  std::vector<std::int32_t> topo;
  Raster r;
};

// kind 0: the two grids as they are. 1: some vertices behind the camera (w = -0.5 and w = 0) in
// different images, and pixels relabelled to triangles using them. 2: a visible triangle whose
// third index points past the vertices (antialias and the mask run with check_indices off).
Scene make_scene(int kind) {
  Scene s{kind == 0 ? "two grids" : (kind == 1 ? "w <= 0" : "bad index"), two_grids(3, 7 + kind), {}, {}, {}, {}};
  const std::int64_t V = s.m.vertices;
  if (kind == 1) {
    s.m.pos[static_cast<std::size_t>(4 * (0 * V + 12) + 3)] = -0.5;  // the back grid's centre, image 0
    s.m.pos[static_cast<std::size_t>(4 * (1 * V + 29) + 3)] = 0.0;   // the front grid's centre, image 1
    s.m.pos[static_cast<std::size_t>(4 * (2 * V + 0) + 3)] = -1.0;   // a back-grid corner, image 2
  }
  s.pos = s.m.pos_float();
  s.tri = s.m.tri;
  s.topo = dk::build_edge_topology(s.m.tri.data(), s.m.triangles(), V);
  s.r = rasterize(kCpu, s.pos, s.m, kH, kW);
  if (kind == 1) {
    // Triangles touching vertex 12 (back grid) and 29 (front grid), whether or not rasterize drew them.
    std::vector<std::int32_t> behind;
    for (std::int64_t t = 0; t < s.m.triangles(); ++t) {
      for (int k = 0; k < 3; ++k) {
        if (s.tri[static_cast<std::size_t>(3 * t + k)] == 12 || s.tri[static_cast<std::size_t>(3 * t + k)] == 29) {
          behind.push_back(static_cast<std::int32_t>(t));
        }
      }
    }
    for (std::int64_t b = 0; b < s.m.batch; ++b) {
      for (std::size_t n = 0; n < behind.size(); ++n) {
        set_id(s.r.out, (b * kH + 3 + static_cast<std::int64_t>(n) % 12) * kW + 4 + static_cast<std::int64_t>(n),
               behind[n]);
      }
    }
  }
  if (kind == 2) {
    // The triangle covering the image centre in image 0 gets an index past the vertices.
    const std::int32_t t = id_at(s.r, (kH / 2) * kW + kW / 2);
    EXPECT_GE(t, 0);
    if (t >= 0) s.tri[static_cast<std::size_t>(3 * t + 2)] = static_cast<std::int32_t>(V + 3);
  }
  return s;
}

dk::AntialiasEdgeMaskParams mask_params(const Scene& s, std::vector<std::uint8_t>& mask) {
  dk::AntialiasEdgeMaskParams p;
  p.pos = s.pos.data();
  p.tri = s.tri.data();
  p.topology = s.topo.data();
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.height = kH;
  p.width = kW;
  p.check_indices = false;
  p.mask = mask.data();
  return p;
}

// The rule, written out independently of antialias.h: screen position of vertex row, or false.
bool screen(const Scene& s, std::int64_t row, float& x, float& y) {
  const float* c = &s.pos[static_cast<std::size_t>(4 * row)];
  if (!(c[3] > 0.0f)) return false;
  x = (c[0] / c[3] + 1.0f) * 0.5f * static_cast<float>(kW);
  y = (1.0f - c[1] / c[3]) * 0.5f * static_cast<float>(kH);
  return true;
}

std::uint8_t direct_mask(const Scene& s, std::int64_t b, std::int64_t t) {
  const std::int64_t V = s.m.vertices;
  float x[3], y[3];
  for (int k = 0; k < 3; ++k) {
    const std::int32_t v = s.tri[static_cast<std::size_t>(3 * t + k)];
    if (v < 0 || v >= V || !screen(s, b * V + v, x[k], y[k])) return 8;
  }
  std::uint8_t m = 0;
  for (int k = 0; k < 3; ++k) {
    const int a = k, e = (k + 1) % 3, own = (k + 2) % 3;
    const std::int32_t nv = s.topo[static_cast<std::size_t>(3 * t + k)];
    float nx = 0, ny = 0;
    bool silhouette = true;
    if (nv >= 0 && nv < V && screen(s, b * V + nv, nx, ny)) {
      const float dx = x[e] - x[a], dy = y[e] - y[a];
      const float p1 = dx * (y[own] - y[a]), p2 = dy * (x[own] - x[a]);
      const float q1 = dx * (ny - y[a]), q2 = dy * (nx - x[a]);
      silhouette = (p1 - p2 > 0.0f) == (q1 - q2 > 0.0f);
    }
    if (silhouette) m = static_cast<std::uint8_t>(m | (1u << k));
  }
  return m;
}

TEST(RasterGradEdgeMask, MatchesTheDirectEvaluation) {
  for (int kind = 0; kind < 3; ++kind) {
    const Scene s = make_scene(kind);
    SCOPED_TRACE(s.name);
    const std::int64_t T = s.m.triangles();
    std::vector<std::uint8_t> want(static_cast<std::size_t>(s.m.batch * T));
    for (std::int64_t b = 0; b < s.m.batch; ++b) {
      for (std::int64_t t = 0; t < T; ++t) want[static_cast<std::size_t>(b * T + t)] = direct_mask(s, b, t);
    }
    int interior = 0, silhouette = 0, unusable = 0;
    for (std::uint8_t m : want) {
      interior += m == 0;
      silhouette += (m & 7) != 0 && m != 8;
      unusable += m == 8;
    }
    EXPECT_GT(interior, 10) << "interior triangles have no silhouette edge";
    EXPECT_GT(silhouette, 10) << "the grids' borders are silhouettes";
    if (kind > 0) {
      EXPECT_GT(unusable, 0) << "triangles behind the camera / with a bad index are unusable";
    }
    for (const Device& d : {kCpu, kEmu}) {
      std::vector<std::uint8_t> got(want.size(), 0xCD);
      dk::antialias_edge_mask(d, mask_params(s, got));
      EXPECT_EQ(got, want) << d.name();
    }
    // The double reference gives the same bits where no decision is within rounding of zero (here).
    std::vector<std::uint8_t> got(want.size(), 0xCD);
    const std::vector<double> pos = s.m.pos;
    dk::AntialiasEdgeMaskParamsT<double> pd;
    pd.pos = pos.data();
    pd.tri = s.tri.data();
    pd.topology = s.topo.data();
    pd.batch = s.m.batch;
    pd.vertices = s.m.vertices;
    pd.triangles = T;
    pd.height = kH;
    pd.width = kW;
    pd.mask = got.data();
    dk::cpu_impl::antialias_edge_mask(pd);
    EXPECT_EQ(got, want) << "double";
  }
}

struct AaOut {
  std::vector<float> out, grad_color, grad_pos;
};

AaOut run_antialias(const Device& d, const Scene& s, const std::uint8_t* mask, bool deterministic) {
  const std::int64_t C = 3;
  const std::int64_t pixels = s.m.batch * kH * kW;
  const std::vector<float> color = to_float(random_vector(static_cast<std::size_t>(pixels * C), 201, 0.0, 1.0));
  const std::vector<float> g = to_float(random_vector(static_cast<std::size_t>(pixels * C), 202));
  AaOut o{std::vector<float>(color.size(), -7.0f), std::vector<float>(color.size(), 0.25f),
          std::vector<float>(s.pos.size(), 0.25f)};
  std::vector<long long> fixed(s.pos.size());
  dk::AntialiasParams p;
  p.color = color.data();
  p.rast = s.r.out.data();
  p.pos = s.pos.data();
  p.tri = s.tri.data();
  p.topology = s.topo.data();
  p.edge_mask = mask;
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.channels = C;
  p.height = kH;
  p.width = kW;
  p.check_indices = false;
  p.out = o.out.data();
  p.grad_out = g.data();
  p.grad_color = o.grad_color.data();
  p.grad_pos.grad = o.grad_pos.data();
  if (deterministic) p.grad_pos.fixed = fixed.data();
  deeper::emu::set_seed(5);
  dk::antialias(d, p);
  dk::antialias_grad(d, p);
  return o;
}

TEST(RasterGradEdgeMask, AntialiasWithTheMaskIsBitIdentical) {
  for (int kind = 0; kind < 3; ++kind) {
    const Scene s = make_scene(kind);
    SCOPED_TRACE(s.name);
    for (const Device& d : {kCpu, kEmu}) {
      SCOPED_TRACE(d.name());
      std::vector<std::uint8_t> mask(static_cast<std::size_t>(s.m.batch * s.m.triangles()));
      dk::antialias_edge_mask(d, mask_params(s, mask));
      const bool det = d.backend == deeper::Backend::emu;
      const AaOut plain = run_antialias(d, s, nullptr, det);
      const AaOut masked = run_antialias(d, s, mask.data(), det);
      EXPECT_TRUE(same_bits(masked.out, plain.out)) << "out";
      EXPECT_TRUE(same_bits(masked.grad_color, plain.grad_color)) << "grad_color";
      EXPECT_TRUE(same_bits(masked.grad_pos, plain.grad_pos)) << "grad_pos";
      const std::vector<float> color =
          to_float(random_vector(static_cast<std::size_t>(s.m.batch * kH * kW * 3), 201, 0.0, 1.0));
      int blended = 0, moved = 0;
      for (std::size_t i = 0; i < plain.out.size(); ++i) blended += plain.out[i] != color[i];
      for (float v : plain.grad_pos) moved += v != 0.25f;
      EXPECT_GT(blended, 40) << "the scene has blended pixels";
      EXPECT_GT(moved, 20) << "the scene has silhouette gradients";
    }
  }
}

// A mask that disagrees with the geometry changes the result: the mask is what antialias uses.
TEST(RasterGradEdgeMask, AntialiasFollowsTheMask) {
  const Scene s = make_scene(0);
  std::vector<std::uint8_t> none(static_cast<std::size_t>(s.m.batch * s.m.triangles()), 0);
  const AaOut masked = run_antialias(kCpu, s, none.data(), false);
  const std::int64_t pixels = s.m.batch * kH * kW;
  const std::vector<float> color = to_float(random_vector(static_cast<std::size_t>(pixels * 3), 201, 0.0, 1.0));
  EXPECT_TRUE(same_bits(masked.out, color)) << "no silhouette edges: nothing blended";
  for (float v : masked.grad_pos) ASSERT_EQ(v, 0.25f);
  std::vector<std::uint8_t> unusable(none.size(), 8 | 7);
  EXPECT_TRUE(same_bits(run_antialias(kCpu, s, unusable.data(), false).out, color)) << "unusable: nothing blended";
}

}  // namespace
