// The render backward (renderer/pipeline_grad.h) on CUDA against the CPU backend: B = 16 images of
// 96 x 96 from the full procedural model (4,761 vertices, 9,248 triangles, 256 x 256 textures, 80
// shape and 50 texture components). The forward geometry is bit-identical on both backends; the
// backward sums in other orders (float atomics, block trees) and nvcc contracts into fmas, so a pixel
// next to a kink (texel centre, clamp, Lambert terminator) may take the other side: every gradient
// group is compared against its own scale (max |value|), with a count of values beyond 1e-3 of it.
// Deterministic mode gives the same bits on two GPU runs. The same under spherical-harmonics lighting.
#include "kernels/runtime/stream.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"
#include "tests/support/gpu_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace deeper::render {
namespace {

constexpr std::int64_t kBatch = 16;
constexpr int kSize = 96;

const FaceModel& full_model() {
  static const FaceModel model = make_procedural_model();
  return model;
}

std::vector<float> image_gradient() {
  std::mt19937 gen(17);
  std::uniform_real_distribution<float> uni(-1.0f, 1.0f);
  std::vector<float> g(static_cast<std::size_t>(kBatch) * kSize * kSize * 3);
  for (float& x : g) x = uni(gen);
  return g;
}

RenderGradients run(const Device& device, const IdentitySet& ids, bool deterministic,
                    Lighting lighting = Lighting::lambert) {
  const RenderModel model(device, full_model(), ids);
  RenderOptions o;
  o.width = o.height = kSize;
  Renderer renderer(model, o);
  Tensor images = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, device);
  FactorSampling sampling = default_sampling(5, static_cast<std::int32_t>(ids.identities.size()));
  sampling.lighting = lighting;
  renderer.render(sampling, 200, images);
  const std::vector<float> g = image_gradient();
  Tensor gt = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, device);
  copy_bytes(gt.data_raw(), device, g.data(), Device::cpu(), g.size() * sizeof(float));
  RenderBackwardOptions opt;
  opt.deterministic = deterministic;
  return render_backward(renderer, full_model(), gt, opt);
}

void compare(const std::vector<float>& cpu, const std::vector<float>& gpu, const char* what) {
  ASSERT_EQ(cpu.size(), gpu.size()) << what;
  double scale = 0, worst = 0;
  for (float x : cpu) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  std::size_t over = 0;
  for (std::size_t i = 0; i < cpu.size(); ++i) {
    ASSERT_TRUE(std::isfinite(gpu[i])) << what << "[" << i << "]";
    const double d = std::fabs(static_cast<double>(cpu[i]) - gpu[i]) / (scale + 1e-30);
    worst = std::max(worst, d);
    over += d > 1e-3;
  }
  std::printf("%s: %zu values, scale %.3g, max |cuda - cpu| / scale %.3g, %zu beyond 1e-3\n", what, cpu.size(), scale,
              worst, over);
  EXPECT_GT(scale, 0.0) << what;
  EXPECT_LT(worst, 5e-2) << what;
  EXPECT_LE(over, cpu.size() / 50 + 1) << what;
}

std::vector<float> factor_values(const RenderGradients& g) {
  std::vector<float> out;
  for (const auto& f : g.factors) {
    out.insert(out.end(), {f.intensity, f.yaw, f.pitch, f.roll, f.scale, f.tx, f.ty, f.light_azimuth,
                           f.light_elevation, f.ambient, f.diffuse});
  }
  return out;
}

TEST(GpuRenderGrad, CudaMatchesCpu) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 8);
  const RenderGradients cpu = run(Device::cpu(), ids, false);
  const RenderGradients gpu = run(Device::cuda(0), ids, false);
  compare(cpu.shape, gpu.shape, "shape coefficients");
  compare(cpu.texture, gpu.texture, "texture coefficients");
  compare(cpu.expression, gpu.expression, "action-unit coefficients");
  compare(cpu.light, gpu.light, "light parameters");
  compare(factor_values(cpu), factor_values(gpu), "factors");
}

// Spherical-harmonics lighting: d loss / d the 27 SH coefficients per image (and the rest of the chain).
TEST(GpuRenderGrad, ShLightingCudaMatchesCpu) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 8);
  const RenderGradients cpu = run(Device::cpu(), ids, false, Lighting::sh9);
  const RenderGradients gpu = run(Device::cuda(0), ids, false, Lighting::sh9);
  compare(cpu.sh, gpu.sh, "SH coefficients");
  compare(cpu.shape, gpu.shape, "shape coefficients (sh9)");
  compare(cpu.texture, gpu.texture, "texture coefficients (sh9)");
  for (float x : gpu.light) EXPECT_EQ(x, 0.0f) << "no Lambert light gradient under sh9";
  const RenderGradients a = run(Device::cuda(0), ids, true, Lighting::sh9);
  const RenderGradients b = run(Device::cuda(0), ids, true, Lighting::sh9);
  EXPECT_EQ(std::memcmp(a.sh.data(), b.sh.data(), a.sh.size() * sizeof(float)), 0);
}

TEST(GpuRenderGrad, DeterministicModeRepeats) {
  DEEPER_REQUIRE_CUDA();
  if (!cuda_kernels_built()) GTEST_SKIP() << "deeper_kernels was built without nvcc";
  const IdentitySet ids = make_identities(full_model(), 3, 8);
  const RenderGradients a = run(Device::cuda(0), ids, true);
  const RenderGradients b = run(Device::cuda(0), ids, true);
  EXPECT_EQ(std::memcmp(a.shape.data(), b.shape.data(), a.shape.size() * sizeof(float)), 0);
  EXPECT_EQ(std::memcmp(a.texture.data(), b.texture.data(), a.texture.size() * sizeof(float)), 0);
  EXPECT_EQ(a.factors.size(), b.factors.size());
  EXPECT_EQ(std::memcmp(a.factors.data(), b.factors.data(), a.factors.size() * sizeof(a.factors[0])), 0);
}

}  // namespace
}  // namespace deeper::render
