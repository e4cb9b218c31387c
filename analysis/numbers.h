// Small numeric helpers the analyses and the report share.
#pragma once

#include <cmath>
#include <vector>

#include <nlohmann/json.hpp>

namespace deeper::analysis {

// A number for results.json: the value, or null when it is NaN or infinite (JSON has no NaN).
inline nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The element-wise mean of equally long maps (e.g. one per target); empty for no maps.
inline std::vector<double> mean_maps(const std::vector<std::vector<double>>& maps) {
  std::vector<double> m(maps.empty() ? 0 : maps[0].size(), 0.0);
  for (const auto& v : maps) {
    for (std::size_t i = 0; i < m.size(); ++i) m[i] += v[i] / static_cast<double>(maps.size());
  }
  return m;
}

}  // namespace deeper::analysis
