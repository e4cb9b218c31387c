// Out-of-line device math for the emulator (math_intrinsics.h): inverse normal CDF and inverse
// error functions, plus clock64.
#include "kernels/emu/math_intrinsics.h"

#include "core/special_functions.h"

#include <chrono>
#include <limits>

// The inverse normal CDF is deeper::ndtri (core/special_functions.h, Wichura's AS 241 to full
// double precision): one implementation for the emulator and the CPU reference estimators.
double normcdfinv(double p) { return deeper::ndtri(p); }

double erfcinv(double y) {
  if (std::isnan(y) || y < 0 || y > 2) return std::numeric_limits<double>::quiet_NaN();
  // erfc(x) = 2 Phi(-x sqrt 2), so erfcinv(y) = -normcdfinv(y / 2) / sqrt 2 (exact for small y).
  return -normcdfinv(y / 2) * M_SQRT1_2;
}

double erfinv(double x) {
  if (std::isnan(x) || x < -1 || x > 1) return std::numeric_limits<double>::quiet_NaN();
  if (x == 1) return std::numeric_limits<double>::infinity();
  if (x == -1) return -std::numeric_limits<double>::infinity();
  double y = x >= 0 ? erfcinv(1 - x) : -erfcinv(1 + x);
  // Two Newton steps on erf itself restore relative precision near zero.
  for (int i = 0; i < 2; ++i) y -= (std::erf(y) - x) / (M_2_SQRTPI * std::exp(-y * y));
  return y;
}

long long clock64() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}
