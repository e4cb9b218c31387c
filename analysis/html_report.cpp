// HtmlReport: HTML assembly, the tiny markup, relative-path checks and the atomic write.
#include "analysis/html_report.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <system_error>

#include "core/atomic_file.h"
#include "core/error.h"

#ifndef DEEPER_VERSION
#define DEEPER_VERSION "unknown"
#endif

namespace deeper::analysis {
namespace {

// One CSS block: system fonts, a readable measure on a laptop, verdict colours, print rules.
constexpr const char* kCss = R"css(
:root { --fg: #1f2328; --muted: #59636e; --line: #d1d9e0; --bg: #ffffff; --link: #0969da; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; color: var(--fg); background: var(--bg);
       font: 16px/1.55 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; }
main { max-width: 64rem; margin: 0 auto; padding: 1.5rem 1.5rem 4rem; }
a { color: var(--link); }
h1 { font-size: 1.9rem; line-height: 1.25; margin: 0.5rem 0 0.25rem; }
h2 { font-size: 1.4rem; line-height: 1.3; margin: 2.4rem 0 0.8rem; padding-bottom: 0.3rem;
     border-bottom: 1px solid var(--line); }
p { max-width: 50rem; margin: 0.7rem 0; }
.subtitle { color: var(--muted); margin-top: 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.88em;
       background: #f2f4f6; padding: 0.05em 0.3em; border-radius: 3px; }
nav.toc { background: #f6f8fa; border: 1px solid var(--line); border-radius: 6px;
          padding: 0.4rem 1.2rem 0.6rem; margin: 1.5rem 0; max-width: 40rem; }
nav.toc h2 { font-size: 1rem; border: none; margin: 0.5rem 0 0.2rem; padding: 0; }
nav.toc ol { margin: 0.2rem 0; padding-left: 1.4rem; }
nav.toc li { margin: 0.15rem 0; }
figure { margin: 1.5rem 0; }
figure svg, figure img { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 0.92rem; margin-top: 0.4rem; max-width: 50rem; }
.number { font-weight: 600; color: var(--fg); }
.table-wrap { overflow-x: auto; margin: 1rem 0; }
table { border-collapse: collapse; font-size: 0.94rem; }
caption { caption-side: top; text-align: left; color: var(--muted); font-size: 0.92rem;
          padding-bottom: 0.35rem; }
th, td { padding: 0.3rem 0.75rem; text-align: left; vertical-align: top; border-bottom: 1px solid var(--line); }
thead th { border-bottom: 2px solid #8c959f; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { font-weight: 600; background: #f6f8fa; }
.finding { border-left: 6px solid; border-radius: 4px; padding: 0.55rem 1rem 0.65rem; margin: 1.1rem 0;
           max-width: 52rem; }
.finding p { margin: 0.3rem 0; }
.finding .claim { font-weight: 600; }
.verdict { display: inline-block; font-size: 0.78rem; font-weight: 700; letter-spacing: 0.04em;
           text-transform: uppercase; color: #ffffff; padding: 0.1rem 0.55rem; border-radius: 999px; }
.finding.supported { border-color: #1a7f37; background: #e6f6ea; }
.finding.supported .verdict { background: #1a7f37; }
.finding.not-supported { border-color: #cf222e; background: #fdecea; }
.finding.not-supported .verdict { background: #cf222e; }
.finding.inconclusive { border-color: #9a6700; background: #fdf6d8; }
.finding.inconclusive .verdict { background: #9a6700; }
ul.files { padding-left: 1.4rem; }
section.provenance { color: var(--muted); font-size: 0.9rem; }
section.provenance td { word-break: break-all; }
@media (max-width: 40rem) { main { padding: 1rem 0.8rem 3rem; } body { font-size: 15px; } }
@media print {
  body { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; }
  figure, table, .finding, nav.toc { break-inside: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
)css";

bool is_word(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x80 || std::isalnum(u) || c == '_';
}

// href text for a checked relative path: unreserved characters and '/' stay, the rest is %XX.
std::string url_encode_path(std::string_view path) {
  std::string out;
  for (const char c : path) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '/') {
      out += c;
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned>(u));
    }
  }
  return out;
}

bool valid_id(std::string_view id) {
  if (id.empty() || !std::isalpha(static_cast<unsigned char>(id[0]))) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

void check_significant(int significant, std::string_view what) {
  if (significant < 1 || significant > 17) fail("{}: significant digits {} is outside 1..17", what, significant);
}

std::string caption_html(std::string_view kind, int number, const std::string& caption) {
  if (caption.empty()) return fmt::format("<span class=\"number\">{} {}.</span>", kind, number);
  return fmt::format("<span class=\"number\">{} {}.</span> {}", kind, number, markup(caption));
}

}  // namespace

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::supported: return "supported";
    case Verdict::not_supported: return "not supported";
    case Verdict::inconclusive: return "inconclusive";
  }
  fail("unknown verdict {}", static_cast<int>(verdict));
}

std::string markup(std::string_view text) {
  const std::string s = xml_escape(text);
  std::string out;
  out.reserve(s.size() + 16);
  std::size_t i = 0;
  while (i < s.size()) {
    const char m = s[i];
    if ((m == '*' || m == '`') && (i == 0 || !is_word(s[i - 1])) && i + 1 < s.size() && s[i + 1] != ' ' &&
        s[i + 1] != m) {
      std::size_t j = i + 2;
      for (; j < s.size(); ++j) {
        if (s[j] == m && s[j - 1] != ' ' && (j + 1 == s.size() || !is_word(s[j + 1]))) break;
      }
      if (j < s.size()) {
        const std::string_view tag = m == '*' ? "em" : "code";
        fmt::format_to(std::back_inserter(out), "<{0}>{1}</{0}>", tag, s.substr(i + 1, j - i - 1));
        i = j + 1;
        continue;
      }
    }
    out += m;
    ++i;
  }
  return out;
}

std::string Cell::html(int significant) const {
  if (const auto* text = std::get_if<std::string>(&value_)) return markup(*text);
  if (const auto* integer = std::get_if<std::int64_t>(&value_)) return fmt::format("{}", *integer);
  return format_number(std::get<double>(value_), significant);
}

HtmlReport::HtmlReport(std::string title) : title_(std::move(title)) {
  if (title_.empty()) fail("HtmlReport: the report title is empty");
}

HtmlReport& HtmlReport::subtitle(std::string text) {
  subtitle_ = std::move(text);
  return *this;
}

std::string& HtmlReport::body() { return sections_.empty() ? intro_ : sections_.back().body; }

HtmlReport& HtmlReport::section(std::string id, std::string title) {
  if (!valid_id(id)) {
    fail("HtmlReport: section id '{}' must be a letter followed by letters, digits, '-' or '_'", id);
  }
  if (id == "contents" || id == "provenance") fail("HtmlReport: section id '{}' is reserved", id);
  for (const auto& s : sections_) {
    if (s.id == id) fail("HtmlReport: section id '{}' is used twice ('{}' and '{}')", id, s.title, title);
  }
  if (title.empty()) fail("HtmlReport: section '{}' has an empty title", id);
  sections_.push_back({std::move(id), std::move(title), {}});
  return *this;
}

HtmlReport& HtmlReport::paragraph(std::string_view text) {
  fmt::format_to(std::back_inserter(body()), "<p>{}</p>\n", markup(text));
  return *this;
}

HtmlReport& HtmlReport::finding(const Finding& f) {
  if (f.claim.empty()) fail("HtmlReport: a finding has an empty claim");
  const std::string_view verdict = to_string(f.verdict);
  std::string css(verdict);
  std::replace(css.begin(), css.end(), ' ', '-');
  fmt::format_to(std::back_inserter(body()),
                 "<div class=\"finding {}\">\n<span class=\"verdict\">{}</span>\n<p class=\"claim\">{}</p>\n", css,
                 verdict, markup(f.claim));
  if (!f.evidence.empty()) {
    fmt::format_to(std::back_inserter(body()), "<p class=\"evidence\"><strong>Evidence:</strong> {}</p>\n",
                   markup(f.evidence));
  }
  body() += "</div>\n";
  return *this;
}

HtmlReport& HtmlReport::key_values(const std::vector<std::pair<std::string, Cell>>& rows, std::string caption,
                                   int significant) {
  check_significant(significant, "HtmlReport::key_values");
  if (rows.empty()) fail("HtmlReport: key-value table '{}' has no rows", caption);
  std::string& out = body();
  out += "<div class=\"table-wrap\"><table class=\"kv\">\n";
  if (!caption.empty()) fmt::format_to(std::back_inserter(out), "<caption>{}</caption>\n", markup(caption));
  out += "<tbody>\n";
  for (const auto& [key, value] : rows) {
    fmt::format_to(std::back_inserter(out), "<tr><th scope=\"row\">{}</th><td{}>{}</td></tr>\n", markup(key),
                   value.is_number() ? " class=\"num\"" : "", value.html(significant));
  }
  out += "</tbody>\n</table></div>\n";
  return *this;
}

HtmlReport& HtmlReport::table(const std::vector<std::string>& header, const std::vector<std::vector<Cell>>& rows,
                              std::string caption, int significant) {
  check_significant(significant, "HtmlReport::table");
  if (header.empty()) fail("HtmlReport: table '{}' has no columns", caption);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    if (rows[r].size() != header.size()) {
      fail("HtmlReport: table '{}' row {} has {} cells for {} columns", caption, r + 1, rows[r].size(), header.size());
    }
  }
  // A column whose cells are all numbers gets a right-aligned header too.
  std::vector<bool> numeric(header.size(), !rows.empty());
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) numeric[c] = numeric[c] && row[c].is_number();
  }
  std::string& out = body();
  out += "<div class=\"table-wrap\"><table>\n";
  if (!caption.empty()) {
    fmt::format_to(std::back_inserter(out), "<caption>{}</caption>\n", caption_html("Table", ++tables_, caption));
  }
  out += "<thead><tr>";
  for (std::size_t c = 0; c < header.size(); ++c) {
    fmt::format_to(std::back_inserter(out), "<th scope=\"col\"{}>{}</th>", numeric[c] ? " class=\"num\"" : "",
                   markup(header[c]));
  }
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const auto& cell : row) {
      fmt::format_to(std::back_inserter(out), "<td{}>{}</td>", cell.is_number() ? " class=\"num\"" : "",
                     cell.html(significant));
    }
    out += "</tr>\n";
  }
  out += "</tbody>\n</table></div>\n";
  return *this;
}

HtmlReport& HtmlReport::figure_svg(std::string svg, std::string caption) {
  std::string_view s = svg;
  const auto trim = [&] {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  };
  trim();
  if (s.starts_with("<?xml")) {  // a standalone file's declaration has no place inside HTML
    const auto end = s.find("?>");
    if (end == std::string_view::npos) fail("HtmlReport: figure '{}': unterminated XML declaration", caption);
    s.remove_prefix(end + 2);
    trim();
  }
  if (!s.starts_with("<svg") || !s.ends_with("</svg>")) {
    fail("HtmlReport: figure '{}' is not an <svg> element", caption);
  }
  std::string lower(s);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  if (lower.find("<script") != std::string::npos) fail("HtmlReport: figure '{}' contains a script", caption);
  fmt::format_to(std::back_inserter(body()), "<figure>\n{}\n<figcaption>{}</figcaption>\n</figure>\n", s,
                 caption_html("Figure", ++figures_, caption));
  return *this;
}

std::string HtmlReport::checked_relative_path(const std::string& path, std::string_view what) {
  const auto bad = [&](std::string_view why) -> std::string {
    fail("HtmlReport: {} path '{}' {}; the report links only to files inside its own folder", what, path, why);
  };
  if (path.empty()) bad("is empty");
  if (path.front() == '/') bad("is absolute");
  if (path.find('\\') != std::string::npos) bad("contains a backslash");
  if (path.find(':') != std::string::npos) bad("contains ':' (a URL scheme or drive letter)");
  std::string normal;
  std::size_t start = 0;
  while (start <= path.size()) {
    const std::size_t end = std::min(path.find('/', start), path.size());
    const std::string_view part(path.data() + start, end - start);
    if (part.empty()) bad("has an empty component");
    if (part == "..") bad("leaves the report's folder ('..')");
    if (part != ".") {
      if (!normal.empty()) normal += '/';
      normal += part;
    }
    start = end + 1;
  }
  if (normal.empty()) bad("names no file");
  files_.push_back(normal);
  return url_encode_path(normal);
}

HtmlReport& HtmlReport::figure_png(std::string relative_path, std::string caption, std::string alt) {
  const std::string href = checked_relative_path(relative_path, "figure");
  fmt::format_to(std::back_inserter(body()),
                 "<figure>\n<a href=\"{0}\"><img src=\"{0}\" alt=\"{1}\"></a>\n<figcaption>{2}</figcaption>\n</figure>\n",
                 href, xml_escape(alt.empty() ? caption : alt), caption_html("Figure", ++figures_, caption));
  return *this;
}

HtmlReport& HtmlReport::files(const std::vector<FileLink>& links, std::string caption) {
  if (links.empty()) fail("HtmlReport: file list '{}' is empty", caption);
  std::string items;
  for (const auto& link : links) {
    const std::string href = checked_relative_path(link.path, "linked file");
    fmt::format_to(std::back_inserter(items), "<li><a href=\"{}\">{}</a></li>\n", href,
                   xml_escape(link.label.empty() ? link.path : link.label));
  }
  std::string& out = body();
  if (!caption.empty()) fmt::format_to(std::back_inserter(out), "<p>{}</p>\n", markup(caption));
  fmt::format_to(std::back_inserter(out), "<ul class=\"files\">\n{}</ul>\n", items);
  return *this;
}

HtmlReport& HtmlReport::provenance(const std::vector<std::pair<std::string, std::string>>& rows) {
  for (const auto& row : rows) {
    if (row.first.empty()) fail("HtmlReport: a provenance row has an empty name");
    provenance_.push_back(row);
  }
  return *this;
}

std::string HtmlReport::html() const {
  std::string out;
  auto it = std::back_inserter(out);
  fmt::format_to(it,
                 "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                 "<meta name=\"generator\" content=\"deeper {}\">\n<title>{}</title>\n<style>{}</style>\n</head>\n"
                 "<body>\n<main>\n<header>\n<h1>{}</h1>\n",
                 xml_escape(DEEPER_VERSION), xml_escape(title_), kCss, xml_escape(title_));
  if (!subtitle_.empty()) fmt::format_to(it, "<p class=\"subtitle\">{}</p>\n", markup(subtitle_));
  out += "</header>\n";
  out += intro_;
  out += "<nav class=\"toc\" id=\"contents\" aria-label=\"Contents\">\n<h2>Contents</h2>\n<ol>\n";
  for (const auto& s : sections_) fmt::format_to(it, "<li><a href=\"#{}\">{}</a></li>\n", s.id, xml_escape(s.title));
  out += "<li><a href=\"#provenance\">Provenance</a></li>\n</ol>\n</nav>\n";
  for (const auto& s : sections_) {
    fmt::format_to(it, "<section id=\"{}\">\n<h2>{}</h2>\n{}</section>\n", s.id, xml_escape(s.title), s.body);
  }
  out += "<section id=\"provenance\" class=\"provenance\">\n<h2>Provenance</h2>\n"
         "<div class=\"table-wrap\"><table class=\"kv\">\n<tbody>\n";
  for (const auto& [key, value] : provenance_) {
    fmt::format_to(it, "<tr><th scope=\"row\">{}</th><td>{}</td></tr>\n", xml_escape(key), xml_escape(value));
  }
  fmt::format_to(it, "<tr><th scope=\"row\">written by</th><td>deeper {}</td></tr>\n", xml_escape(DEEPER_VERSION));
  out += "</tbody>\n</table></div>\n</section>\n</main>\n</body>\n</html>\n";
  return out;
}

void HtmlReport::write(const std::filesystem::path& path) const {
  const auto dir = path.parent_path().empty() ? std::filesystem::path(".") : path.parent_path();
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    fail("cannot write report '{}': folder '{}' does not exist", path.string(), dir.string());
  }
  std::vector<std::string> missing;
  for (const auto& f : files_) {
    if (!std::filesystem::exists(dir / f, ec)) missing.push_back(f);
  }
  if (!missing.empty()) {
    fail("cannot write report '{}': it links to {} missing file{} in '{}': {}", path.string(), missing.size(),
         missing.size() == 1 ? "" : "s", dir.string(), fmt::join(missing, ", "));
  }
  const std::string page = html();
  io::AtomicFile file(path);
  file.write(page.data(), page.size());
  file.commit();
}

}  // namespace deeper::analysis
