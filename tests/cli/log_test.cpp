// Logging: record format per level, level filtering, one line per record, the status line kept
// below records, and records from many threads never interleaving.
#include "core/log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace deeper {
namespace {

// Sets the program name for one test and restores the default afterwards.
struct Program {
  explicit Program(const char* name) { log::set_program(name); }
  ~Program() { log::set_program("deeper"); }
};

TEST(Log, FormatPerLevel) {
  Program program("deeper-t");
  std::ostringstream out;
  log::Capture capture(out, log::Level::debug);
  log::error("bad {}", 1);
  log::warn("odd {}", "x");
  log::info("using device {}", "cpu");
  log::debug("arena {} bytes", 64);
  EXPECT_EQ(out.str(),
            "deeper-t: error: bad 1\n"
            "deeper-t: warning: odd x\n"
            "deeper-t: using device cpu\n"
            "deeper-t: debug: arena 64 bytes\n");
}

TEST(Log, LevelFilters) {
  Program program("deeper-t");
  const std::pair<log::Level, int> cases[] = {
      {log::Level::error, 1}, {log::Level::warn, 2}, {log::Level::info, 3}, {log::Level::debug, 4}};
  for (const auto& [level, expected_lines] : cases) {
    std::ostringstream out;
    log::Capture capture(out, level);
    log::error("e");
    log::warn("w");
    log::info("i");
    log::debug("d");
    const std::string text = out.str();
    EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), expected_lines) << text;
    EXPECT_EQ(log::enabled(log::Level::debug), level == log::Level::debug);
    EXPECT_TRUE(log::enabled(log::Level::error));
  }
}

TEST(Log, CaptureRestoresLevel) {
  const log::Level before = log::level();
  {
    std::ostringstream out;
    log::Capture capture(out, before == log::Level::debug ? log::Level::error : log::Level::debug);
    EXPECT_NE(log::level(), before);
  }
  EXPECT_EQ(log::level(), before);
}

TEST(Log, DefaultProgramName) {
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  log::warn("w");
  EXPECT_EQ(out.str(), "deeper: warning: w\n");
}

TEST(Log, RecordIsOneLine) {
  Program program("deeper-t");
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  log::write(log::Level::warn, "line one\nline two\r\n\n");
  EXPECT_EQ(out.str(), "deeper-t: warning: line one; line two\n");
}

TEST(Log, LevelNames) {
  for (log::Level level : {log::Level::error, log::Level::warn, log::Level::info, log::Level::debug}) {
    EXPECT_EQ(log::parse_level(log::level_name(level)), level);
  }
  EXPECT_EQ(log::parse_level("warning"), log::Level::warn);
  EXPECT_EQ(log::parse_level("loud"), std::nullopt);
}

TEST(Log, StatusLineStaysBelowRecords) {
  Program program("deeper-t");
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  log::show_status("[##..] 50%");
  log::info("checkpoint saved");
  log::clear_status();
  log::info("after");
  EXPECT_EQ(out.str(),
            "\r\033[K[##..] 50%"
            "\r\033[Kdeeper-t: checkpoint saved\n[##..] 50%"
            "\r\033[K"
            "deeper-t: after\n");
}

TEST(Log, ClearStatusKeepingIt) {
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  log::clear_status();  // nothing shown: nothing written
  log::show_status("done");
  log::clear_status(/*keep=*/true);
  EXPECT_EQ(out.str(), "\r\033[Kdone\n");
}

TEST(Log, ThreadsDoNotInterleave) {
  Program program("deeper-t");
  std::ostringstream out;
  log::Capture capture(out, log::Level::info);
  constexpr int kThreads = 8, kRecords = 300;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kRecords; ++i) log::info("thread {} record {} {}", t, i, std::string(40, 'x'));
    });
  }
  for (std::thread& thread : threads) thread.join();
  std::istringstream lines(out.str());
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    ASSERT_EQ(line.rfind("deeper-t: thread ", 0), 0u) << line;
    ASSERT_EQ(line.size() - line.rfind(' ') - 1, 40u) << line;
  }
  EXPECT_EQ(count, kThreads * kRecords);
}

}  // namespace
}  // namespace deeper
