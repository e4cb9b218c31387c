// conv2d bf16 kernel version 3 (sm_90a wgmma, kernels/nn/conv2d_wgmma.cuh) under the emulator, beyond
// emu_test.cpp's bit-for-bit comparison of versions 1-3: with split-K and accumulate it is held to
// the double reference, and it is refused where its operands are not vector operands.
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

TEST(ConvWgmmaEmu, NeedsVectorOperands) {
  const auto s = small_cases()[0].shape;  // the stem: C = 3
  const auto [a, b] = op_operands(dk::ConvOp::forward, s, 55);
  RunOptions opt;
  opt.bf16_kernel = 3;
  EXPECT_THROW(run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, a, b, opt), deeper::Error);
  opt.mma_tile = dk::ConvTile::m128n128;  // a version-2 tile with version 3
  const auto v = small_cases()[1].shape;
  const auto [va, vb] = op_operands(dk::ConvOp::forward, v, 55);
  EXPECT_THROW(run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, v, va, vb, opt), deeper::Error);
}

}  // namespace
