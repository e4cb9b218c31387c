// The emulated kernels against the CPU reference (float): interpolate_grad (batched and shared
// attributes), rasterize_grad, texture and texture_grad (clamp and wrap, shared and per-image
// textures, masked background), shade and shade_grad (Lambert, SH9), antialias and antialias_grad,
// on a two-surface mesh at an odd image size with gradients accumulated onto non-zero values.
// Deterministic mode: two emulator seeds give the same bits, and the emulator equals the CPU bit for
// bit where the contributions are the same floats.
#include "raster_grad_util.h"

#include "kernels/emu/emulator.h"
#include "kernels/raster/interpolate_grad.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/raster/shade.h"
#include "kernels/raster/texture.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

namespace {

using namespace raster_grad_test;

constexpr int kH = 19, kW = 23;

std::vector<float> rnd(std::size_t n, unsigned seed, double lo = -1.0, double hi = 1.0) {
  return to_float(random_vector(n, seed, lo, hi));
}

void expect_near_all(const std::vector<float>& emu, const std::vector<float>& cpu, float tol, const char* what) {
  ASSERT_EQ(emu.size(), cpu.size());
  std::size_t bad = 0, first = 0;
  for (std::size_t i = 0; i < emu.size(); ++i) {
    const bool ok = (std::isnan(emu[i]) && std::isnan(cpu[i])) || std::abs(emu[i] - cpu[i]) <= tol * (1 + std::abs(cpu[i]));
    if (!ok && bad++ == 0) first = i;
  }
  EXPECT_EQ(bad, 0u) << what << ": first at " << first << " emu " << emu[first] << " cpu " << cpu[first];
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

struct Scene {
  Mesh m = two_grids(3, 7);
  std::vector<float> pos = m.pos_float();
  Raster r = rasterize(kCpu, pos, m, kH, kW);
  std::int64_t pixels() const { return m.batch * kH * kW; }
};

struct InterpOut {
  std::vector<float> grad_attr, grad_rast;
};

InterpOut run_interpolate_grad(const Device& d, const Scene& s, bool batched, bool deterministic, std::uint64_t seed) {
  const std::int64_t C = 5;
  const std::vector<float> attr = rnd(static_cast<std::size_t>((batched ? s.m.batch : 1) * s.m.vertices * C), 61);
  const std::vector<float> g = rnd(static_cast<std::size_t>(s.pixels() * C), 62);
  InterpOut o{std::vector<float>(attr.size(), 0.25f), std::vector<float>(static_cast<std::size_t>(4 * s.pixels()), 0.5f)};
  std::vector<long long> fixed(attr.size(), 12345);
  dk::InterpolateGradParams p;
  p.attr = attr.data();
  p.attr_batched = batched;
  p.rast = s.r.out.data();
  p.tri = s.m.tri.data();
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.channels = C;
  p.height = kH;
  p.width = kW;
  p.grad_out = g.data();
  p.grad_attr.grad = o.grad_attr.data();
  if (deterministic) p.grad_attr.fixed = fixed.data();
  p.grad_rast = o.grad_rast.data();
  deeper::emu::set_seed(seed);
  dk::interpolate_grad(d, p);
  return o;
}

TEST(RasterGradParity, InterpolateGrad) {
  const Scene s;
  for (const bool batched : {true, false}) {
    SCOPED_TRACE(batched ? "batched" : "shared");
    const InterpOut cpu = run_interpolate_grad(kCpu, s, batched, false, 1);
    const InterpOut emu = run_interpolate_grad(kEmu, s, batched, false, 1);
    expect_near_all(emu.grad_attr, cpu.grad_attr, 2e-5f, "grad_attr");
    EXPECT_TRUE(same_bits(emu.grad_rast, cpu.grad_rast)) << "grad_rast needs no atomics";
    // Untouched channels 2, 3 and background pixels keep their value.
    for (std::int64_t px = 0; px < s.pixels(); ++px) {
      EXPECT_EQ(emu.grad_rast[4 * px + 2], 0.5f);
      if (id_at(s.r, px) < 0) {
        EXPECT_EQ(emu.grad_rast[4 * px], 0.5f);
      }
    }
    // Deterministic: bit for bit across emulator seeds and against the CPU, close to float atomics.
    const InterpOut d1 = run_interpolate_grad(kEmu, s, batched, true, 1);
    const InterpOut d2 = run_interpolate_grad(kEmu, s, batched, true, 99);
    const InterpOut dc = run_interpolate_grad(kCpu, s, batched, true, 1);
    EXPECT_TRUE(same_bits(d1.grad_attr, d2.grad_attr));
    EXPECT_TRUE(same_bits(d1.grad_attr, dc.grad_attr));
    expect_near_all(d1.grad_attr, cpu.grad_attr, 1e-5f, "deterministic vs float atomics");
  }
}

TEST(RasterGradParity, DeterministicModeIgnoresTheInterleaving) {
  // Shared attributes: many pixels of every image add to the same vertices. With float atomics the
  // emulator's interleaving seed may change the last bits; the fixed-point mode never does.
  const Scene s;
  const InterpOut a = run_interpolate_grad(kEmu, s, false, true, 3);
  for (std::uint64_t seed : {4u, 5u, 6u}) {
    EXPECT_TRUE(same_bits(a.grad_attr, run_interpolate_grad(kEmu, s, false, true, seed).grad_attr)) << seed;
  }
}

std::vector<float> run_rasterize_grad(const Device& d, const Scene& s, bool deterministic, std::uint64_t seed) {
  const std::vector<float> g = rnd(static_cast<std::size_t>(4 * s.pixels()), 71);
  std::vector<float> grad(s.pos.size(), 0.25f);
  std::vector<long long> fixed(grad.size());
  dk::RasterizeGradParams p;
  p.pos = s.pos.data();
  p.tri = s.m.tri.data();
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.height = kH;
  p.width = kW;
  p.rast = s.r.out.data();
  p.grad_rast = g.data();
  p.grad_pos.grad = grad.data();
  if (deterministic) p.grad_pos.fixed = fixed.data();
  deeper::emu::set_seed(seed);
  dk::rasterize_grad(d, p);
  return grad;
}

TEST(RasterGradParity, RasterizeGrad) {
  const Scene s;
  const std::vector<float> cpu = run_rasterize_grad(kCpu, s, false, 1);
  expect_near_all(run_rasterize_grad(kEmu, s, false, 1), cpu, 2e-4f, "grad_pos");
  const std::vector<float> d1 = run_rasterize_grad(kEmu, s, true, 1);
  EXPECT_TRUE(same_bits(d1, run_rasterize_grad(kEmu, s, true, 2)));
  expect_near_all(d1, cpu, 2e-4f, "deterministic grad_pos");
  int changed = 0;
  for (float v : cpu) changed += v != 0.25f;
  EXPECT_GT(changed, static_cast<int>(cpu.size() / 2));
}

struct TexOut {
  std::vector<float> out, grad_tex, grad_uv;
};

TexOut run_texture(const Device& d, const Scene& s, dk::TextureWrap wrap, bool batched, bool deterministic,
                   std::uint64_t seed) {
  const int TH = 13, TW = 10;
  const std::int64_t C = 3;
  const std::vector<float> tex = rnd(static_cast<std::size_t>((batched ? s.m.batch : 1) * TH * TW * C), 81);
  std::vector<float> uv = rnd(static_cast<std::size_t>(2 * s.pixels()), 82, -0.4, 1.4);
  uv[6] = std::nanf("");  // pixel 3: NaN out, no gradient
  const std::vector<float> g = rnd(static_cast<std::size_t>(s.pixels() * C), 83);
  TexOut o{std::vector<float>(static_cast<std::size_t>(s.pixels() * C), -7.0f), std::vector<float>(tex.size(), 0.25f),
           std::vector<float>(uv.size(), 0.5f)};
  std::vector<long long> fixed(tex.size());
  dk::TextureParams p;
  p.tex = tex.data();
  p.tex_batched = batched;
  p.tex_height = TH;
  p.tex_width = TW;
  p.channels = C;
  p.wrap = wrap;
  p.batch = s.m.batch;
  p.height = kH;
  p.width = kW;
  p.uv = uv.data();
  p.rast = s.r.out.data();
  p.out = o.out.data();
  p.grad_out = g.data();
  p.grad_tex.grad = o.grad_tex.data();
  if (deterministic) p.grad_tex.fixed = fixed.data();
  p.grad_uv = o.grad_uv.data();
  deeper::emu::set_seed(seed);
  dk::texture(d, p);
  dk::texture_grad(d, p);
  return o;
}

TEST(RasterGradParity, Texture) {
  const Scene s;
  for (const auto wrap : {dk::TextureWrap::clamp, dk::TextureWrap::wrap}) {
    for (const bool batched : {false, true}) {
      SCOPED_TRACE(std::string(wrap == dk::TextureWrap::wrap ? "wrap" : "clamp") + (batched ? " batched" : " shared"));
      const TexOut cpu = run_texture(kCpu, s, wrap, batched, false, 1);
      const TexOut emu = run_texture(kEmu, s, wrap, batched, false, 1);
      expect_near_all(emu.out, cpu.out, 1e-6f, "out");
      expect_near_all(emu.grad_tex, cpu.grad_tex, 2e-5f, "grad_tex");
      expect_near_all(emu.grad_uv, cpu.grad_uv, 1e-5f, "grad_uv");
      const TexOut d1 = run_texture(kEmu, s, wrap, batched, true, 1);
      EXPECT_TRUE(same_bits(d1.grad_tex, run_texture(kEmu, s, wrap, batched, true, 5).grad_tex));
      expect_near_all(d1.grad_tex, cpu.grad_tex, 2e-5f, "deterministic grad_tex");
      for (std::int64_t px = 0; px < s.pixels(); ++px) {
        if (id_at(s.r, px) == -1) {
          ASSERT_EQ(emu.out[3 * px], 0.0f) << px;
        } else if (px == 3) {
          EXPECT_TRUE(std::isnan(emu.out[3 * px]));
        }
      }
    }
  }
}

struct ShadeOut {
  std::vector<float> out, gn, ga, gl;
};

ShadeOut run_shade(const Device& d, const Scene& s, dk::ShadeModel model) {
  const int P = dk::shade_light_params(model);
  const std::vector<float> normal = rnd(static_cast<std::size_t>(3 * s.pixels()), 91);
  const std::vector<float> albedo = rnd(static_cast<std::size_t>(3 * s.pixels()), 92, 0.0, 1.0);
  const std::vector<float> light = rnd(static_cast<std::size_t>(s.m.batch * P), 93, 0.1, 1.0);
  const std::vector<float> g = rnd(static_cast<std::size_t>(3 * s.pixels()), 94);
  ShadeOut o{std::vector<float>(normal.size(), -7.0f), std::vector<float>(normal.size(), 0.25f),
             std::vector<float>(normal.size(), 0.25f), std::vector<float>(light.size(), 0.25f)};
  dk::ShadeParams p;
  p.model = model;
  p.batch = s.m.batch;
  p.height = kH;
  p.width = kW;
  p.normal = normal.data();
  p.albedo = albedo.data();
  p.light = light.data();
  p.rast = s.r.out.data();
  p.out = o.out.data();
  p.grad_out = g.data();
  p.grad_normal = o.gn.data();
  p.grad_albedo = o.ga.data();
  p.grad_light = o.gl.data();
  dk::shade(d, p);
  dk::shade_grad(d, p);
  return o;
}

TEST(RasterGradParity, Shade) {
  const Scene s;
  for (const auto model : {dk::ShadeModel::lambert, dk::ShadeModel::sh9}) {
    SCOPED_TRACE(model == dk::ShadeModel::lambert ? "lambert" : "sh9");
    const ShadeOut cpu = run_shade(kCpu, s, model);
    const ShadeOut emu = run_shade(kEmu, s, model);
    expect_near_all(emu.out, cpu.out, 1e-6f, "out");
    expect_near_all(emu.gn, cpu.gn, 1e-5f, "grad_normal");
    expect_near_all(emu.ga, cpu.ga, 1e-6f, "grad_albedo");
    expect_near_all(emu.gl, cpu.gl, 1e-4f, "grad_light");
    // The light gradient's block reduction has a fixed order: the same bits under any seed.
    deeper::emu::set_seed(77);
    EXPECT_TRUE(same_bits(run_shade(kEmu, s, model).gl, emu.gl));
  }
}

struct AaOut {
  std::vector<float> out, grad_color, grad_pos;
};

AaOut run_antialias(const Device& d, const Scene& s, bool deterministic, std::uint64_t seed) {
  const std::int64_t C = 4;
  const std::vector<std::int32_t> topo = dk::build_edge_topology(s.m.tri.data(), s.m.triangles(), s.m.vertices);
  const std::vector<float> color = rnd(static_cast<std::size_t>(s.pixels() * C), 101, 0.0, 1.0);
  const std::vector<float> g = rnd(static_cast<std::size_t>(s.pixels() * C), 102);
  AaOut o{std::vector<float>(color.size(), -7.0f), std::vector<float>(color.size(), 0.25f),
          std::vector<float>(s.pos.size(), 0.25f)};
  std::vector<long long> fixed(s.pos.size());
  dk::AntialiasParams p;
  p.color = color.data();
  p.rast = s.r.out.data();
  p.pos = s.pos.data();
  p.tri = s.m.tri.data();
  p.topology = topo.data();
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.channels = C;
  p.height = kH;
  p.width = kW;
  p.out = o.out.data();
  p.grad_out = g.data();
  p.grad_color = o.grad_color.data();
  p.grad_pos.grad = o.grad_pos.data();
  if (deterministic) p.grad_pos.fixed = fixed.data();
  deeper::emu::set_seed(seed);
  dk::antialias(d, p);
  dk::antialias_grad(d, p);
  return o;
}

TEST(RasterGradParity, Antialias) {
  const Scene s;
  const AaOut cpu = run_antialias(kCpu, s, false, 1);
  const AaOut emu = run_antialias(kEmu, s, false, 1);
  expect_near_all(emu.out, cpu.out, 1e-6f, "out");
  expect_near_all(emu.grad_color, cpu.grad_color, 1e-6f, "grad_color");
  expect_near_all(emu.grad_pos, cpu.grad_pos, 1e-4f, "grad_pos");
  const AaOut d1 = run_antialias(kEmu, s, true, 1);
  EXPECT_TRUE(same_bits(d1.grad_pos, run_antialias(kEmu, s, true, 8).grad_pos));
  expect_near_all(d1.grad_pos, cpu.grad_pos, 1e-4f, "deterministic grad_pos");
  int blended = 0, moved = 0;
  const std::vector<float> color = rnd(static_cast<std::size_t>(s.pixels() * 4), 101, 0.0, 1.0);
  for (std::size_t i = 0; i < color.size(); ++i) blended += cpu.out[i] != color[i];
  for (float v : cpu.grad_pos) moved += v != 0.25f;
  EXPECT_GT(blended, 40) << "silhouette pixels are blended";
  EXPECT_GT(moved, 20) << "silhouette vertices get gradients";
}

}  // namespace
