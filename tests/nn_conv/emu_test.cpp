// conv2d kernels under the emulator against the double reference: simt_f32 on the fp32 operands and
// wmma_bf16 on the same operands rounded to bf16 (the kernels multiply exactly and accumulate in
// fp32, so both are held to 1e-5 of the sum of |terms| of each output); bf16 outputs; accumulate;
// split-K with atomics; the cpu backend's wmma_bf16 path. Every output starts as NaN.
#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <cmath>
#include <vector>

namespace {

using namespace conv_test;
using deeper::Device;

constexpr double kRel = 1e-5;

TEST(ConvEmu, SimtF32MatchesTheReference) {
  const auto launches = deeper::emu::stats().launches;
  for (const auto& c : small_cases()) {
    for (const auto op : kOps) {
      const auto [a, b] = op_operands(op, c.shape, 21);
      const auto got = run_op(Device::emu(), op, dk::ConvMath::simt_f32, c.shape, a, b);
      EXPECT_TRUE(close_to(got.f32, expected(op, c.shape, a, b), kRel)) << c.name << " " << op_name(op);
    }
  }
  EXPECT_GE(deeper::emu::stats().launches - launches, 3 * small_cases().size());  // really emulated
}

TEST(ConvEmu, WmmaBf16MatchesTheReferenceOnRoundedInputs) {
  // kernel version 1 (nvcuda::wmma) on every shape, version 2 (mma.sync, ldmatrix, cp.async) on
  // those with vector operands
  for (const int kernel : {1, 2}) {
    for (const auto& c : small_cases()) {
      if (kernel == 2 && !vector_shape(c.shape)) continue;
      for (const auto op : kOps) {
        const auto [a, b] = op_operands(op, c.shape, 31);
        RunOptions opt;
        opt.bf16_kernel = kernel;
        const auto got = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
        const Expected want = expected(op, c.shape, widen(to_bf16(a)), widen(to_bf16(b)));
        EXPECT_TRUE(close_to(got.f32, want, kRel)) << c.name << " " << op_name(op) << " kernel " << kernel;
        // and not merely close to the unrounded result: bf16 rounding is visible at this tolerance
        if (c.name == "conv3x3s1") {
          EXPECT_FALSE(close_to(got.f32, expected(op, c.shape, a, b), kRel));
        }
      }
    }
  }
}

TEST(ConvEmu, KernelVersionsGiveTheSameSumsUnderTheEmulator) {
  // The emulator's wmma, mma.sync and wgmma all add exact products to fp32 in k order, so without
  // split-K versions 1, 2 and 3 give bit-identical outputs (on a GPU they differ by fp32 rounding);
  // the automatic choice is version 2 for vector operands. Every op, fp32 and bf16 outputs, partial
  // tiles in M and N, dgrad stride phases, more K steps than any version's stages.
  for (const auto& c : small_cases()) {
    if (!vector_shape(c.shape)) continue;
    for (const auto op : kOps) {
      const auto [a, b] = op_operands(op, c.shape, 33);
      RunOptions opt;
      opt.split_k = 1;
      opt.bf16_out = op != dk::ConvOp::wgrad;
      opt.bf16_kernel = 1;
      const auto v1 = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
      for (const int kernel : {2, 3}) {
        opt.bf16_kernel = kernel;
        const auto v = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, opt);
        EXPECT_EQ(v1.f32, v.f32) << c.name << " " << op_name(op) << " kernel " << kernel;
        ASSERT_EQ(v1.bf16.size(), v.bf16.size());
        for (std::size_t i = 0; i < v1.bf16.size(); ++i) {
          ASSERT_EQ(__bfloat162float(v1.bf16[i]), __bfloat162float(v.bf16[i]))
              << c.name << " " << op_name(op) << " kernel " << kernel;
        }
      }
    }
  }
}

TEST(ConvEmu, KernelVersions2And3NeedVectorOperands) {
  const auto s = small_cases()[0].shape;  // the stem: C = 3
  const auto [a, b] = op_operands(dk::ConvOp::forward, s, 35);
  const auto v = small_cases()[1].shape;  // vector operands
  const auto [va, vb] = op_operands(dk::ConvOp::forward, v, 35);
  RunOptions opt;
  for (const int kernel : {2, 3}) {
    opt.bf16_kernel = kernel;
    EXPECT_THROW(run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, a, b, opt), deeper::Error)
        << "kernel " << kernel;
  }
  opt.mma_tile = dk::ConvTile::m128n128;  // a version-2 tile with version 3
  EXPECT_THROW(run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, v, va, vb, opt), deeper::Error);
  opt.mma_tile = dk::ConvTile::automatic;
  opt.bf16_kernel = 4;  // no such version
  EXPECT_THROW(run_op(Device::emu(), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, v, va, vb, opt), deeper::Error);
}

TEST(ConvEmu, WmmaVectorAndScalarLoadersAgree) {
  // C = 16, K = 16 takes the 16-byte loader; the same values with an offset of one element (not
  // 16-byte aligned) take the element-wise loader. Both must give the same fp32 sums (same order).
  const auto s = make_shape(1, 5, 5, 16, 16, 3, 3, 1, 1, 1, 1, 1, 1);
  const auto x = random_values(s.x_elements(), 41), w = random_values(s.w_elements(), 42);
  const auto xb = to_bf16(x), wb = to_bf16(w);
  std::vector<__nv_bfloat16> xs(xb.size() + 1), ws(wb.size() + 1);
  std::copy(xb.begin(), xb.end(), xs.begin() + 1);
  std::copy(wb.begin(), wb.end(), ws.begin() + 1);
  std::vector<float> y_vec(static_cast<std::size_t>(s.y_elements())), y_scalar(y_vec.size());
  dk::Conv2dParams p;
  p.shape = s;
  p.math = dk::ConvMath::wmma_bf16;
  p.x_bf16 = xb.data();
  p.w_bf16 = wb.data();
  p.y = y_vec.data();
  dk::conv2d_forward(Device::emu(), p);
  p.x_bf16 = xs.data() + 1;
  p.w_bf16 = ws.data() + 1;
  p.y = y_scalar.data();
  dk::conv2d_forward(Device::emu(), p);
  EXPECT_EQ(y_vec, y_scalar);
  EXPECT_TRUE(close_to(y_vec, expected(dk::ConvOp::forward, s, widen(xb), widen(wb)), kRel));
}

TEST(ConvEmu, Bf16OutputsAreTheRoundedSums) {
  for (const auto& c : {small_cases()[0], small_cases()[2]}) {
    for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad}) {
      const auto [a, b] = op_operands(op, c.shape, 51);
      RunOptions both;
      both.bf16_out = true;
      const auto got = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, both);
      ASSERT_EQ(got.bf16.size(), got.f32.size());
      for (std::size_t i = 0; i < got.f32.size(); ++i) {
        ASSERT_EQ(__bfloat162float(got.bf16[i]), __bfloat162float(__float2bfloat16_rn(got.f32[i])))
            << c.name << " " << op_name(op) << " " << i;
      }
      RunOptions only;
      only.f32_out = false;
      only.bf16_out = true;
      const auto alone = run_op(Device::emu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, only);
      for (std::size_t i = 0; i < got.bf16.size(); ++i) {
        ASSERT_EQ(__bfloat162float(alone.bf16[i]), __bfloat162float(got.bf16[i]));
      }
    }
  }
}

TEST(ConvEmu, AccumulateAndSplitK) {
  // stride 1, and stride 2 (dgrad: four phase GEMMs, some split, some too short to split)
  for (const auto& c : {small_cases()[1], small_cases()[2]}) {
  for (const auto math : {dk::ConvMath::simt_f32, dk::ConvMath::wmma_bf16}) {
    for (const auto op : kOps) {
      if (c.name == "conv3x3s2" && op != dk::ConvOp::dgrad) continue;
      const auto [a, b] = op_operands(op, c.shape, 61);
      const bool bf16 = math == dk::ConvMath::wmma_bf16;
      const Expected want = bf16 ? expected(op, c.shape, widen(to_bf16(a)), widen(to_bf16(b)))
                                 : expected(op, c.shape, a, b);
      std::vector<float> initial(want.value.size());
      for (std::size_t i = 0; i < initial.size(); ++i) initial[i] = 0.5f * static_cast<float>(i % 5) - 1.0f;
      Expected shifted = want;
      for (std::size_t i = 0; i < initial.size(); ++i) {
        shifted.value[i] += initial[i];
        shifted.scale[i] += std::abs(initial[i]);
      }
      for (const int split : {1, 3}) {
        RunOptions acc;
        acc.accumulate = true;
        acc.split_k = split;
        acc.initial = &initial;
        EXPECT_TRUE(close_to(run_op(Device::emu(), op, math, c.shape, a, b, acc).f32, shifted, kRel))
            << c.name << " " << op_name(op) << " accumulate, split " << split;
        RunOptions set;
        set.split_k = split;
        EXPECT_TRUE(close_to(run_op(Device::emu(), op, math, c.shape, a, b, set).f32, want, kRel))
            << c.name << " " << op_name(op) << " split " << split;
      }
    }
  }
  }
}

TEST(ConvEmu, AutomaticSplitKOnALongWgrad) {
  // K_gemm = N*P*Q = 2*32*32 = 2048 (64 steps of 32) with one output tile: the dispatcher splits it.
  const auto s = make_shape(2, 32, 32, 8, 8, 1, 1, 1, 1, 0, 0, 0, 0);
  const auto x = random_values(s.x_elements(), 71), dy = random_values(s.y_elements(), 72);
  const auto before = deeper::emu::stats().launches;
  const auto got = run_op(Device::emu(), dk::ConvOp::wgrad, dk::ConvMath::wmma_bf16, s, x, dy);
  EXPECT_EQ(deeper::emu::stats().launches - before, 2u);  // zero + the split GEMM
  EXPECT_TRUE(close_to(got.f32, expected(dk::ConvOp::wgrad, s, widen(to_bf16(x)), widen(to_bf16(dy))), kRel));
}

TEST(ConvEmu, CpuBackendRunsBothMaths) {
  for (const auto& c : {small_cases()[0], small_cases()[5]}) {
    for (const auto op : kOps) {
      const auto [a, b] = op_operands(op, c.shape, 81);
      EXPECT_TRUE(close_to(run_op(Device::cpu(), op, dk::ConvMath::simt_f32, c.shape, a, b).f32,
                           expected(op, c.shape, a, b), kRel));
      RunOptions both;
      both.bf16_out = op != dk::ConvOp::wgrad;
      const auto got = run_op(Device::cpu(), op, dk::ConvMath::wmma_bf16, c.shape, a, b, both);
      EXPECT_TRUE(close_to(got.f32, expected(op, c.shape, widen(to_bf16(a)), widen(to_bf16(b))), kRel));
      for (std::size_t i = 0; i < got.bf16.size(); ++i) {
        ASSERT_EQ(__bfloat162float(got.bf16[i]), __bfloat162float(__float2bfloat16_rn(got.f32[i])));
      }
    }
  }
}

}  // namespace
