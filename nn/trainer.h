// The training loop of deeper-train: per step, render a batch on the device (nn/data.h), forward,
// loss, backward, optimizer step (SGD or AdamW, fused over the flat buffer, no weight decay on BN
// parameters and biases), with the learning rate of the schedule (nn/schedule.h).
//
//   step t (0-based; TrainingState::step counts the steps done):
//     images [train_counter, train_counter + B) of the training sampling: rendered now, or already
//       rendered during step t - 1 (prefetch, below)
//     forward (BN training mode), loss  -> the NaN/Inf guard (stops before touching the weights)
//     prefetch: queue the render of the next batch on the render stream
//     backward, optimizer step with lr = learning_rate(schedule, t, total), step number t + 1;
//     train_counter += B
//   Prefetch (TrainerOptions::prefetch; on by default for cuda): the next batch renders into a second
//   buffer on a stream beside the network's, so the render overlaps the backward pass and the
//   optimizer instead of adding to the step (nn/data.h). The images are the same bits either way.
//   every train.log_every steps: a metrics record (TrainMonitor); the progress bar shows images/s, ETA
//   every eval.every steps and at the end: the held-out evaluation (BN inference mode) with accuracy
//     overall and per factor level, as an "eval" metrics record
//   every checkpoint.every steps and at the end: checkpoint.safetensors (atomic; weights checked
//     finite first, so the last checkpoint is always a good one)
// --resume loads the checkpoint (weights, BN statistics, optimizer state, step and counters) and
// continues bit for bit on the cpu (every draw is a function of (seed, image index), the kernels
// are deterministic there). NVTX ranges: "train.step", "data.acquire" (holds the render when the
// batch was not prefetched), "data.prefetch", "data.render" (evaluation), "render_batch",
// "network.forward", "network.loss", "network.backward", "optimizer", "evaluate", "checkpoint", and
// "profile steps A:B" around the steps chosen by --profile-steps.
//
// Evaluation levels (the "by_factor" object of an eval record; each level {"lo","hi","n","accuracy"}
// or, for expression, by name): yaw, pitch, light_azimuth, light_elevation and scale in 3 equal
// bins over their configured range (one bin when fixed), expression by name, identity age by decade.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/progress.h"
#include "kernels/nn/conv2d.h"
#include "kernels/nn/optimizer.h"
#include "kernels/runtime/device.h"
#include "nn/checkpoint.h"
#include "nn/config.h"
#include "nn/data.h"
#include "nn/metrics.h"
#include "nn/network.h"
#include "nn/parameters.h"
#include "renderer/face_model.h"

namespace deeper::nn {

struct TrainerOptions {
  Device device = Device::cpu();
  kernels::ConvMath math = kernels::ConvMath::simt_f32;
  int bf16_conv_kernel = 0;             // Network::set_bf16_conv_kernel (wmma_bf16): 0 automatic, 1, 2, 3
  RenderPrefetch prefetch = RenderPrefetch::automatic;  // render batch t + 1 during step t (nn/data.h)
  bool resume = false;                  // continue from <output.dir>/checkpoint.safetensors
  std::int64_t profile_first = 0;       // --profile-steps A:B (1-based, inclusive); 0: none
  std::int64_t profile_last = 0;
  std::int64_t stop_after = 0;          // > 0: stop (with a checkpoint) after this many steps of this process
  const render::FaceModel* face_model = nullptr;  // null: the embedded procedural model
  ProgressOptions progress;
  std::function<double()> clock;        // seconds; empty: the steady clock
};

struct EvalResult {
  std::int64_t step = 0;
  std::int64_t images = 0;  // evaluation images
  double loss = 0.0;
  double accuracy = 0.0;
  nlohmann::json by_factor;
  nlohmann::json to_json(std::int64_t train_images) const;
};

struct TrainSummary {
  std::int64_t start_step = 0, end_step = 0;  // steps done before and after this run
  double last_loss = 0.0;          // the last step's
  double last_accuracy = 0.0;      // the last step's training-batch accuracy
  double images_per_s = 0.0;       // training images per second over this run (evaluations included)
  std::optional<EvalResult> last_eval;
  std::filesystem::path checkpoint;
};

// The optimizer's weight-decay segments over the parameter buffer: conv and linear weights decay,
// BN parameters and biases do not; alignment gaps join the segment before them.
kernels::ParamSegments weight_decay_segments(const NetworkLayout& layout);

class Trainer {
 public:
  // Checks the config, builds the face model (if not given), data, parameter store, network and
  // metrics log in output.dir (created). Fresh runs refuse an existing checkpoint; resume needs one.
  Trainer(TrainConfig config, TrainerOptions options);
  ~Trainer();

  // The loop from the current step to the end (or stop_after steps).
  TrainSummary run();
  // One training step (render, forward, loss, backward, optimizer); returns the loss and accuracy.
  LossResult step();
  // Switches the render prefetch (TrainerOptions::prefetch) between steps; benchmarks time both
  // ways on one trainer.
  void set_prefetch(RenderPrefetch mode);
  // The held-out evaluation at the current weights (BN inference mode).
  EvalResult evaluate();
  void save_checkpoint_now();

  const TrainConfig& config() const { return config_; }
  const TrainingState& state() const { return state_; }
  ParameterStore& store() { return *store_; }
  Network& network() { return *net_; }
  FaceData& data() { return *data_; }
  std::filesystem::path checkpoint_path() const;

 private:
  TrainConfig config_;
  TrainerOptions options_;
  std::unique_ptr<render::FaceModel> own_model_;
  std::unique_ptr<FaceData> data_;
  std::unique_ptr<ParameterStore> store_;
  std::unique_ptr<Network> net_;
  std::unique_ptr<DeviceBuffer> bf16_;
  std::unique_ptr<MetricsLog> log_;
  std::unique_ptr<TrainMonitor> monitor_;
  kernels::ParamSegments segments_;
  TrainingState state_;
  std::int64_t last_checkpoint_step_ = -1;
  bool prefetch_ = false;  // options_.prefetch resolved for the device
};

}  // namespace deeper::nn
