// Learning-rate schedules as pure functions of the step (0-based: the rate used by step t's update).
//
//   triangular cyclic (Smith 2017, the lab's CyclicLR 'triangular', step size s):
//     cycle = floor(1 + t / (2 s)),  x = |t / s - 2 cycle + 1|,
//     lr(t) = base + (peak - base) max(0, 1 - x)        (base at t = 0, 2s, 4s...; peak at s, 3s...)
//   cosine with linear warm-up (W warm-up steps of a T-step run):
//     t < W:  lr(t) = peak (t + 1) / W
//     t >= W: p = min(1, (t - W) / max(1, T - W - 1)),  lr(t) = final + (peak - final) (1 + cos(pi p)) / 2
//     (the first step after warm-up runs at the peak, the last one, t = T - 1, at `final`)
//   constant: lr(t) = peak.
// Every kind is then divided by (1 + d t), Keras's inverse-time "decay" (d = 0: off); the lab's 2021
// script used d = 5e-4 on top of the cyclic schedule.
#pragma once

#include <cstdint>

#include "nn/config.h"

namespace deeper::nn {

double triangular_cyclic_lr(std::int64_t step, double base_lr, double peak_lr, std::int64_t step_size);
double cosine_warmup_lr(std::int64_t step, double peak_lr, double final_lr, std::int64_t warmup_steps,
                        std::int64_t total_steps);
double inverse_time_decay(double lr, std::int64_t step, double decay);

// The rate of `step` for the configured schedule in a run of `total_steps` steps. Throws
// deeper::Error for a negative step or unusable parameters (step_size < 1, total_steps < 1).
double learning_rate(const ScheduleConfig& schedule, std::int64_t step, std::int64_t total_steps);

}  // namespace deeper::nn
