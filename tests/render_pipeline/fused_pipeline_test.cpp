// The forward-only render pipeline (RenderOptions::save_for_backward = false: compose interpolates
// per pixel itself) gives the saved-for-backward pipeline's images bit for bit, on cpu and emu,
// with and without antialias, Lambert and SH9, f32 and bf16; the bf16 output (written by the last
// stage, no conversion pass) is to_bf16 of the f32 image; a fused batch has no per-pixel UVs and
// normals, and the backward refuses it; the staged renderer still feeds the backward.
#include "kernels/render/compose.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"
#include "render_test_util.h"

#include "core/error.h"
#include "tests/support/bf16_bits.h"
#include "tests/support/error_of.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace deeper::render {
namespace {

using deeper::test_util::bf16_bits;

namespace dk = deeper::kernels;
using deeper::test_util::error_of;
using test::same_bits;
using test::small_model;

constexpr int kSize = 32;
constexpr std::int64_t kBatch = 3;

const IdentitySet& ids() {
  static const IdentitySet s = make_identities(small_model(), 31, 4);
  return s;
}

struct Images {
  std::vector<float> f32;
  std::vector<std::uint16_t> bf16;
};

Images render(const RenderModel& model, const RenderOptions& o, const FactorSampling& s) {
  Renderer renderer(model, o);
  const Device dev = model.device();
  Tensor f32 = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, dev);
  Tensor bf16 = Tensor::empty({kBatch, kSize, kSize, 3}, DType::bf16, dev);
  renderer.render(s, 7, f32);
  EXPECT_EQ(renderer.fused_last(), !o.save_for_backward);
  EXPECT_EQ(renderer.pixel_uv() == nullptr, !o.save_for_backward);
  EXPECT_EQ(renderer.pixel_normals() == nullptr, !o.save_for_backward);
  renderer.render(s, 7, bf16);
  Images out;
  out.f32 = tensor_to_host(f32);
  const Tensor host = bf16.to(Device::cpu());
  const auto* bits = static_cast<const std::uint16_t*>(host.data_raw());
  out.bf16.assign(bits, bits + host.numel());
  return out;
}

TEST(FusedPipeline, ForwardOnlyImagesEqualSavedImagesBitForBit) {
  std::vector<float> cpu_reference;
  for (const Device& device : {Device::cpu(), Device::emu()}) {
    SCOPED_TRACE(device.name());
    const RenderModel model(device, small_model(), ids());
    for (const bool antialias : {true, false}) {
      for (const Lighting lighting : {Lighting::lambert, Lighting::sh9}) {
        SCOPED_TRACE(std::string(antialias ? "antialias" : "no antialias") + ", " + std::string(lighting_name(lighting)));
        FactorSampling s = default_sampling(17, 4);
        s.lighting = lighting;
        RenderOptions o;
        o.width = o.height = kSize;
        o.antialias = antialias;
        const Images saved = render(model, o, s);
        o.save_for_backward = false;
        const Images fused = render(model, o, s);
        EXPECT_TRUE(same_bits(fused.f32, saved.f32));
        EXPECT_EQ(fused.bf16, saved.bf16);
        // bf16 straight from the last stage == to_bf16 of the f32 image.
        EXPECT_EQ(fused.bf16, bf16_bits(fused.f32));
        int face = 0;
        for (std::size_t i = 0; i < fused.f32.size(); i += 3) face += fused.f32[i] != 0.5f;
        EXPECT_GT(face, kSize * kSize / 2);
        if (antialias && lighting == Lighting::lambert) {
          if (device.backend == Backend::cpu) {
            cpu_reference = fused.f32;
          } else {
            EXPECT_TRUE(same_bits(fused.f32, cpu_reference));
          }
        }
      }
    }
  }
}

TEST(FusedPipeline, BackwardNeedsTheSavedAttributes) {
  const RenderModel model(Device::cpu(), small_model(), ids());
  const FactorSampling s = default_sampling(3, 4);
  RenderOptions o;
  o.width = o.height = kSize;
  Tensor images = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  Tensor grad = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  std::memset(grad.data_raw(), 0, static_cast<std::size_t>(grad.nbytes()));
  static_cast<float*>(grad.data_raw())[3 * (kSize * kSize / 2 + kSize / 2)] = 1.0f;
  {
    Renderer saved(model, o);
    saved.render(s, 0, images);
    const RenderGradients g = render_backward(saved, small_model(), grad);
    EXPECT_EQ(g.batch, kBatch);
  }
  o.save_for_backward = false;
  Renderer fused(model, o);
  fused.render(s, 0, images);
  const std::string e = error_of([&] { render_backward(fused, small_model(), grad); });
  EXPECT_NE(e.find("null rast, uv, normal"), std::string::npos) << e;
}

}  // namespace
}  // namespace deeper::render
