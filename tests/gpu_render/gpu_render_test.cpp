// The render pipeline on CUDA against the CPU backend: B = 16 images of 112 x 112 from the full
// procedural model (4,761 vertices, 9,248 triangles, 256 x 256 textures). Factors, the identity
// cache, clip-space vertices and rasterize outputs are bit-identical (exact arithmetic); the images
// agree to float rounding (texture, shading and antialias use plain fp32, which nvcc may contract
// into fmas); bf16 output is the rounded f32 image; an image rendered alone equals its place in
// the batch; the same for spherical-harmonics lighting (B = 8). The forward-only renderer
// (save_for_backward = false: compose interpolates per pixel itself) matches the saved one on cuda,
// and its bf16 output (written by antialias, or by compose without antialias) is exactly the
// rounded f32 output.
#include "kernels/nn/optimizer.h"
#include "kernels/raster/rasterize.h"
#include "kernels/runtime/stream.h"
#include "renderer/pipeline.h"
#include "tests/support/gpu_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace deeper::render {
namespace {

constexpr std::int64_t kBatch = 16;
constexpr int kSize = 112;

const FaceModel& full_model() {
  static const FaceModel model = make_procedural_model();
  return model;
}

template <typename T>
std::vector<T> host_copy(const void* data, const Device& device, std::size_t count) {
  std::vector<T> out(count);
  copy_bytes(out.data(), Device::cpu(), data, device, count * sizeof(T));
  return out;
}

// The GPU images b against the CPU's a: all finite, none off by 1e-3, at most 0.1% off by 1e-5
// (float rounding and fused multiply-adds); prints the largest difference.
void expect_images_close(const std::vector<float>& a, const std::vector<float>& b, const char* what) {
  ASSERT_EQ(a.size(), b.size());
  double max_diff = 0;
  std::size_t over = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(std::isfinite(b[i])) << what << " " << i;
    const double d = std::fabs(static_cast<double>(a[i]) - b[i]);
    max_diff = std::max(max_diff, d);
    over += d > 1e-5;
  }
  EXPECT_LT(max_diff, 1e-3) << what;
  EXPECT_LT(over, a.size() / 1000) << what << ": values differing by more than 1e-5";
  std::printf("%s: max |diff| %.3g, %zu of %zu values above 1e-5\n", what, max_diff, over, a.size());
}

TEST(GpuRender, CudaMatchesCpu) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 24);
  const RenderModel cpu_model(Device::cpu(), full_model(), ids);
  const RenderModel gpu_model(Device::cuda(0), full_model(), ids);
  const std::int64_t v = cpu_model.vertices();
  // The identity caches: exact fma chains in the same order.
  EXPECT_EQ(host_copy<float>(gpu_model.identity_shapes(), Device::cuda(0), 24 * 3 * v),
            std::vector<float>(cpu_model.identity_shapes(), cpu_model.identity_shapes() + 24 * 3 * v));
  const std::int64_t texels = full_model().texel_values();
  const auto gpu_tex = host_copy<float>(gpu_model.identity_textures(), Device::cuda(0), 24 * texels);
  EXPECT_EQ(std::memcmp(gpu_tex.data(), cpu_model.identity_textures(), gpu_tex.size() * sizeof(float)), 0);

  RenderOptions o;
  o.width = o.height = kSize;
  const FactorSampling s = default_sampling(5, 24);
  Renderer cpu(cpu_model, o), gpu(gpu_model, o);
  Tensor out_cpu = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  Tensor out_gpu = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cuda(0), Layout::nhwc);
  Stream stream(Device::cuda(0));
  cpu.render(s, 100, out_cpu);
  gpu.render(s, 100, out_gpu, &stream);
  stream.synchronize();

  const auto fc = cpu.last_factors(), fg = gpu.last_factors();
  ASSERT_EQ(fc.size(), fg.size());
  EXPECT_EQ(std::memcmp(fc.data(), fg.data(), fc.size() * sizeof(ImageFactors)), 0);
  const auto clip_g = host_copy<float>(gpu.clip(), Device::cuda(0), kBatch * v * 4);
  EXPECT_EQ(std::memcmp(clip_g.data(), cpu.clip(), clip_g.size() * sizeof(float)), 0) << "clip-space vertices";
  const std::size_t px = static_cast<std::size_t>(kBatch) * kSize * kSize;
  const auto rast_g = host_copy<float>(gpu.rast(), Device::cuda(0), px * 4);
  EXPECT_EQ(std::memcmp(rast_g.data(), cpu.rast(), rast_g.size() * sizeof(float)), 0) << "rasterize output";

  const auto a = tensor_to_host(out_cpu), b = tensor_to_host(out_gpu);
  expect_images_close(a, b, "cuda vs cpu");

  // bf16 output and batch independence on the GPU.
  Tensor bf16 = Tensor::empty({kBatch, kSize, kSize, 3}, DType::bf16, Device::cuda(0));
  gpu.render(s, 100, bf16, &stream);
  stream.synchronize();
  const auto c = tensor_to_host(bf16);
  for (std::size_t i = 0; i < c.size(); ++i) ASSERT_NEAR(c[i], b[i], std::fabs(b[i]) * 0.004 + 1e-30) << i;
  Tensor one = Tensor::empty({1, kSize, kSize, 3}, DType::f32, Device::cuda(0));
  gpu.render(s, 107, one, &stream);
  stream.synchronize();
  const auto single = tensor_to_host(one);
  const std::size_t plane = static_cast<std::size_t>(kSize) * kSize * 3;
  EXPECT_EQ(std::memcmp(single.data(), b.data() + 7 * plane, plane * sizeof(float)), 0);
}

// Spherical-harmonics lighting: the factors (with their 27 SH values) are bit-identical, the images
// agree to float rounding, and an SH image differs from the Lambert image of the same factors.
TEST(GpuRender, ShLightingCudaMatchesCpu) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 8);
  const RenderModel cpu_model(Device::cpu(), full_model(), ids);
  const RenderModel gpu_model(Device::cuda(0), full_model(), ids);
  RenderOptions o;
  o.width = o.height = kSize;
  FactorSampling s = default_sampling(6, 8);
  s.lighting = Lighting::sh9;
  constexpr std::int64_t kSh = 8;
  Renderer cpu(cpu_model, o), gpu(gpu_model, o);
  Tensor out_cpu = Tensor::empty({kSh, kSize, kSize, 3}, DType::f32, Device::cpu());
  Tensor out_gpu = Tensor::empty({kSh, kSize, kSize, 3}, DType::f32, Device::cuda(0));
  cpu.render(s, 40, out_cpu);
  gpu.render(s, 40, out_gpu);
  const auto fc = cpu.last_factors(), fg = gpu.last_factors();
  ASSERT_EQ(fc.size(), fg.size());
  EXPECT_EQ(std::memcmp(fc.data(), fg.data(), fc.size() * sizeof(ImageFactors)), 0);
  EXPECT_EQ(fg[0].lighting, Lighting::sh9);
  const auto a = tensor_to_host(out_cpu), b = tensor_to_host(out_gpu);
  expect_images_close(a, b, "sh9 cuda vs cpu");
  s.lighting = Lighting::lambert;
  Tensor lambert = Tensor::empty({kSh, kSize, kSize, 3}, DType::f32, Device::cuda(0));
  gpu.render(s, 40, lambert);
  const auto c = tensor_to_host(lambert);
  double apart = 0;
  for (std::size_t i = 0; i < c.size(); ++i) apart = std::max(apart, std::fabs(static_cast<double>(c[i]) - b[i]));
  EXPECT_GT(apart, 0.05);
}

// The fused forward on cuda: the same images as the staged (saved-for-backward) forward, to float
// rounding at most (the fused compose reads its uv and normal from registers, bit for bit what the
// interpolate kernel writes; only nvcc's fma contraction could differ), and bf16 == the rounded f32.
TEST(GpuRender, ForwardOnlyMatchesSavedOnCuda) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 24);
  const RenderModel gpu_model(Device::cuda(0), full_model(), ids);
  Stream stream(Device::cuda(0));
  for (const bool antialias : {true, false}) {
    for (const Lighting lighting : {Lighting::lambert, Lighting::sh9}) {
      const std::string what = std::string(antialias ? "antialias" : "no antialias") + ", " +
                               std::string(lighting_name(lighting));
      SCOPED_TRACE(what);
      FactorSampling s = default_sampling(9, 24);
      s.lighting = lighting;
      RenderOptions o;
      o.width = o.height = kSize;
      o.antialias = antialias;
      Renderer saved(gpu_model, o);
      o.save_for_backward = false;
      Renderer fused(gpu_model, o);
      Tensor a = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cuda(0));
      Tensor b = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cuda(0));
      Tensor c = Tensor::empty({kBatch, kSize, kSize, 3}, DType::bf16, Device::cuda(0));
      saved.render(s, 300, a, &stream);
      fused.render(s, 300, b, &stream);
      fused.render(s, 300, c, &stream);
      stream.synchronize();
      EXPECT_TRUE(fused.fused_last());
      EXPECT_EQ(fused.pixel_uv(), nullptr);
      const auto x = tensor_to_host(a), y = tensor_to_host(b);
      ASSERT_EQ(x.size(), y.size());
      double max_diff = 0;
      std::size_t differ = 0;
      for (std::size_t i = 0; i < x.size(); ++i) {
        ASSERT_TRUE(std::isfinite(y[i])) << i;
        max_diff = std::max(max_diff, std::fabs(static_cast<double>(x[i]) - y[i]));
        differ += std::memcmp(&x[i], &y[i], sizeof(float)) != 0;
      }
      EXPECT_LT(max_diff, 1e-5);
      std::printf("fused vs staged on cuda (%s): %zu of %zu values differ in any bit, max |diff| %.3g\n", what.c_str(),
                  differ, x.size(), max_diff);
      const auto bits = host_copy<std::uint16_t>(c.data_raw(), Device::cuda(0), y.size());
      std::size_t wrong = 0;
      for (std::size_t i = 0; i < y.size(); ++i) wrong += bits[i] != kernels::float_to_bf16_bits(y[i]);
      EXPECT_EQ(wrong, 0u) << "bf16 values that are not the rounded f32 output";
    }
  }
}

}  // namespace
}  // namespace deeper::render
