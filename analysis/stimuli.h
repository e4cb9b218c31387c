// Controlled stimuli through the trained network: faces with any identity coefficients (manipulated
// trained identities, reverse-correlation trials) rendered on the study's device with given factors,
// batch by batch, straight into the network's input, and run in BN inference mode.
//
// A Study holds what every experiment shares: the run, the face model (the embedded procedural one,
// as deeper-train uses), the trained identity set (render.identity_seed, model.classes identities),
// the network (InferenceModel on the device) and the render options of training (input_size pixels).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "analysis/run.h"
#include "core/progress.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/tensor.h"
#include "nn/inference.h"
#include "renderer/face_model.h"
#include "renderer/factors.h"
#include "renderer/identities.h"
#include "renderer/pipeline.h"

namespace deeper::analysis {

class Study {
 public:
  // Loads the network onto `device` (max_batch = settings.batch). The face model is the embedded
  // procedural one (what deeper-train renders with), or a copy of `face_model` when given (a run
  // trained with another model, e.g. the tests' small one). Throws deeper::Error for settings the run
  // cannot use (validate_settings).
  Study(RunInfo run, AnalysisSettings settings, Device device, const render::FaceModel* face_model = nullptr);

  const RunInfo& run() const { return run_; }
  const AnalysisSettings& settings() const { return settings_; }
  const render::FaceModel& face_model() const { return *face_model_; }
  const render::IdentitySet& identities() const { return identities_; }  // the trained identities
  nn::InferenceModel& network() { return *network_; }
  Device device() const { return device_; }
  render::RenderOptions render_options() const;
  std::int64_t classes() const { return run_.config.model.classes; }

  // Frontal, neutral, centred, with the middle of every trained light range: the lab's
  // reverse-correlation view. identity = 0.
  render::ImageFactors frontal_factors() const;
  // The held-out factor sampling of the analyses (the training ranges, seed settings.seed ^ stream).
  render::FactorSampling heldout_sampling(std::uint64_t stream) const;

 private:
  RunInfo run_;
  AnalysisSettings settings_;
  Device device_;
  std::unique_ptr<render::FaceModel> face_model_;
  render::IdentitySet identities_;
  std::unique_ptr<nn::InferenceModel> network_;
};

// Called once per batch after the network ran on it: images [first, first + count) of the list, with
// the network's logits, decisions and activations for them, and the renderer that drew them.
using StimulusSink =
    std::function<void(std::int64_t first, std::int64_t count, nn::InferenceModel& network,
                       const render::Renderer& renderer, const Tensor& images)>;

// Renders image k with identity identities[factors[k].identity] (any coefficients) and factors[k],
// in batches of the network's max batch, and calls `sink` per batch. Each batch builds a render cache
// of only the identities it uses. Throws deeper::Error for an identity index out of range or factors
// out of their limits (naming the image).
void run_stimuli(Study& study, std::span<const render::Identity> identities,
                 std::span<const render::ImageFactors> factors, const StimulusSink& sink,
                 Progress* progress = nullptr);

// Identity coefficients helpers (host): a * coefficients; (1 - lambda) a + lambda b.
std::vector<float> scaled(std::span<const float> coefficients, double a);
std::vector<float> morphed(std::span<const float> from, std::span<const float> to, double lambda);

}  // namespace deeper::analysis
