// ndtri (Wichura's AS 241, PPND16) and digamma (recurrence + asymptotic series); see the header.
#include "core/special_functions.h"

#include <cmath>
#include <limits>
#include <numbers>

namespace deeper {

namespace {

// Horner evaluation of c[0] + c[1] r + ... + c[7] r^7.
double poly7(const double (&c)[8], double r) {
  double v = c[7];
  for (int i = 6; i >= 0; --i) v = v * r + c[i];
  return v;
}

// AS 241 coefficients, as published (the denominators' constant terms are 1).
// Central region |p - 0.5| <= 0.425: Phi^-1(p) = q A(r) / B(r), r = 0.180625 - q^2.
constexpr double kA[8] = {3.3871328727963666080e0,  1.3314166789178437745e+2, 1.9715909503065514427e+3,
                          1.3731693765509461125e+4, 4.5921953931549871457e+4, 6.7265770927008700853e+4,
                          3.3430575583588128105e+4, 2.5090809287301226727e+3};
constexpr double kB[8] = {1.00000000000000000000e0, 4.2313330701600911252e+1, 6.8718700749205790830e+2,
                          5.3941960214247511077e+3, 2.1213794301586595867e+4, 3.9307895800092710610e+4,
                          2.8729085735721942674e+4, 5.2264952788528545610e+3};
// Intermediate tail, r = sqrt(-ln min(p, 1 - p)) <= 5: C(r - 1.6) / D(r - 1.6).
constexpr double kC[8] = {1.42343711074968357734e0,  4.63033784615654529590e0, 5.76949722146069140550e0,
                          3.64784832476320460504e0,  1.27045825245236838258e0, 2.41780725177450611770e-1,
                          2.27238449892691845833e-2, 7.74545014278341407640e-4};
constexpr double kD[8] = {1.00000000000000000000e0,  2.05319162663775882187e0,  1.67638483018380384940e0,
                          6.89767334985100004550e-1, 1.48103976427480074590e-1, 1.51986665636164571966e-2,
                          5.47593808499534494600e-4, 1.05075007164441684324e-9};
// Far tail, r > 5: E(r - 5) / F(r - 5).
constexpr double kE[8] = {6.65790464350110377720e0,  5.46378491116411436990e0,  1.78482653991729133580e0,
                          2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                          2.71155556874348757815e-5, 2.01033439929228813265e-7};
constexpr double kF[8] = {1.00000000000000000000e0,  5.99832206555887937690e-1, 1.36929880922735805310e-1,
                          1.48753612908506148525e-2, 7.86869131145613259100e-4, 1.84631831751005468180e-5,
                          1.42151175831644588870e-7, 2.04426310338993978564e-15};

}  // namespace

double ndtri(double p) {
  if (std::isnan(p) || p < 0.0 || p > 1.0) return std::numeric_limits<double>::quiet_NaN();
  if (p == 0.0) return -std::numeric_limits<double>::infinity();
  if (p == 1.0) return std::numeric_limits<double>::infinity();
  const double q = p - 0.5;
  if (std::fabs(q) <= 0.425) {
    const double r = 0.180625 - q * q;
    return q * poly7(kA, r) / poly7(kB, r);
  }
  double r = std::sqrt(-std::log(q < 0.0 ? p : 1.0 - p));
  double value;
  if (r <= 5.0) {
    r -= 1.6;
    value = poly7(kC, r) / poly7(kD, r);
  } else {
    r -= 5.0;
    value = poly7(kE, r) / poly7(kF, r);
  }
  return q < 0.0 ? -value : value;
}

double digamma(double x) {
  if (std::isnan(x)) return x;
  if (x == std::numeric_limits<double>::infinity()) return x;
  if (x <= 0.0) {
    if (x == std::floor(x)) return std::numeric_limits<double>::quiet_NaN();  // a pole (or -inf)
    return digamma(1.0 - x) - std::numbers::pi / std::tan(std::numbers::pi * x);
  }
  double shift = 0.0;  // sum of 1/x over the recurrence steps
  while (x < 10.0) {
    shift += 1.0 / x;
    x += 1.0;
  }
  // -B_2k / (2k) for k = 1..7: -1/12, 1/120, -1/252, 1/240, -1/132, 691/32760, -1/12.
  const double z = 1.0 / (x * x);
  constexpr double kCoef[7] = {-1.0 / 12.0,  1.0 / 120.0,     -1.0 / 252.0, 1.0 / 240.0,
                               -1.0 / 132.0, 691.0 / 32760.0, -1.0 / 12.0};
  double series = 0.0;
  for (int k = 6; k >= 0; --k) series = z * (kCoef[k] + series);
  return std::log(x) - 0.5 / x + series - shift;
}

}  // namespace deeper
