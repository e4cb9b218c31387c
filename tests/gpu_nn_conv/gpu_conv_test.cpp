// conv2d on a real GPU against the double CPU reference, on the 13 conv layers of ResNet-10 at batch 8
// and 112 px (kernels/nn/conv_shape.h): forward, dgrad and wgrad, simt_f32 and wmma_bf16 (kernel
// versions 1 and 2). The
// operands are bf16-representable, so both maths see the same values and are held to 1e-5 of the sum
// of |terms| of each output (fp32 accumulation of exact products). The automatic split-K of wgrad
// (atomics) runs here on real hardware, with every version-2 tile (Conv2dParams::mma_tile); bf16
// outputs and accumulate are checked on one layer. Every test skips without a usable GPU.
#include "kernels/nn/conv2d.h"
#include "kernels/nn/conv_shape.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"
#include "tests/support/gpu_test_util.h"

#include <utility>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

using namespace conv_test;
using deeper::Device;

// Version 2's tiles run on every layer (Conv2dParams::mma_tile).
const std::pair<dk::ConvTile, const char*> kV2Tiles[] = {{dk::ConvTile::automatic, "automatic"},
                                                         {dk::ConvTile::narrow, "narrow"},
                                                         {dk::ConvTile::m256n128, "256x128"},
                                                         {dk::ConvTile::m128n256, "128x256"},
                                                         {dk::ConvTile::m512n64, "512x64"}};

TEST(GpuConv, MatchesTheCpuOnResNet10ShapesAt112) {
  DEEPER_REQUIRE_CUDA();
  for (const auto& layer : dk::resnet10_conv_shapes(8, 112)) {
    const auto& s = layer.shape;
    const auto x = bf16_values(s.x_elements(), 1), w = bf16_values(s.w_elements(), 2),
               dy = bf16_values(s.y_elements(), 3);
    for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
      const auto& a = op == dk::ConvOp::dgrad ? dy : x;
      const auto& b = op == dk::ConvOp::forward ? w : op == dk::ConvOp::dgrad ? w : dy;
      const Expected want = expected(op, s, a, b);
      const auto simt = run_op(Device::cuda(0), op, dk::ConvMath::simt_f32, s, a, b);
      EXPECT_TRUE(close_to(simt.f32, want, 1e-5)) << layer.name << " " << op_name(op) << " simt_f32";
      // wmma_bf16 kernel versions 1 and 2 (version 2 only with vector operands: not the stem);
      // version 2 with its automatic tile, version 1's tiles, and each 64 x 64-warp tile forced
      RunOptions v1;
      v1.bf16_kernel = 1;
      EXPECT_TRUE(close_to(run_op(Device::cuda(0), op, dk::ConvMath::wmma_bf16, s, a, b, v1).f32, want, 1e-5))
          << layer.name << " " << op_name(op) << " wmma_bf16 kernel 1";
      if (!vector_shape(s)) continue;
      for (const auto& [tile, tile_name] : kV2Tiles) {
        RunOptions opt;
        opt.bf16_kernel = 2;
        opt.mma_tile = tile;
        const auto got = run_op(Device::cuda(0), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
        EXPECT_TRUE(close_to(got.f32, want, 1e-5))
            << layer.name << " " << op_name(op) << " wmma_bf16 kernel 2 tile " << tile_name;
      }
    }
  }
}

TEST(GpuConv, Bf16OutputAndAccumulate) {
  DEEPER_REQUIRE_CUDA();
  const auto s = dk::resnet10_conv_shapes(8, 112)[4].shape;  // stage 3 conv1, 3 x 3 / 2
  const auto x = bf16_values(s.x_elements(), 4), w = bf16_values(s.w_elements(), 5);
  // (kernel version, version 2's tile): version 1, version 2 automatic and with each 64 x 64-warp tile
  const std::pair<int, dk::ConvTile> kRuns[] = {{1, dk::ConvTile::automatic},
                                                {2, dk::ConvTile::automatic},
                                                {2, dk::ConvTile::m256n128},
                                                {2, dk::ConvTile::m128n256},
                                                {2, dk::ConvTile::m512n64}};
  const Expected want_y = expected(dk::ConvOp::forward, s, x, w);
  for (const auto& [kernel, tile] : kRuns) {
    RunOptions both;
    both.bf16_out = true;
    both.bf16_kernel = kernel;
    both.mma_tile = tile;
    const auto got = run_op(Device::cuda(0), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, x, w, both);
    EXPECT_TRUE(close_to(got.f32, want_y, 1e-5)) << "kernel " << kernel << " tile " << static_cast<int>(tile);
    for (std::size_t i = 0; i < got.f32.size(); ++i) {
      ASSERT_EQ(__bfloat162float(got.bf16[i]), __bfloat162float(__float2bfloat16_rn(got.f32[i]))) << i;
    }
  }
  const auto dy = bf16_values(s.y_elements(), 6);
  Expected want = expected(dk::ConvOp::wgrad, s, x, dy);
  std::vector<float> initial(want.value.size());
  for (std::size_t i = 0; i < initial.size(); ++i) {
    initial[i] = static_cast<float>(i % 3);
    want.value[i] += initial[i];
    want.scale[i] += initial[i];
  }
  for (const auto& [kernel, tile] : kRuns) {
    for (const int split : {0, 1}) {
      RunOptions acc;
      acc.accumulate = true;
      acc.initial = &initial;
      acc.split_k = split;
      acc.bf16_kernel = kernel;
      acc.mma_tile = tile;
      EXPECT_TRUE(close_to(run_op(Device::cuda(0), dk::ConvOp::wgrad, dk::ConvMath::wmma_bf16, s, x, dy, acc).f32,
                           want, 1e-5))
          << "split " << split << " kernel " << kernel << " tile " << static_cast<int>(tile);
    }
  }
}

// The BN statistics epilogue (Conv2dParams::stat_partials) on the GPU, on every ResNet-10 layer
// with vector operands at batch 8, 112 px, for every version-2 tile: each (row tile, column) pair of
// partials is the fp64 Σ y and Σ y² of the kernel's own output over the tile's rows (1e-12), the
// output is bit for bit the kernel's without the epilogue, and the tile count is ceil(M / BM).
TEST(GpuConv, StatisticsEpilogueMatchesTheSumsOfTheOutputOnEveryTile) {
  DEEPER_REQUIRE_CUDA();
  const std::pair<dk::ConvTile, int> tiles[] = {{dk::ConvTile::m128n128, 128}, {dk::ConvTile::m128n64, 128},
                                                {dk::ConvTile::m64n128, 64},   {dk::ConvTile::m256n128, 256},
                                                {dk::ConvTile::m128n256, 128}, {dk::ConvTile::m512n64, 512}};
  for (const auto& layer : dk::resnet10_conv_shapes(8, 112)) {
    const auto& s = layer.shape;
    if (!vector_shape(s)) continue;  // the C = 3 stem: no version 2
    const auto x = bf16_values(s.x_elements(), 11), w = bf16_values(s.w_elements(), 12);
    const std::int64_t M = s.batch * s.out_height() * s.out_width();
    for (const auto& [tile, rows] : tiles) {
      const StatRun plain = run_forward_stats(Device::cuda(0), s, x, w, tile, false);
      const StatRun r = run_forward_stats(Device::cuda(0), s, x, w, tile);
      EXPECT_EQ(r.tiles, (M + rows - 1) / rows) << layer.name << " tile " << rows;
      EXPECT_EQ(r.y, plain.y) << layer.name << " tile " << rows << ": the epilogue changed the output";
      EXPECT_TRUE(partials_match(r.y, r.partials, M, s.out_channels, rows, r.tiles)) << layer.name << " tile " << rows;
    }
  }
}

}  // namespace
#else
TEST(GpuConv, NeedsTheNvccPass) { GTEST_SKIP() << "built without the CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
