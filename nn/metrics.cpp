// Metrics, the NaN/Inf guard and the training monitor (nn/metrics.h).
#include "nn/metrics.h"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <sstream>
#include <vector>

#include "core/atomic_file.h"

namespace deeper::nn {

namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string non_finite_name(double x) { return std::isnan(x) ? "nan" : (x > 0 ? "+inf" : "-inf"); }

}  // namespace

nlohmann::json to_json(const StepRecord& r) {
  return nlohmann::json{{"kind", "train"},        {"step", r.step},
                        {"images", r.images},     {"loss", r.loss},
                        {"accuracy", r.accuracy}, {"lr", r.lr},
                        {"images_per_s", r.images_per_s}, {"elapsed_s", r.elapsed_s}};
}

MetricsLog::MetricsLog(std::filesystem::path path, std::optional<std::int64_t> resume_step) : path_(std::move(path)) {
  std::string kept;
  if (resume_step && std::filesystem::exists(path_)) {
    std::ifstream in(path_);
    if (!in) fail("{}: cannot read the metrics log", path_.string());
    std::string line;
    std::int64_t number = 0;
    while (std::getline(in, line)) {
      ++number;
      if (line.empty()) continue;
      const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object() || !j.contains("step") || !j["step"].is_number_integer()) {
        fail("{}:{}: not a metrics record (a JSON object with an integer \"step\")", path_.string(), number);
      }
      if (j["step"].get<std::int64_t>() <= *resume_step) kept += line + "\n";
    }
  }
  // Start from the kept records (or nothing), replacing the file atomically, then append.
  io::write_file_atomic(path_, std::as_bytes(std::span<const char>(kept.data(), kept.size())));
  out_.open(path_, std::ios::app);
  if (!out_) fail("{}: cannot open the metrics log for appending", path_.string());
}

void MetricsLog::write(const nlohmann::json& record) {
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) fail("{}: cannot write the metrics log (disk full?)", path_.string());
}

std::int64_t first_non_finite(std::span<const float> values) {
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!std::isfinite(values[i])) return static_cast<std::int64_t>(i);
  }
  return -1;
}

void check_finite_loss(double loss, std::int64_t step, std::string_view note) {
  if (std::isfinite(loss)) return;
  throw NonFiniteError(fmt::format("loss is {} at step {}; stopping ({})", non_finite_name(loss), step, note), step);
}

void check_finite_values(std::span<const float> values, std::string_view what, std::int64_t step, std::string_view note) {
  const std::int64_t i = first_non_finite(values);
  if (i < 0) return;
  throw NonFiniteError(fmt::format("{} element {} is {} at step {}; stopping ({})", what, i,
                                   non_finite_name(values[static_cast<std::size_t>(i)]), step, note),
                       step);
}

TrainMonitor::TrainMonitor(MetricsLog& log, MonitorOptions options)
    : log_(log),
      o_(std::move(options)),
      progress_("train",
                static_cast<std::uint64_t>(std::max<std::int64_t>(0, o_.total_steps - o_.start_step) * o_.batch),
                [&] {
                  ProgressOptions p = o_.progress;
                  p.unit = "images";
                  if (!p.clock && o_.clock) p.clock = o_.clock;
                  return p;
                }()) {
  DEEPER_CHECK(o_.batch >= 1 && o_.log_every >= 1 && o_.start_step >= 0 && o_.total_steps >= o_.start_step,
               "TrainMonitor: batch {}, log_every {}, start_step {}, total_steps {} are inconsistent", o_.batch,
               o_.log_every, o_.start_step, o_.total_steps);
  start_ = last_time_ = now();
  last_step_ = o_.start_step;
}

double TrainMonitor::now() const { return o_.clock ? o_.clock() : steady_seconds(); }

void TrainMonitor::checkpoint_written(std::int64_t step, std::string path) {
  checkpoint_step_ = step;
  checkpoint_path_ = std::move(path);
}

void TrainMonitor::step_done(std::int64_t step, double loss, double accuracy, double lr) {
  DEEPER_CHECK(step == last_step_ + pending_ + 1, "TrainMonitor: step {} reported after step {}", step,
               last_step_ + pending_);
  const std::string note = checkpoint_step_ >= 0
                               ? fmt::format("the last good checkpoint, step {}, is kept in {}", checkpoint_step_, checkpoint_path_)
                               : std::string("no checkpoint was written before it");
  check_finite_loss(loss, step, note);
  loss_sum_ += loss;
  accuracy_sum_ += accuracy;
  ++pending_;
  progress_.advance(static_cast<std::uint64_t>(o_.batch));
  if (step % o_.log_every != 0 && step != o_.total_steps) return;
  const double t = now();
  StepRecord r;
  r.step = step;
  r.images = step * o_.batch;
  r.loss = loss_sum_ / static_cast<double>(pending_);
  r.accuracy = accuracy_sum_ / static_cast<double>(pending_);
  r.lr = lr;
  const double dt = t - last_time_;
  r.images_per_s = dt > 0.0 ? static_cast<double>(pending_ * o_.batch) / dt : 0.0;
  r.elapsed_s = t - start_;
  log_.write(r);
  ++records_;
  last_time_ = t;
  last_step_ = step;
  loss_sum_ = accuracy_sum_ = 0.0;
  pending_ = 0;
}

}  // namespace deeper::nn
