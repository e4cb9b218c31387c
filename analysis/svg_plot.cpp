// SVG charts: layout (margins from estimated text widths), nice axes, clipped plot areas, legends
// and notes on skipped values. Coordinates are written with one decimal.
#include "analysis/svg_plot.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <limits>
#include <span>
#include <utility>

#include "core/error.h"

namespace deeper::analysis {
namespace {

// ---- numbers and text --------------------------------------------------------------------------

constexpr const char* kFontFamily = "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif";
constexpr double kTickFont = 12.0;
constexpr double kLabelFont = 13.0;
constexpr double kTitleFont = 15.0;
constexpr double kNoteFont = 11.0;

// Okabe-Ito colours (colour-blind safe), without the yellow that vanishes on white.
constexpr std::array<const char*, 7> kPalette = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                                 "#E69F00", "#56B4E9", "#000000"};

std::string palette_color(const std::string& given, std::size_t index) {
  return given.empty() ? std::string(kPalette[index % kPalette.size()]) : given;
}

// Strips trailing zeros of a fixed or mantissa string ("1.2300" -> "1.23", "4.000" -> "4").
void strip_zeros(std::string& s) {
  if (s.find('.') == std::string::npos) return;
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
}

// Number of code points of UTF-8 text (continuation bytes not counted).
std::size_t text_length(std::string_view text) {
  std::size_t n = 0;
  for (const char c : text) n += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  return n;
}

// A rough rendered width of text in a proportional sans-serif font.
double text_width(std::string_view text, double font_size) {
  return 0.58 * font_size * static_cast<double>(text_length(text));
}

// A pixel coordinate with one decimal ("12.5", "40"; never "-0").
std::string px(double v) {
  const double r = std::round(v * 10.0) / 10.0;
  if (std::abs(r) < 1e15 && r == std::round(r)) return fmt::format("{}", static_cast<long long>(r));
  return fmt::format("{:.1f}", r);
}

std::string chart_name(std::string_view kind, const std::string& title) {
  return title.empty() ? fmt::format("{} (untitled)", kind) : fmt::format("{} '{}'", kind, title);
}

// FNV-1a over the chart's inputs: a deterministic id for the clip path, distinct between charts.
struct Hasher {
  std::uint64_t h = 1469598103934665603ull;
  void bytes(const void* data, std::size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ull;
  }
  void add(std::string_view s) {
    bytes(s.data(), s.size());
    bytes("\0", 1);
  }
  void add(double v) { bytes(&v, sizeof v); }
  void add(std::span<const double> v) {
    for (const double x : v) add(x);
  }
};

// ---- colours -----------------------------------------------------------------------------------

struct Rgb {
  double r, g, b;
};

Rgb hex_color(const char* hex) {
  const auto digit = [](char c) { return c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10; };
  const auto byte = [&](int i) { return (digit(hex[1 + 2 * i]) * 16 + digit(hex[2 + 2 * i])) / 255.0; };
  return {byte(0), byte(1), byte(2)};
}

std::string css_color(Rgb c) {
  const auto q = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255.0)); };
  return fmt::format("#{:02x}{:02x}{:02x}", q(c.r), q(c.g), q(c.b));
}

Rgb ramp(const std::array<const char*, 5>& anchors, double t) {
  t = std::clamp(t, 0.0, 1.0) * 4.0;
  const int i = std::min(3, static_cast<int>(t));
  const double f = t - i;
  const Rgb a = hex_color(anchors[i]);
  const Rgb b = hex_color(anchors[i + 1]);
  return {a.r + f * (b.r - a.r), a.g + f * (b.g - a.g), a.b + f * (b.b - a.b)};
}

constexpr std::array<const char*, 5> kSequential = {"#f7fcfd", "#bfd3e6", "#8c96c6", "#88419d", "#4d004b"};
constexpr std::array<const char*, 5> kDiverging = {"#2166ac", "#67a9cf", "#f7f7f7", "#ef8a62", "#b2182b"};

double luminance(Rgb c) { return 0.2126 * c.r + 0.7152 * c.g + 0.0722 * c.b; }

// ---- SVG writing -------------------------------------------------------------------------------

class Svg {
 public:
  Svg(int width, int height, const std::string& title) {
    fmt::format_to(out(),
                   "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" "
                   "role=\"img\" font-family=\"{2}\" font-size=\"{3}\">\n",
                   width, height, kFontFamily, px(kTickFont));
    if (!title.empty()) fmt::format_to(out(), "<title>{}</title>\n", xml_escape(title));
    fmt::format_to(out(), "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#ffffff\"/>\n", width, height);
  }

  std::back_insert_iterator<std::string> out() { return std::back_inserter(s_); }

  void line(double x1, double y1, double x2, double y2, std::string_view stroke, double width,
            std::string_view extra = {}) {
    fmt::format_to(out(), "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{}\" stroke-width=\"{}\"{}/>\n",
                   px(x1), px(y1), px(x2), px(y2), stroke, px(width), extra);
  }
  void rect(double x, double y, double w, double h, std::string_view fill, std::string_view extra = {}) {
    fmt::format_to(out(), "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"{}/>\n", px(x), px(y),
                   px(std::max(w, 0.0)), px(std::max(h, 0.0)), fill, extra);
  }
  // anchor: start | middle | end; rotate: degrees about (x, y).
  void text(double x, double y, std::string_view content, double size, std::string_view anchor = "start",
            double rotate = 0.0, std::string_view extra = {}) {
    fmt::format_to(out(), "<text x=\"{}\" y=\"{}\" font-size=\"{}\" text-anchor=\"{}\"", px(x), px(y), px(size),
                   anchor);
    if (rotate != 0.0) fmt::format_to(out(), " transform=\"rotate({} {} {})\"", px(rotate), px(x), px(y));
    fmt::format_to(out(), "{}>{}</text>\n", extra, xml_escape(content));
  }
  void points_attr(const std::vector<std::pair<double, double>>& pts) {
    for (std::size_t i = 0; i < pts.size(); ++i) {
      fmt::format_to(out(), "{}{},{}", i ? " " : "", px(pts[i].first), px(pts[i].second));
    }
  }
  void polyline(const std::vector<std::pair<double, double>>& pts, std::string_view stroke, double width) {
    s_ += "<polyline points=\"";
    points_attr(pts);
    fmt::format_to(out(), "\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" stroke-linejoin=\"round\"/>\n",
                   stroke, px(width));
  }
  void polygon(const std::vector<std::pair<double, double>>& pts, std::string_view fill, double opacity,
               std::string_view css_class) {
    fmt::format_to(out(), "<polygon class=\"{}\" points=\"", css_class);
    points_attr(pts);
    fmt::format_to(out(), "\" fill=\"{}\" fill-opacity=\"{}\" stroke=\"none\"/>\n", fill, opacity);
  }
  // One of four marker shapes (circle, square, triangle, diamond) so that series stay apart in print.
  void marker(double x, double y, int shape, std::string_view color, std::string_view cls = "marker") {
    const double r = 3.6;
    switch (shape % 4) {
      case 0:
        fmt::format_to(out(), "<circle class=\"{}\" cx=\"{}\" cy=\"{}\" r=\"{}\" fill=\"{}\"/>\n", cls, px(x),
                       px(y), px(r), color);
        break;
      case 1:
        fmt::format_to(out(), "<rect class=\"{}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"{}\"/>\n",
                       cls, px(x - r * 0.9), px(y - r * 0.9), px(1.8 * r), px(1.8 * r), color);
        break;
      case 2:
        fmt::format_to(out(), "<polygon class=\"{}\" points=\"{},{} {},{} {},{}\" fill=\"{}\"/>\n", cls, px(x),
                       px(y - 1.2 * r), px(x + 1.1 * r), px(y + 0.8 * r), px(x - 1.1 * r), px(y + 0.8 * r), color);
        break;
      default:
        fmt::format_to(out(), "<polygon class=\"{}\" points=\"{},{} {},{} {},{} {},{}\" fill=\"{}\"/>\n", cls, px(x),
                       px(y - 1.3 * r), px(x + 1.3 * r), px(y), px(x), px(y + 1.3 * r), px(x - 1.3 * r), px(y), color);
    }
  }
  void raw(std::string_view s) { s_ += s; }

  std::string finish() && {
    s_ += "</svg>\n";
    return std::move(s_);
  }

 private:
  std::string s_;
};

// ---- axes --------------------------------------------------------------------------------------

struct Axis {
  double lo = 0.0, hi = 1.0;  // value range mapped onto [p0, p1] in pixels
  double p0 = 0.0, p1 = 1.0;
  std::vector<double> ticks;
  // Values far outside a given range (clipped anyway) stay within 1e6 pixels, so coordinates stay
  // finite and short.
  double map(double v) const { return std::clamp(p0 + (v - lo) / (hi - lo) * (p1 - p0), -1e6, 1e6); }
};

// Finite data range [lo, hi] accumulated from values (empty while no finite value was seen).
struct Range {
  double lo = std::numeric_limits<double>::infinity();
  double hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    lo = std::min(lo, v);
    hi = std::max(hi, v);
  }
  bool empty() const { return lo > hi; }
};

// The axis range and its ticks: nice ticks around the data, with given ends replacing automatic ones.
Axis make_axis(Range data, std::optional<double> given_min, std::optional<double> given_max, const std::string& name,
               std::string_view which) {
  if (given_min && !std::isfinite(*given_min)) fail("{}: {} minimum is not finite", name, which);
  if (given_max && !std::isfinite(*given_max)) fail("{}: {} maximum is not finite", name, which);
  if (given_min && given_max && !(*given_min < *given_max)) {
    fail("{}: {} range [{}, {}] is empty", name, which, *given_min, *given_max);
  }
  double lo = given_min.value_or(data.lo);
  double hi = given_max.value_or(data.hi);
  if (lo > hi) {  // one given end lies beyond all the data: open the range on the automatic side
    const double d = std::max(std::abs(given_min ? lo : hi) * 0.1, 1.0);
    if (given_min) hi = lo + d;
    else lo = hi - d;
  }
  const std::vector<double> nice = nice_ticks(lo, hi);
  Axis axis;
  axis.lo = given_min ? *given_min : nice.front();
  axis.hi = given_max ? *given_max : nice.back();
  const double eps = (axis.hi - axis.lo) * 1e-9;
  for (const double t : nice) {
    if (t >= axis.lo - eps && t <= axis.hi + eps) axis.ticks.push_back(t);
  }
  return axis;
}

std::string tick_label(double v) { return format_number(v, 6); }

double max_tick_width(const Axis& axis) {
  double w = 0.0;
  for (const double t : axis.ticks) w = std::max(w, text_width(tick_label(t), kTickFont));
  return w;
}

// Grid lines and tick labels of the y axis (left) over the plot box, plus the frame.
void draw_y_axis(Svg& svg, const Axis& y, double x0, double x1) {
  for (const double t : y.ticks) {
    const double py = y.map(t);
    svg.line(x0, py, x1, py, "#e3e3e3", 1.0);
    svg.line(x0 - 4, py, x0, py, "#444444", 1.0);
    svg.text(x0 - 7, py + 4, tick_label(t), kTickFont, "end", 0.0, " class=\"tick-y\"");
  }
}

void draw_frame(Svg& svg, double x0, double y0, double x1, double y1) {
  svg.rect(x0, y0, x1 - x0, y1 - y0, "none", " class=\"frame\" stroke=\"#444444\" stroke-width=\"1\"");
}

void draw_references(Svg& svg, const std::vector<ReferenceLine>& refs, const Axis& y, double x0, double x1) {
  for (const auto& ref : refs) {
    if (ref.y < std::min(y.lo, y.hi) || ref.y > std::max(y.lo, y.hi)) continue;  // outside a given range
    const double py = y.map(ref.y);
    svg.line(x0, py, x1, py, "#555555", 1.2, " stroke-dasharray=\"6 4\" class=\"reference\"");
    if (!ref.label.empty()) svg.text(x1 - 4, py - 5, ref.label, kTickFont, "end", 0.0, " fill=\"#333333\"");
  }
}

void check_references(const std::vector<ReferenceLine>& refs, const std::string& name) {
  for (const auto& ref : refs) {
    if (!std::isfinite(ref.y)) fail("{}: reference line '{}' is not finite", name, ref.label);
  }
}

void check_size(int width, int height, const std::string& name) {
  if (width < 160 || height < 120 || width > 8000 || height > 8000) {
    fail("{}: size {} x {} is outside 160 x 120 .. 8000 x 8000 pixels", name, width, height);
  }
}

// A legend entry: colour swatch (line, band, marker) and name.
struct LegendEntry {
  std::string name;
  std::string color;
  int shape = 0;
  bool band = false;
  bool markers = true;
  bool bar = false;
};

double legend_width(const std::vector<LegendEntry>& entries) {
  double w = 0.0;
  for (const auto& e : entries) w = std::max(w, text_width(e.name, kTickFont));
  return entries.empty() ? 0.0 : w + 40.0;
}

void draw_legend(Svg& svg, const std::vector<LegendEntry>& entries, double x, double y) {
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const auto& e = entries[i];
    const double cy = y + 18.0 * static_cast<double>(i);
    if (e.bar) {
      svg.rect(x, cy - 6, 20, 12, e.color);
    } else {
      if (e.band) svg.rect(x, cy - 6, 20, 12, e.color, " fill-opacity=\"0.2\"");
      svg.line(x, cy, x + 20, cy, e.color, 2.0);
      if (e.markers) svg.marker(x + 10, cy, e.shape, e.color, "legend-marker");
    }
    svg.text(x + 26, cy + 4, e.name, kTickFont, "start", 0.0, " class=\"legend\"");
  }
}

// Notes on skipped values, one line each (at most four, then a count of the rest).
struct Skipped {
  std::string series;
  std::size_t values = 0;  // points (line) or values (bars) not drawn
  std::size_t bounds = 0;  // band or error-bar entries not drawn where the value itself was finite
};

std::vector<std::string> skip_notes(const std::vector<Skipped>& skipped, std::string_view unit,
                                    std::string_view bound_unit) {
  std::vector<std::string> notes;
  std::size_t shown = 0;
  for (const auto& [name, n, b] : skipped) {
    if (n == 0 && b == 0) continue;
    if (shown == 4) {
      notes.push_back("... and more series with skipped values");
      break;
    }
    std::string note = fmt::format("'{}':", name);
    if (n) note += fmt::format(" {} non-finite {}{} skipped", n, unit, n == 1 ? "" : "s");
    if (b) note += fmt::format("{} {} non-finite {}{} skipped", n ? "," : "", b, bound_unit, b == 1 ? "" : "s");
    notes.push_back(std::move(note));
    ++shown;
  }
  return notes;
}

void draw_notes(Svg& svg, const std::vector<std::string>& notes, double x, double y) {
  for (std::size_t i = 0; i < notes.size(); ++i) {
    svg.text(x, y + 14.0 * static_cast<double>(i), notes[i], kNoteFont, "start", 0.0,
             " fill=\"#8a4b00\" class=\"note\"");
  }
}

void clip_def(Svg& svg, const std::string& id, double x0, double y0, double x1, double y1) {
  fmt::format_to(svg.out(), "<defs><clipPath id=\"{}\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs>\n",
                 id, px(x0), px(y0), px(x1 - x0), px(y1 - y0));
}

// Runs of consecutive indices where ok(i) holds.
template <typename Ok>
std::vector<std::pair<std::size_t, std::size_t>> runs(std::size_t n, Ok ok) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  std::size_t i = 0;
  while (i < n) {
    while (i < n && !ok(i)) ++i;
    const std::size_t start = i;
    while (i < n && ok(i)) ++i;
    if (i > start) out.emplace_back(start, i);
  }
  return out;
}

}  // namespace

// ---- text helpers ------------------------------------------------------------------------------

std::string format_number(double value, int significant) {
  if (significant < 1 || significant > 17) fail("format_number: significant digits {} is outside 1..17", significant);
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  if (value == 0.0) return "0";
  // The exponent after rounding to `significant` digits (999.96 -> 1.00e+03).
  const std::string sci = fmt::format("{:.{}e}", value, significant - 1);
  const std::size_t epos = sci.find('e');
  const int exponent = std::stoi(sci.substr(epos + 1));
  if (exponent >= -3 && exponent < 6) {
    std::string s = fmt::format("{:.{}f}", value, std::max(0, significant - 1 - exponent));
    strip_zeros(s);
    return s;
  }
  std::string mantissa = sci.substr(0, epos);
  strip_zeros(mantissa);
  return fmt::format("{}e{}", mantissa, exponent);
}

std::string xml_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\t' && c != '\n' && c != '\r') {
          out += "\xEF\xBF\xBD";  // U+FFFD: XML 1.0 has no way to carry other control characters
        } else {
          out += c;
        }
    }
  }
  return out;
}

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi) || lo > hi) fail("nice_ticks: range [{}, {}] is not a finite interval", lo, hi);
  if (target < 2 || target > 50) fail("nice_ticks: target tick count {} is outside 2..50", target);
  if (lo == hi) {
    const double d = lo == 0.0 ? 1.0 : std::abs(lo) * 0.1;
    lo -= d;
    hi += d;
  }
  const double raw = (hi - lo) / (target - 1);
  if (!std::isfinite(raw) || raw <= 0.0) fail("nice_ticks: range [{}, {}] cannot be divided into ticks", lo, hi);
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = magnitude * (norm <= 1.0 ? 1.0 : norm <= 2.0 ? 2.0 : norm <= 2.5 ? 2.5 : norm <= 5.0 ? 5.0 : 10.0);
  const double first = std::floor(lo / step + 1e-9) * step;
  const double last = std::ceil(hi / step - 1e-9) * step;
  const long count = std::lround((last - first) / step);
  if (count < 1 || count > 1000) fail("nice_ticks: range [{}, {}] gives {} ticks", lo, hi, count + 1);
  // Ticks are multiples of step = m * 10^k (m in 1, 2, 2.5, 5): rounding to 1 - k decimals makes
  // them the doubles nearest to the decimal values.
  const double scale = std::pow(10.0, std::max(0.0, 1.0 - std::floor(std::log10(step))));
  std::vector<double> ticks;
  ticks.reserve(static_cast<std::size_t>(count) + 1);
  for (long i = 0; i <= count; ++i) {
    double t = first + static_cast<double>(i) * step;
    t = std::round(t * scale) / scale;       // 0.6, not 0.6000000000000001
    if (std::abs(t) < step * 1e-9) t = 0.0;  // no -0
    ticks.push_back(t);
  }
  return ticks;
}

// ---- line chart --------------------------------------------------------------------------------

std::string line_chart_svg(const LineChart& chart) {
  const std::string name = chart_name("line chart", chart.title);
  check_size(chart.width, chart.height, name);
  check_references(chart.references, name);
  if (chart.series.empty()) fail("{}: no series", name);
  Range xr, yr;
  Hasher hash;
  hash.add(chart.title);
  std::vector<Skipped> skipped;
  for (const auto& s : chart.series) {
    if (s.x.empty() && s.y.empty()) fail("{}: series '{}' is empty", name, s.name);
    if (s.x.size() != s.y.size()) fail("{}: series '{}' has {} x and {} y values", name, s.name, s.x.size(), s.y.size());
    const bool band = !s.lower.empty() || !s.upper.empty();
    if (band && (s.lower.size() != s.x.size() || s.upper.size() != s.x.size())) {
      fail("{}: series '{}' has {} points but a band of {} lower and {} upper values", name, s.name, s.x.size(),
           s.lower.size(), s.upper.size());
    }
    std::size_t bad = 0, bad_band = 0;
    for (std::size_t i = 0; i < s.x.size(); ++i) {
      const bool point_ok = std::isfinite(s.x[i]) && std::isfinite(s.y[i]);
      const bool band_ok = band && std::isfinite(s.x[i]) && std::isfinite(s.lower[i]) && std::isfinite(s.upper[i]);
      bad += !point_ok;
      bad_band += band && point_ok && !band_ok;
      if (point_ok) {
        xr.add(s.x[i]);
        yr.add(s.y[i]);
      }
      if (band_ok) {
        xr.add(s.x[i]);
        yr.add(s.lower[i]);
        yr.add(s.upper[i]);
      }
    }
    skipped.push_back({s.name, bad, bad_band});
    hash.add(s.name);
    hash.add(s.x);
    hash.add(s.y);
    hash.add(s.lower);
    hash.add(s.upper);
  }
  if (xr.empty()) fail("{}: no finite point to draw", name);
  for (const auto& ref : chart.references) yr.add(ref.y);

  // Layout: title on top, legend on the right, tick labels and axis labels left and below, notes last.
  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const auto& s = chart.series[i];
    if (!s.name.empty()) {
      legend.push_back({s.name, palette_color(s.color, i), static_cast<int>(i), !s.lower.empty(), s.markers, false});
    }
  }
  const std::vector<std::string> notes = skip_notes(skipped, "point", "band value");
  Axis x = make_axis(xr, chart.x_min, chart.x_max, name, "x");
  Axis y = make_axis(yr, chart.y_min, chart.y_max, name, "y");
  const double top = chart.title.empty() ? 14.0 : 40.0;
  const double left = 14.0 + max_tick_width(y) + 10.0 + (chart.y_label.empty() ? 0.0 : 22.0);
  const double right = 16.0 + (legend.empty() ? 0.0 : legend_width(legend) + 8.0);
  const double bottom = 26.0 + (chart.x_label.empty() ? 0.0 : 22.0) + 14.0 * static_cast<double>(notes.size()) + 8.0;
  x.p0 = left;
  x.p1 = chart.width - right;
  y.p0 = chart.height - bottom;
  y.p1 = top;
  if (x.p1 - x.p0 < 60.0 || y.p0 - y.p1 < 60.0) {
    fail("{}: {} x {} pixels leave no room for the plot (legend or labels too wide)", name, chart.width, chart.height);
  }

  Svg svg(chart.width, chart.height, chart.title);
  const std::string clip = fmt::format("deeper-clip-{:016x}", hash.h);
  clip_def(svg, clip, x.p0, y.p1, x.p1, y.p0);
  if (!chart.title.empty()) svg.text(chart.width / 2.0, 24, chart.title, kTitleFont, "middle", 0.0, " font-weight=\"bold\" class=\"title\"");
  draw_y_axis(svg, y, x.p0, x.p1);
  for (const double t : x.ticks) {
    const double pxx = x.map(t);
    svg.line(pxx, y.p1, pxx, y.p0, "#f0f0f0", 1.0);
    svg.line(pxx, y.p0, pxx, y.p0 + 4, "#444444", 1.0);
    svg.text(pxx, y.p0 + 17, tick_label(t), kTickFont, "middle", 0.0, " class=\"tick-x\"");
  }

  fmt::format_to(svg.out(), "<g clip-path=\"url(#{})\">\n", clip);
  for (std::size_t si = 0; si < chart.series.size(); ++si) {  // bands below every line
    const auto& s = chart.series[si];
    if (s.lower.empty()) continue;
    const std::string color = palette_color(s.color, si);
    for (const auto& [a, b] : runs(s.x.size(), [&](std::size_t i) {
           return std::isfinite(s.x[i]) && std::isfinite(s.lower[i]) && std::isfinite(s.upper[i]);
         })) {
      std::vector<std::pair<double, double>> pts;
      for (std::size_t i = a; i < b; ++i) pts.emplace_back(x.map(s.x[i]), y.map(s.upper[i]));
      for (std::size_t i = b; i-- > a;) pts.emplace_back(x.map(s.x[i]), y.map(s.lower[i]));
      svg.polygon(pts, color, 0.2, "band");
    }
  }
  svg.raw("</g>\n");
  draw_references(svg, chart.references, y, x.p0, x.p1);
  fmt::format_to(svg.out(), "<g clip-path=\"url(#{})\">\n", clip);
  for (std::size_t si = 0; si < chart.series.size(); ++si) {
    const auto& s = chart.series[si];
    const std::string color = palette_color(s.color, si);
    for (const auto& [a, b] :
         runs(s.x.size(), [&](std::size_t i) { return std::isfinite(s.x[i]) && std::isfinite(s.y[i]); })) {
      std::vector<std::pair<double, double>> pts;
      for (std::size_t i = a; i < b; ++i) pts.emplace_back(x.map(s.x[i]), y.map(s.y[i]));
      if (pts.size() > 1) svg.polyline(pts, color, 2.0);
      if (s.markers || pts.size() == 1) {  // a lone point stays visible without markers
        for (const auto& [mx, my] : pts) svg.marker(mx, my, static_cast<int>(si), color);
      }
    }
  }
  svg.raw("</g>\n");
  draw_frame(svg, x.p0, y.p1, x.p1, y.p0);

  double label_y = y.p0 + 17;
  if (!chart.x_label.empty()) {
    label_y += 22;
    svg.text((x.p0 + x.p1) / 2.0, label_y, chart.x_label, kLabelFont, "middle");
  }
  if (!chart.y_label.empty()) svg.text(18, (y.p0 + y.p1) / 2.0, chart.y_label, kLabelFont, "middle", -90.0);
  draw_legend(svg, legend, x.p1 + 14.0, y.p1 + 8.0);
  draw_notes(svg, notes, 8.0, label_y + 20.0);
  return std::move(svg).finish();
}

// ---- bar / profile chart -----------------------------------------------------------------------

std::string bar_chart_svg(const BarChart& chart) {
  const std::string name = chart_name("bar chart", chart.title);
  check_size(chart.width, chart.height, name);
  check_references(chart.references, name);
  if (chart.categories.empty()) fail("{}: no categories", name);
  if (chart.series.empty()) fail("{}: no series", name);
  const std::size_t nc = chart.categories.size();
  Range yr;
  Hasher hash;
  hash.add(chart.title);
  std::vector<Skipped> skipped;
  bool any_finite = false;
  for (const auto& s : chart.series) {
    if (s.values.empty()) fail("{}: series '{}' is empty", name, s.name);
    if (s.values.size() != nc) fail("{}: series '{}' has {} values for {} categories", name, s.name, s.values.size(), nc);
    const bool bars = !s.lower.empty() || !s.upper.empty();
    if (bars && (s.lower.size() != nc || s.upper.size() != nc)) {
      fail("{}: series '{}' has {} categories but {} lower and {} upper error values", name, s.name, nc, s.lower.size(),
           s.upper.size());
    }
    std::size_t bad = 0, bad_bar = 0;
    for (std::size_t i = 0; i < nc; ++i) {
      bad += !std::isfinite(s.values[i]);
      bad_bar += bars && std::isfinite(s.values[i]) && !(std::isfinite(s.lower[i]) && std::isfinite(s.upper[i]));
      any_finite |= std::isfinite(s.values[i]);
      yr.add(s.values[i]);
      if (bars && std::isfinite(s.lower[i]) && std::isfinite(s.upper[i])) {
        yr.add(s.lower[i]);
        yr.add(s.upper[i]);
      }
    }
    skipped.push_back({s.name, bad, bad_bar});
    hash.add(s.name);
    hash.add(s.values);
    hash.add(s.lower);
    hash.add(s.upper);
  }
  if (!any_finite) fail("{}: no finite value to draw", name);
  for (const auto& c : chart.categories) hash.add(c);
  for (const auto& ref : chart.references) yr.add(ref.y);
  const bool bars = chart.style == BarStyle::bars;
  if (bars) yr.add(0.0);

  std::vector<LegendEntry> legend;
  for (std::size_t i = 0; i < chart.series.size(); ++i) {
    const auto& s = chart.series[i];
    if (!s.name.empty()) legend.push_back({s.name, palette_color(s.color, i), static_cast<int>(i), false, true, bars});
  }
  const std::vector<std::string> notes = skip_notes(skipped, "value", "error bar");
  Axis y = make_axis(yr, chart.y_min, chart.y_max, name, "y");
  const double top = chart.title.empty() ? 14.0 : 40.0;
  const double left = 14.0 + max_tick_width(y) + 10.0 + (chart.y_label.empty() ? 0.0 : 22.0);
  const double right = 16.0 + (legend.empty() ? 0.0 : legend_width(legend) + 8.0);
  const double plot_w = chart.width - left - right;
  const double group = plot_w / static_cast<double>(nc);
  double label_w = 0.0;
  for (const auto& c : chart.categories) label_w = std::max(label_w, text_width(c, kTickFont));
  const bool rotate = label_w > group - 6.0;
  const double label_h = rotate ? label_w * 0.7 + 14.0 : 18.0;  // rotated by 45 degrees
  const double bottom = 8.0 + label_h + (chart.x_label.empty() ? 0.0 : 22.0) +
                        14.0 * static_cast<double>(notes.size()) + 8.0;
  y.p0 = chart.height - bottom;
  y.p1 = top;
  if (plot_w < 60.0 || y.p0 - y.p1 < 60.0) {
    fail("{}: {} x {} pixels leave no room for the plot (labels or legend too wide)", name, chart.width, chart.height);
  }
  const double x0 = left, x1 = chart.width - right;
  const auto centre = [&](std::size_t c) { return x0 + group * (static_cast<double>(c) + 0.5); };

  Svg svg(chart.width, chart.height, chart.title);
  const std::string clip = fmt::format("deeper-clip-{:016x}", hash.h);
  clip_def(svg, clip, x0, y.p1, x1, y.p0);
  if (!chart.title.empty()) svg.text(chart.width / 2.0, 24, chart.title, kTitleFont, "middle", 0.0, " font-weight=\"bold\" class=\"title\"");
  draw_y_axis(svg, y, x0, x1);
  for (std::size_t c = 0; c < nc; ++c) {
    const double cx = centre(c);
    svg.line(cx, y.p0, cx, y.p0 + 4, "#444444", 1.0);
    if (rotate) {
      svg.text(cx + 4, y.p0 + 14, chart.categories[c], kTickFont, "end", -45.0, " class=\"category\"");
    } else {
      svg.text(cx, y.p0 + 17, chart.categories[c], kTickFont, "middle", 0.0, " class=\"category\"");
    }
  }

  const std::size_t ns = chart.series.size();
  const double bar_w = group * 0.8 / static_cast<double>(ns);
  const double zero = y.map(std::clamp(0.0, std::min(y.lo, y.hi), std::max(y.lo, y.hi)));
  const auto series_x = [&](std::size_t c, std::size_t si) {
    if (bars) return x0 + group * (static_cast<double>(c) + 0.1) + bar_w * (static_cast<double>(si) + 0.5);
    const double dodge = std::min(5.0, group * 0.08);  // keep error bars of profiles apart
    return centre(c) + dodge * (static_cast<double>(si) - (static_cast<double>(ns) - 1.0) / 2.0);
  };
  fmt::format_to(svg.out(), "<g clip-path=\"url(#{})\">\n", clip);
  for (std::size_t si = 0; si < ns; ++si) {
    const auto& s = chart.series[si];
    const std::string color = palette_color(s.color, si);
    if (bars) {
      for (std::size_t c = 0; c < nc; ++c) {
        if (!std::isfinite(s.values[c])) continue;
        const double v = y.map(s.values[c]);
        svg.rect(series_x(c, si) - bar_w / 2.0, std::min(v, zero), bar_w, std::abs(v - zero), color, " class=\"bar\"");
      }
    } else {
      for (const auto& [a, b] : runs(nc, [&](std::size_t i) { return std::isfinite(s.values[i]); })) {
        std::vector<std::pair<double, double>> pts;
        for (std::size_t i = a; i < b; ++i) pts.emplace_back(series_x(i, si), y.map(s.values[i]));
        if (pts.size() > 1) svg.polyline(pts, color, 2.0);
        for (const auto& [mx, my] : pts) svg.marker(mx, my, static_cast<int>(si), color);
      }
    }
    if (s.lower.empty()) continue;
    for (std::size_t c = 0; c < nc; ++c) {
      if (!std::isfinite(s.lower[c]) || !std::isfinite(s.upper[c])) continue;
      const double ex = series_x(c, si);
      const double cap = std::min(4.0, bar_w * 0.3);
      const std::string ink = bars ? std::string("#222222") : color;
      const double lo = y.map(s.lower[c]), hi = y.map(s.upper[c]);
      svg.line(ex, lo, ex, hi, ink, 1.3, " class=\"errorbar\"");
      svg.line(ex - cap, lo, ex + cap, lo, ink, 1.3);
      svg.line(ex - cap, hi, ex + cap, hi, ink, 1.3);
    }
  }
  if (bars && y.lo < 0.0 && y.hi > 0.0) svg.line(x0, zero, x1, zero, "#444444", 1.0);
  svg.raw("</g>\n");
  draw_references(svg, chart.references, y, x0, x1);
  draw_frame(svg, x0, y.p1, x1, y.p0);

  double label_y = y.p0 + label_h;
  if (!chart.x_label.empty()) {
    label_y += 22;
    svg.text((x0 + x1) / 2.0, label_y, chart.x_label, kLabelFont, "middle");
  }
  if (!chart.y_label.empty()) svg.text(18, (y.p0 + y.p1) / 2.0, chart.y_label, kLabelFont, "middle", -90.0);
  draw_legend(svg, legend, x1 + 14.0, y.p1 + 8.0);
  draw_notes(svg, notes, 8.0, label_y + 20.0);
  return std::move(svg).finish();
}

// ---- heat map ----------------------------------------------------------------------------------

std::string heat_map_svg(const HeatMap& map) {
  const std::string name = chart_name("heat map", map.title);
  if (map.rows < 1 || map.cols < 1) fail("{}: {} x {} matrix is empty", name, map.rows, map.cols);
  if (map.rows > 100 || map.cols > 100) {
    fail("{}: {} x {} is too large for an SVG heat map (at most 100 x 100; write a PNG)", name, map.rows, map.cols);
  }
  const std::size_t rows = static_cast<std::size_t>(map.rows), cols = static_cast<std::size_t>(map.cols);
  if (map.values.size() != rows * cols) {
    fail("{}: {} values for a {} x {} matrix", name, map.values.size(), map.rows, map.cols);
  }
  if (!map.row_labels.empty() && map.row_labels.size() != rows) {
    fail("{}: {} row labels for {} rows", name, map.row_labels.size(), map.rows);
  }
  if (!map.col_labels.empty() && map.col_labels.size() != cols) {
    fail("{}: {} column labels for {} columns", name, map.col_labels.size(), map.cols);
  }
  if (map.cell_size < 8 || map.cell_size > 200) fail("{}: cell size {} is outside 8..200 pixels", name, map.cell_size);
  if (map.significant < 1 || map.significant > 17) fail("{}: significant digits {} is outside 1..17", name, map.significant);
  Range vr;
  std::size_t bad = 0;
  for (const double v : map.values) {
    vr.add(v);
    bad += !std::isfinite(v);
  }
  if (vr.empty()) fail("{}: no finite value to draw", name);
  const bool diverging = map.scale == ColorScale::diverging ||
                         (map.scale == ColorScale::automatic && vr.lo < 0.0 && vr.hi > 0.0);
  double vmin = vr.lo, vmax = vr.hi;
  if (diverging && !map.v_min && !map.v_max) {
    const double m = std::max(std::abs(vr.lo), std::abs(vr.hi));
    vmin = -m;
    vmax = m;
  }
  if (map.v_min) vmin = *map.v_min;
  if (map.v_max) vmax = *map.v_max;
  if (!std::isfinite(vmin) || !std::isfinite(vmax)) fail("{}: colour range [{}, {}] is not finite", name, vmin, vmax);
  if (vmin > vmax) fail("{}: colour range [{}, {}] is empty", name, vmin, vmax);
  if (vmin == vmax) {  // constant data: a small range around the value
    const double d = vmin == 0.0 ? 1.0 : std::abs(vmin) * 0.1;
    vmin -= d;
    vmax += d;
  }
  const auto& anchors = diverging ? kDiverging : kSequential;
  const auto color_of = [&](double v) { return ramp(anchors, (v - vmin) / (vmax - vmin)); };

  const double cs = map.cell_size;
  double row_w = 0.0, col_w = 0.0;
  for (const auto& l : map.row_labels) row_w = std::max(row_w, text_width(l, kTickFont));
  for (const auto& l : map.col_labels) col_w = std::max(col_w, text_width(l, kTickFont));
  const bool rotate = col_w > cs - 4.0;
  const double col_h = map.col_labels.empty() ? 0.0 : rotate ? col_w * 0.7 + 16.0 : 20.0;
  const double top = map.title.empty() ? 14.0 : 40.0;
  const double left = 10.0 + (map.y_label.empty() ? 0.0 : 22.0) + (row_w > 0.0 ? row_w + 8.0 : 0.0);
  const double grid_w = cs * static_cast<double>(cols), grid_h = cs * static_cast<double>(rows);
  const double bar_h = std::max(grid_h, 120.0);
  std::vector<double> bar_ticks;
  for (const double t : nice_ticks(vmin, vmax, 5)) {
    if (t >= vmin - (vmax - vmin) * 1e-9 && t <= vmax + (vmax - vmin) * 1e-9) bar_ticks.push_back(t);
  }
  double bar_label_w = 0.0;
  for (const double t : bar_ticks) bar_label_w = std::max(bar_label_w, text_width(tick_label(t), kTickFont));
  const double bar_x = left + grid_w + 18.0;
  const std::vector<std::string> notes =
      bad ? std::vector<std::string>{fmt::format("{} non-finite cell{} (grey, not coloured)", bad, bad == 1 ? "" : "s")}
          : std::vector<std::string>{};
  const double width = std::max(bar_x + 14.0 + 8.0 + bar_label_w + (map.value_label.empty() ? 0.0 : 24.0) + 10.0,
                                text_width(map.title, kTitleFont) + 20.0);
  const double below = col_h + (map.x_label.empty() ? 0.0 : 22.0) + 14.0 * static_cast<double>(notes.size()) + 10.0;
  const double height = top + std::max(grid_h + below, bar_h + 10.0);
  const int iw = static_cast<int>(std::ceil(width)), ih = static_cast<int>(std::ceil(height));

  Svg svg(iw, ih, map.title);
  if (!map.title.empty()) svg.text(iw / 2.0, 24, map.title, kTitleFont, "middle", 0.0, " font-weight=\"bold\" class=\"title\"");
  const double font = std::min(12.0, cs * 0.3);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) {
      const double v = map.values[r * cols + c];
      const double x = left + cs * static_cast<double>(c), y = top + cs * static_cast<double>(r);
      const bool ok = std::isfinite(v);
      const Rgb fill = ok ? color_of(v) : Rgb{0.82, 0.82, 0.82};
      svg.rect(x, y, cs, cs, css_color(fill), " class=\"cell\" stroke=\"#ffffff\" stroke-width=\"1\"");
      if (map.show_values) {
        svg.text(x + cs / 2.0, y + cs / 2.0 + font * 0.35, ok ? format_number(v, map.significant) : "n/a", font,
                 "middle", 0.0, luminance(fill) < 0.45 ? " class=\"value\" fill=\"#ffffff\"" : " class=\"value\" fill=\"#111111\"");
      }
    }
  }
  for (std::size_t r = 0; r < map.row_labels.size(); ++r) {
    svg.text(left - 6.0, top + cs * (static_cast<double>(r) + 0.5) + 4.0, map.row_labels[r], kTickFont, "end");
  }
  for (std::size_t c = 0; c < map.col_labels.size(); ++c) {
    const double cx = left + cs * (static_cast<double>(c) + 0.5);
    if (rotate) {
      svg.text(cx + 4.0, top + grid_h + 14.0, map.col_labels[c], kTickFont, "end", -45.0);
    } else {
      svg.text(cx, top + grid_h + 16.0, map.col_labels[c], kTickFont, "middle");
    }
  }
  double label_y = top + grid_h + col_h;
  if (!map.x_label.empty()) {
    label_y += 22.0;
    svg.text(left + grid_w / 2.0, label_y, map.x_label, kLabelFont, "middle");
  }
  if (!map.y_label.empty()) svg.text(18, top + grid_h / 2.0, map.y_label, kLabelFont, "middle", -90.0);
  draw_notes(svg, notes, 8.0, label_y + 18.0);

  // Colour scale: stacked strips from vmin (bottom) to vmax (top), ticks on the right.
  constexpr int kStrips = 48;
  for (int i = 0; i < kStrips; ++i) {
    const double t0 = static_cast<double>(i) / kStrips;
    const double y = top + bar_h * (1.0 - t0 - 1.0 / kStrips);
    svg.rect(bar_x, y, 14.0, bar_h / kStrips + 0.5, css_color(ramp(anchors, t0 + 0.5 / kStrips)), " class=\"scale\"");
  }
  svg.rect(bar_x, top, 14.0, bar_h, "none", " stroke=\"#444444\" stroke-width=\"1\"");
  for (const double t : bar_ticks) {
    const double y = top + bar_h * (1.0 - (t - vmin) / (vmax - vmin));
    svg.line(bar_x + 14.0, y, bar_x + 18.0, y, "#444444", 1.0);
    svg.text(bar_x + 21.0, y + 4.0, tick_label(t), kTickFont, "start", 0.0, " class=\"tick-scale\"");
  }
  if (!map.value_label.empty()) {
    svg.text(bar_x + 14.0 + 8.0 + bar_label_w + 16.0, top + bar_h / 2.0, map.value_label, kLabelFont, "middle", 90.0);
  }
  return std::move(svg).finish();
}

}  // namespace deeper::analysis
