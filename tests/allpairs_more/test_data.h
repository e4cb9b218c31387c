// Shared data and checks of the allpairs_more suite: seeded variables with ties and couplings,
// labels with unbalanced classes, a Kolmogorov-Smirnov distance, and an error-message catcher.
#pragma once

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace allpairs_more {

// rows x n standard normals, rows of x share `coupling` times the row of `base` (if given).
inline std::vector<double> normals(std::int64_t rows, std::int64_t n, std::mt19937_64& gen) {
  std::normal_distribution<double> normal;
  std::vector<double> v(static_cast<std::size_t>(rows * n));
  for (auto& e : v) e = normal(gen);
  return v;
}

// Labels 0..K-1 over n trials: class k gets weight 1 + k % 4 (unbalanced), class K-1 exactly
// `small` trials (a small class), in a shuffled order. Needs K >= 2.
inline std::vector<std::int32_t> labels(std::int64_t n, int classes, std::int64_t small, std::mt19937_64& gen) {
  std::vector<std::int32_t> l;
  const std::int64_t rest = n - small;
  std::int64_t weights = 0;
  for (int k = 0; k + 1 < classes; ++k) weights += 1 + k % 4;
  for (int k = 0; k + 1 < classes; ++k) {
    const std::int64_t nk = k + 2 < classes ? rest * (1 + k % 4) / weights : rest - static_cast<std::int64_t>(l.size());
    l.insert(l.end(), static_cast<std::size_t>(nk), k);
  }
  l.insert(l.end(), static_cast<std::size_t>(small), classes - 1);
  std::shuffle(l.begin(), l.end(), gen);
  return l;
}

// Every third value of row `r` set to 1.0: ties (about a third of the row).
inline void add_ties(std::vector<double>& v, std::int64_t r, std::int64_t n) {
  for (std::int64_t t = 0; t < n; t += 3) v[static_cast<std::size_t>(r * n + t)] = 1.0;
}

// Kolmogorov-Smirnov distance of p from U(0, 1).
inline double ks_uniform(std::vector<double> p) {
  std::sort(p.begin(), p.end());
  const auto m = static_cast<double>(p.size());
  double ks = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    ks = std::max({ks, std::fabs((static_cast<double>(i) + 1) / m - p[i]), std::fabs(static_cast<double>(i) / m - p[i])});
  }
  return ks;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const deeper::Error& e) {
    return e.what();
  }
  return {};
}

}  // namespace allpairs_more
