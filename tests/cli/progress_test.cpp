// Progress: plain lines when not on a terminal (every 10%, every interval, one final line), the
// bar's text, silence under --quiet, thread-safe counting, and the number/time formats. A fake
// clock makes rates and ETAs exact.
#include "core/progress.h"

#include <gtest/gtest.h>

#include <limits>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/log.h"

namespace deeper {
namespace {

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// A capture of log output at info level, with a fake clock starting at 100 s.
struct Fixture {
  std::ostringstream out;
  log::Capture capture{out, log::Level::info};
  double t = 100.0;
  ProgressOptions options(ProgressMode mode, const char* unit = "images") {
    ProgressOptions o;
    o.unit = unit;
    o.mode = mode;
    o.clock = [this] { return t; };
    return o;
  }
};

TEST(Progress, LinesAtEveryTenPercentAndAFinalLine) {
  Fixture f;
  {
    Progress progress("render", 100, f.options(ProgressMode::lines));
    for (int i = 0; i < 100; ++i) {
      f.t += 0.01;
      progress.advance();
    }
    progress.finish();
    progress.finish();  // idempotent
  }
  const std::vector<std::string> lines = lines_of(f.out.str());
  ASSERT_EQ(lines.size(), 10u) << f.out.str();
  EXPECT_EQ(lines[0], "deeper: render: 10/100 images (10%), 100 images/s, ETA 0:01");
  EXPECT_EQ(lines[3], "deeper: render: 40/100 images (40%), 100 images/s, ETA 0:01");
  EXPECT_EQ(lines[8], "deeper: render: 90/100 images (90%), 100 images/s, ETA 0:00");
  EXPECT_EQ(lines[9], "deeper: render: done, 100 images in 1.0 s (100 images/s)");
}

TEST(Progress, BigStepsPrintOneLineEach) {
  Fixture f;
  Progress progress("train", 10, f.options(ProgressMode::lines, "steps"));
  f.t += 2;
  progress.advance(4);  // 0% -> 40%: one line, not four
  f.t += 2;
  progress.advance(6);  // reaches the end: the final line is finish's job
  progress.finish();
  const std::vector<std::string> lines = lines_of(f.out.str());
  ASSERT_EQ(lines.size(), 2u) << f.out.str();
  EXPECT_EQ(lines[0], "deeper: train: 4/10 steps (40%), 2.00 steps/s, ETA 0:03");
  EXPECT_EQ(lines[1], "deeper: train: done, 10 steps in 4.0 s (2.50 steps/s)");
}

TEST(Progress, LinesEveryIntervalWhenTotalIsUnknown) {
  Fixture f;
  ProgressOptions options = f.options(ProgressMode::lines, "pairs");
  options.line_interval_s = 30;
  Progress progress("null", 0, options);
  for (int i = 0; i < 12; ++i) {  // 12 steps of 10 s: lines at 30, 60, 90 and 120 s
    f.t += 10;
    progress.advance(1000);
  }
  progress.finish();
  const std::vector<std::string> lines = lines_of(f.out.str());
  ASSERT_EQ(lines.size(), 5u) << f.out.str();
  EXPECT_EQ(lines[0], "deeper: null: 3000 pairs, 100 pairs/s");
  EXPECT_EQ(lines[3], "deeper: null: 12000 pairs, 100 pairs/s");
  EXPECT_EQ(lines[4], "deeper: null: done, 12000 pairs in 2:00 (100 pairs/s)");
}

TEST(Progress, SlowWorkGetsLinesBetweenDeciles) {
  Fixture f;
  ProgressOptions options = f.options(ProgressMode::lines);
  options.line_interval_s = 60;
  Progress progress("", 1000, options);
  f.t += 61;
  progress.advance(1);  // 0.1 %, but a minute has passed
  EXPECT_EQ(lines_of(f.out.str()).back(), "deeper: 1/1000 images (0%), 0.02 images/s, ETA 16:55:39");
  f.t += 1;
  progress.advance(1);  // neither a new decile nor an interval: nothing
  EXPECT_EQ(lines_of(f.out.str()).size(), 1u);
}

TEST(Progress, EarlyFinishSaysHowFar) {
  Fixture f;
  Progress progress("render", 10, f.options(ProgressMode::lines));
  f.t += 1;
  progress.advance(3);
  progress.finish();
  EXPECT_EQ(lines_of(f.out.str()).back(), "deeper: render: done, 3/10 images in 1.0 s (3.00 images/s)");
}

TEST(Progress, DestructorFinishes) {
  Fixture f;
  {
    Progress progress("render", 2, f.options(ProgressMode::lines));
    f.t += 1;
    progress.advance(2);
  }
  EXPECT_EQ(lines_of(f.out.str()).back(), "deeper: render: done, 2 images in 1.0 s (2.00 images/s)");
}

TEST(Progress, UnwindingDoesNotClaimDone) {
  Fixture f;
  try {
    Progress progress("render", 100, f.options(ProgressMode::lines));
    progress.advance(5);
    throw std::runtime_error("render failed");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(f.out.str().find("done"), std::string::npos) << f.out.str();
}

TEST(Progress, QuietPrintsNothing) {
  std::ostringstream out;
  log::Capture capture(out, log::Level::warn);
  {
    Progress progress("render", 10);
    EXPECT_EQ(progress.mode(), ProgressMode::silent);
    progress.advance(10);
  }
  EXPECT_EQ(out.str(), "");
}

TEST(Progress, NotATerminalMeansLines) {
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  Progress progress("render", 10);
  EXPECT_EQ(progress.mode(), ProgressMode::lines);
}

TEST(Progress, BarIsRedrawnInPlaceAndFitsTheWidth) {
  Fixture f;
  ProgressOptions options = f.options(ProgressMode::bar);
  options.width = 80;
  options.redraw_interval_s = 0.5;
  {
    Progress progress("render", 200, options);
    f.t += 1;
    progress.advance(100);
    f.t += 0.1;
    progress.advance(10);  // within the redraw interval: not drawn
    f.t += 0.9;
    progress.advance(90);  // complete: drawn at once
    progress.finish();
  }
  const std::string text = f.out.str();
  const std::string erase = "\r\033[K";
  // Draws: the empty bar, 50%, 100%; then the erase before the final line.
  std::vector<std::string> draws;
  for (std::size_t at = text.find(erase); at != std::string::npos;) {
    const std::size_t next = text.find(erase, at + erase.size());
    draws.push_back(text.substr(at + erase.size(),
                                next == std::string::npos ? std::string::npos : next - at - erase.size()));
    at = next;
  }
  ASSERT_EQ(draws.size(), 4u) << text;
  EXPECT_EQ(draws[1].substr(0, 8), "render [");
  EXPECT_NE(draws[1].find("]  50%  100/200 images  100 images/s  ETA 0:01"), std::string::npos) << draws[1];
  EXPECT_NE(draws[2].find("100%  200/200 images  100 images/s  ETA 0:00"), std::string::npos) << draws[2];
  EXPECT_NE(draws[2].find(std::string(draws[2].find(']') - draws[2].find('[') - 1, '#')), std::string::npos);
  for (std::size_t i = 0; i < 3; ++i) EXPECT_LT(draws[i].size(), 80u) << draws[i];
  EXPECT_EQ(draws[3], "deeper: render: done, 200 images in 2.0 s (100 images/s)\n");
}

TEST(Progress, NarrowTerminalDropsTheBarButNotTheNumbers) {
  Fixture f;
  ProgressOptions options = f.options(ProgressMode::bar);
  options.width = 56;
  Progress progress("render", 200, options);
  f.t += 1;
  progress.advance(100);
  const std::string text = f.out.str();
  const std::string last = text.substr(text.rfind('\033') + 3);
  EXPECT_EQ(last, "render  50%  100/200 images  100 images/s  ETA 0:01");
  progress.finish();
}

TEST(Progress, AdvanceIsThreadSafe) {
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  ProgressOptions options;
  options.mode = ProgressMode::lines;
  options.line_interval_s = 1e9;  // lines only at deciles
  constexpr int kThreads = 8, kSteps = 20000;
  Progress progress("count", kThreads * kSteps, options);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kSteps; ++i) progress.advance();
    });
  }
  for (std::thread& thread : threads) thread.join();
  progress.finish();
  EXPECT_EQ(progress.count(), static_cast<std::uint64_t>(kThreads * kSteps));
  const std::vector<std::string> lines = lines_of(out.str());
  EXPECT_EQ(lines.size(), 10u) << out.str();  // nine deciles and the final line
  EXPECT_NE(lines.back().find("done, 160000 items"), std::string::npos) << lines.back();
}

TEST(ProgressFormat, Rate) {
  EXPECT_EQ(format_rate(0), "0");
  EXPECT_EQ(format_rate(0.512), "0.51");
  EXPECT_EQ(format_rate(12.34), "12.3");
  EXPECT_EQ(format_rate(512), "512");
  EXPECT_EQ(format_rate(999.4), "999");
  EXPECT_EQ(format_rate(999.6), "1.00k");
  EXPECT_EQ(format_rate(1234), "1.23k");
  EXPECT_EQ(format_rate(45.6e6), "45.6M");
  EXPECT_EQ(format_rate(7.89e9), "7.89G");
  EXPECT_EQ(format_rate(-1), "?");
}

TEST(ProgressFormat, Durations) {
  EXPECT_EQ(format_duration(8.14), "8.1 s");
  EXPECT_EQ(format_duration(75), "1:15");
  EXPECT_EQ(format_clock(4), "0:04");
  EXPECT_EQ(format_clock(3725), "1:02:05");
  EXPECT_EQ(format_clock(-1), "?");
  EXPECT_EQ(format_clock(std::numeric_limits<double>::infinity()), "?");
}

}  // namespace
}  // namespace deeper
