// run_main: exit statuses (0/1/2), the one-line error format, --help/--version, typos, and the
// common options as a program sees them. argv arrays in, captured stdout/stderr out.
#include <omp.h>
#include <gtest/gtest.h>

#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/cli.h"
#include "core/log.h"

namespace deeper {
namespace {

struct Outcome {
  int status = -1;
  std::string out;  // std::cout
  std::string err;  // log records (stderr)
  bool ran = false;
  CommonOptions options;
};

// Runs run_main on {"prog", args...} as tool "t", with `configure` and a body that records the
// options and then calls `work`.
Outcome run(std::vector<std::string> args, const ConfigureFn& configure = {},
            const std::function<void()>& work = {}) {
  args.insert(args.begin(), "prog");
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  Outcome outcome;
  std::ostringstream out, err;
  std::streambuf* saved = std::cout.rdbuf(out.rdbuf());
  {
    log::Capture capture(err);
    outcome.status = run_main(static_cast<int>(argv.size()), argv.data(), "t", configure,
                              [&](const CommonOptions& options) {
                                outcome.ran = true;
                                outcome.options = options;
                                if (work) work();
                              });
  }
  std::cout.rdbuf(saved);
  outcome.out = out.str();
  outcome.err = err.str();
  return outcome;
}

// True when `text` is exactly one line "deeper-t: error: ..." containing `part`.
::testing::AssertionResult is_error_line(const std::string& text, const std::string& part) {
  if (text.rfind("deeper-t: error: ", 0) != 0) {
    return ::testing::AssertionFailure() << "no 'deeper-t: error: ' prefix: " << text;
  }
  if (text.find('\n') != text.size() - 1) {
    return ::testing::AssertionFailure() << "not exactly one line: " << text;
  }
  if (text.find(part) == std::string::npos) {
    return ::testing::AssertionFailure() << "'" << part << "' missing from: " << text;
  }
  return ::testing::AssertionSuccess();
}

TEST(RunMain, SuccessRunsTheBodyAndParsesCommonOptions) {
  const Outcome o = run({"--device", "cuda:1", "--seed", "18446744073709551615", "--threads", "3"});
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_TRUE(o.ran);
  EXPECT_EQ(o.err, "");
  EXPECT_EQ(o.options.device, "cuda:1");
  EXPECT_EQ(o.options.seed, 18446744073709551615ull);
  EXPECT_EQ(o.options.threads, 3);
}

TEST(RunMain, ThreadsSetsTheCpuBackendsThreadCount) {
  const int before = omp_get_max_threads();
  int inside = 0;
  const Outcome o = run({"--threads", "1"}, {}, [&] { inside = omp_get_max_threads(); });
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_EQ(inside, 1);
  omp_set_num_threads(before);
}

TEST(RunMain, Defaults) {
  const Outcome o = run({});
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_EQ(o.options.device, "auto");
  EXPECT_EQ(o.options.seed, 0u);
  EXPECT_EQ(o.options.threads, hardware_threads());
  EXPECT_GE(o.options.threads, 1);
  EXPECT_FALSE(o.options.quiet);
  EXPECT_FALSE(o.options.verbose);
}

TEST(RunMain, ProgramOptionsFromConfigure) {
  std::string out_dir;
  const Outcome o =
      run({"--out=run1", "--seed=5"}, [&](CLI::App& app) { app.add_option("--out", out_dir)->required(); });
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_EQ(out_dir, "run1");
  EXPECT_EQ(o.options.seed, 5u);
}

TEST(RunMain, DeeperErrorIsARuntimeError) {
  const Outcome o = run({}, {}, [] { fail("checkpoint '{}' is truncated", "a.safetensors"); });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_EQ(o.err, "deeper-t: error: checkpoint 'a.safetensors' is truncated\n");
}

TEST(RunMain, StdExceptionIsARuntimeError) {
  const Outcome o = run({}, {}, [] { throw std::runtime_error("disk full"); });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_EQ(o.err, "deeper-t: error: disk full\n");
}

TEST(RunMain, NonStandardExceptionIsCaught) {
  const Outcome o = run({}, {}, [] { throw 42; });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_TRUE(is_error_line(o.err, "unknown error"));
}

TEST(RunMain, MultiLineMessageBecomesOneLine) {
  const Outcome o = run({}, {}, [] { throw Error("first\nsecond\n"); });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_EQ(o.err, "deeper-t: error: first; second\n");
}

TEST(RunMain, UsageErrorFromTheBodyExitsTwo) {
  const Outcome o = run({}, {}, [] { throw UsageError("--from must be before --to"); });
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_EQ(o.err, "deeper-t: error: --from must be before --to\n");
}

TEST(RunMain, ErrorInConfigureIsCaught) {
  // Adding --seed twice is a programming error that CLI11 throws about; it must not escape.
  const Outcome o = run({}, [](CLI::App& app) { app.add_flag("--seed"); });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_FALSE(o.ran);
  EXPECT_TRUE(is_error_line(o.err, "seed"));
}

TEST(RunMain, TypoGetsASuggestion) {
  const Outcome o = run({"--devcie", "cpu"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_FALSE(o.ran);
  EXPECT_TRUE(is_error_line(o.err, "unknown option '--devcie' (did you mean '--device'?)"));
}

TEST(RunMain, TypoWithEqualsGetsASuggestion) {
  const Outcome o = run({"--sed=4"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "unknown option '--sed=4' (did you mean '--seed'?)"));
}

TEST(RunMain, UnknownOptionWithoutNeighbour) {
  const Outcome o = run({"--frobnicate-everything"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "unknown option '--frobnicate-everything'"));
  EXPECT_EQ(o.err.find("did you mean"), std::string::npos);
}

TEST(RunMain, UnexpectedPositional) {
  const Outcome o = run({"stray"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "unexpected argument 'stray'"));
}

TEST(RunMain, SeveralUnexpectedPositionals) {
  const Outcome o = run({"a", "b"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "unexpected arguments 'a', 'b'"));
}

TEST(RunMain, UnknownOptionsAreReportedBeforePositionals) {
  const Outcome o = run({"stray", "--quite", "--tread", "4"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err,
                            "unknown option '--quite' (did you mean '--quiet'?); "
                            "unknown option '--tread' (did you mean '--threads'?)"));
  EXPECT_EQ(o.err.find("stray"), std::string::npos);
}

TEST(RunMain, ProgramThatTakesExtrasGetsThem) {
  std::vector<std::string> extras;
  CLI::App* seen = nullptr;
  const Outcome o = run(
      {"--seed", "3", "--passed-through", "x"},
      [&](CLI::App& app) {
        app.allow_extras();
        seen = &app;
      },
      [&] { extras = seen->remaining(); });
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_EQ(extras, (std::vector<std::string>{"--passed-through", "x"}));
  EXPECT_EQ(o.options.seed, 3u);
}

TEST(RunMain, MissingRequiredOption) {
  std::string out_dir;
  const Outcome o = run({}, [&](CLI::App& app) { app.add_option("--out", out_dir)->required(); });
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_FALSE(o.ran);
  EXPECT_TRUE(is_error_line(o.err, "--out"));
}

TEST(RunMain, MissingValue) {
  const Outcome o = run({"--seed"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "seed"));
}

TEST(RunMain, HelpExitsZeroAndListsTheCommonOptions) {
  const Outcome o = run({"--help"});
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_FALSE(o.ran);
  EXPECT_EQ(o.err, "");
  for (const char* option : {"Usage: deeper-t", "--version", "--device", "auto|cpu|cuda[:N]|emu", "--seed",
                             "--threads", "--quiet", "--verbose"}) {
    EXPECT_NE(o.out.find(option), std::string::npos) << option << " missing from\n" << o.out;
  }
}

TEST(RunMain, VersionExitsZero) {
  const Outcome o = run({"--version"});
  EXPECT_EQ(o.status, kExitSuccess);
  EXPECT_FALSE(o.ran);
  EXPECT_EQ(o.out, std::string("deeper-t ") + DEEPER_VERSION + "\n");
}

TEST(RunMain, BadDeviceIsAUsageError) {
  const Outcome o = run({"--device", "gpu"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_TRUE(is_error_line(o.err, "'gpu' is not a device; use auto, cpu, cuda, cuda:N or emu"));
}

TEST(RunMain, BadThreadCounts) {
  for (const char* bad : {"0", "-2", "abc", "1.5", "70000"}) {
    const Outcome o = run({"--threads", bad});
    EXPECT_EQ(o.status, kExitUsage) << bad;
    EXPECT_TRUE(is_error_line(o.err, "thread")) << bad;
  }
}

TEST(RunMain, BadSeeds) {
  for (const char* bad : {"abc", "-1", "18446744073709551616", "1e3"}) {
    const Outcome o = run({std::string("--seed=") + bad});
    EXPECT_EQ(o.status, kExitUsage) << bad;
    EXPECT_TRUE(is_error_line(o.err, "seed")) << bad << ": " << o.err;
  }
}

TEST(RunMain, QuietAndVerboseExcludeEachOther) {
  const Outcome o = run({"--quiet", "--verbose"});
  EXPECT_EQ(o.status, kExitUsage);
  EXPECT_FALSE(o.ran);
}

TEST(RunMain, QuietAndVerboseSetTheLogLevel) {
  log::Level seen = log::Level::error;
  auto probe = [&] { seen = log::level(); };
  EXPECT_EQ(run({"-q"}, {}, probe).status, kExitSuccess);
  EXPECT_EQ(seen, log::Level::warn);
  EXPECT_EQ(run({"--verbose"}, {}, probe).status, kExitSuccess);
  EXPECT_EQ(seen, log::Level::debug);
  EXPECT_EQ(run({}, {}, probe).status, kExitSuccess);
  EXPECT_EQ(seen, log::Level::info);
}

TEST(RunMain, QuietStillReportsErrors) {
  const Outcome o = run({"--quiet"}, {}, [] { fail("no space left"); });
  EXPECT_EQ(o.status, kExitFailure);
  EXPECT_EQ(o.err, "deeper-t: error: no space left\n");
}

TEST(RunMain, NoArgumentsAtAll) {
  std::ostringstream err;
  log::Capture capture(err);
  bool ran = false;
  EXPECT_EQ(run_main(0, nullptr, "t", [&](const CommonOptions&) { ran = true; }), kExitSuccess);
  EXPECT_TRUE(ran);
}

TEST(ProgramName, PrefixesDeeperOnce) {
  EXPECT_EQ(program_name("render"), "deeper-render");
  EXPECT_EQ(program_name("deeper-render"), "deeper-render");
  EXPECT_EQ(program_name("deeper"), "deeper");
  EXPECT_EQ(program_name("deeperish"), "deeper-deeperish");
}

}  // namespace
}  // namespace deeper
