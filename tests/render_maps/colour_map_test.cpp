// Colour maps (renderer/colour_map.h): the ends and clamping of the sequential map, its monotone
// lightness, masks, the diverging map's white centre and red/blue mirror symmetry, colour bars, and
// the errors (lo >= hi, NaN, mask length, bar size).
#include "renderer/colour_map.h"

#include "render_maps_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

namespace {

namespace dr = deeper::render;
using Rgb = std::array<float, 3>;
using render_maps_test::error_of;

Rgb at(const std::vector<float>& rgb, std::size_t i) { return {rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]}; }

double luma(const Rgb& c) { return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]; }

TEST(ColourMap, EndsClampAndMonotoneLightness) {
  const Rgb first{0.08f, 0.05f, 0.32f}, last{0.99f, 0.91f, 0.16f};
  EXPECT_EQ(dr::colour_map(0.0), first);
  EXPECT_EQ(dr::colour_map(1.0), last);
  EXPECT_EQ(dr::colour_map(-3.0), first);
  EXPECT_EQ(dr::colour_map(7.0), last);
  double previous = -1;
  for (int i = 0; i <= 100; ++i) {
    const Rgb c = dr::colour_map(i / 100.0);
    for (float x : c) EXPECT_TRUE(x >= 0 && x <= 1);
    EXPECT_GT(luma(c), previous) << "t = " << i / 100.0;
    previous = luma(c);
  }
}

TEST(ColourMap, ValuesOverRangeAndMask) {
  const std::vector<double> values{2.0, 4.0, 3.0, 10.0, std::nan("")};
  const std::vector<std::uint8_t> mask{1, 1, 0, 1, 0};
  const std::vector<float> rgb = dr::colour_map_rgb(values, 2.0, 4.0, mask);
  ASSERT_EQ(rgb.size(), 15u);
  EXPECT_EQ(at(rgb, 0), dr::colour_map(0.0));
  EXPECT_EQ(at(rgb, 1), dr::colour_map(1.0));
  EXPECT_EQ(at(rgb, 2), dr::kMaskedColour);  // masked: grey whatever the value
  EXPECT_EQ(at(rgb, 3), dr::colour_map(1.0));  // above hi: clamped
  EXPECT_EQ(at(rgb, 4), dr::kMaskedColour);  // NaN is fine where masked
  const std::vector<float> unmasked = dr::colour_map_rgb(std::span(values).first(4), 2.0, 4.0);
  EXPECT_EQ(at(unmasked, 2), dr::colour_map(0.5));
  // The masked grey is not a colour of the scale: it differs from every map colour by > 0.1.
  for (int i = 0; i <= 50; ++i) {
    const Rgb c = dr::colour_map(i / 50.0);
    const double d = std::fabs(c[0] - dr::kMaskedColour[0]) + std::fabs(c[1] - dr::kMaskedColour[1]) +
                     std::fabs(c[2] - dr::kMaskedColour[2]);
    EXPECT_GT(d, 0.1);
  }
}

TEST(ColourMap, Errors) {
  const std::vector<double> values{1.0, std::nan(""), 3.0};
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(values, 0.0, 4.0); }).find("value 1 is nan"), std::string::npos);
  const std::vector<double> inf{std::numeric_limits<double>::infinity()};
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(inf, 0.0, 4.0); }).find("value 0 is inf"), std::string::npos);
  const std::vector<double> ok{1.0, 2.0, 3.0};
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(ok, 4.0, 4.0); }).find("lo < hi"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(ok, 5.0, 4.0); }).find("lo < hi"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(ok, std::nan(""), 4.0); }).find("range"), std::string::npos);
  const std::vector<std::uint8_t> short_mask{1, 1};
  EXPECT_NE(error_of([&] { dr::colour_map_rgb(ok, 0.0, 4.0, short_mask); }).find("mask has 2 entries for 3 values"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dr::diverging_colour_map_rgb(ok, 0.0); }).find("limit 0"), std::string::npos);
  EXPECT_NE(error_of([&] { dr::diverging_colour_map_rgb(values, 1.0); }).find("value 1 is nan"), std::string::npos);
  EXPECT_TRUE(dr::colour_map_rgb({}, 0.0, 1.0).empty());
}

TEST(DivergingColourMap, WhiteCentreAndMirrorSymmetry) {
  EXPECT_EQ(dr::diverging_colour_map(0.0), (Rgb{1.0f, 1.0f, 1.0f}));
  const Rgb red = dr::diverging_colour_map(1.0), blue = dr::diverging_colour_map(-1.0);
  EXPECT_GT(red[0], red[2] + 0.4);
  EXPECT_GT(blue[2], blue[0] + 0.4);
  EXPECT_EQ(dr::diverging_colour_map(5.0), red);
  EXPECT_EQ(dr::diverging_colour_map(-5.0), blue);
  double previous = -1;
  for (int i = 0; i <= 40; ++i) {
    const double t = i / 40.0;
    const Rgb p = dr::diverging_colour_map(t), n = dr::diverging_colour_map(-t);
    EXPECT_EQ(p[0], n[2]) << t;
    EXPECT_EQ(p[1], n[1]) << t;
    EXPECT_EQ(p[2], n[0]) << t;
    // Further from white as |t| grows.
    const double d = (1 - p[0]) + (1 - p[1]) + (1 - p[2]);
    EXPECT_GT(d, previous) << t;
    previous = d;
  }
  const std::vector<double> values{-2.0, 0.0, 1.0, 2.0, 9.0};
  const std::vector<float> rgb = dr::diverging_colour_map_rgb(values, 2.0);
  EXPECT_EQ(at(rgb, 0), blue);
  EXPECT_EQ(at(rgb, 1), dr::diverging_colour_map(0.0));
  EXPECT_EQ(at(rgb, 2), dr::diverging_colour_map(0.5));
  EXPECT_EQ(at(rgb, 3), red);
  EXPECT_EQ(at(rgb, 4), red);
}

TEST(ColourBar, LayoutAndErrors) {
  const std::vector<float> h = dr::colour_bar(9, 3, false);
  ASSERT_EQ(h.size(), 81u);
  for (int y = 0; y < 3; ++y) {
    EXPECT_EQ(at(h, y * 9 + 0), dr::colour_map(0.0));
    EXPECT_EQ(at(h, y * 9 + 4), dr::colour_map(0.5));
    EXPECT_EQ(at(h, y * 9 + 8), dr::colour_map(1.0));
  }
  const std::vector<float> v = dr::colour_bar(2, 5, true);  // vertical: low at the bottom
  ASSERT_EQ(v.size(), 30u);
  for (int x = 0; x < 2; ++x) {
    EXPECT_EQ(at(v, 4 * 2 + x), dr::diverging_colour_map(-1.0));
    EXPECT_EQ(at(v, 2 * 2 + x), dr::diverging_colour_map(0.0));
    EXPECT_EQ(at(v, 0 * 2 + x), dr::diverging_colour_map(1.0));
  }
  EXPECT_EQ(dr::colour_bar(1, 1, false).size(), 3u);
  EXPECT_NE(error_of([] { dr::colour_bar(0, 4, false); }).find("colour bar: size 0 x 4"), std::string::npos);
  EXPECT_NE(error_of([] { dr::colour_bar(4, 20000, true); }).find("outside"), std::string::npos);
}

}  // namespace
