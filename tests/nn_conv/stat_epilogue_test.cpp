// The BN statistics epilogue of the forward conv (Conv2dParams::stat_partials, bf16 kernel version
// 2, and version 3's three tiles) under the emulator: for every version-2 tile, forced, on a shape with a partial row tile at
// the M edge and a column count that is not a multiple of the tile, each (row tile, column) pair of
// partials equals Σ y and Σ y² computed on the host from the kernel's own fp32 output (fp64, up to
// the order of additions), the output itself is bit for bit that of the kernel without the
// epilogue, and conv2d_stat_row_tiles gives the tile count. The BN statistics from those partials
// (batchnorm_stats_from_partials) against batchnorm_stats on the same y; the refusals.
#include "core/error.h"
#include "kernels/nn/batchnorm.h"
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

namespace {

using namespace conv_test;
using deeper::Device;

const Device kEmu = Device::emu();
const Device kCpu = Device::cpu();

struct StatTile {
  dk::ConvTile tile;
  const char* name;
  int rows;  // BM on this test's shape (narrow: 128, the output being wider than 64)
};
const StatTile kStatTiles[] = {
    {dk::ConvTile::m128n128, "128x128", 128}, {dk::ConvTile::m128n64, "128x64", 128},
    {dk::ConvTile::m64n128, "64x128", 64},    {dk::ConvTile::m256n128, "256x128", 256},
    {dk::ConvTile::m128n256, "128x256", 128}, {dk::ConvTile::m512n64, "512x64", 512},
    {dk::ConvTile::narrow, "narrow", 128},
};

// 3 x 3 / 1, pad 1, C = 8, K = 72 on 2 x 17 x 17: M = 578 (a 66-row tile after 512, a 2-row one
// after 576), N = 72 (a partial 64-, 128- or 256-column tile), K_gemm = 72 (3 steps).
const dk::Conv2dShape kShape = make_shape(2, 17, 17, 8, 72, 3, 3, 1, 1, 1, 1, 1, 1);
constexpr std::int64_t kM = 2 * 17 * 17, kK = 72;

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

TEST(ConvStatEpilogue, EveryTileWritesTheSumsOfItsStoredValuesPerRowTileAndColumn) {
  const auto x = random_values(kShape.x_elements(), 301), w = random_values(kShape.w_elements(), 302);
  for (const StatTile& t : kStatTiles) {
    SCOPED_TRACE(t.name);
    const StatRun plain = run_forward_stats(kEmu, kShape, x, w, t.tile, false);
    const StatRun r = run_forward_stats(kEmu, kShape, x, w, t.tile);
    EXPECT_EQ(r.tiles, (kM + t.rows - 1) / t.rows);
    EXPECT_TRUE(same_bits(r.y, plain.y)) << "the epilogue changed the stored output";
    EXPECT_TRUE(partials_match(r.y, r.partials, kM, kK, t.rows, r.tiles));
  }
  // The automatic tile, with the bf16 copy of y written beside: same partials contract, and the
  // bf16 output is that of the plain kernel.
  const StatRun plain = run_forward_stats(kEmu, kShape, x, w, dk::ConvTile::automatic, false, true);
  const StatRun r = run_forward_stats(kEmu, kShape, x, w, dk::ConvTile::automatic, true, true);
  ASSERT_GT(r.tiles, 0);
  const std::int64_t rows = (kM + r.tiles - 1) / r.tiles;
  int bm = 64;
  while (bm < rows) bm *= 2;  // the tile's rows: a power of two, 64 to 512
  EXPECT_TRUE(same_bits(r.y, plain.y));
  ASSERT_EQ(r.y_bf16.size(), plain.y_bf16.size());
  EXPECT_EQ(std::memcmp(r.y_bf16.data(), plain.y_bf16.data(), r.y_bf16.size() * sizeof(__nv_bfloat16)), 0);
  EXPECT_TRUE(partials_match(r.y, r.partials, kM, kK, bm, r.tiles));
}

// Version 3 (wgmma) has the same epilogue contract on its three tiles: 128 x 128 and 128 x 64
// (two warpgroups of 64 rows) on K = 72 and K = 64, 64 x 128 (two warpgroups of 64 columns) on a
// GEMM of at most 64 rows.
TEST(ConvStatEpilogue, Version3WritesTheSameSumsOnEachOfItsTiles) {
  const struct {
    const char* name;
    dk::Conv2dShape shape;
    int rows;
  } cases[] = {
      {"128x128", kShape, 128},
      {"128x64", make_shape(2, 17, 17, 8, 64, 3, 3, 1, 1, 1, 1, 1, 1), 128},
      {"64x128", make_shape(1, 7, 7, 16, 136, 3, 3, 1, 1, 1, 1, 1, 1), 64},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto x = random_values(c.shape.x_elements(), 331), w = random_values(c.shape.w_elements(), 332);
    const std::int64_t M = c.shape.batch * c.shape.out_height() * c.shape.out_width();
    const StatRun plain = run_forward_stats(kEmu, c.shape, x, w, dk::ConvTile::automatic, false, false, 3);
    const StatRun r = run_forward_stats(kEmu, c.shape, x, w, dk::ConvTile::automatic, true, false, 3);
    EXPECT_EQ(r.tiles, (M + c.rows - 1) / c.rows);
    EXPECT_TRUE(same_bits(r.y, plain.y)) << "the epilogue changed the stored output";
    EXPECT_TRUE(partials_match(r.y, r.partials, M, c.shape.out_channels, c.rows, r.tiles));
  }
}

// The statistics from the epilogue's partials equal batchnorm_stats' on the same y (fp64 sums in
// another order: 1e-6 relative on the float results), running statistics with an x_bias included;
// the cpu combination of the same partials equals the emulated one bit for bit.
TEST(ConvStatEpilogue, BnStatisticsFromThePartialsMatchBatchnormStats) {
  // y far from zero mean in some channels (a shifted x), so Σy² - (Σy)²/n is a real test.
  auto x = random_values(kShape.x_elements(), 311);
  for (auto& v : x) v += 0.75f;
  const auto w = random_values(kShape.w_elements(), 312);
  const StatRun r = run_forward_stats(kEmu, kShape, x, w, dk::ConvTile::automatic);
  ASSERT_GT(r.tiles, 0);
  const auto bias = random_values(kK, 313);
  const std::vector<float> run_mean0 = random_values(kK, 314);
  std::vector<float> run_var0(kK, 0.5f);

  struct Out {
    std::vector<float> mean, invstd, run_mean, run_var;
  };
  auto stats = [&](const Device& d, bool from_partials) {
    const deeper::DeviceBuffer y = upload(d, r.y), b = upload(d, bias), partials = upload(d, r.partials);
    deeper::DeviceBuffer mean = upload(d, std::vector<float>(kK, -1.0f)), inv = upload(d, std::vector<float>(kK, -1.0f));
    deeper::DeviceBuffer rm = upload(d, run_mean0), rv = upload(d, run_var0);
    deeper::DeviceBuffer ws(d, dk::batchnorm_workspace_bytes(kM, kK));
    dk::BatchNormStatsParams p;
    p.x = from_partials ? nullptr : static_cast<const float*>(y.data());
    p.rows = kM;
    p.channels = kK;
    p.momentum = 0.25f;
    p.running_mean = static_cast<float*>(rm.data());
    p.running_var = static_cast<float*>(rv.data());
    p.x_bias = static_cast<const float*>(b.data());
    p.save_mean = static_cast<float*>(mean.data());
    p.save_invstd = static_cast<float*>(inv.data());
    p.workspace = ws.data();
    if (from_partials) {
      dk::batchnorm_stats_from_partials(d, p, static_cast<const double*>(partials.data()), r.tiles);
    } else {
      dk::batchnorm_stats(d, p);
    }
    return Out{download<float>(mean), download<float>(inv), download<float>(rm), download<float>(rv)};
  };
  const Out want = stats(kEmu, false), got = stats(kEmu, true), cpu = stats(kCpu, true);
  auto near = [](const std::vector<float>& g, const std::vector<float>& e, const char* what) {
    ASSERT_EQ(g.size(), e.size());
    for (std::size_t c = 0; c < g.size(); ++c) {
      EXPECT_NEAR(g[c], e[c], 1e-6 * std::abs(e[c]) + 1e-9) << what << " channel " << c;
    }
  };
  near(got.mean, want.mean, "save_mean");
  near(got.invstd, want.invstd, "save_invstd");
  near(got.run_mean, want.run_mean, "running_mean");
  near(got.run_var, want.run_var, "running_var");
  EXPECT_TRUE(same_bits(cpu.mean, got.mean) && same_bits(cpu.invstd, got.invstd) &&
              same_bits(cpu.run_mean, got.run_mean) && same_bits(cpu.run_var, got.run_var));
  // Not vacuous: the running mean moved by the bias, the statistics are not the initial values.
  for (std::int64_t c = 0; c < kK; ++c) EXPECT_GT(got.invstd[static_cast<std::size_t>(c)], 0.0f);
}

void expect_error(const std::function<void()>& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << part << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

TEST(ConvStatEpilogue, RefusesEveryCombinationItDoesNotSupport) {
  const auto x16 = to_bf16(random_values(kShape.x_elements(), 321));
  const auto w16 = to_bf16(random_values(kShape.w_elements(), 322));
  std::vector<float> y(static_cast<std::size_t>(kShape.y_elements()));
  std::vector<double> partials(static_cast<std::size_t>(2 * 16 * kK));
  dk::Conv2dParams ok;  // host pointers: every refusal comes before any kernel runs
  ok.shape = kShape;
  ok.math = dk::ConvMath::wmma_bf16;
  ok.x_bf16 = x16.data();
  ok.w_bf16 = w16.data();
  ok.y = y.data();
  ok.split_k = 1;
  ok.stat_partials = partials.data();
  auto with = [&](auto change) {
    dk::Conv2dParams p = ok;
    change(p);
    return p;
  };
  auto fwd = [&](const dk::Conv2dParams& p) { return [p] { dk::check_conv2d_params(p, dk::ConvOp::forward); }; };
  expect_error(fwd(with([](auto& p) { p.split_k = 0; })), "split_k = 1");
  expect_error(fwd(with([](auto& p) { p.split_k = 2; })), "split_k = 1");
  expect_error(fwd(with([](auto& p) { p.accumulate = true; })), "not accumulated");
  std::vector<__nv_bfloat16> y16(y.size());
  expect_error(fwd(with([&](auto& p) {
                 p.y = nullptr;  // a bf16 output only
                 p.y_bf16 = y16.data();
               })),
               "needs the fp32 output y");
  expect_error(fwd(with([](auto& p) { p.bf16_kernel = 1; })), "versions 2 and 3 only");
  expect_error(fwd(with([&](auto& p) {
                 p.math = dk::ConvMath::simt_f32;
                 p.x = y.data();  // any fp32 operands
                 p.w = y.data();
               })),
               "versions 2 and 3 only");
  expect_error(fwd(with([](auto& p) { p.shape.in_channels = 4; })), "versions 2 and 3 only");
  expect_error(fwd(with([&](auto& p) {
                 p.stat_partials = reinterpret_cast<double*>(reinterpret_cast<char*>(partials.data()) + 4);
               })),
               "8-byte aligned");
  const dk::Conv2dParams dg = with([&](auto& p) {
    p.dy_bf16 = x16.data();
    p.dx = y.data();
  });
  expect_error([&] { dk::check_conv2d_params(dg, dk::ConvOp::dgrad); }, "forward output only");
  expect_error([&] { dk::conv2d_forward(kCpu, ok); }, "cuda or emu backend");
  // The tile count is 0 wherever the epilogue does not run.
  EXPECT_GT(dk::conv2d_stat_row_tiles(kEmu, ok), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kCpu, ok), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.bf16_kernel = 1; })), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.bf16_kernel = 3; })), 5);  // 128-row tiles
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.split_k = 0; })), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.accumulate = true; })), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.math = dk::ConvMath::simt_f32; })), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.shape.in_channels = 4; })), 0);
  EXPECT_EQ(dk::conv2d_stat_row_tiles(kEmu, with([](auto& p) { p.mma_tile = dk::ConvTile::m512n64; })), 2);
  EXPECT_EQ(dk::conv2d_stat_row_tiles_bound(kM), 10);
  // batchnorm_stats_from_partials' own checks.
  std::vector<float> mean(kK), inv(kK);
  dk::BatchNormStatsParams bp;
  bp.rows = kM;
  bp.channels = kK;
  bp.save_mean = mean.data();
  bp.save_invstd = inv.data();
  expect_error([&] { dk::batchnorm_stats_from_partials(kCpu, bp, nullptr, 4); }, "null partials");
  expect_error([&] { dk::batchnorm_stats_from_partials(kCpu, bp, partials.data(), 0); }, "0 splits");
  bp.save_invstd = nullptr;
  expect_error([&] { dk::batchnorm_stats_from_partials(kCpu, bp, partials.data(), 4); }, "null save_mean or save_invstd");
  bp.save_invstd = inv.data();
  bp.rows = 1;
  expect_error([&] { dk::batchnorm_stats_from_partials(kCpu, bp, partials.data(), 4); }, "needs at least 2");
}

}  // namespace
