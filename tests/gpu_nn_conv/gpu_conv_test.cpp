// conv2d on a real GPU against the double CPU reference, on the 13 conv layers of ResNet-10 at batch 8
// and 112 px (kernels/nn/conv_shape.h): forward, dgrad and wgrad, simt_f32 and wmma_bf16 (kernel
// versions 1 and 2). The
// operands are bf16-representable, so both maths see the same values and are held to 1e-5 of the sum
// of |terms| of each output (fp32 accumulation of exact products). The automatic split-K of wgrad
// (atomics) runs here on real hardware; bf16 outputs and accumulate are checked on one layer. Every
// test skips without a usable GPU.
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

// Uniform values rounded to bf16.
std::vector<float> bf16_values(std::int64_t count, std::uint32_t seed) {
  return widen(to_bf16(random_values(count, seed)));
}

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
      // wmma_bf16 kernel versions 1 and 2 (version 2 only with vector operands: not the stem)
      for (const int kernel : {1, 2}) {
        if (kernel == 2 && !vector_shape(s)) continue;
        RunOptions opt;
        opt.bf16_kernel = kernel;
        const auto got = run_op(Device::cuda(0), op, dk::ConvMath::wmma_bf16, s, a, b, opt);
        EXPECT_TRUE(close_to(got.f32, want, 1e-5)) << layer.name << " " << op_name(op) << " wmma_bf16 kernel " << kernel;
      }
    }
  }
}

TEST(GpuConv, Bf16OutputAndAccumulate) {
  DEEPER_REQUIRE_CUDA();
  const auto s = dk::resnet10_conv_shapes(8, 112)[4].shape;  // stage 3 conv1, 3 x 3 / 2
  const auto x = bf16_values(s.x_elements(), 4), w = bf16_values(s.w_elements(), 5);
  for (const int kernel : {1, 2}) {
    RunOptions both;
    both.bf16_out = true;
    both.bf16_kernel = kernel;
    const auto got = run_op(Device::cuda(0), dk::ConvOp::forward, dk::ConvMath::wmma_bf16, s, x, w, both);
    EXPECT_TRUE(close_to(got.f32, expected(dk::ConvOp::forward, s, x, w), 1e-5)) << "kernel " << kernel;
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
  for (const int split : {0, 1}) {
    RunOptions acc;
    acc.accumulate = true;
    acc.initial = &initial;
    acc.split_k = split;
    EXPECT_TRUE(close_to(run_op(Device::cuda(0), dk::ConvOp::wgrad, dk::ConvMath::wmma_bf16, s, x, dy, acc).f32,
                         want, 1e-5))
        << "split " << split;
  }
}

}  // namespace
#else
TEST(GpuConv, NeedsTheNvccPass) { GTEST_SKIP() << "built without the CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
