// Test data of the conditional GCMI suites (emulator and GPU): z is standard normal; every other
// feature of Y carries z_to_y times z; every x_from_y-th unit of X carries y_to_x times one Y row and
// every x_from_z-th unit z_to_x times z, all plus unit noise, so that conditioning on z changes MI.
#pragma once

#include <cstdint>
#include <random>
#include <vector>

namespace deeper::test {

struct CondData {
  std::int64_t units, features, n;
  std::vector<double> x, y, z;  // U x N, F x N, N
};

struct CondMix {
  double z_to_y = 0.7;
  int x_from_y = 3;
  double y_to_x = 0.8;
  int x_from_z = 2;
  double z_to_x = 0.6;
};

inline CondData cond_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed,
                          const CondMix& mix = {}) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  CondData d{units, features, n, std::vector<double>(static_cast<std::size_t>(units * n)),
             std::vector<double>(static_cast<std::size_t>(features * n)), std::vector<double>(static_cast<std::size_t>(n))};
  for (auto& v : d.z) v = normal(gen);
  for (std::int64_t f = 0; f < features; ++f) {
    for (std::int64_t t = 0; t < n; ++t) {
      d.y[static_cast<std::size_t>(f * n + t)] =
          (f % 2 == 0 ? mix.z_to_y * d.z[static_cast<std::size_t>(t)] : 0.0) + normal(gen);
    }
  }
  for (std::int64_t u = 0; u < units; ++u) {
    for (std::int64_t t = 0; t < n; ++t) {
      const double from_y =
          u % mix.x_from_y == 0 ? mix.y_to_x * d.y[static_cast<std::size_t>((u % features) * n + t)] : 0.0;
      const double from_z = u % mix.x_from_z == 0 ? mix.z_to_x * d.z[static_cast<std::size_t>(t)] : 0.0;
      d.x[static_cast<std::size_t>(u * n + t)] = from_y + from_z + normal(gen);
    }
  }
  return d;
}

}  // namespace deeper::test
