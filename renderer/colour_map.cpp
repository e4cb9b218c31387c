// Colour maps (colour_map.h).
#include "renderer/colour_map.h"

#include "core/error.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

namespace deeper::render {

namespace {

using Rgb = std::array<float, 3>;

Rgb mix(const Rgb& a, const Rgb& b, float f) {
  return {a[0] + f * (b[0] - a[0]), a[1] + f * (b[1] - a[1]), a[2] + f * (b[2] - a[2])};
}

void put(std::vector<float>& out, std::size_t i, const Rgb& c) { std::copy(c.begin(), c.end(), out.begin() + 3 * i); }

void check_mask(std::span<const double> values, std::span<const std::uint8_t> mask, const char* what) {
  DEEPER_CHECK(mask.empty() || mask.size() == values.size(), "{}: mask has {} entries for {} values", what, mask.size(),
               values.size());
}

bool masked(std::span<const std::uint8_t> mask, std::size_t i) { return !mask.empty() && mask[i] == 0; }

template <typename Map>
std::vector<float> map_values(std::span<const double> values, std::span<const std::uint8_t> mask, const char* what,
                              Map&& map) {
  check_mask(values, mask, what);
  std::vector<float> rgb(values.size() * 3);
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (masked(mask, i)) {
      put(rgb, i, kMaskedColour);
      continue;
    }
    DEEPER_CHECK(std::isfinite(values[i]), "{}: value {} is {} (only masked values may be non-finite)", what, i,
                 values[i]);
    put(rgb, i, map(values[i]));
  }
  return rgb;
}

}  // namespace

Rgb colour_map(double t) {
  static constexpr float stops[5][3] = {{0.08f, 0.05f, 0.32f},
                                        {0.14f, 0.36f, 0.66f},
                                        {0.16f, 0.62f, 0.56f},
                                        {0.62f, 0.80f, 0.26f},
                                        {0.99f, 0.91f, 0.16f}};
  t = std::isnan(t) ? 0.0 : std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const float f = static_cast<float>(t - i);
  return mix({stops[i][0], stops[i][1], stops[i][2]}, {stops[i + 1][0], stops[i + 1][1], stops[i + 1][2]}, f);
}

Rgb diverging_colour_map(double t) {
  // Two ramps through white on the red side, |t| in [0, 0.5] white -> light red, [0.5, 1] light red ->
  // deep red; the blue side is the same colour with red and blue swapped, so c(-t) mirrors c(t).
  static constexpr Rgb white{1.0f, 1.0f, 1.0f}, light{0.96f, 0.66f, 0.56f}, deep{0.72f, 0.13f, 0.15f};
  t = std::isnan(t) ? 0.0 : std::clamp(t, -1.0, 1.0);
  const double a = std::fabs(t);
  Rgb c = a <= 0.5 ? mix(white, light, static_cast<float>(2 * a)) : mix(light, deep, static_cast<float>(2 * a - 1));
  if (t < 0) std::swap(c[0], c[2]);
  return c;
}

std::vector<float> colour_map_rgb(std::span<const double> values, double lo, double hi,
                                  std::span<const std::uint8_t> mask) {
  DEEPER_CHECK(std::isfinite(lo) && std::isfinite(hi) && lo < hi,
               "colour map: range [{}, {}] is not a finite range with lo < hi", lo, hi);
  return map_values(values, mask, "colour map", [&](double x) { return colour_map((x - lo) / (hi - lo)); });
}

std::vector<float> diverging_colour_map_rgb(std::span<const double> values, double limit,
                                            std::span<const std::uint8_t> mask) {
  DEEPER_CHECK(std::isfinite(limit) && limit > 0, "diverging colour map: limit {} is not finite and positive", limit);
  return map_values(values, mask, "diverging colour map", [&](double x) { return diverging_colour_map(x / limit); });
}

std::vector<float> colour_bar(int width, int height, bool diverging) {
  constexpr int kMax = 16384;
  DEEPER_CHECK(width >= 1 && width <= kMax && height >= 1 && height <= kMax,
               "colour bar: size {} x {} is outside [1, {}] per side", width, height, kMax);
  const bool horizontal = width >= height;
  const int n = horizontal ? width : height;
  std::vector<float> out(static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int k = horizontal ? x : height - 1 - y;
      const double t = n > 1 ? static_cast<double>(k) / (n - 1) : 0.5;
      put(out, static_cast<std::size_t>(y) * static_cast<std::size_t>(width) + static_cast<std::size_t>(x),
          diverging ? diverging_colour_map(2 * t - 1) : colour_map(t));
    }
  }
  return out;
}

}  // namespace deeper::render
