// The cpu backend's im2col + sgemm convolutions (kernels/nn/conv2d_cpu_gemm.h) against the double
// reference on every small shape (strides, asymmetric padding, 1 x 1, the 7 x 7 stem, C = 3), with
// and without accumulate, shapes large enough to take several chunks, and the same bits for any thread
// count.
#include "conv_test_util.h"

#include "kernels/nn/conv2d_cpu_gemm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include <omp.h>

namespace {

using namespace conv_test;
namespace ci = dk::cpu_impl;

std::int64_t out_elements(dk::ConvOp op, const dk::Conv2dShape& s) {
  return op == dk::ConvOp::forward ? s.y_elements() : op == dk::ConvOp::dgrad ? s.x_elements() : s.w_elements();
}

// op by im2col + sgemm into `out` (its previous contents are added with accumulate).
void run_gemm(dk::ConvOp op, const dk::Conv2dShape& s, const std::vector<float>& a, const std::vector<float>& b,
              std::vector<float>& out, bool accumulate, std::int64_t chunk = ci::kConvGemmChunkValues) {
  switch (op) {  // (a, b) = (x, w), (dy, w), (x, dy)
    case dk::ConvOp::forward: return ci::conv2d_forward_gemm(s, a.data(), b.data(), out.data(), accumulate, chunk);
    case dk::ConvOp::dgrad: return ci::conv2d_dgrad_gemm(s, a.data(), b.data(), out.data(), accumulate, chunk);
    case dk::ConvOp::wgrad: return ci::conv2d_wgrad_gemm(s, a.data(), b.data(), out.data(), accumulate, chunk);
  }
}

void check_op(dk::ConvOp op, const std::string& name, const dk::Conv2dShape& s, std::uint32_t seed,
              std::int64_t chunk = ci::kConvGemmChunkValues) {
  const auto [a, b] = op_operands(op, s, seed);
  const Expected want = expected(op, s, a, b);
  std::vector<float> out(static_cast<std::size_t>(out_elements(op, s)), std::numeric_limits<float>::quiet_NaN());
  run_gemm(op, s, a, b, out, false, chunk);
  EXPECT_TRUE(close_to(out, want, 1e-5)) << name << " " << op_name(op);
  // accumulate: out += result, on top of known values
  const auto initial = random_values(out_elements(op, s), seed + 7);
  out = initial;
  run_gemm(op, s, a, b, out, true, chunk);
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

// Small column caps reach every blocking path on small shapes: forward blocks capped by the chunk
// (more than 16), wgrad blocks that each run several im2col + sgemm rounds into their partial, dgrad
// blocks of one image; and the default cap on a shape whose columns exceed it twice.
TEST(ConvCpuGemm, ChunkedShapesMatchTheReference) {
  std::uint32_t seed = 500;
  const auto s = make_shape(4, 12, 12, 16, 8, 3, 3, 1, 1, 1, 1, 1, 1);  // 576 rows x 144: 82,944 values
  for (const std::int64_t chunk : {std::int64_t{144}, std::int64_t{1000}, std::int64_t{5000}}) {
    for (const dk::ConvOp op : kOps) check_op(op, "chunk " + std::to_string(chunk), s, seed += 10, chunk);
  }
  const auto big = make_shape(5, 80, 80, 32, 8, 3, 3, 1, 1, 1, 1, 1, 1);
  ASSERT_GT(big.y_elements() / big.out_channels * 288, 2 * ci::kConvGemmChunkValues);
  for (const dk::ConvOp op : kOps) check_op(op, "chunked", big, seed += 10);
}

// The blocks depend on the shape only: the same bits run after run and for 1, 2 or 3 threads (a
// shape with many blocks: 16 row blocks in forward and wgrad, 16 image blocks in dgrad).
TEST(ConvCpuGemm, ResultsAreTheSameBitsForAnyThreadCount) {
  const auto s = make_shape(32, 9, 9, 16, 24, 3, 3, 2, 2, 0, 0, 1, 1);
  const int threads = omp_get_max_threads();
  for (const dk::ConvOp op : kOps) {
    const auto [a, b] = op_operands(op, s, 900);
    std::vector<float> first(static_cast<std::size_t>(out_elements(op, s)));
    run_gemm(op, s, a, b, first, false);
    for (const int t : {1, 2, 3, 2}) {
      omp_set_num_threads(t);
      std::vector<float> again(first.size());
      run_gemm(op, s, a, b, again, false);
      EXPECT_EQ(again, first) << op_name(op) << " with " << t << " threads";
    }
    omp_set_num_threads(threads);
  }
}

}  // namespace
