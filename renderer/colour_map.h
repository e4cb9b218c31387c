// Colour maps for drawing analysis results (per-vertex or per-texel values) as RGB images.
//
//   colour_map(t)            sequential: t in [0, 1] (clamped) through five stops, dark blue ->
//                            blue -> teal -> green -> yellow (monotone in lightness)
//   diverging_colour_map(t)  signed: t in [-1, 1] (clamped), blue at -1, white at 0, red at +1;
//                            symmetric: the colour of -t is that of t with red and blue swapped
//   colour_map_rgb           values -> RGB floats (N x 3, in [0, 1]) over [lo, hi]; where a mask is
//                            given and 0 the colour is kMaskedColour, a neutral light grey that
//                            reads as "nothing here" (not significant)
//   diverging_colour_map_rgb the same over the symmetric range [-limit, limit]
//   colour_bar               an RGB image of either scale, for a figure's legend
// Values must be finite where they are drawn (NaN is allowed only where the mask hides the value).
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace deeper::render {

inline constexpr std::array<float, 3> kMaskedColour{0.82f, 0.82f, 0.82f};

std::array<float, 3> colour_map(double t);
std::array<float, 3> diverging_colour_map(double t);

// N values -> N x 3 RGB, t = (value - lo) / (hi - lo). mask: empty, or N bytes (0 = masked).
// Throws deeper::Error for lo >= hi or a non-finite lo / hi, a mask of the wrong length, or a value
// that is not finite and not masked (naming its index).
std::vector<float> colour_map_rgb(std::span<const double> values, double lo, double hi,
                                  std::span<const std::uint8_t> mask = {});
// N values -> N x 3 RGB, t = value / limit in the diverging map. Throws for limit <= 0 or not finite,
// and as above.
std::vector<float> diverging_colour_map_rgb(std::span<const double> values, double limit,
                                            std::span<const std::uint8_t> mask = {});

// A height x width x 3 image of the scale: low to high from left to right when width >= height,
// from bottom to top otherwise. Throws unless 1 <= width, height <= 16384.
std::vector<float> colour_bar(int width, int height, bool diverging);

}  // namespace deeper::render
