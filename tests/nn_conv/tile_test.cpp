// bf16 kernel version 2's block tiles (Conv2dParams::mma_tile, kernels/nn/conv2d_mma.cuh) under the
// emulator: every tile, forced, on forward, dgrad (stride 1 and 2: one GEMM per stride phase) and
// wgrad against the double reference on bf16-rounded operands (1e-5 of the sum of |terms|), with
// partial tiles at the M and N edges of every tile and more K steps than the 4 cp.async stages;
// without split-K every tile gives the same sums bit for bit (the emulator adds exact products in
// k order), so a misplaced warp, fragment or epilogue pair shows as a difference. Split-K with
// accumulate, bf16 outputs, and the automatic rule's choice (block counts) on the 64 x 64 warp tiles.
#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <cmath>
#include <string>
#include <utility>
#include <vector>

namespace {

using namespace conv_test;
using deeper::Device;

constexpr double kRel = 1e-5;

struct NamedTile {
  dk::ConvTile tile;
  const char* name;
};
const NamedTile kTiles[] = {
    {dk::ConvTile::m128n128, "128x128"}, {dk::ConvTile::m128n64, "128x64"},   {dk::ConvTile::m64n128, "64x128"},
    {dk::ConvTile::m256n128, "256x128"}, {dk::ConvTile::m128n256, "128x256"}, {dk::ConvTile::m512n64, "512x64"},
    {dk::ConvTile::narrow, "narrow"},
};
const NamedTile kWarp64Tiles[] = {
    {dk::ConvTile::m256n128, "256x128"}, {dk::ConvTile::m128n256, "128x256"}, {dk::ConvTile::m512n64, "512x64"}};

// 3 x 3 / 1, C = 16, K = 136, 2 x 17 x 17: forward M = 578 (two 512-row tiles, the second of 66),
// N = 136 (one 8-wide partial 64- or 128-column tile), K_gemm = 144 (5 steps); dgrad N = 16 (a
// partial tile everywhere), K_gemm = 1,224; wgrad M = 136, N = 144, K_gemm = 578 (19 steps).
const Case kStride1{"3x3s1_C16_K136", make_shape(2, 17, 17, 16, 136, 3, 3, 1, 1, 1, 1, 1, 1)};
// 3 x 3 / 2, C = 24, K = 72 on 2 x 15 x 15: four dgrad phases of 128, 112, 112 and 98 rows with
// 1, 2, 2 and 4 taps (K_gemm 72, 144, 144, 288), N = 24; forward M = 128, N = 72, K_gemm = 216.
const Case kStride2{"3x3s2_C24_K72", make_shape(2, 15, 15, 24, 72, 3, 3, 2, 2, 1, 1, 1, 1)};

Expected rounded_expected(dk::ConvOp op, const dk::Conv2dShape& s, const std::vector<float>& a,
                          const std::vector<float>& b) {
  return expected(op, s, widen(to_bf16(a)), widen(to_bf16(b)));
}

TEST(ConvTiles, EveryTileMatchesTheReferenceAndTheOtherTiles) {
  for (const Case& c : {kStride1, kStride2}) {
    for (const auto op : kOps) {
      if (c.name == kStride2.name && op == dk::ConvOp::wgrad) continue;  // stride 2 is dgrad's case
      const auto [a, b] = op_operands(op, c.shape, 91);
      const Expected want = rounded_expected(op, c.shape, a, b);
      std::vector<float> first;
      for (const auto& t : kTiles) {
        RunOptions opt;
        opt.split_k = 1;
        opt.mma_tile = t.tile;
        const auto got = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
        EXPECT_TRUE(close_to(got.f32, want, kRel)) << c.name << " " << op_name(op) << " tile " << t.name;
        if (first.empty()) {
          first = got.f32;
        } else {
          EXPECT_EQ(got.f32, first) << c.name << " " << op_name(op) << " tile " << t.name << " vs 128x128";
        }
      }
    }
  }
}

TEST(ConvTiles, Warp64TilesWithSplitKAndAccumulate) {
  // wgrad split in 3 (atomics into a zeroed output), accumulating or not; dgrad with stride 2 split
  // in 2 per phase, accumulating (phases too short to split add into the same output).
  for (const auto& t : kWarp64Tiles) {
    for (const auto op : {dk::ConvOp::wgrad, dk::ConvOp::dgrad}) {
      const Case& c = op == dk::ConvOp::wgrad ? kStride1 : kStride2;
      const auto [a, b] = op_operands(op, c.shape, 93);
      const Expected want = rounded_expected(op, c.shape, a, b);
      std::vector<float> initial(want.value.size());
      Expected shifted = want;
      for (std::size_t i = 0; i < initial.size(); ++i) {
        initial[i] = 0.25f * static_cast<float>(i % 7) - 0.75f;
        shifted.value[i] += initial[i];
        shifted.scale[i] += std::abs(initial[i]);
      }
      RunOptions acc;
      acc.mma_tile = t.tile;
      acc.split_k = op == dk::ConvOp::wgrad ? 3 : 2;
      acc.accumulate = true;
      acc.initial = &initial;
      EXPECT_TRUE(close_to(run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, acc).f32, shifted, kRel))
          << op_name(op) << " tile " << t.name << " accumulate, split " << acc.split_k;
      RunOptions set = acc;
      set.accumulate = false;
      set.initial = nullptr;
      EXPECT_TRUE(close_to(run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, set).f32, want, kRel))
          << op_name(op) << " tile " << t.name << " split " << set.split_k;
      RunOptions add;  // accumulate without split-K: the epilogue's float2 read-modify-write
      add.mma_tile = t.tile;
      add.split_k = 1;
      add.accumulate = true;
      add.initial = &initial;
      EXPECT_TRUE(close_to(run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, add).f32, shifted, kRel))
          << op_name(op) << " tile " << t.name << " accumulate, no split";
    }
  }
}

TEST(ConvTiles, Warp64TilesWriteRoundedBf16Outputs) {
  for (const auto& t : kWarp64Tiles) {
    for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad}) {
      const auto [a, b] = op_operands(op, kStride2.shape, 95);
      RunOptions both;
      both.mma_tile = t.tile;
      both.bf16_out = true;
      const auto got = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, kStride2.shape, a, b, both);
      EXPECT_TRUE(close_to(got.f32, rounded_expected(op, kStride2.shape, a, b), kRel)) << op_name(op) << " " << t.name;
      ASSERT_EQ(got.bf16.size(), got.f32.size());
      for (std::size_t i = 0; i < got.f32.size(); ++i) {
        ASSERT_EQ(__bfloat162float(got.bf16[i]), __bfloat162float(__float2bfloat16_rn(got.f32[i])))
            << op_name(op) << " " << t.name << " " << i;
      }
    }
  }
}

// Blocks launched by one forward call of shape s (automatic tile and split-K).
std::uint64_t forward_blocks(const dk::Conv2dShape& s, std::vector<float>* y, const std::vector<float>& x,
                             const std::vector<float>& w) {
  const auto before = deeper::emu::stats();
  *y = run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, x, w).f32;
  const auto after = deeper::emu::stats();
  EXPECT_EQ(after.launches - before.launches, 1u);
  return after.blocks - before.blocks;
}

TEST(ConvTiles, AutomaticRuleTakesLargeTilesOnlyWhereEverySmHasWork) {
  // A 1 x 1 conv, C = 8 (one K step), 64 output channels: with few rows the 128 x 64 tile (fewest
  // idle SMs, least time per tile) is chosen; with 132 x 512 rows, one 512 x 64 tile per SM
  // (predicted 800 clk per K step) beats four 128 x 64 tiles per SM (4 x 352 clk).
  const auto small = make_shape(1, 32, 32, 8, 64, 1, 1, 1, 1, 0, 0, 0, 0);  // M = 1,024
  const auto large = make_shape(66, 32, 32, 8, 64, 1, 1, 1, 1, 0, 0, 0, 0);  // M = 67,584
  for (const auto& [s, blocks] : {std::pair{small, 1024u / 128}, std::pair{large, 67584u / 512}}) {
    const auto x = random_values(s.x_elements(), 97), w = random_values(s.w_elements(), 98);
    std::vector<float> y;
    EXPECT_EQ(forward_blocks(s, &y, x, w), blocks) << "M " << s.batch * 32 * 32;
    EXPECT_TRUE(close_to(y, rounded_expected(dk::ConvOp::forward, s, x, w), kRel));
  }
}

}  // namespace
