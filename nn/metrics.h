// Training metrics as JSON Lines, the NaN/Inf guard, and the per-step monitor that ties them to the
// progress bar.
//
// metrics.jsonl holds one JSON object per line, flushed as written:
//   training record (every train.log_every steps and at the last step), means over the steps since
//   the previous record:
//     {"kind":"train","step":1200,"images":307200,"loss":3.91,"accuracy":0.12,"lr":0.0731,
//      "images_per_s":812.5,"elapsed_s":378.1}
//   evaluation record (nn callers add their own fields, e.g. per-factor accuracies):
//     {"kind":"eval","step":2000,"images":512000,"loss":...,"accuracy":...,...}
// `step` counts the steps done, `images` the training images seen; images_per_s is measured over
// the interval since the previous record; elapsed_s counts from the monitor's start (a resumed run
// starts again from 0).
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/error.h"
#include "core/progress.h"

namespace deeper::nn {

struct StepRecord {
  std::int64_t step = 0;
  std::int64_t images = 0;
  double loss = 0.0;
  double accuracy = 0.0;
  double lr = 0.0;
  double images_per_s = 0.0;
  double elapsed_s = 0.0;
};

nlohmann::json to_json(const StepRecord& r);

class MetricsLog {
 public:
  // A fresh run (resume_step empty) starts an empty file. A resumed run keeps the records with
  // step <= *resume_step (those after the checkpoint belong to steps that will run again), rewriting
  // the file atomically, then appends. A line that is not a JSON object with a "step" is an error
  // naming the file and line.
  MetricsLog(std::filesystem::path path, std::optional<std::int64_t> resume_step = std::nullopt);

  void write(const nlohmann::json& record);  // one line, flushed
  void write(const StepRecord& r) { write(to_json(r)); }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::ofstream out_;
};

// Thrown by the guard when the loss (or a checked tensor) is NaN or infinite.
class NonFiniteError : public Error {
 public:
  NonFiniteError(std::string message, std::int64_t step) : Error(std::move(message)), step_(step) {}
  std::int64_t step() const { return step_; }

 private:
  std::int64_t step_;
};

// The index of the first NaN or infinite value, or -1.
std::int64_t first_non_finite(std::span<const float> values);

// Throws NonFiniteError "loss is nan at step 1234; stopping (<note>)" unless `loss` is finite.
// `step` is the 1-based number of the step that produced it; `note` says what is kept (e.g. the
// last good checkpoint).
void check_finite_loss(double loss, std::int64_t step, std::string_view note);
// The same for a tensor (gradients, parameters): names `what` and the first bad element's index.
void check_finite_values(std::span<const float> values, std::string_view what, std::int64_t step, std::string_view note);

struct MonitorOptions {
  std::int64_t total_steps = 0;
  std::int64_t batch = 1;
  std::int64_t start_step = 0;  // steps already done (a resumed run)
  std::int64_t log_every = 50;
  ProgressOptions progress;     // unit is set to "images"
  std::function<double()> clock;  // seconds; empty: the steady clock
};

// Watches a training loop: after each step it checks the loss (NaN/Inf stops the run with a message
// naming the step and the last good checkpoint), advances the progress bar (images/s, ETA), and
// writes a training record every log_every steps and at the last step.
class TrainMonitor {
 public:
  TrainMonitor(MetricsLog& log, MonitorOptions options);

  // `step` is the number of steps done after this one (start_step + 1 for the first).
  void step_done(std::int64_t step, double loss, double accuracy, double lr);
  // Tell the guard which checkpoint is the last good one (named in the NaN message).
  void checkpoint_written(std::int64_t step, std::string path);
  void finish() { progress_.finish(); }

  std::int64_t records_written() const { return records_; }

 private:
  double now() const;

  MetricsLog& log_;
  MonitorOptions o_;
  Progress progress_;
  double start_ = 0.0, last_time_ = 0.0;
  std::int64_t last_step_ = 0;
  double loss_sum_ = 0.0, accuracy_sum_ = 0.0;
  std::int64_t pending_ = 0, records_ = 0;
  std::int64_t checkpoint_step_ = -1;
  std::string checkpoint_path_;
};

}  // namespace deeper::nn
