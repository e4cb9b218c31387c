// conv2d rejects unusable parameters with deeper::Error on every backend, before touching memory:
// zero or negative sizes, negative padding, output size < 1, null operands and outputs, and
// combinations that cannot work (bf16 output with simt_f32, accumulate or split-K; a version-2 tile
// where version 2 does not run).
#include "core/error.h"
#include "kernels/nn/conv2d.h"

#include <gtest/gtest.h>

#include "tests/nn_conv/conv_test_util.h"

#include <functional>
#include <string>
#include <vector>

namespace {

using namespace conv_test;
using deeper::Device;

// Operands large enough for the valid shape below; the checks fire before any of them is read.
struct Buffers {
  std::vector<float> f{std::vector<float>(4096, 0.0f)};
  std::vector<__nv_bfloat16> h{std::vector<__nv_bfloat16>(4096)};
  std::vector<float> out{std::vector<float>(4096, 0.0f)};
  std::vector<__nv_bfloat16> out16{std::vector<__nv_bfloat16>(4096)};
};

dk::Conv2dParams valid(Buffers& b, dk::ConvMath math) {
  dk::Conv2dParams p;
  p.shape = make_shape(1, 6, 6, 4, 4, 3, 3, 1, 1, 1, 1, 1, 1);
  p.math = math;
  p.x = p.w = p.dy = b.f.data();
  p.x_bf16 = p.w_bf16 = p.dy_bf16 = b.h.data();
  p.y = p.dx = p.dw = b.out.data();
  return p;
}

void call(dk::ConvOp op, const Device& d, const dk::Conv2dParams& p) {
  if (op == dk::ConvOp::forward) dk::conv2d_forward(d, p);
  if (op == dk::ConvOp::dgrad) dk::conv2d_dgrad(d, p);
  if (op == dk::ConvOp::wgrad) dk::conv2d_wgrad(d, p);
}

// Expects deeper::Error whose message contains `needle`, for every op on cpu and emu.
void expect_error(const std::function<void(dk::Conv2dParams&)>& edit, const std::string& needle,
                  dk::ConvMath math = dk::ConvMath::simt_f32) {
  for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
    for (const Device d : {Device::cpu(), Device::emu()}) {
      Buffers b;
      auto p = valid(b, math);
      edit(p);
      try {
        call(op, d, p);
        ADD_FAILURE() << "no error for '" << needle << "' (" << op_name(op) << ")";
      } catch (const deeper::Error& e) {
        EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
        EXPECT_NE(std::string(e.what()).find("conv2d_"), std::string::npos) << e.what();
      }
    }
  }
}

TEST(ConvBadParams, TheValidParametersRun) {
  for (const auto math : {dk::ConvMath::simt_f32, dk::ConvMath::wmma_bf16}) {
    for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
      Buffers b;
      EXPECT_NO_THROW(call(op, Device::cpu(), valid(b, math)));
    }
  }
}

TEST(ConvBadParams, ZeroSizes) {
  expect_error([](auto& p) { p.shape.batch = 0; }, "sizes must be >= 1");
  expect_error([](auto& p) { p.shape.height = 0; }, "sizes must be >= 1");
  expect_error([](auto& p) { p.shape.width = -3; }, "sizes must be >= 1");
  expect_error([](auto& p) { p.shape.in_channels = 0; }, "sizes must be >= 1");
  expect_error([](auto& p) { p.shape.out_channels = 0; }, "sizes must be >= 1");
  expect_error([](auto& p) { p.shape.kernel_h = 0; }, "kernel size");
  expect_error([](auto& p) { p.shape.stride_w = 0; }, "stride");
}

TEST(ConvBadParams, NegativePaddingAndEmptyOutput) {
  expect_error([](auto& p) { p.shape.pad_top = -1; }, "negative padding");
  expect_error([](auto& p) { p.shape.pad_right = -2; }, "negative padding");
  expect_error(
      [](auto& p) {
        p.shape.kernel_h = 9;  // 6 + 1 + 1 < 9
      },
      "output size < 1");
  expect_error(
      [](auto& p) {
        p.shape.pad_left = p.shape.pad_right = 0;
        p.shape.kernel_w = 7;
      },
      "output size < 1");
}

TEST(ConvBadParams, TooLargeGemm) {
  expect_error([](auto& p) { p.shape.batch = std::int64_t{1} << 30; }, "exceeds 2^31 - 1");
}

TEST(ConvBadParams, NullPointers) {
  expect_error(
      [](auto& p) {
        p.x = nullptr;
        p.dy = nullptr;
      },
      "null fp32");
  expect_error([](auto& p) { p.w = nullptr, p.x = nullptr; }, "null fp32");
  expect_error([](auto& p) { p.y = p.dx = p.dw = nullptr; }, "null output");
  expect_error([](auto& p) { p.x_bf16 = p.dy_bf16 = nullptr; }, "null bf16", dk::ConvMath::wmma_bf16);
  expect_error([](auto& p) { p.y = p.dx = p.dw = nullptr; }, "null output", dk::ConvMath::wmma_bf16);
}

TEST(ConvBadParams, BadCombinations) {
  Buffers b;
  for (const Device d : {Device::cpu(), Device::emu()}) {
    auto p = valid(b, dk::ConvMath::simt_f32);
    p.y_bf16 = b.out16.data();
    EXPECT_THROW(dk::conv2d_forward(d, p), deeper::Error);  // bf16 output needs wmma_bf16
    p.math = dk::ConvMath::wmma_bf16;
    p.accumulate = true;
    EXPECT_THROW(dk::conv2d_forward(d, p), deeper::Error);
    p.accumulate = false;
    p.split_k = 2;
    EXPECT_THROW(dk::conv2d_forward(d, p), deeper::Error);
    p.split_k = -1;
    p.y_bf16 = nullptr;
    EXPECT_THROW(dk::conv2d_forward(d, p), deeper::Error);
    p.split_k = 0;
    p.math = static_cast<dk::ConvMath>(7);
    EXPECT_THROW(dk::conv2d_forward(d, p), deeper::Error);
  }
}

TEST(ConvBadParams, MmaTileNeedsKernelVersion2) {
  // a tile of version 2 where version 1 runs (C = K = 4, or simt_f32), and an unknown tile
  expect_error([](auto& p) { p.mma_tile = dk::ConvTile::m256n128; }, "mma_tile", dk::ConvMath::wmma_bf16);
  expect_error([](auto& p) { p.mma_tile = dk::ConvTile::m512n64; }, "mma_tile");
  expect_error([](auto& p) { p.mma_tile = static_cast<dk::ConvTile>(99); }, "unknown mma_tile",
               dk::ConvMath::wmma_bf16);
  // vector operands (C = K = 8) but version 1 forced
  expect_error(
      [](auto& p) {
        p.shape.in_channels = p.shape.out_channels = 8;
        p.bf16_kernel = 1;
        p.mma_tile = dk::ConvTile::narrow;
      },
      "mma_tile", dk::ConvMath::wmma_bf16);
  Buffers b;  // and the same with version 2 runs
  auto p = valid(b, dk::ConvMath::wmma_bf16);
  p.shape.in_channels = p.shape.out_channels = 8;
  p.mma_tile = dk::ConvTile::m128n256;
  for (const auto op : {dk::ConvOp::forward, dk::ConvOp::dgrad, dk::ConvOp::wgrad}) {
    EXPECT_NO_THROW(call(op, Device::emu(), p)) << op_name(op);
  }
}

TEST(ConvBadParams, CudaWithoutTheNvccPassOrDeviceIsAnError) {
#if !DEEPER_HAVE_CUDA_KERNELS
  Buffers b;
  EXPECT_THROW(dk::conv2d_forward(Device::cuda(0), valid(b, dk::ConvMath::simt_f32)), deeper::Error);
#else
  GTEST_SKIP() << "built with the CUDA kernels";
#endif
}

}  // namespace
