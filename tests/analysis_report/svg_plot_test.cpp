// SVG charts: well-formed output, escaped text, nice ticks covering the data, skipped non-finite
// points, bands, bars and error bars, heat-map cells and colours, and the errors on bad input.
#include "analysis/svg_plot.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/analysis_report/markup_check.h"

namespace deeper::analysis {
namespace {

using test::Element;
using test::parse_markup;
using test::Parsed;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

Parsed parse_svg(const std::string& svg) {
  Parsed p = parse_markup(svg, false);
  EXPECT_EQ(p.error, "") << svg.substr(0, 2000);
  EXPECT_FALSE(p.elements.empty());
  if (!p.elements.empty()) {
    EXPECT_EQ(p.elements.front().name, "svg");
  }
  return p;
}

// Every coordinate-like attribute is a finite number (no "nan" or "inf" leaks into the geometry).
void expect_finite_geometry(const Parsed& p) {
  static const std::vector<std::string> kNumeric = {"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height"};
  for (const auto& e : p.elements) {
    for (const auto& a : kNumeric) {
      const auto it = e.attrs.find(a);
      if (it == e.attrs.end()) continue;
      char* end = nullptr;
      const double v = std::strtod(it->second.c_str(), &end);
      EXPECT_TRUE(std::isfinite(v) && *end == '\0') << e.name << " " << a << "=" << it->second;
    }
    const auto pts = e.attrs.find("points");
    if (pts == e.attrs.end()) continue;
    std::string text = pts->second;
    std::replace(text.begin(), text.end(), ',', ' ');
    std::istringstream in(text);
    std::string tok;
    while (in >> tok) {
      char* end = nullptr;
      const double v = std::strtod(tok.c_str(), &end);
      EXPECT_TRUE(std::isfinite(v) && *end == '\0') << e.name << " points " << pts->second;
    }
  }
}

std::vector<std::pair<double, double>> points_of(const Element& e) {
  std::string text = e.attrs.at("points");
  std::replace(text.begin(), text.end(), ',', ' ');
  std::istringstream in(text);
  std::vector<std::pair<double, double>> out;
  double x, y;
  while (in >> x >> y) out.emplace_back(x, y);
  return out;
}

std::vector<double> tick_values(const Parsed& p, std::string_view cls) {
  std::vector<double> out;
  for (const auto* e : p.all("text", cls)) out.push_back(std::stod(e->text));
  return out;
}

std::string error_of(const auto& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

LineChart decoding_chart() {
  LineChart c;
  c.title = "Decoding";
  c.x_label = "layer";
  c.y_label = "accuracy";
  LineSeries yaw("yaw", {1, 2, 3, 4, 5}, {0.2, 0.35, 0.5, 0.7, 0.9}, {0.15, 0.3, 0.45, 0.62, 0.85},
                 {0.25, 0.4, 0.55, 0.78, 0.95});
  LineSeries id("identity", {1, 2, 3, 4, 5}, {0.05, 0.1, 0.3, 0.6, 0.8});
  c.series = {yaw, id};
  c.references = {{0.1, "chance"}};
  return c;
}

// ---- text helpers ------------------------------------------------------------------------------

TEST(FormatNumber, SignificantDigitsAndSpecialValues) {
  EXPECT_EQ(format_number(0.123456), "0.123");
  EXPECT_EQ(format_number(12.345), "12.3");
  EXPECT_EQ(format_number(-12.355, 4), "-12.36");
  EXPECT_EQ(format_number(12345.6), "12346");
  EXPECT_EQ(format_number(123456.7), "123457");
  EXPECT_EQ(format_number(1234567.0), "1.23e6");
  EXPECT_EQ(format_number(-2.5e7), "-2.5e7");
  EXPECT_EQ(format_number(1.23e-5), "1.23e-5");
  EXPECT_EQ(format_number(0.00012345), "1.23e-4");
  EXPECT_EQ(format_number(0.0012345), "0.00123");
  EXPECT_EQ(format_number(0.5), "0.5");
  EXPECT_EQ(format_number(1.0), "1");
  EXPECT_EQ(format_number(999.96), "1000");  // rounding carries into the next power of ten
  EXPECT_EQ(format_number(3.14159265, 5), "3.1416");
  EXPECT_EQ(format_number(0.0), "0");
  EXPECT_EQ(format_number(-0.0), "0");
  EXPECT_EQ(format_number(kNaN), "NaN");
  EXPECT_EQ(format_number(kInf), "inf");
  EXPECT_EQ(format_number(-kInf), "-inf");
  EXPECT_THROW(format_number(1.0, 0), Error);
  EXPECT_THROW(format_number(1.0, 18), Error);
}

TEST(XmlEscape, EscapesMarkupQuotesAndControlCharacters) {
  EXPECT_EQ(xml_escape("<a&b>\"'"), "&lt;a&amp;b&gt;&quot;&#39;");
  EXPECT_EQ(xml_escape("plain ü text\t\n"), "plain ü text\t\n");
  EXPECT_EQ(xml_escape(std::string("x\x01y", 3)), "x\xEF\xBF\xBDy");
}

TEST(NiceTicks, CoverTheRangeWithNiceEvenSteps) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> exponent(-6, 6), unit(-1, 1);
  for (int trial = 0; trial < 500; ++trial) {
    const double scale = std::pow(10.0, exponent(rng));
    double lo = unit(rng) * scale, hi = unit(rng) * scale;
    if (lo > hi) std::swap(lo, hi);
    const auto t = nice_ticks(lo, hi);
    ASSERT_GE(t.size(), 2u);
    EXPECT_LE(t.front(), lo);
    EXPECT_GE(t.back(), hi);
    EXPECT_LE(t.size(), 12u) << lo << " " << hi;
    const double step = t[1] - t[0];
    const double mantissa = step / std::pow(10.0, std::floor(std::log10(step) + 1e-9));
    EXPECT_TRUE(std::abs(mantissa - 1) < 1e-6 || std::abs(mantissa - 2) < 1e-6 || std::abs(mantissa - 2.5) < 1e-6 ||
                std::abs(mantissa - 5) < 1e-6)
        << "step " << step;
    for (std::size_t i = 1; i < t.size(); ++i) EXPECT_NEAR(t[i] - t[i - 1], step, step * 1e-6);
  }
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6, 0.8, 1}));
  EXPECT_EQ(nice_ticks(0.1, 0.3, 3), (std::vector<double>{0.1, 0.2, 0.3}));  // no 0.30000000000000004
  // Constant data gets a non-degenerate range around the value.
  const auto c = nice_ticks(5, 5);
  EXPECT_LT(c.front(), 5);
  EXPECT_GT(c.back(), 5);
  const auto z = nice_ticks(0, 0);
  EXPECT_LT(z.front(), 0);
  EXPECT_GT(z.back(), 0);
  EXPECT_THROW(nice_ticks(2, 1), Error);
  EXPECT_THROW(nice_ticks(kNaN, 1), Error);
  EXPECT_THROW(nice_ticks(-1e308, 1e308), Error);
}

// ---- line chart --------------------------------------------------------------------------------

TEST(LineChart, IsWellFormedStandaloneSvg) {
  const std::string svg = line_chart_svg(decoding_chart());
  const Parsed p = parse_svg(svg);
  const Element& root = p.elements.front();
  EXPECT_EQ(root.attrs.at("xmlns"), "http://www.w3.org/2000/svg");
  EXPECT_EQ(root.attrs.at("width"), "640");
  EXPECT_EQ(root.attrs.at("height"), "400");
  EXPECT_EQ(root.attrs.at("viewBox"), "0 0 640 400");
  EXPECT_TRUE(root.attrs.count("font-family"));
  EXPECT_EQ(svg.find("href"), std::string::npos);  // no external resources
  EXPECT_EQ(svg.find("<script"), std::string::npos);
  expect_finite_geometry(p);
  EXPECT_EQ(p.all("title").size(), 1u);
  EXPECT_EQ(p.all("title")[0]->text, "Decoding");
  EXPECT_EQ(p.all("polyline").size(), 2u);
  EXPECT_EQ(p.all("text", "legend").size(), 2u);
  EXPECT_EQ(line_chart_svg(decoding_chart()), svg);  // deterministic
}

TEST(LineChart, TicksCoverTheDataAndPointsLieInsideTheFrame) {
  LineChart c = decoding_chart();
  c.series[1].y = {-3.2, 0.1, 4.0, 17.5, 2.0};
  const Parsed p = parse_svg(line_chart_svg(c));
  const auto yt = tick_values(p, "tick-y");
  const auto xt = tick_values(p, "tick-x");
  ASSERT_GE(yt.size(), 3u);
  ASSERT_GE(xt.size(), 3u);
  EXPECT_LE(*std::min_element(yt.begin(), yt.end()), -3.2);
  EXPECT_GE(*std::max_element(yt.begin(), yt.end()), 17.5);
  EXPECT_LE(*std::min_element(xt.begin(), xt.end()), 1.0);
  EXPECT_GE(*std::max_element(xt.begin(), xt.end()), 5.0);

  const auto frames = p.all("rect", "frame");
  ASSERT_EQ(frames.size(), 1u);
  const double fx = frames[0]->number("x"), fy = frames[0]->number("y");
  const double fw = frames[0]->number("width"), fh = frames[0]->number("height");
  const auto lines = p.all("polyline");
  ASSERT_EQ(lines.size(), 2u);
  const auto pts = points_of(*lines[1]);
  ASSERT_EQ(pts.size(), 5u);
  for (const auto& [x, y] : pts) {
    EXPECT_GE(x, fx - 0.05);
    EXPECT_LE(x, fx + fw + 0.05);
    EXPECT_GE(y, fy - 0.05);
    EXPECT_LE(y, fy + fh + 0.05);
  }
  // Larger x to the right, larger y further up; the highest value (17.5, the 4th point) is topmost.
  for (std::size_t i = 1; i < pts.size(); ++i) EXPECT_GT(pts[i].first, pts[i - 1].first);
  EXPECT_LT(pts[3].second, pts[2].second);
  EXPECT_GT(pts[0].second, pts[1].second);
  EXPECT_EQ(std::min_element(pts.begin(), pts.end(), [](auto a, auto b) { return a.second < b.second; }) - pts.begin(), 3);
}

TEST(LineChart, EscapesText) {
  LineChart c = decoding_chart();
  c.title = "MI & \"accuracy\" <per layer>";
  c.series[0].name = "<a&b>";
  c.x_label = "x < y";
  c.references[0].label = "p > 0.05 & 'chance'";
  const std::string svg = line_chart_svg(c);
  const Parsed p = parse_svg(svg);
  EXPECT_EQ(p.all("text", "legend").at(0)->text, "<a&b>");  // escaped in the file, the same text on screen
  EXPECT_NE(svg.find("&lt;a&amp;b&gt;"), std::string::npos);
  EXPECT_EQ(svg.find("<a&b>"), std::string::npos);
  EXPECT_NE(svg.find("MI &amp; &quot;accuracy&quot; &lt;per layer&gt;"), std::string::npos);
  EXPECT_NE(svg.find("p &gt; 0.05 &amp; &#39;chance&#39;"), std::string::npos);
}

TEST(LineChart, SkipsNonFinitePointsAndBreaksTheLine) {
  LineChart c;
  c.title = "gaps";
  c.series = {{"a", {1, 2, 3, 4, 5, 6}, {1, 2, kNaN, 4, 5, kInf}}, {"b", {1, 2, 3}, {3, 2, 1}}};
  const std::string svg = line_chart_svg(c);
  const Parsed p = parse_svg(svg);
  expect_finite_geometry(p);
  // Series a: runs {1,2} and {4,5}; series b: one run of 3.
  const auto lines = p.all("polyline");
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(points_of(*lines[0]).size(), 2u);
  EXPECT_EQ(points_of(*lines[1]).size(), 2u);
  EXPECT_EQ(points_of(*lines[2]).size(), 3u);
  EXPECT_EQ(p.all("circle", "marker").size(), 4u);  // series a: circles; series b: squares
  EXPECT_EQ(p.all("rect", "marker").size(), 3u);
  const auto notes = p.all("text", "note");
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0]->text.find("2 non-finite points skipped"), std::string::npos) << notes[0]->text;
  EXPECT_NE(notes[0]->text.find("a"), std::string::npos);
  // The y axis ignores the infinity.
  const auto yt = tick_values(p, "tick-y");
  EXPECT_LE(*std::max_element(yt.begin(), yt.end()), 10.0);
}

TEST(LineChart, DrawsBandsAsPolygonsAroundTheLine) {
  LineChart c = decoding_chart();
  const Parsed p = parse_svg(line_chart_svg(c));
  const auto bands = p.all("polygon", "band");
  ASSERT_EQ(bands.size(), 1u);
  EXPECT_NE(bands[0]->attrs.at("fill-opacity"), "1");
  const auto pts = points_of(*bands[0]);
  ASSERT_EQ(pts.size(), 10u);  // upper edge left to right, lower edge back
  const auto line = points_of(*p.all("polyline")[0]);
  for (std::size_t i = 0; i < 5; ++i) {
    EXPECT_NEAR(pts[i].first, line[i].first, 0.11);
    EXPECT_NEAR(pts[9 - i].first, line[i].first, 0.11);
    EXPECT_LT(pts[i].second, line[i].second);      // upper above the line (smaller y)
    EXPECT_GT(pts[9 - i].second, line[i].second);  // lower below it
  }
  EXPECT_TRUE(p.all("text", "note").empty());
  // A NaN in the band splits it in two, and is noted.
  c.series[0].upper[2] = kNaN;
  const Parsed q = parse_svg(line_chart_svg(c));
  EXPECT_EQ(q.all("polygon", "band").size(), 2u);
  ASSERT_EQ(q.all("text", "note").size(), 1u);
  EXPECT_EQ(q.all("text", "note")[0]->text, "'yaw': 1 non-finite band value skipped");
}

TEST(LineChart, ReferenceLineAndGivenRangeWithClipping) {
  LineChart c = decoding_chart();
  c.y_min = 0.0;
  c.y_max = 0.5;
  const std::string svg = line_chart_svg(c);
  const Parsed p = parse_svg(svg);
  ASSERT_EQ(p.all("line", "reference").size(), 1u);
  bool labelled = false;
  for (const auto* t : p.all("text")) labelled |= t->text == "chance";
  EXPECT_TRUE(labelled);
  const auto yt = tick_values(p, "tick-y");
  EXPECT_DOUBLE_EQ(*std::min_element(yt.begin(), yt.end()), 0.0);
  EXPECT_DOUBLE_EQ(*std::max_element(yt.begin(), yt.end()), 0.5);
  // Lines run inside a clip path to the plot area.
  const auto clips = p.all("clipPath");
  ASSERT_EQ(clips.size(), 1u);
  const std::string id = clips[0]->attrs.at("id");
  int clipped = 0;
  for (const auto* g : p.all("g")) clipped += g->attrs.at("clip-path") == "url(#" + id + ")";
  EXPECT_EQ(clipped, 2);
  // Values far outside the given range keep finite, bounded coordinates (clipped away).
  LineChart far = c;
  far.series[1].y[2] = 1e300;
  far.series[1].y[3] = -1e308;
  const Parsed f = parse_svg(line_chart_svg(far));
  expect_finite_geometry(f);
  for (const auto& [x, y] : points_of(*f.all("polyline")[1])) EXPECT_LE(std::abs(y), 1e6);
  // Another chart gets another clip id, so that both can sit in one HTML page.
  LineChart other = c;
  other.series[0].y[0] = 0.21;
  EXPECT_EQ(line_chart_svg(other).find(id), std::string::npos);
}

TEST(LineChart, ConstantDataHasANonDegenerateAxis) {
  LineChart c;
  c.series = {{"flat", {0, 1, 2}, {2.0, 2.0, 2.0}}};
  const Parsed p = parse_svg(line_chart_svg(c));
  expect_finite_geometry(p);
  const auto yt = tick_values(p, "tick-y");
  ASSERT_GE(yt.size(), 2u);
  EXPECT_LT(*std::min_element(yt.begin(), yt.end()), 2.0);
  EXPECT_GT(*std::max_element(yt.begin(), yt.end()), 2.0);
  // One point only: both axes still open up, and the lone point is drawn.
  c.series = {{"one", {3}, {0}}};
  c.series[0].markers = false;
  const Parsed q = parse_svg(line_chart_svg(c));
  expect_finite_geometry(q);
  EXPECT_EQ(q.all("circle", "marker").size(), 1u);
}

TEST(LineChart, RefusesBadInputNamingTheChart) {
  LineChart c = decoding_chart();
  c.series.push_back({"yaw2", {}, {}});
  EXPECT_EQ(error_of([&] { line_chart_svg(c); }), "line chart 'Decoding': series 'yaw2' is empty");
  c.series.back() = {"short", {1, 2}, {1}};
  EXPECT_NE(error_of([&] { line_chart_svg(c); }).find("series 'short' has 2 x and 1 y values"), std::string::npos);
  c.series.back() = {"band", {1, 2}, {1, 2}, {0.5}, {1.5, 2.5}};
  EXPECT_NE(error_of([&] { line_chart_svg(c); }).find("series 'band' has 2 points but a band"), std::string::npos);
  LineChart none;
  EXPECT_EQ(error_of([&] { line_chart_svg(none); }), "line chart (untitled): no series");
  LineChart all_nan;
  all_nan.title = "void";
  all_nan.series = {{"n", {1, 2}, {kNaN, kNaN}}};
  EXPECT_EQ(error_of([&] { line_chart_svg(all_nan); }), "line chart 'void': no finite point to draw");
  LineChart range = decoding_chart();
  range.y_min = 1.0;
  range.y_max = 0.0;
  EXPECT_NE(error_of([&] { line_chart_svg(range); }).find("y range [1, 0] is empty"), std::string::npos);
  LineChart tiny = decoding_chart();
  tiny.width = 50;
  EXPECT_NE(error_of([&] { line_chart_svg(tiny); }).find("size 50 x 400"), std::string::npos);
  LineChart ref = decoding_chart();
  ref.references[0].y = kNaN;
  EXPECT_NE(error_of([&] { line_chart_svg(ref); }).find("reference line 'chance' is not finite"), std::string::npos);
}

// ---- bar / profile chart -----------------------------------------------------------------------

BarChart layer_chart() {
  BarChart c;
  c.title = "MI per layer";
  c.y_label = "bits";
  for (int i = 1; i <= 10; ++i) c.categories.push_back("layer " + std::to_string(i));
  BarSeries a("shape", {});
  BarSeries b("texture", {});
  for (int i = 0; i < 10; ++i) {
    a.values.push_back(0.1 * i + 0.05);
    a.lower.push_back(0.1 * i);
    a.upper.push_back(0.1 * i + 0.1);
    b.values.push_back(0.9 - 0.08 * i);
  }
  c.series = {a, b};
  return c;
}

TEST(BarChart, GroupedBarsWithErrorBarsFromZero) {
  BarChart c = layer_chart();
  c.series[1].values[4] = kNaN;
  c.series[0].values[3] = kInf;
  c.series[0].lower[5] = kNaN;
  const Parsed p = parse_svg(bar_chart_svg(c));
  expect_finite_geometry(p);
  EXPECT_EQ(p.all("rect", "bar").size(), 18u);  // 2 x 10, a NaN and an Inf skipped
  const auto errorbars = p.all("line", "errorbar");
  ASSERT_EQ(errorbars.size(), 9u);  // one error bar has a NaN end (the Inf bar keeps its error bar)
  for (const auto* e : errorbars) EXPECT_EQ(e->attrs.at("stroke"), "#222222");  // dark on bars
  EXPECT_EQ(p.all("text", "category").size(), 10u);
  EXPECT_EQ(p.all("text", "category")[9]->text, "layer 10");
  const auto yt = tick_values(p, "tick-y");
  EXPECT_LE(*std::min_element(yt.begin(), yt.end()), 0.0);  // bars start at zero
  EXPECT_GE(*std::max_element(yt.begin(), yt.end()), 1.0);
  const auto notes = p.all("text", "note");
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0]->text, "'shape': 1 non-finite value skipped, 1 non-finite error bar skipped");
  EXPECT_EQ(notes[1]->text, "'texture': 1 non-finite value skipped");
  // Taller bars for larger values: shape increases along the layers.
  const auto bars = p.all("rect", "bar");
  EXPECT_GT(bars[8]->number("height"), bars[0]->number("height"));
}

TEST(BarChart, ProfileStyleDrawsLinesAndNegativeBarsGoDown) {
  BarChart c = layer_chart();
  c.style = BarStyle::profile;
  c.references = {{0.5, "half"}};
  Parsed p = parse_svg(bar_chart_svg(c));
  EXPECT_EQ(p.all("polyline").size(), 2u);
  EXPECT_EQ(p.all("rect", "bar").size(), 0u);
  EXPECT_EQ(p.all("line", "reference").size(), 1u);
  const auto errorbars = p.all("line", "errorbar");
  ASSERT_EQ(errorbars.size(), 10u);
  for (const auto* e : errorbars) EXPECT_EQ(e->attrs.at("stroke"), "#0072B2");  // the series colour on profiles

  BarChart neg;
  neg.categories = {"a", "b"};
  neg.series = {{"d", {-1.0, 2.0}}};
  p = parse_svg(bar_chart_svg(neg));
  const auto bars = p.all("rect", "bar");
  ASSERT_EQ(bars.size(), 2u);
  // Both bars meet at the zero line: the negative one starts there, the positive one ends there.
  EXPECT_NEAR(bars[0]->number("y"), bars[1]->number("y") + bars[1]->number("height"), 0.11);
  EXPECT_NEAR(bars[1]->number("height"), 2 * bars[0]->number("height"), 0.3);
  const auto yt = tick_values(p, "tick-y");
  EXPECT_LE(*std::min_element(yt.begin(), yt.end()), -1.0);
}

TEST(BarChart, LongCategoryNamesAreRotatedAndEscaped) {
  BarChart c;
  c.categories = {"a very long category <name> number one", "another quite long category & two"};
  c.series = {{"s", {1, 2}}};
  const std::string svg = bar_chart_svg(c);
  const Parsed p = parse_svg(svg);
  const auto cats = p.all("text", "category");
  ASSERT_EQ(cats.size(), 2u);
  EXPECT_NE(cats[0]->attrs.at("transform").find("rotate(-45"), std::string::npos);
  EXPECT_NE(svg.find("&lt;name&gt;"), std::string::npos);
}

TEST(BarChart, RefusesBadInput) {
  BarChart c = layer_chart();
  c.series[1].values.pop_back();
  EXPECT_EQ(error_of([&] { bar_chart_svg(c); }), "bar chart 'MI per layer': series 'texture' has 9 values for 10 categories");
  c = layer_chart();
  c.series[0].values.clear();
  EXPECT_EQ(error_of([&] { bar_chart_svg(c); }), "bar chart 'MI per layer': series 'shape' is empty");
  c = layer_chart();
  c.series[0].upper.pop_back();
  EXPECT_NE(error_of([&] { bar_chart_svg(c); }).find("error values"), std::string::npos);
  c = layer_chart();
  c.categories.clear();
  EXPECT_EQ(error_of([&] { bar_chart_svg(c); }), "bar chart 'MI per layer': no categories");
  c = layer_chart();
  c.series.clear();
  EXPECT_EQ(error_of([&] { bar_chart_svg(c); }), "bar chart 'MI per layer': no series");
  BarChart nan;
  nan.categories = {"a"};
  nan.series = {{"s", {kNaN}}};
  EXPECT_NE(error_of([&] { bar_chart_svg(nan); }).find("no finite value"), std::string::npos);
}

// ---- heat map ----------------------------------------------------------------------------------

HeatMap pose_map(int n, int m) {
  HeatMap h;
  h.title = "pose x pose";
  h.rows = n;
  h.cols = m;
  h.value_label = "correlation";
  for (int r = 0; r < n; ++r) {
    h.row_labels.push_back("yaw " + std::to_string(r * 15 - 60));
    for (int c = 0; c < m; ++c) h.values.push_back(std::cos(0.3 * (r - c)) - 0.2);
  }
  for (int c = 0; c < m; ++c) h.col_labels.push_back("pose " + std::to_string(c));
  return h;
}

TEST(HeatMap, HasOneCellAndOneValuePerEntryAndAColourScale) {
  for (const auto& [n, m] : std::vector<std::pair<int, int>>{{9, 9}, {3, 5}, {1, 1}}) {
    const HeatMap h = pose_map(n, m);
    const Parsed p = parse_svg(heat_map_svg(h));
    expect_finite_geometry(p);
    const auto cells = p.all("rect", "cell");
    ASSERT_EQ(cells.size(), static_cast<std::size_t>(n * m));
    const auto values = p.all("text", "value");
    ASSERT_EQ(values.size(), static_cast<std::size_t>(n * m));
    EXPECT_EQ(values[0]->text, format_number(h.values[0], 2));
    EXPECT_EQ(values.back()->text, format_number(h.values.back(), 2));
    EXPECT_GT(p.all("rect", "scale").size(), 10u);
    EXPECT_GE(p.all("text", "tick-scale").size(), 2u);
    // Cells lie on a grid: the last cell of the first row is m - 1 cell widths right of the first.
    EXPECT_NEAR(cells[static_cast<std::size_t>(m - 1)]->number("x") - cells[0]->number("x"), 44.0 * (m - 1), 0.11);
  }
}

TEST(HeatMap, ColoursFollowTheValuesAndSignedDataIsDiverging) {
  HeatMap h;
  h.rows = 1;
  h.cols = 3;
  h.values = {-1.0, 0.0, 1.0};
  Parsed p = parse_svg(heat_map_svg(h));
  auto cells = p.all("rect", "cell");
  ASSERT_EQ(cells.size(), 3u);
  EXPECT_EQ(cells[1]->attrs.at("fill"), "#f7f7f7");  // diverging: white at zero
  EXPECT_NE(cells[0]->attrs.at("fill"), cells[2]->attrs.at("fill"));
  EXPECT_EQ(cells[0]->attrs.at("fill"), "#2166ac");
  EXPECT_EQ(cells[2]->attrs.at("fill"), "#b2182b");
  h.values = {0.0, 0.5, 1.0};  // one sign: sequential, light to dark
  p = parse_svg(heat_map_svg(h));
  cells = p.all("rect", "cell");
  EXPECT_EQ(cells[0]->attrs.at("fill"), "#f7fcfd");
  EXPECT_EQ(cells[2]->attrs.at("fill"), "#4d004b");
  // Dark cells get white text.
  const auto values = p.all("text", "value");
  EXPECT_EQ(values[0]->attrs.at("fill"), "#111111");
  EXPECT_EQ(values[2]->attrs.at("fill"), "#ffffff");
}

TEST(HeatMap, NonFiniteCellsAreGreyAndNotedConstantDataWorks) {
  HeatMap h = pose_map(2, 2);
  h.values[3] = kNaN;
  Parsed p = parse_svg(heat_map_svg(h));
  const auto cells = p.all("rect", "cell");
  EXPECT_EQ(cells[3]->attrs.at("fill"), "#d1d1d1");
  EXPECT_EQ(p.all("text", "value")[3]->text, "n/a");
  ASSERT_EQ(p.all("text", "note").size(), 1u);
  EXPECT_NE(p.all("text", "note")[0]->text.find("1 non-finite cell"), std::string::npos);
  h.values = {0.3, 0.3, 0.3, 0.3};
  p = parse_svg(heat_map_svg(h));
  expect_finite_geometry(p);
}

TEST(HeatMap, RefusesBadInput) {
  HeatMap h = pose_map(3, 3);
  h.values.pop_back();
  EXPECT_EQ(error_of([&] { heat_map_svg(h); }), "heat map 'pose x pose': 8 values for a 3 x 3 matrix");
  h = pose_map(3, 3);
  h.row_labels.pop_back();
  EXPECT_EQ(error_of([&] { heat_map_svg(h); }), "heat map 'pose x pose': 2 row labels for 3 rows");
  h = pose_map(3, 3);
  h.col_labels.push_back("x");
  EXPECT_EQ(error_of([&] { heat_map_svg(h); }), "heat map 'pose x pose': 4 column labels for 3 columns");
  HeatMap empty;
  EXPECT_EQ(error_of([&] { heat_map_svg(empty); }), "heat map (untitled): 0 x 0 matrix is empty");
  h = pose_map(2, 2);
  h.values.assign(4, kNaN);
  EXPECT_NE(error_of([&] { heat_map_svg(h); }).find("no finite value"), std::string::npos);
  h = pose_map(2, 2);
  h.v_min = 1.0;
  h.v_max = -1.0;
  EXPECT_NE(error_of([&] { heat_map_svg(h); }).find("colour range"), std::string::npos);
  h = pose_map(2, 2);
  h.rows = 101;
  EXPECT_NE(error_of([&] { heat_map_svg(h); }).find("too large"), std::string::npos);
}

}  // namespace
}  // namespace deeper::analysis
