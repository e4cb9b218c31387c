// conv2d bf16 kernel version 3 (sm_90a wgmma, kernels/nn/conv2d_wgmma.cuh) under the emulator, beyond
// emu_test.cpp's bit-for-bit comparison of versions 1-3: with split-K and accumulate it is held to
// the double reference, and the 64 x 128 tile of short GEMMs (its refusals are in emu_test.cpp).
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

}  // namespace
