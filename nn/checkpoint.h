// Training checkpoints: one safetensors file (core/safetensors.h), written atomically, that PyTorch
// and every safetensors reader can open.
//
// Tensors (all F32, C order, in the layout's order):
//   <param name>                          every trainable tensor, e.g. "stage3.conv1.weight" [K, R, S, C]
//   <bn>.running_mean, <bn>.running_var   the BN running statistics
//   optimizer.<slot>.<param name>         optimizer state per trainable tensor; slot "momentum" (sgd)
//                                         or "adam_m", "adam_v" (adamw)
// Metadata (__metadata__, strings):
//   deeper.format "deeper-train-checkpoint", deeper.format_version "1", deeper.version (program),
//   train.step (steps done), train.images (images seen), optimizer.kind,
//   rng.seed, rng.train_counter (index of the next training image draw), rng.eval_counter,
//   config (the whole TrainConfig as TOML, nn/config.h config_to_toml).
// Padding between tensors in the flat buffers is not stored (it is zero by construction).
#pragma once

#include <cstdint>
#include <filesystem>

#include "nn/config.h"
#include "nn/parameters.h"

namespace deeper::nn {

inline constexpr const char* kCheckpointFormat = "deeper-train-checkpoint";
inline constexpr const char* kCheckpointFormatVersion = "1";

// Where a run stands: what the next step needs besides the tensors.
struct TrainingState {
  std::int64_t step = 0;    // steps done
  std::int64_t images = 0;  // training images seen
  std::uint64_t seed = 0;   // the run's Philox seed
  std::uint64_t train_counter = 0;  // Philox element index of the next training image's factor draws
  std::uint64_t eval_counter = 0;   // the same for evaluation renders
  bool operator==(const TrainingState&) const = default;
};

// Writes the checkpoint atomically (the old file stays intact if anything fails).
void save_checkpoint(const std::filesystem::path& path, const ParameterStore& store, const TrainingState& state,
                     const TrainConfig& config);

// Reads a checkpoint into `store` and returns its state. Checks, with a deeper::Error naming the file
// and the problem: that the file is a deeper-train checkpoint of a known format version, that its
// config can resume as `config` (check_resume_compatible: same model, optimizer kind, batch, seed,
// render factors), and that every tensor the store needs is there with dtype F32 and the store's shape,
// with no tensor left over. `store` is unchanged when any check fails.
TrainingState load_checkpoint(const std::filesystem::path& path, ParameterStore& store, const TrainConfig& config);

// The config a checkpoint was written with (for --resume without a config of its own, and tools).
TrainConfig checkpoint_config(const std::filesystem::path& path);

}  // namespace deeper::nn
