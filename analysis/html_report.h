// HtmlReport: a small builder for the analysis report, one self-contained HTML file that opens from
// disk without a server.
//
//   HtmlReport report("deeper-analyze: runs/paper");
//   report.section("e1", "E1: which features does the network use?")
//         .paragraph("Mutual information between each *vertex* and the decision.")
//         .finding({"Layer 10 represents yaw", "MI 0.41 bits (95% CI 0.38-0.44), p < 0.001",
//                   Verdict::supported})
//         .figure_svg(line_chart_svg(chart), "Decoding accuracy per layer.")
//         .figure_png("maps/e1_vertices.png", "MI per vertex.")
//         .table({"layer", "MI (bits)"}, {{"1", 0.0123}, {"2", 0.045}});
//   report.provenance({{"run", "runs/paper"}, {"commit", "a3a8035"}});
//   report.write(out_dir / "index.html");
//
// Everything given as text is escaped. Paragraphs, captions, finding texts and table cells accept a
// tiny markup: *emphasis* and `code` (an opening mark after a non-word character, a closing mark
// before one; anything else stays literal). Numbers in tables and key-value lists are formatted with
// format_number (svg_plot.h). The page has one embedded CSS block (laptop screens and print), a table
// of contents built from the sections, numbered figures and tables, and no scripts.
//
// Paths to images and linked files must be relative, inside the report's folder (no absolute paths,
// no "..", no URL schemes), so that the folder can be moved or archived as a whole; write() checks
// that each of them exists next to the report.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "analysis/svg_plot.h"  // format_number, xml_escape

namespace deeper::analysis {

enum class Verdict { supported, not_supported, inconclusive };
std::string_view to_string(Verdict verdict);  // "supported", "not supported", "inconclusive"

// A claim, the measured evidence for or against it, and the verdict.
struct Finding {
  std::string claim;
  std::string evidence;
  Verdict verdict = Verdict::inconclusive;
};

// A table cell: text (marked up, left-aligned) or a number (formatted, right-aligned).
class Cell {
 public:
  Cell(std::string text) : value_(std::move(text)) {}
  Cell(const char* text) : value_(std::string(text)) {}
  Cell(std::string_view text) : value_(std::string(text)) {}
  Cell(double number) : value_(number) {}
  Cell(float number) : value_(static_cast<double>(number)) {}
  Cell(int number) : value_(static_cast<std::int64_t>(number)) {}
  Cell(long number) : value_(static_cast<std::int64_t>(number)) {}
  Cell(long long number) : value_(static_cast<std::int64_t>(number)) {}
  Cell(unsigned number) : value_(static_cast<std::int64_t>(number)) {}
  Cell(unsigned long number) : value_(static_cast<std::int64_t>(number)) {}

  bool is_number() const { return !std::holds_alternative<std::string>(value_); }
  // The cell's HTML content: escaped, marked-up text, or the number (integers in full, doubles with
  // `significant` digits).
  std::string html(int significant) const;

 private:
  std::variant<std::string, double, std::int64_t> value_;
};

// A link to a file of the report's folder (e.g. the JSON or .npy behind a figure).
struct FileLink {
  std::string label;
  std::string path;  // relative to the report
};

class HtmlReport {
 public:
  explicit HtmlReport(std::string title);

  // A line under the title (e.g. the run analysed).
  HtmlReport& subtitle(std::string text);

  // Starts a section (an <h2> and a table-of-contents entry). `id` is the anchor: a letter, then
  // letters, digits, '-' or '_'; unique in the report ("contents" and "provenance" are taken).
  // Content added before the first section goes into an introduction above the contents.
  HtmlReport& section(std::string id, std::string title);

  // A paragraph of escaped text with *emphasis* and `code`.
  HtmlReport& paragraph(std::string_view text);
  // A claim, its evidence and the verdict, as a coloured callout.
  HtmlReport& finding(const Finding& finding);
  // Two columns of names and values.
  HtmlReport& key_values(const std::vector<std::pair<std::string, Cell>>& rows, std::string caption = {},
                         int significant = 3);
  // A numbered table: every row has header.size() cells.
  HtmlReport& table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                    std::string caption = {}, int significant = 3);
  // A numbered figure of an inline SVG element (e.g. from line_chart_svg), or of a PNG file.
  HtmlReport& figure_svg(std::string svg, std::string caption);
  HtmlReport& figure_png(std::string relative_path, std::string caption, std::string alt = {});
  // A list of links to files of the report's folder.
  HtmlReport& files(const std::vector<FileLink>& links, std::string caption = {});
  // The provenance block at the end (run, commit, configuration, command line, times); each call
  // adds rows. The deeper version is always listed.
  HtmlReport& provenance(const std::vector<std::pair<std::string, std::string>>& rows);

  // The whole page.
  std::string html() const;
  // Relative paths of the images and linked files, in the order added.
  const std::vector<std::string>& referenced_files() const { return files_; }
  // Writes html() atomically (core/atomic_file.h): the old file stays intact if anything fails.
  // Throws deeper::Error if the folder does not exist or a referenced file is missing beside it.
  void write(const std::filesystem::path& path) const;

 private:
  struct Section {
    std::string id;
    std::string title;
    std::string body;
  };
  std::string& body();  // the current section's body, or the introduction
  std::string checked_relative_path(const std::string& path, std::string_view what);

  std::string title_;
  std::string subtitle_;
  std::string intro_;
  std::vector<Section> sections_;
  std::vector<std::pair<std::string, std::string>> provenance_;
  std::vector<std::string> files_;
  int figures_ = 0;
  int tables_ = 0;
};

// Escapes `text` for HTML and applies the tiny markup (*emphasis*, `code`).
std::string markup(std::string_view text);

}  // namespace deeper::analysis
