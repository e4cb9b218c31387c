// Test data for the GCMI kernel suites: rank tables, random rows with controlled ties and
// dependence, and copula-normalised inputs made with the CPU reference.
#pragma once

#include "kernels/gcmi/copnorm.h"

#include <cuda_bf16.h>

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace gcmi_test {

// Φ⁻¹(p) by bisection on the normal CDF (tests only: slow but exact to double rounding).
inline double inverse_normal_cdf(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

// t[i] = Φ⁻¹((i + 1) / (n + 1)), computed in double, rounded once.
inline std::vector<float> rank_table(std::int64_t n) {
  std::vector<float> t(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i) {
    t[static_cast<std::size_t>(i)] =
        static_cast<float>(inverse_normal_cdf(static_cast<double>(i + 1) / (n + 1)));
  }
  return t;
}

// rows × n standard-normal values.
inline std::vector<float> random_rows(std::int64_t rows, std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(rows * n));
  for (auto& x : v) x = normal(gen);
  return v;
}

// Rows whose values correlate with the given base rows: out[f] = rho·base[f % base_rows] + noise.
inline std::vector<float> correlated_rows(const std::vector<float>& base, std::int64_t base_rows,
                                          std::int64_t rows, std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> rho_dist(-0.9f, 0.9f);
  std::vector<float> v(static_cast<std::size_t>(rows * n));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float rho = rho_dist(gen);
    const std::int64_t b = r % base_rows;
    for (std::int64_t k = 0; k < n; ++k) {
      v[static_cast<std::size_t>(r * n + k)] =
          rho * base[static_cast<std::size_t>(b * n + k)] + std::sqrt(1 - rho * rho) * normal(gen);
    }
  }
  return v;
}

// Copula-normalised rows (stable ties) with the CPU reference, in float and in bf16.
struct Copnormed {
  std::vector<float> f32;
  std::vector<__nv_bfloat16> bf16;
};
inline Copnormed copnorm_cpu(const std::vector<float>& in, std::int64_t rows, std::int64_t n,
                             const std::vector<float>& table) {
  Copnormed c{std::vector<float>(in.size()), std::vector<__nv_bfloat16>(in.size())};
  std::vector<std::uint32_t> bad(static_cast<std::size_t>(rows)), ties(static_cast<std::size_t>(rows));
  deeper::kernels::CopnormParams p;
  p.in = in.data();
  p.rows = rows;
  p.n = n;
  p.table = table.data();
  p.out = c.f32.data();
  p.out_bf16 = c.bf16.data();
  p.bad = bad.data();
  p.ties = ties.data();
  deeper::kernels::cpu_impl::copnorm_rows(p);
  return c;
}

inline std::vector<float> widen(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) out[i] = __bfloat162float(v[i]);
  return out;
}

}  // namespace gcmi_test
