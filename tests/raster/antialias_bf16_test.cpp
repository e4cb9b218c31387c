// antialias's optional bf16 output (AntialiasParams::out_bf16, kernels/raster/antialias.h): on cpu
// and emu, alone or next to the f32 output, it is exactly to_bf16 of the f32 result (round to
// nearest even), and the f32 output is unchanged by asking for it; a scene of two rotated grids
// (one in perspective) against the background, so silhouette blends happen; no output refused.
#include "kernels/raster/antialias.h"
#include "kernels/render/compose.h"
#include "raster_test_util.h"

#include "core/error.h"
#include "tests/support/bf16_bits.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

using deeper::test_util::bf16_bits;

using namespace raster_test;

constexpr int kH = 32, kW = 32, kGrid = 3;

struct Scene {
  Mesh m;
  Raster r;
  std::vector<std::int32_t> topology;
  std::vector<float> color;  // B x H x W x 3
};

Scene make_scene() {
  Scene s;
  s.m.batch = 2;
  s.m.vertices = (kGrid + 1) * (kGrid + 1);
  s.m.tri = grid_triangles(kGrid, true);
  for (std::int64_t b = 0; b < s.m.batch; ++b) {
    const double angle = 0.3 + 0.4 * static_cast<double>(b), size = 6.5;
    const double ex[2] = {size * std::cos(angle), size * std::sin(angle)}, ey[2] = {-ex[1], ex[0]};
    for (int r = 0; r <= kGrid; ++r) {
      for (int c = 0; c <= kGrid; ++c) {
        const double x = 7.3 + c * ex[0] + r * ey[0], y = 4.1 + c * ex[1] + r * ey[1];
        push_screen_vertex(s.m.pos, x, y, kW, kH, b == 0 ? 1.0 : 0.8 + 0.1 * r, 0.1 * c - 0.2);
      }
    }
  }
  s.r = rasterize(kCpu, s.m, kH, kW);
  s.topology = dk::build_edge_topology(s.m.tri.data(), s.m.triangles(), s.m.vertices);
  s.color.resize(static_cast<std::size_t>(s.m.batch * kH * kW * 3));
  std::uint32_t state = 12345u;
  for (float& x : s.color) {
    state = state * 1664525u + 1013904223u;
    x = static_cast<float>(state >> 8) / 16777216.0f;
  }
  return s;
}

dk::AntialiasParams params(const Scene& s) {
  dk::AntialiasParams p;
  p.color = s.color.data();
  p.rast = s.r.out.data();
  p.pos = s.m.pos.data();
  p.tri = s.m.tri.data();
  p.topology = s.topology.data();
  p.batch = s.m.batch;
  p.vertices = s.m.vertices;
  p.triangles = s.m.triangles();
  p.channels = 3;
  p.height = kH;
  p.width = kW;
  return p;
}

TEST(AntialiasBf16, EqualsToBf16OfTheF32Output) {
  const Scene s = make_scene();
  std::vector<float> cpu_f32;
  for (const Device& device : {kCpu, kEmu}) {
    SCOPED_TRACE(device.name());
    dk::AntialiasParams p = params(s);
    std::vector<float> f32(s.color.size(), -1.0f);
    p.out = f32.data();
    dk::antialias(device, p);
    int blended = 0;
    for (std::size_t i = 0; i < f32.size(); ++i) blended += f32[i] != s.color[i];
    EXPECT_GT(blended, 30);  // silhouettes were antialiased

    std::vector<float> f32_both(s.color.size(), -1.0f);
    std::vector<std::uint16_t> both(s.color.size(), 0xFFFFu), only(s.color.size(), 0xFFFFu);
    p.out = f32_both.data();
    p.out_bf16 = both.data();
    dk::antialias(device, p);
    p.out = nullptr;
    p.out_bf16 = only.data();
    dk::antialias(device, p);
    EXPECT_EQ(std::memcmp(f32_both.data(), f32.data(), f32.size() * sizeof(float)), 0);
    const std::vector<std::uint16_t> expected = bf16_bits(f32);
    EXPECT_EQ(both, expected);
    EXPECT_EQ(only, expected);
    if (device.backend == deeper::Backend::cpu) {
      cpu_f32 = f32;
    } else {
      EXPECT_EQ(std::memcmp(cpu_f32.data(), f32.data(), f32.size() * sizeof(float)), 0);
    }
  }
}

TEST(AntialiasBf16, NoOutputRefused) {
  const Scene s = make_scene();
  dk::AntialiasParams p = params(s);
  try {
    dk::antialias(kCpu, p);
    ADD_FAILURE() << "expected deeper::Error";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("antialias: null output (out and out_bf16)"), std::string::npos) << e.what();
  }
  // bf16 only accumulates in registers: at most kAntialiasBf16OnlyChannels channels.
  std::vector<std::uint16_t> bits(s.color.size() * 2);
  std::vector<float> wide(s.color.size() * 2, 0.5f);
  p.color = wide.data();
  p.channels = dk::kAntialiasBf16OnlyChannels + 1;
  p.out_bf16 = bits.data();
  try {
    dk::antialias(kCpu, p);
    ADD_FAILURE() << "expected deeper::Error";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("antialias: a bf16-only output (no out) takes at most 4 channels, not 5"),
              std::string::npos)
        << e.what();
  }
}

// bf16 only with fewer channels than the register block (1 and 2 of the 3 colour channels as
// separate images): still to_bf16 of the f32 result, cpu and emu.
TEST(AntialiasBf16, FewChannels) {
  const Scene s = make_scene();
  for (const std::int64_t channels : {1, 2}) {
    std::vector<float> color;
    for (std::size_t q = 0; q < s.color.size(); q += 3) {
      for (std::int64_t c = 0; c < channels; ++c) color.push_back(s.color[q + static_cast<std::size_t>(c)]);
    }
    for (const Device& device : {kCpu, kEmu}) {
      SCOPED_TRACE(device.name());
      dk::AntialiasParams p = params(s);
      p.color = color.data();
      p.channels = channels;
      std::vector<float> f32(color.size(), -1.0f);
      p.out = f32.data();
      dk::antialias(device, p);
      std::vector<std::uint16_t> only(color.size(), 0xFFFFu);
      p.out = nullptr;
      p.out_bf16 = only.data();
      dk::antialias(device, p);
      EXPECT_EQ(only, bf16_bits(f32));
    }
  }
}

}  // namespace
