// conv2d bf16 kernel version 3 (sm_90a wgmma, kernels/nn/conv2d_wgmma.cuh) under the emulator, beyond
// emu_test.cpp's bit-for-bit comparison of versions 1-3: with split-K and accumulate it is held to
// the double reference, the 64 x 128 tile of short GEMMs (its refusals are in emu_test.cpp), and
// the pipeline with one wgmma group in flight on each tile, over enough K steps that a stage
// refilled while a pending wgmma still reads it would show.
#include "core/error.h"
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <vector>

namespace {

using namespace conv_test;
using deeper::Device;

TEST(ConvWgmmaEmu, SplitKAndAccumulateMatchTheReference) {
  const auto s = make_shape(2, 10, 10, 32, 24, 3, 3, 1, 1, 1, 1, 1, 1);  // K_gemm 288 / 200: several steps
  for (const auto op : kOps) {
    const auto [a, b] = op_operands(op, s, 53);
    const Expected want = expected(op, s, widen(to_bf16(a)), widen(to_bf16(b)));
    RunOptions opt;
    opt.bf16_kernel = 3;
    opt.split_k = 3;
    const auto split = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
    EXPECT_TRUE(close_to(split.f32, want, 1e-5)) << op_name(op) << " split_k 3";
    // accumulate: out = initial + conv
    std::vector<float> initial(want.value.size());
    for (std::size_t i = 0; i < initial.size(); ++i) initial[i] = static_cast<float>(i % 5) - 2.0f;
    opt.split_k = 1;
    opt.accumulate = true;
    opt.initial = &initial;
    const auto acc = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
    Expected shifted = want;
    for (std::size_t i = 0; i < initial.size(); ++i) {
      shifted.value[i] += initial[i];
      shifted.scale[i] += std::abs(initial[i]);
    }
    EXPECT_TRUE(close_to(acc.f32, shifted, 1e-5)) << op_name(op) << " accumulate";
  }
}

TEST(ConvWgmmaEmu, ShortGemmsTakeTheColumnSplitTile) {
  // GEMMs at most 64 rows tall and wider than 64 run on 64 x 128 tiles whose warpgroups own 64
  // columns each: forward with K = 136 (B K-major), dgrad with C = 136 (B MN-major), wgrad with
  // K = 16 (A and B MN-major). Version 3 against version 2, bit for bit, and the reference.
  const dk::Conv2dShape shapes[] = {make_shape(1, 4, 4, 16, 136, 3, 3, 1, 1, 1, 1, 1, 1),
                                    make_shape(1, 4, 4, 136, 16, 3, 3, 1, 1, 1, 1, 1, 1)};
  for (const auto& s : shapes) {
    for (const auto op : kOps) {
      const auto [a, b] = op_operands(op, s, 57);
      RunOptions opt;
      opt.split_k = 1;
      opt.bf16_kernel = 2;
      const auto v2 = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
      opt.bf16_kernel = 3;
      const auto v3 = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
      EXPECT_EQ(v2.f32, v3.f32) << op_name(op) << " C " << s.in_channels << " K " << s.out_channels;
      EXPECT_TRUE(close_to(v3.f32, expected(op, s, widen(to_bf16(a)), widen(to_bf16(b))), 1e-5)) << op_name(op);
    }
  }
}

TEST(ConvWgmmaEmu, OneGroupInFlightNeverReadsARefilledStage) {
  // Each K step's wgmma group is waited for only at the end of the next step; the copies issued
  // meanwhile go kPrefetch = kStages - 2 steps ahead (128 x 128: 3 stages, 1 ahead; 128 x 64 and
  // 64 x 128: 4 stages, 2 ahead). A copy issued into the stage that the pending group reads
  // poisons it under the emulator (cp.async fills its destination with NaN at issue; the deferred
  // wgmma reads shared memory at the wait). Steps per GEMM (K = 64 each) >= kStages + 2, so every
  // stage is refilled while earlier steps' groups may be pending; version 3 against version 2 (a
  // separate pipeline: 4 stages of K = 32, mma.sync) bit for bit, and the reference.
  struct Case {
    const char* name;
    dk::Conv2dShape shape;
    std::vector<dk::ConvOp> ops;
  };
  const Case cases[] = {
      // 128 x 128 tiles (M and N_gemm above 64): forward and dgrad K_gemm 648 (11 steps), wgrad
      // N P Q = 289 (5 steps)
      {"128x128 3x3", make_shape(1, 9, 9, 72, 72, 3, 3, 1, 1, 1, 1, 1, 1), {dk::ConvOp::forward, dk::ConvOp::dgrad}},
      {"128x128 1x1", make_shape(1, 17, 17, 72, 72, 1, 1, 1, 1, 0, 0, 0, 0), {dk::ConvOp::wgrad}},
      // 128 x 64 tiles (N_gemm 40): forward and dgrad K_gemm 360 (6 steps)
      {"128x64 3x3", make_shape(1, 9, 9, 40, 40, 3, 3, 1, 1, 1, 1, 1, 1), {dk::ConvOp::forward, dk::ConvOp::dgrad}},
      // 64 x 128 tiles (wgrad M = K = 40, N_gemm = C = 72): N P Q = 324 (6 steps)
      {"64x128 1x1", make_shape(1, 18, 18, 72, 40, 1, 1, 1, 1, 0, 0, 0, 0), {dk::ConvOp::wgrad}},
  };
  for (const auto& c : cases) {
    for (const auto op : c.ops) {
      const auto [a, b] = op_operands(op, c.shape, 59);
      RunOptions opt;
      opt.split_k = 1;
      opt.bf16_kernel = 2;
      const auto v2 = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
      opt.bf16_kernel = 3;
      const auto v3 = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
      EXPECT_EQ(v2.f32, v3.f32) << c.name << " " << op_name(op);
      EXPECT_TRUE(close_to(v3.f32, expected(op, c.shape, widen(to_bf16(a)), widen(to_bf16(b))), 1e-5))
          << c.name << " " << op_name(op);
    }
  }
}

}  // namespace
