// conv2d bf16 kernel version 3 (sm_90a wgmma, kernels/nn/conv2d_wgmma.cuh) on a real GPU against the
// double CPU reference, on the 12 ResNet-10 conv layers with vector operands (all but the stem) at
// batch 8 and 112 px: forward, dgrad (per stride phase) and wgrad (automatic split-K with atomics),
// held to 1e-5 of the sum of |terms| of each output, as versions 1 and 2 are (gpu_conv_test.cpp);
// and the bf16 output of one layer. A layout mistake in the emulator's reading of wgmma (the
// descriptors, the fragment) shows here as O(1) errors. Skips without a usable GPU or an sm_90a build.
#include "kernels/nn/conv2d.h"
#include "kernels/nn/conv_shape.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"
#include "tests/support/gpu_test_util.h"

#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

using namespace conv_test;
using deeper::Device;

TEST(GpuConvWgmma, Version3MatchesTheCpuOnResNet10ShapesAt112) {
  DEEPER_REQUIRE_CUDA();
#if !DEEPER_CUDA_SM90A
  GTEST_SKIP() << "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES does not list 90a)";
#endif
  int checked = 0;
  for (const auto& layer : dk::resnet10_conv_shapes(8, 112)) {
    const auto& s = layer.shape;
    if (!vector_shape(s)) continue;
    const auto x = bf16_values(s.x_elements(), 11), w = bf16_values(s.w_elements(), 12),
               dy = bf16_values(s.y_elements(), 13);
    for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
      const auto& a = op == dk::ConvOp::dgrad ? dy : x;
      const auto& b = op == dk::ConvOp::wgrad ? dy : w;
      RunOptions opt;
      opt.bf16_kernel = 3;
      const auto got = run_op(Device::cuda(0), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
      EXPECT_TRUE(close_to(got.f32, expected(op, s, a, b), 1e-5)) << layer.name << " " << op_name(op) << " kernel 3";
      ++checked;
    }
  }
  EXPECT_EQ(checked, 36);
}

// Version 3's BN statistics epilogue (Conv2dParams::stat_partials) on every vector layer at batch
// 8, 112 px: each (row tile, column) pair of partials is the fp64 Σ y and Σ y² of the kernel's own
// output (1e-12), and the output is bit for bit the kernel's without the epilogue.
TEST(GpuConvWgmma, Version3StatisticsEpilogueMatchesTheSumsOfItsOutput) {
  DEEPER_REQUIRE_CUDA();
#if !DEEPER_CUDA_SM90A
  GTEST_SKIP() << "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES does not list 90a)";
#endif
  for (const auto& layer : dk::resnet10_conv_shapes(8, 112)) {
    const auto& s = layer.shape;
    if (!vector_shape(s)) continue;
    const auto x = bf16_values(s.x_elements(), 21), w = bf16_values(s.w_elements(), 22);
    const std::int64_t M = s.batch * s.out_height() * s.out_width();
    const StatRun plain = run_forward_stats(Device::cuda(0), s, x, w, dk::ConvTile::automatic, false, false, 3);
    const StatRun r = run_forward_stats(Device::cuda(0), s, x, w, dk::ConvTile::automatic, true, false, 3);
    const int rows = M <= 64 && s.out_channels > 64 ? 64 : 128;  // version 3's tile rule
    EXPECT_EQ(r.tiles, (M + rows - 1) / rows) << layer.name;
    EXPECT_EQ(r.y, plain.y) << layer.name << ": the epilogue changed the output";
    EXPECT_TRUE(partials_match(r.y, r.partials, M, s.out_channels, rows, r.tiles)) << layer.name;
  }
}

TEST(GpuConvWgmma, Version3Bf16Output) {
  DEEPER_REQUIRE_CUDA();
#if !DEEPER_CUDA_SM90A
  GTEST_SKIP() << "this build has no sm_90a code (CMAKE_CUDA_ARCHITECTURES does not list 90a)";
#endif
  const auto s = dk::resnet10_conv_shapes(8, 112)[4].shape;  // stage 3 conv1, 3 x 3 / 2
  const auto x = bf16_values(s.x_elements(), 14), w = bf16_values(s.w_elements(), 15);
  RunOptions opt;
  opt.bf16_kernel = 3;
  opt.bf16_out = true;
  const auto got = run_op(Device::cuda(0), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, x, w, opt);
  const Expected want = expected(dk::ConvOp::forward, s, x, w);
  ASSERT_EQ(got.bf16.size(), want.value.size());
  for (std::size_t i = 0; i < got.bf16.size(); ++i) {
    ASSERT_NEAR(__bfloat162float(got.bf16[i]), want.value[i], 1e-5 * want.scale[i] + 0.008 * std::abs(want.value[i]))
        << "bf16 output " << i;
  }
}

}  // namespace
#endif
