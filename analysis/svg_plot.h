// Standalone SVG charts for the analysis report: line charts with confidence bands, grouped bar or
// profile charts with error bars, and annotated heat maps of small matrices.
//
// Each function returns one self-contained <svg> element (xmlns, viewBox, width and height, fonts
// set on the root, no external resources, no scripts), usable inline in HTML or saved as a .svg
// file. Every piece of text is escaped for XML. The output is a pure function of the input (no
// counters, no clocks), so the same chart twice gives the same bytes.
//
// Data rules, the same for every chart:
//   - a non-finite value (NaN, +-Inf) is skipped, the line is broken there, and a note under the
//     chart says how many were skipped and in which series;
//   - a chart without series, a series without points, or a chart in which no value is finite is
//     refused with deeper::Error naming the chart ("line chart 'Decoding': series 'yaw' is empty");
//   - constant data gets a non-degenerate axis around the value;
//   - axis ticks are "nice" numbers (1, 2, 2.5 or 5 times a power of ten) and cover every drawn
//     value; a given y range (y_min / y_max) replaces the automatic end, and whatever falls outside
//     it is clipped to the plot area.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace deeper::analysis {

// ---- text helpers shared with the HTML report -------------------------------------------------

// A number with `significant` significant digits (1..17), trailing zeros removed: 0.123, 12.3,
// 12346 (integers up to 1e6 keep all their digits), 1.23e-05 -> "1.23e-5", 2.5e7 -> "2.5e7";
// 0 -> "0" (also -0), NaN -> "NaN", infinities -> "inf" / "-inf".
std::string format_number(double value, int significant = 3);

// Escapes &, <, >, " and ' for XML/HTML text and attribute values. Control characters other than
// tab, newline and carriage return (invalid in XML 1.0) become U+FFFD.
std::string xml_escape(std::string_view text);

// "Nice" axis ticks covering [lo, hi]: the first tick <= lo, the last >= hi, about `target` ticks
// with a step of 1, 2, 2.5 or 5 times a power of ten. lo == hi gives a small range around the
// value. Throws unless lo and hi are finite and lo <= hi.
std::vector<double> nice_ticks(double lo, double hi, int target = 6);

// ---- chart descriptions ------------------------------------------------------------------------

// A horizontal reference line across the plot (e.g. chance level), dashed, with a label at its right.
struct ReferenceLine {
  double y = 0.0;
  std::string label;
};

// One named line of (x, y) points. `lower`/`upper`, when not empty, have one entry per point and
// draw a translucent band (e.g. a 95% confidence interval) in the series colour.
struct LineSeries {
  LineSeries() = default;
  LineSeries(std::string name_, std::vector<double> x_, std::vector<double> y_, std::vector<double> lower_ = {},
             std::vector<double> upper_ = {})
      : name(std::move(name_)), x(std::move(x_)), y(std::move(y_)), lower(std::move(lower_)), upper(std::move(upper_)) {}

  std::string name;
  std::vector<double> x;
  std::vector<double> y;
  std::vector<double> lower;
  std::vector<double> upper;
  bool markers = true;
  std::string color;  // CSS colour; empty: the next colour of a colour-blind-safe palette
};

struct LineChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<LineSeries> series;
  std::vector<ReferenceLine> references;
  std::optional<double> x_min, x_max;  // empty: automatic (nice ticks around the data)
  std::optional<double> y_min, y_max;
  int width = 640;
  int height = 400;
};

// Grouped values per category ("layer 1".."layer 10"). `lower`/`upper`, when not empty, give an
// error bar per category (absolute values, like a confidence interval).
struct BarSeries {
  BarSeries() = default;
  BarSeries(std::string name_, std::vector<double> values_, std::vector<double> lower_ = {},
            std::vector<double> upper_ = {})
      : name(std::move(name_)), values(std::move(values_)), lower(std::move(lower_)), upper(std::move(upper_)) {}

  std::string name;
  std::vector<double> values;
  std::vector<double> lower;
  std::vector<double> upper;
  std::string color;
};

enum class BarStyle {
  bars,     // grouped bars from the zero line (the y axis always includes 0)
  profile,  // one line with markers per series through the category centres
};

struct BarChart {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<std::string> categories;
  std::vector<BarSeries> series;  // each has one value per category
  BarStyle style = BarStyle::bars;
  std::vector<ReferenceLine> references;
  std::optional<double> y_min, y_max;
  int width = 640;
  int height = 400;
};

enum class ColorScale {
  automatic,   // diverging when the values have both signs, else sequential
  sequential,  // light to dark blue-purple (low to high)
  diverging,   // blue - white - red, centred on 0 (e.g. correlations)
};

// A rows x cols matrix, row-major, each cell coloured and (by default) labelled with its value.
struct HeatMap {
  std::string title;
  std::string x_label;      // under the column labels
  std::string y_label;      // left of the row labels
  std::string value_label;  // beside the colour scale
  int rows = 0;
  int cols = 0;
  std::vector<double> values;  // rows * cols
  std::vector<std::string> row_labels;  // empty, or one per row
  std::vector<std::string> col_labels;  // empty, or one per column
  ColorScale scale = ColorScale::automatic;
  std::optional<double> v_min, v_max;  // colour range; empty: from the data (symmetric if diverging)
  bool show_values = true;
  int significant = 2;  // digits of the values written in the cells
  int cell_size = 44;   // pixels
};

// ---- rendering ---------------------------------------------------------------------------------

std::string line_chart_svg(const LineChart& chart);
std::string bar_chart_svg(const BarChart& chart);
std::string heat_map_svg(const HeatMap& map);

}  // namespace deeper::analysis
