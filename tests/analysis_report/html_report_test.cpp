// HtmlReport: well-formed page, contents built from the sections, escaping and the tiny markup,
// findings, tables with formatted numbers, figures (inline SVG, relative PNG paths), provenance, and
// the atomic write (no temporary left, the old report intact when writing fails).
#include "analysis/html_report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "tests/analysis_report/markup_check.h"

namespace deeper::analysis {
namespace {

namespace fs = std::filesystem;
using test::parse_markup;
using test::Parsed;

std::string error_of(const auto& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "no error";
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write_text(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

Parsed parse_html(const std::string& html) {
  Parsed p = parse_markup(html, true);
  EXPECT_EQ(p.error, "");
  return p;
}

class ReportDir : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("deeper-analysis-report-" + std::to_string(::getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

HtmlReport sample_report() {
  HtmlReport r("deeper-analyze: runs/tiny");
  r.subtitle("ResNet-10, *tiny* preset");
  r.paragraph("An introduction before the first section.");
  r.section("e1", "E1: generalisation").paragraph("Accuracy per pose bin.");
  r.finding({"The network generalises to unseen poses", "accuracy 0.91 (95% CI 0.88-0.94) vs chance 0.06",
             Verdict::supported});
  r.section("e2", "E2: layers & <features>")
      .finding({"Layer 1 represents identity", "MI 0.002 bits, p = 0.41", Verdict::not_supported})
      .finding({"Layer 5 represents age", "", Verdict::inconclusive});
  r.section("maps", "Gradient maps");
  return r;
}

TEST(HtmlReport, IsWellFormedWithContentsForEverySection) {
  const HtmlReport r = sample_report();
  const std::string html = r.html();
  const Parsed p = parse_html(html);
  ASSERT_FALSE(p.elements.empty());
  EXPECT_EQ(p.elements.front().name, "html");
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_EQ(p.all("style").size(), 1u);   // one embedded CSS block
  EXPECT_EQ(p.all("script").size(), 0u);
  EXPECT_EQ(p.all("link").size(), 0u);    // no external stylesheet
  EXPECT_EQ(p.all("meta").size(), 3u);
  EXPECT_EQ(p.all("h1").size(), 1u);
  EXPECT_EQ(p.all("h1")[0]->text, "deeper-analyze: runs/tiny");
  EXPECT_EQ(p.all("title")[0]->text, "deeper-analyze: runs/tiny");

  const auto toc = p.all("nav", "toc");
  ASSERT_EQ(toc.size(), 1u);
  std::vector<std::string> hrefs, sections;
  for (const auto* a : p.all("a")) hrefs.push_back(a->attrs.at("href"));
  for (const auto* s : p.all("section")) sections.push_back(s->attrs.at("id"));
  EXPECT_EQ(hrefs, (std::vector<std::string>{"#e1", "#e2", "#maps", "#provenance"}));
  EXPECT_EQ(sections, (std::vector<std::string>{"e1", "e2", "maps", "provenance"}));
  EXPECT_NE(html.find("<li><a href=\"#e2\">E2: layers &amp; &lt;features&gt;</a></li>"), std::string::npos);
  // The introduction sits above the contents, the sections below it.
  EXPECT_LT(html.find("An introduction"), html.find("<nav"));
  EXPECT_GT(html.find("Accuracy per pose bin"), html.find("<nav"));
  EXPECT_NE(html.find("<p class=\"subtitle\">ResNet-10, <em>tiny</em> preset</p>"), std::string::npos);
}

TEST(HtmlReport, FindingsCarryTheirVerdictAndEvidence) {
  const Parsed p = parse_html(sample_report().html());
  const auto findings = p.all("div", "finding");
  ASSERT_EQ(findings.size(), 3u);
  EXPECT_TRUE(findings[0]->has_class("supported"));
  EXPECT_TRUE(findings[1]->has_class("not-supported"));
  EXPECT_TRUE(findings[2]->has_class("inconclusive"));
  const auto verdicts = p.all("span", "verdict");
  ASSERT_EQ(verdicts.size(), 3u);
  EXPECT_EQ(verdicts[0]->text, "supported");
  EXPECT_EQ(verdicts[1]->text, "not supported");
  EXPECT_EQ(verdicts[2]->text, "inconclusive");
  EXPECT_EQ(p.all("p", "claim").size(), 3u);
  EXPECT_EQ(p.all("p", "evidence").size(), 2u);  // the third has no evidence line
  EXPECT_EQ(to_string(Verdict::not_supported), "not supported");
  HtmlReport r("t");
  EXPECT_THROW(r.finding({"", "x", Verdict::supported}), Error);
}

TEST(HtmlReport, EscapesTextAndAppliesTheTinyMarkup) {
  EXPECT_EQ(markup("<script>alert('x')</script> & co"), "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; co");
  EXPECT_EQ(markup("an *important* result in `mi.npy`"), "an <em>important</em> result in <code>mi.npy</code>");
  EXPECT_EQ(markup("2*3*4 and a*b and * lone and *x"), "2*3*4 and a*b and * lone and *x");
  EXPECT_EQ(markup("`a<b`"), "<code>a&lt;b</code>");
  EXPECT_EQ(markup("*<i>*"), "<em>&lt;i&gt;</em>");

  HtmlReport r("<T> & \"title\"");
  r.section("s", "S").paragraph("<script>alert(1)</script> *ok*");
  r.provenance({{"command", "deeper-analyze --run 'runs/*' <x>"}});
  const std::string html = r.html();
  parse_html(html);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt; <em>ok</em>"), std::string::npos);
  EXPECT_NE(html.find("<h1>&lt;T&gt; &amp; &quot;title&quot;</h1>"), std::string::npos);
  // Provenance is plain escaped text (no markup: globs stay as written).
  EXPECT_NE(html.find("deeper-analyze --run &#39;runs/*&#39; &lt;x&gt;"), std::string::npos);
}

TEST(HtmlReport, TablesFormatNumbersAndRightAlignThem) {
  HtmlReport r("tables");
  r.section("t", "Tables");
  r.table({"layer", "MI (bits)", "n"}, {{"layer 1", 0.0123456, 12345}, {"layer *2*", 1234567.0, 7}}, "MI per layer");
  r.table({"a"}, {{1.0 / 3.0}}, "", 5);
  r.key_values({{"images", 26000000L}, {"accuracy", 0.91234}, {"preset", "paper"}}, "Run");
  const std::string html = r.html();
  const Parsed p = parse_html(html);
  EXPECT_EQ(p.all("table").size(), 4u);  // three here and the provenance
  const auto tds = p.all("td");
  std::vector<std::string> texts;
  for (const auto* td : tds) texts.push_back(td->text);
  ASSERT_GE(texts.size(), 10u);
  EXPECT_EQ(texts[0], "layer 1");
  EXPECT_EQ(texts[1], "0.0123");
  EXPECT_EQ(texts[2], "12345");
  EXPECT_EQ(texts[4], "1.23e6");
  EXPECT_EQ(texts[6], "0.33333");
  EXPECT_EQ(texts[7], "26000000");
  EXPECT_EQ(texts[8], "0.912");
  EXPECT_EQ(texts[9], "paper");
  EXPECT_TRUE(tds[1]->has_class("num"));
  EXPECT_FALSE(tds[0]->has_class("num"));
  EXPECT_NE(html.find("<td>layer <em>2</em></td>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"col\" class=\"num\">MI (bits)</th>"), std::string::npos);
  EXPECT_NE(html.find("<th scope=\"col\">layer</th>"), std::string::npos);
  // Captioned tables are numbered; an uncaptioned one is not.
  EXPECT_NE(html.find("<caption><span class=\"number\">Table 1.</span> MI per layer</caption>"), std::string::npos);
  EXPECT_EQ(html.find("Table 2."), std::string::npos);

  EXPECT_EQ(error_of([&] { r.table({"a", "b"}, {{1, 2}, {3}}, "bad"); }),
            "HtmlReport: table 'bad' row 2 has 1 cells for 2 columns");
  EXPECT_THROW(r.table({}, {}), Error);
  EXPECT_THROW(r.table({"a"}, {{1}}, "", 0), Error);
  EXPECT_THROW(r.key_values({}), Error);
}

TEST(HtmlReport, FiguresEmbedSvgAndReferencePngsRelatively) {
  LineChart chart;
  chart.title = "accuracy <per layer>";
  chart.series = {{"yaw", {1, 2, 3}, {0.1, 0.5, 0.9}}};
  HtmlReport r("figures");
  r.section("f", "Figures");
  r.figure_svg(line_chart_svg(chart), "Decoding accuracy, *yaw*.");
  r.figure_png("figures/e1 map.png", "MI per vertex.");
  r.figure_png("./maps/./grad.png", "Gradient map.", "gradient of the yaw logit");
  r.figure_svg("<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><rect/></svg>\n", "Standalone file.");
  r.files({{"MI values (JSON)", "data/e1.json"}, {"", "data/e1 mi.npy"}}, "The numbers behind the figures:");
  const std::string html = r.html();
  const Parsed p = parse_html(html);
  EXPECT_EQ(p.all("figure").size(), 4u);
  EXPECT_EQ(p.all("svg").size(), 2u);
  EXPECT_EQ(html.find("<?xml"), std::string::npos);
  const auto imgs = p.all("img");
  ASSERT_EQ(imgs.size(), 2u);
  EXPECT_EQ(imgs[0]->attrs.at("src"), "figures/e1%20map.png");
  EXPECT_EQ(imgs[0]->attrs.at("alt"), "MI per vertex.");
  EXPECT_EQ(imgs[1]->attrs.at("src"), "maps/grad.png");
  EXPECT_EQ(imgs[1]->attrs.at("alt"), "gradient of the yaw logit");
  // Every link is relative: in-page anchors or files inside the report's folder.
  for (const auto* a : p.all("a")) {
    const std::string& href = a->attrs.at("href");
    EXPECT_TRUE(href.starts_with("#") || (!href.starts_with("/") && href.find(':') == std::string::npos &&
                                          href.find("..") == std::string::npos))
        << href;
  }
  EXPECT_NE(html.find("<a href=\"data/e1%20mi.npy\">data/e1 mi.npy</a>"), std::string::npos);
  EXPECT_NE(html.find("<span class=\"number\">Figure 1.</span> Decoding accuracy, <em>yaw</em>."), std::string::npos);
  EXPECT_NE(html.find("Figure 4."), std::string::npos);
  EXPECT_EQ(r.referenced_files(),
            (std::vector<std::string>{"figures/e1 map.png", "maps/grad.png", "data/e1.json", "data/e1 mi.npy"}));
}

TEST(HtmlReport, RefusesPathsOutsideTheReportAndBadFigures) {
  HtmlReport r("paths");
  EXPECT_NE(error_of([&] { r.figure_png("/tmp/a.png", "c"); }).find("is absolute"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("../a.png", "c"); }).find("leaves the report's folder"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("a/../../b.png", "c"); }).find("leaves"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("file:///a.png", "c"); }).find("':'"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("https://x.org/a.png", "c"); }).find("':'"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("a\\b.png", "c"); }).find("backslash"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("a//b.png", "c"); }).find("empty component"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_png("", "c"); }).find("is empty"), std::string::npos);
  EXPECT_NE(error_of([&] { r.files({{"x", "."}}); }).find("names no file"), std::string::npos);
  EXPECT_THROW(r.files({}), Error);
  EXPECT_NE(error_of([&] { r.figure_svg("<div>no</div>", "c"); }).find("is not an <svg> element"), std::string::npos);
  EXPECT_NE(error_of([&] { r.figure_svg("<svg><SCRIPT>x</SCRIPT></svg>", "c"); }).find("script"), std::string::npos);
  EXPECT_TRUE(r.referenced_files().empty());  // refused paths are not recorded
  EXPECT_EQ(r.html().find("<figure"), std::string::npos);
}

TEST(HtmlReport, SectionIdsAreCheckedAndUnique) {
  HtmlReport r("ids");
  r.section("a-1_x", "ok");
  EXPECT_NE(error_of([&] { r.section("a-1_x", "again"); }).find("used twice"), std::string::npos);
  EXPECT_NE(error_of([&] { r.section("1a", "digit first"); }).find("must be a letter"), std::string::npos);
  EXPECT_THROW(r.section("has space", "t"), Error);
  EXPECT_THROW(r.section("", "t"), Error);
  EXPECT_THROW(r.section("a\"b", "t"), Error);
  EXPECT_NE(error_of([&] { r.section("provenance", "p"); }).find("reserved"), std::string::npos);
  EXPECT_THROW(r.section("contents", "c"), Error);
  EXPECT_THROW(r.section("empty-title", ""), Error);
  EXPECT_THROW(HtmlReport(""), Error);
  EXPECT_THROW(r.provenance({{"", "x"}}), Error);
}

TEST(HtmlReport, ProvenanceListsRowsAndTheVersion) {
  HtmlReport r("p");
  r.provenance({{"run", "runs/paper"}, {"commit", "a3a8035"}}).provenance({{"seed", "7"}});
  const Parsed p = parse_html(r.html());
  std::vector<std::string> keys;
  for (const auto* th : p.all("th")) keys.push_back(th->text);
  EXPECT_EQ(keys, (std::vector<std::string>{"run", "commit", "seed", "written by"}));
  const auto tds = p.all("td");
  ASSERT_EQ(tds.size(), 4u);
  EXPECT_EQ(tds[0]->text, "runs/paper");
  EXPECT_TRUE(tds[3]->text.starts_with("deeper "));
}

TEST_F(ReportDir, WriteIsAtomicAndLeavesNoTemporary) {
  fs::create_directories(dir_ / "figures");
  write_text(dir_ / "figures" / "a.png", "png");
  HtmlReport r = sample_report();
  r.figure_png("figures/a.png", "A figure.");
  r.write(dir_ / "index.html");
  EXPECT_EQ(read_text(dir_ / "index.html"), r.html());
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"figures", "index.html"}));
  // Rewriting replaces the file, again without a temporary.
  HtmlReport r2("second");
  r2.write(dir_ / "index.html");
  EXPECT_EQ(read_text(dir_ / "index.html"), r2.html());
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"figures", "index.html"}));
  // The report can be moved with its folder: nothing in it names the folder.
  EXPECT_EQ(read_text(dir_ / "index.html").find(dir_.string()), std::string::npos);
}

TEST_F(ReportDir, FailedWritesLeaveTheOldReportIntact) {
  write_text(dir_ / "index.html", "old report");
  // A missing folder: a clear error, nothing written.
  HtmlReport r = sample_report();
  const std::string missing = error_of([&] { r.write(dir_ / "no-such-folder" / "index.html"); });
  EXPECT_NE(missing.find("folder '" + (dir_ / "no-such-folder").string() + "' does not exist"), std::string::npos)
      << missing;
  EXPECT_FALSE(fs::exists(dir_ / "no-such-folder"));
  // A figure that is not beside the report: refused before anything is written.
  r.figure_png("figures/missing.png", "Missing.");
  const std::string absent = error_of([&] { r.write(dir_ / "index.html"); });
  EXPECT_NE(absent.find("links to 1 missing file"), std::string::npos) << absent;
  EXPECT_NE(absent.find("figures/missing.png"), std::string::npos);
  EXPECT_EQ(read_text(dir_ / "index.html"), "old report");
  // The rename itself fails (the target is a non-empty folder): the temporary is removed.
  fs::create_directories(dir_ / "taken" / "inner");
  HtmlReport ok("ok");
  EXPECT_THROW(ok.write(dir_ / "taken"), Error);
  EXPECT_EQ(entries(dir_), (std::vector<std::string>{"index.html", "taken"}));
  EXPECT_EQ(entries(dir_ / "taken"), (std::vector<std::string>{"inner"}));
  EXPECT_EQ(read_text(dir_ / "index.html"), "old report");
}

}  // namespace
}  // namespace deeper::analysis
