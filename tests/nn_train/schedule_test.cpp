// LR schedules against values worked out by hand from the formulas in nn/schedule.h.
#include "nn/schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace {

using namespace deeper::nn;

TEST(Schedule, TriangularCyclicMatchesTheLabAtHandPoints) {
  // base 1e-6, peak 0.3, step 500: trough at 0, 1000, 2000; peak at 500, 1500; halfway between.
  const double base = 1e-6, peak = 0.3;
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(0, base, peak, 500), 1e-6);
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(250, base, peak, 500), 1e-6 + 0.5 * (0.3 - 1e-6));
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(500, base, peak, 500), 0.3);
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(750, base, peak, 500), 1e-6 + 0.5 * (0.3 - 1e-6));
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(1000, base, peak, 500), 1e-6);
  EXPECT_NEAR(triangular_cyclic_lr(1100, base, peak, 500), 1e-6 + 0.2 * (0.3 - 1e-6), 1e-15);
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(1500, base, peak, 500), 0.3);
  EXPECT_NEAR(triangular_cyclic_lr(1900, base, peak, 500), 1e-6 + 0.2 * (0.3 - 1e-6), 1e-15);
  // step size 1: trough, peak, trough, ...
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(0, 0.1, 1.0, 1), 0.1);
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(1, 0.1, 1.0, 1), 1.0);
  EXPECT_DOUBLE_EQ(triangular_cyclic_lr(2, 0.1, 1.0, 1), 0.1);
}

TEST(Schedule, CosineWithWarmupAtHandPoints) {
  // peak 1, final 0, 10 warm-up steps, 110 steps: ramp 0.1, 0.2, ..., 1.0, then cosine over 99 steps.
  EXPECT_DOUBLE_EQ(cosine_warmup_lr(0, 1.0, 0.0, 10, 110), 0.1);
  EXPECT_DOUBLE_EQ(cosine_warmup_lr(4, 1.0, 0.0, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(cosine_warmup_lr(9, 1.0, 0.0, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(cosine_warmup_lr(10, 1.0, 0.0, 10, 110), 1.0);
  EXPECT_NEAR(cosine_warmup_lr(10 + 33, 1.0, 0.0, 10, 110), 0.75, 1e-15);  // p = 1/3: (1 + cos(pi/3)) / 2
  EXPECT_NEAR(cosine_warmup_lr(10 + 66, 1.0, 0.0, 10, 110), 0.25, 1e-15);
  EXPECT_NEAR(cosine_warmup_lr(109, 1.0, 0.0, 10, 110), 0.0, 1e-15);
  EXPECT_NEAR(cosine_warmup_lr(500, 1.0, 0.0, 10, 110), 0.0, 1e-15);  // past the end: stays at final
  // final 0.1, no warm-up, 3 steps: 1, 0.55, 0.1
  EXPECT_DOUBLE_EQ(cosine_warmup_lr(0, 1.0, 0.1, 0, 3), 1.0);
  EXPECT_NEAR(cosine_warmup_lr(1, 1.0, 0.1, 0, 3), 0.55, 1e-15);
  EXPECT_NEAR(cosine_warmup_lr(2, 1.0, 0.1, 0, 3), 0.1, 1e-15);
}

TEST(Schedule, InverseTimeDecayAndDispatch) {
  EXPECT_DOUBLE_EQ(inverse_time_decay(0.3, 20000, 5e-4), 0.3 / 11.0);
  EXPECT_DOUBLE_EQ(inverse_time_decay(0.3, 0, 5e-4), 0.3);
  ScheduleConfig s;
  s.kind = ScheduleKind::constant;
  s.lr = 0.05;
  EXPECT_DOUBLE_EQ(learning_rate(s, 0, 10), 0.05);
  EXPECT_DOUBLE_EQ(learning_rate(s, 9, 10), 0.05);
  s.inverse_time_decay = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(s, 10, 100), 0.025);
  s = ScheduleConfig{};  // cyclic 1e-6..0.3, step 500
  EXPECT_DOUBLE_EQ(learning_rate(s, 500, 1000), 0.3);
  s.inverse_time_decay = 5e-4;  // the lab's 2021 recipe: peaks at t = 20,500 are 0.3 / 11.25
  EXPECT_DOUBLE_EQ(learning_rate(s, 20500, 30000), 0.3 / 11.25);
  s.kind = ScheduleKind::cosine;
  s.inverse_time_decay = 0.0;
  s.lr = 2.0;
  s.final_lr = 0.0;
  s.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate(s, 1, 20), 1.0);
}

TEST(Schedule, BadArgumentsAreErrors) {
  EXPECT_THROW(triangular_cyclic_lr(-1, 0.0, 1.0, 10), deeper::Error);
  EXPECT_THROW(triangular_cyclic_lr(0, 0.0, 1.0, 0), deeper::Error);
  EXPECT_THROW(cosine_warmup_lr(0, 1.0, 0.0, 0, 0), deeper::Error);
  EXPECT_THROW(learning_rate(ScheduleConfig{}, -3, 10), deeper::Error);
}

}  // namespace
