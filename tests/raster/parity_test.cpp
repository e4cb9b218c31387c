// The emulated kernels against the CPU reference on random meshes (odd sizes, poisoned outputs,
// culled and degenerate triangles, big overlapping and sub-pixel triangles): ids, keys, counters
// and barycentrics/depth bit for bit; determinism across emulator seeds and batch sizes; interpolate
// (batched and shared attributes, background) bit for bit and against the formula in double.
#include "raster_test_util.h"

#include "kernels/emu/emulator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace {

using namespace raster_test;

// B images of a random mesh on V vertices: a jittered lattice (small triangles between lattice
// neighbours), plus random large triangles, duplicates, degenerate ones, and vertices behind the
// camera, beyond the guard band or NaN.
Mesh random_mesh(std::int64_t batch, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  const int side = 14;  // 196 lattice vertices + 4 special ones
  Mesh m;
  m.batch = batch;
  m.vertices = side * side + 4;
  for (std::int64_t b = 0; b < batch; ++b) {
    for (int r = 0; r < side; ++r) {
      for (int c = 0; c < side; ++c) {
        const float w = 1.0f + 1.5f * (uni(gen) + 1.0f);  // w in [1, 4]
        const float x = -1.1f + 2.2f * c / (side - 1) + 0.08f * uni(gen), y = -1.1f + 2.2f * r / (side - 1) + 0.08f * uni(gen);
        m.pos.insert(m.pos.end(), {x * w, y * w, 0.9f * uni(gen) * w, w});
      }
    }
    m.pos.insert(m.pos.end(), {0.1f, 0.2f, 0.3f, -1.0f});                      // behind the camera
    m.pos.insert(m.pos.end(), {0.1f, 0.2f, 0.3f, 1e-7f});                      // below min_w
    m.pos.insert(m.pos.end(), {1e30f, 0.2f, 0.3f, 1.0f});                      // beyond the guard band
    m.pos.insert(m.pos.end(), {std::numeric_limits<float>::quiet_NaN(), 0, 0, 1});  // NaN
  }
  std::uniform_int_distribution<int> lattice(0, side - 2), any(0, side * side - 1), special(side * side, side * side + 3);
  for (int t = 0; t < 300; ++t) {
    const int kind = t % 10;
    if (kind < 6) {  // a small triangle of a lattice cell, either winding
      const int r = lattice(gen), c = lattice(gen), a = r * side + c;
      if (gen() & 1) {
        m.tri.insert(m.tri.end(), {a, a + 1, a + side + 1});
      } else {
        m.tri.insert(m.tri.end(), {a, a + side, a + side + 1});
      }
    } else if (kind < 8) {  // large random triangles, overlapping everything
      m.tri.insert(m.tri.end(), {any(gen), any(gen), any(gen)});
    } else if (kind == 8) {  // a duplicate of an earlier triangle (ties in depth) or a degenerate one
      const std::size_t earlier = 3 * static_cast<std::size_t>(gen() % static_cast<unsigned>(t));
      if (gen() & 1) {
        m.tri.insert(m.tri.end(), {m.tri[earlier], m.tri[earlier + 1], m.tri[earlier + 2]});
      } else {
        const int a = any(gen);
        m.tri.insert(m.tri.end(), {a, a, any(gen)});
      }
    } else {  // one special (culled) vertex
      m.tri.insert(m.tri.end(), {any(gen), special(gen), any(gen)});
    }
  }
  return m;
}

void expect_identical(const Raster& a, const Raster& b, const char* what) {
  EXPECT_EQ(a.keys, b.keys) << what;
  EXPECT_EQ(a.culled, b.culled) << what;
  EXPECT_EQ(a.fragments, b.fragments) << what;
  ASSERT_EQ(a.out.size(), b.out.size());
  EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)), 0) << what;
}

TEST(RasterParity, EmulatedKernelsMatchTheCpuBitForBit) {
  const Mesh m = random_mesh(3, 7);
  const int height = 37, width = 53;
  std::uint32_t with_special = 0;  // triangles using a vertex that culls them (the last four)
  for (std::size_t t = 0; t < m.tri.size(); t += 3) {
    with_special += m.tri[t] >= m.vertices - 4 || m.tri[t + 1] >= m.vertices - 4 || m.tri[t + 2] >= m.vertices - 4;
  }
  EXPECT_GE(with_special, 30u);
  const auto launches = deeper::emu::stats().launches;
  for (const auto cull : {dk::RasterCull::none, dk::RasterCull::back, dk::RasterCull::front}) {
    const Raster cpu = rasterize(kCpu, m, height, width, cull), emu = rasterize(kEmu, m, height, width, cull);
    expect_identical(cpu, emu, "cpu vs emu");
    // Every value was written: no poison left, ids in range, and background pixels are zeros.
    std::int64_t background = 0, foreground = 0, overlapped = 0;
    for (std::int64_t b = 0; b < m.batch; ++b) {
      EXPECT_EQ(cpu.culled[static_cast<std::size_t>(b)], with_special);
      for (int j = 0; j < height; ++j) {
        for (int i = 0; i < width; ++i) {
          const std::int32_t id = cpu.id(b, i, j);
          ASSERT_TRUE(id >= -1 && id < m.triangles());
          ASSERT_EQ(id >= 0, cpu.count(b, i, j) > 0);
          overlapped += cpu.count(b, i, j) > 1;
          if (id < 0) {
            ++background;
            ASSERT_EQ(cpu.u(b, i, j), 0.0f);
            ASSERT_EQ(cpu.v(b, i, j), 0.0f);
            ASSERT_EQ(cpu.depth(b, i, j), 0.0f);
          } else {
            ++foreground;
            // barycentrics of a covered centre: inside up to the snapping's few 1e-3
            const float u = cpu.u(b, i, j), v = cpu.v(b, i, j);
            ASSERT_TRUE(u > -0.05f && v > -0.05f && u + v < 1.05f) << u << " " << v;
            ASSERT_TRUE(std::abs(cpu.depth(b, i, j)) <= 1.0f);
          }
        }
      }
    }
    EXPECT_GT(foreground, 100);
    EXPECT_GT(background, 100);
    if (cull == dk::RasterCull::none) {
      EXPECT_GT(overlapped, 100);
    }
  }
  EXPECT_EQ(deeper::emu::stats().launches, launches + 9);  // clear, raster, resolve per call
}

TEST(RasterParity, BadIndicesAreSkippedAndCountedWhenNotChecked) {
  Mesh m = random_mesh(2, 11);
  m.tri[3 * 5 + 1] = static_cast<std::int32_t>(m.vertices);  // one past the end
  m.tri[3 * 17] = -4;
  const Raster cpu = rasterize(kCpu, m, 32, 40, dk::RasterCull::none, false);
  const Raster emu = rasterize(kEmu, m, 32, 40, dk::RasterCull::none, false);
  expect_identical(cpu, emu, "bad indices");
  std::uint32_t expected = 0;  // triangles with a special vertex or a bad index
  for (std::size_t t = 0; t < m.tri.size(); t += 3) {
    bool bad = false;
    for (int k = 0; k < 3; ++k) bad |= m.tri[t + k] < 0 || m.tri[t + k] >= m.vertices - 4;
    expected += bad;
  }
  EXPECT_EQ(cpu.culled[0], expected);
  EXPECT_EQ(cpu.culled[1], expected);
}

TEST(RasterParity, DeterministicAcrossRunsSeedsAndBatchSizes) {
  const Mesh m = random_mesh(3, 21);
  deeper::emu::set_seed(3);
  const Raster a = rasterize(kEmu, m, 37, 53);
  deeper::emu::set_seed(99);
  const Raster b = rasterize(kEmu, m, 37, 53);
  expect_identical(a, b, "two emulator seeds");
  // Image 1 alone gives the same result as inside the batch of 3.
  Mesh one = m;
  one.batch = 1;
  const std::size_t per_image = static_cast<std::size_t>(m.vertices) * 4;
  one.pos.assign(m.pos.begin() + static_cast<std::ptrdiff_t>(per_image), m.pos.begin() + 2 * static_cast<std::ptrdiff_t>(per_image));
  for (const Device& device : {kCpu, kEmu}) {
    const Raster single = rasterize(device, one, 37, 53);
    const std::size_t plane = 37 * 53;
    EXPECT_EQ(std::memcmp(single.out.data(), a.out.data() + 4 * plane, 4 * plane * sizeof(float)), 0) << device.name();
    EXPECT_TRUE(std::equal(single.fragments.begin(), single.fragments.end(), a.fragments.begin() + static_cast<std::ptrdiff_t>(plane)));
  }
}

TEST(InterpolateParity, MatchesTheCpuAndTheFormula) {
  const Mesh m = random_mesh(3, 5);
  const Raster r = rasterize(kCpu, m, 37, 53);
  std::mt19937 gen(4);
  std::normal_distribution<float> normal;
  std::vector<float> batched(static_cast<std::size_t>(m.batch * m.vertices * 3)), shared(static_cast<std::size_t>(m.vertices * 5));
  for (auto& x : batched) x = normal(gen);
  for (auto& x : shared) x = normal(gen);
  const std::vector<float> background = {0.25f, -1.0f, 7.0f, 0.0f, 3.5f};
  struct Case {
    const std::vector<float>* attr;
    std::int64_t channels;
    bool batched;
    const std::vector<float>* background;
  };
  for (const Case& c : {Case{&batched, 3, true, nullptr}, Case{&shared, 5, false, &background}}) {
    const auto cpu = interpolate(kCpu, m, r, *c.attr, c.channels, c.batched, c.background);
    const auto emu = interpolate(kEmu, m, r, *c.attr, c.channels, c.batched, c.background);
    ASSERT_EQ(std::memcmp(cpu.data(), emu.data(), cpu.size() * sizeof(float)), 0);
    for (std::int64_t b = 0; b < m.batch; ++b) {
      for (int j = 0; j < r.height; ++j) {
        for (int i = 0; i < r.width; ++i) {
          const float* out = &cpu[static_cast<std::size_t>(r.pixel(b, i, j) * c.channels)];
          const std::int32_t id = r.id(b, i, j);
          for (std::int64_t ch = 0; ch < c.channels; ++ch) {
            double expected = c.background ? (*c.background)[static_cast<std::size_t>(ch)] : 0.0;
            if (id >= 0) {
              const double u = r.u(b, i, j), v = r.v(b, i, j), w = 1.0 - u - v;
              const std::int64_t base = c.batched ? b * m.vertices * c.channels : 0;
              const auto at = [&](int k) {
                return (*c.attr)[static_cast<std::size_t>(base + m.tri[static_cast<std::size_t>(3 * id + k)] * c.channels + ch)];
              };
              expected = u * at(0) + v * at(1) + w * at(2);
            }
            ASSERT_NEAR(out[ch], expected, 1e-5) << b << " " << i << " " << j << " " << ch;
          }
        }
      }
    }
  }
}

TEST(InterpolateParity, CorruptIdsGiveNaNNotAnOutOfBoundsRead) {
  const Mesh m = random_mesh(1, 9);
  Raster r = rasterize(kCpu, m, 32, 32);
  const std::int32_t bad_ids[2] = {static_cast<std::int32_t>(m.triangles()), -7};
  std::memcpy(&r.out[4 * 5 + 3], &bad_ids[0], 4);
  std::memcpy(&r.out[4 * 6 + 3], &bad_ids[1], 4);
  const std::vector<float> attr(static_cast<std::size_t>(m.vertices), 1.0f);
  for (const Device& device : {kCpu, kEmu}) {
    const auto out = interpolate(device, m, r, attr, 1, false);
    EXPECT_TRUE(std::isnan(out[5]) && std::isnan(out[6])) << device.name();
    EXPECT_FALSE(std::isnan(out[7]));
  }
}

}  // namespace
