// Test data of the all-pairs engine suites: Y is F standard normal rows; every `signal_every`-th
// unit of X carries `strength` times one Y row plus noise, the others are noise; with tied_every > 0,
// units u with u % tied_every == 1 are rounded to a grid of 0.5, so they have tied values.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace deeper::test {

struct EngineData {
  std::int64_t units, features, n;
  std::vector<double> x, y;  // U x N and F x N, row-major
};

inline EngineData engine_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed,
                              int signal_every = 4, double strength = 0.9, int tied_every = 0) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  EngineData d{units, features, n, std::vector<double>(static_cast<std::size_t>(units * n)),
               std::vector<double>(static_cast<std::size_t>(features * n))};
  for (auto& v : d.y) v = normal(gen);
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double signal =
          u % signal_every == 0 ? strength * d.y[static_cast<std::size_t>((u % features) * n + t)] : 0.0;
      double v = signal + normal(gen);
      if (tied_every > 0 && u % tied_every == 1) v = std::round(v * 2.0) / 2.0;
      d.x[static_cast<std::size_t>(u * n + t)] = v;
    }
  }
  return d;
}

}  // namespace deeper::test
