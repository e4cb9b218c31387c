// Learning-rate schedules (nn/schedule.h).
#include "nn/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "core/error.h"

namespace deeper::nn {

double triangular_cyclic_lr(std::int64_t step, double base_lr, double peak_lr, std::int64_t step_size) {
  DEEPER_CHECK(step >= 0 && step_size >= 1, "triangular_cyclic_lr: step {} must be >= 0 and step_size {} >= 1",
               step, step_size);
  const double t = static_cast<double>(step);
  const double s = static_cast<double>(step_size);
  const double cycle = std::floor(1.0 + t / (2.0 * s));
  const double x = std::abs(t / s - 2.0 * cycle + 1.0);
  return base_lr + (peak_lr - base_lr) * std::max(0.0, 1.0 - x);
}

double cosine_warmup_lr(std::int64_t step, double peak_lr, double final_lr, std::int64_t warmup_steps,
                        std::int64_t total_steps) {
  DEEPER_CHECK(step >= 0 && warmup_steps >= 0 && total_steps >= 1,
               "cosine_warmup_lr: step {}, warmup_steps {} must be >= 0 and total_steps {} >= 1", step, warmup_steps,
               total_steps);
  if (step < warmup_steps) return peak_lr * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  const double span = static_cast<double>(std::max<std::int64_t>(1, total_steps - warmup_steps - 1));
  const double p = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return final_lr + (peak_lr - final_lr) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
}

double inverse_time_decay(double lr, std::int64_t step, double decay) {
  return lr / (1.0 + decay * static_cast<double>(step));
}

double learning_rate(const ScheduleConfig& s, std::int64_t step, std::int64_t total_steps) {
  DEEPER_CHECK(step >= 0, "learning_rate: step {} is negative", step);
  double lr = s.lr;
  switch (s.kind) {
    case ScheduleKind::cyclic: lr = triangular_cyclic_lr(step, s.base_lr, s.lr, s.step_size); break;
    case ScheduleKind::cosine: lr = cosine_warmup_lr(step, s.lr, s.final_lr, s.warmup_steps, total_steps); break;
    case ScheduleKind::constant: break;
  }
  return inverse_time_decay(lr, step, s.inverse_time_decay);
}

}  // namespace deeper::nn
