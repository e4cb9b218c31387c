// A finished (or checkpointed) training run of deeper-train, as the analyses read it: the run folder's
// checkpoint.safetensors (weights, BN statistics, the whole TrainConfig in its metadata) and
// metrics.jsonl (training and evaluation records, nn/metrics.h), plus the settings of the analyses.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "nn/config.h"

namespace deeper::analysis {

struct RunInfo {
  std::filesystem::path dir;
  std::filesystem::path checkpoint;                // dir / checkpoint.safetensors
  nn::TrainConfig config;                          // from the checkpoint's metadata
  std::map<std::string, std::string> metadata;     // the checkpoint's __metadata__ (step, images, version, ...)
  std::vector<nlohmann::json> records;             // metrics.jsonl in file order (empty when the file is absent)
  std::int64_t step() const;                       // steps trained (metadata train.step)
};

// Reads RUN_DIR. Throws deeper::Error (one line naming the path and the problem) for a missing folder
// or checkpoint, a checkpoint that is not a deeper-train checkpoint or is truncated, and a metrics line
// that is not a JSON object (naming the line number).
RunInfo load_run(const std::filesystem::path& dir);

// Every knob of the analyses (docs/experiments.md explains each choice). The presets scale them to the
// run: "tiny" (CPU minutes), "small", "paper" (the paper-scale study on a GPU).
struct AnalysisSettings {
  std::string preset = "tiny";
  std::uint64_t seed = 7;          // Philox seed of every draw of the analyses
  std::int64_t batch = 64;         // images per render + forward batch
  double alpha = 0.05;             // family-wise error rate of every max-statistic threshold

  // E1: shape vs texture generalisation.
  std::int64_t e1_identities = 16;                             // trained identities manipulated (the first ones)
  std::int64_t e1_renders = 8;                                 // held-out factor draws per identity and level
  std::vector<double> e1_levels = {0.0, 1.0 / 3, 2.0 / 3, 1.0, 4.0 / 3, 5.0 / 3};  // amplification a
  std::vector<double> e1_morph = {0.0, 0.25, 0.5, 0.75, 1.0};   // morph lambda toward another identity
  std::int64_t bootstrap = 1000;                               // resamples of identities for the CIs

  // E2: reverse correlation.
  std::int64_t targets = 2;            // target identities (the first ones of the trained set)
  std::int64_t trials = 1500;          // random faces per target
  double perturbation = 0.7;           // trial coefficients = target + perturbation * z * SD
  std::int64_t permutations = 200;     // of the response, for the max statistic
  int texel_factor = 4;                // texture map downsampling for the texel features (256 -> 64)

  // E3: hidden layers (channels = spatial means; features subsampled).
  std::vector<int> layers = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  std::int64_t e3_permutations = 50;
  int vertex_stride = 4;               // every k-th vertex is an E3 feature
  int e3_texel_factor = 16;            // coarser texel grid for E3 (256 -> 16)
  bool spatial = true;                 // also I(A; D) for every unit of every layer (streamed GCMI)

  // E4: pose invariance.
  double pose_degrees = 15.0;          // yaw and pitch in {-theta, 0, +theta}
  std::int64_t e4_trials = 500;        // of the E2 trials, re-rendered at every pose
  double invariance_level = 0.8;       // index at which a layer counts as pose invariant

  // Gradient maps.
  std::int64_t gradient_trials = 128;  // E2 trials per target differentiated

  std::vector<std::string> experiments = {"e1", "e2", "e3", "e4", "gradients"};
  bool runs(std::string_view experiment) const;
};

// The preset's settings. Throws deeper::Error for an unknown name (listing the names).
AnalysisSettings analysis_preset(std::string_view name);
// The preset that fits a run: paper for runs of 1,000+ identities or 224 px, small for 100+, tiny below.
std::string preset_for_run(const nn::TrainConfig& config);
// Throws deeper::Error naming the setting unless every value is usable with this run (e.g. targets
// within the trained identities, trials above the variables' dimension, known experiment names).
void validate_settings(const AnalysisSettings& settings, const nn::TrainConfig& config);
nlohmann::json settings_json(const AnalysisSettings& settings);

}  // namespace deeper::analysis
