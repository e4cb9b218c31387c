// Training and evaluation data: faces rendered on the device, on the fly, straight into the
// network's input tensor (renderer/pipeline.h), with labels = identity index.
//
// Factor draws (renderer/factors.h): image i of a run is image i of FactorSampling
// {seed, identity_count = model.classes, the render.* ranges}; training images use seed
// train.seed and the counter TrainingState::train_counter (batch after batch, so a resumed run
// draws the same images), the held-out evaluation set is images [0, eval.images) of seed
// eval_seed(train.seed) (new factor draws, the same set at every evaluation). Mapping of the
// config's names: yaw_deg -> yaw, pitch_deg -> pitch, roll_deg -> roll, scale, translate_x -> tx,
// translate_y -> ty, light_yaw_deg -> light_azimuth, light_pitch_deg -> light_elevation, ambient,
// diffuse, expression_intensity -> intensity. render.expressions: all seven in the renderer's order
// -> uniform over them; one -> fixed; another subset -> subset[(w * n) >> 32] with w the 14th
// Philox word of the image's RFAC sequence (the sampler reads words 0-12), so it stays a pure
// function of (seed, image index).
// The factors are drawn on the host (52 bytes per image, bit-identical to the device sampler) and
// passed to Renderer::render; the labels (B int32) are copied to the device; the pixels never
// leave it.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "nn/config.h"
#include "renderer/face_model.h"
#include "renderer/factors.h"
#include "renderer/identities.h"
#include "renderer/pipeline.h"

namespace deeper::nn {

// The Philox seed of the held-out evaluation renders of a run with seed `train_seed`.
std::uint64_t eval_seed(std::uint64_t train_seed);

// The FactorSampling of the config's render.* ranges (validated; throws deeper::Error naming the key).
render::FactorSampling render_sampling(const TrainConfig& config, std::uint64_t seed);

// The factors of images [first, first + count) under the config's expression subset (top comment).
std::vector<render::ImageFactors> draw_factors(const TrainConfig& config, const render::FactorSampling& sampling,
                                               std::uint64_t first, std::int64_t count);

class FaceData {
 public:
  // Builds the identity set (model.classes identities of render.identity_seed) and its render cache
  // on `device`, and the image (max_batch x S x S x 3 f32) and label buffers.
  FaceData(const Device& device, const TrainConfig& config, const render::FaceModel& model, std::int64_t max_batch);

  // Renders images [first, first + batch) of `sampling` into images() and their identities into labels().
  void render(const render::FactorSampling& sampling, std::uint64_t first, std::int64_t batch, Stream* stream = nullptr);

  const Tensor& images() const { return images_; }  // max_batch x S x S x 3; the first `batch` rows are valid
  const std::int32_t* labels() const { return static_cast<const std::int32_t*>(labels_.data()); }
  const std::vector<render::ImageFactors>& factors() const { return factors_; }  // of the last batch
  const render::IdentitySet& identities() const { return identities_; }
  const render::FactorSampling& train_sampling() const { return train_; }
  const render::FactorSampling& eval_sampling() const { return eval_; }

 private:
  Device device_;
  TrainConfig config_;
  render::IdentitySet identities_;
  std::unique_ptr<render::RenderModel> model_;
  std::unique_ptr<render::Renderer> renderer_;
  render::FactorSampling train_, eval_;
  Tensor images_;
  DeviceBuffer labels_;
  std::vector<render::ImageFactors> factors_;
  std::vector<std::int32_t> host_labels_;
};

}  // namespace deeper::nn
