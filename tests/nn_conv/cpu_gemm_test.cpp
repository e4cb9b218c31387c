// The cpu backend's im2col + sgemm convolutions (kernels/nn/conv2d_cpu_gemm.h) against the double
// reference on every small shape (strides, asymmetric padding, 1 x 1, the 7 x 7 stem, C = 3), with
// and without accumulate, shapes large enough to take several chunks, and bit-identical repeats.
#include "conv_test_util.h"

#include "kernels/nn/conv2d_cpu_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace {

using namespace conv_test;
namespace ci = dk::cpu_impl;

std::int64_t out_elements(dk::ConvOp op, const dk::Conv2dShape& s) {
  return op == dk::ConvOp::forward ? s.y_elements() : op == dk::ConvOp::dgrad ? s.x_elements() : s.w_elements();
}

// op by im2col + sgemm into `out` (its previous contents are added with accumulate).
void run_gemm(dk::ConvOp op, const dk::Conv2dShape& s, const std::vector<float>& a, const std::vector<float>& b,
              std::vector<float>& out, bool accumulate) {
  switch (op) {  // (a, b) = (x, w), (dy, w), (x, dy)
    case dk::ConvOp::forward: return ci::conv2d_forward_gemm(s, a.data(), b.data(), out.data(), accumulate);
    case dk::ConvOp::dgrad: return ci::conv2d_dgrad_gemm(s, a.data(), b.data(), out.data(), accumulate);
    case dk::ConvOp::wgrad: return ci::conv2d_wgrad_gemm(s, a.data(), b.data(), out.data(), accumulate);
  }
}

void check_op(dk::ConvOp op, const std::string& name, const dk::Conv2dShape& s, std::uint32_t seed) {
  const auto [a, b] = op_operands(op, s, seed);
  const Expected want = expected(op, s, a, b);
  std::vector<float> out(static_cast<std::size_t>(out_elements(op, s)), std::numeric_limits<float>::quiet_NaN());
  run_gemm(op, s, a, b, out, false);
  EXPECT_TRUE(close_to(out, want, 1e-5)) << name << " " << op_name(op);
  // accumulate: out += result, on top of known values
  const auto initial = random_values(out_elements(op, s), seed + 7);
  out = initial;
  run_gemm(op, s, a, b, out, true);
  Expected shifted = want;
  for (std::size_t i = 0; i < shifted.value.size(); ++i) {
    shifted.value[i] += initial[i];
    shifted.scale[i] += std::abs(initial[i]);
  }
  EXPECT_TRUE(close_to(out, shifted, 1e-5)) << name << " " << op_name(op) << " accumulate";
}

TEST(ConvCpuGemm, EveryOpMatchesTheDoubleReferenceOnEverySmallShape) {
  std::uint32_t seed = 100;
  for (const auto& c : small_cases()) {
    for (const dk::ConvOp op : kOps) check_op(op, c.name, c.shape, seed += 10);
  }
  // 1 x 1 / stride 1 / unpadded: the columns are the input itself (no im2col).
  for (const dk::ConvOp op : kOps) check_op(op, "pointwise", make_shape(3, 5, 4, 12, 20, 1, 1, 1, 1, 0, 0, 0, 0), seed += 10);
}

// Shapes whose columns exceed one chunk (kConvGemmChunkValues): several im2col + sgemm rounds in
// forward and wgrad (wgrad adds its chunks into dw), several image groups in dgrad.
TEST(ConvCpuGemm, ChunkedShapesMatchTheReference) {
  const auto s = make_shape(5, 80, 80, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1);
  const std::int64_t rsc = 3 * 3 * 32, rows = s.y_elements() / s.out_channels;
  ASSERT_GT(rows * rsc, 2 * ci::kConvGemmChunkValues);  // forward and wgrad: at least 3 chunks
  ASSERT_GT(rows * rsc / s.batch, ci::kConvGemmChunkValues / 3);  // dgrad: at most 2 images per chunk
  std::uint32_t seed = 500;
  for (const dk::ConvOp op : kOps) check_op(op, "chunked", s, seed += 10);
}

TEST(ConvCpuGemm, RepeatedRunsAreBitIdentical) {
  const auto s = make_shape(3, 9, 9, 16, 24, 3, 3, 2, 2, 0, 0, 1, 1);
  for (const dk::ConvOp op : kOps) {
    const auto [a, b] = op_operands(op, s, 900);
    std::vector<float> first(static_cast<std::size_t>(out_elements(op, s))), second(first.size());
    run_gemm(op, s, a, b, first, false);
    run_gemm(op, s, a, b, second, false);
    EXPECT_EQ(first, second) << op_name(op);
  }
}

}  // namespace
