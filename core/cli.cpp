// Command-line conventions: the common options, the device-string check, and run_main, which turns
// every outcome (success, help, usage error, runtime error) into an exit status and one line.
#include "core/cli.h"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <exception>
#include <iostream>
#include <thread>
#include <vector>

#include "core/log.h"

namespace deeper {
namespace {

constexpr int kMaxThreads = 1 << 16;

// Levenshtein distance, for "did you mean" hints on mistyped options.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Every spelling of every option of `app` and of the subcommands that were used.
void collect_option_names(const CLI::App& app, std::vector<std::string>& names) {
  for (const CLI::Option* option : app.get_options()) {
    for (const std::string& name : option->get_lnames()) names.push_back("--" + name);
    for (const std::string& name : option->get_snames()) names.push_back("-" + name);
  }
  for (const CLI::App* sub : app.get_subcommands()) collect_option_names(*sub, names);
}

// The closest option name to `arg` ("--devcie=cpu" -> "--device"), or "" when none is close.
std::string closest_option(const CLI::App& app, std::string_view arg) {
  arg = arg.substr(0, arg.find('='));
  std::vector<std::string> names;
  collect_option_names(app, names);
  std::string best;
  std::size_t best_distance = std::max<std::size_t>(2, arg.size() / 3) + 1;
  for (const std::string& name : names) {
    const bool prefix = arg.size() > 3 && name.starts_with(arg);
    const std::size_t distance = prefix ? 1 : edit_distance(arg, name);
    if (distance < best_distance) {
      best = name;
      best_distance = distance;
    }
  }
  return best;
}

// One clear line for arguments nobody asked for: the unknown options (with a hint when one is close
// to a real option), or, when there are none, the unexpected positional arguments. Values after an
// unknown option are most likely its own, so they are not reported separately.
std::string describe_extras(const CLI::App& app, const std::vector<std::string>& extras) {
  std::string options, positionals;
  for (const std::string& arg : extras) {
    if (arg.size() > 1 && arg[0] == '-') {
      if (!options.empty()) options += "; ";
      options += fmt::format("unknown option '{}'", arg);
      const std::string hint = closest_option(app, arg);
      if (!hint.empty()) options += fmt::format(" (did you mean '{}'?)", hint);
    } else {
      positionals += fmt::format("{}'{}'", positionals.empty() ? "" : ", ", arg);
    }
  }
  if (!options.empty()) return options;
  return fmt::format("unexpected argument{} {}", extras.size() > 1 ? "s" : "", positionals);
}

// Reports an error as one log line, never throwing (the wrapper's last line of defence).
void report(std::string_view what) noexcept {
  try {
    log::write(log::Level::error, what);
  } catch (...) {
    // Nothing left to report with; the exit status still tells.
  }
}

int parse_and_run(CLI::App& app, int argc, const char* const* argv, CommonOptions& common,
                  const BodyFn& body) {
  // Unknown arguments are collected rather than thrown about, so that the error can name them and
  // suggest a fix. A program that asked for extras itself (allow_extras) gets them unchecked.
  const bool program_takes_extras = app.get_allow_extras();
  app.allow_extras(true);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) {
      app.exit(e, std::cout, std::cerr);  // --help, --help-all, --version
      std::cout.flush();
      return kExitSuccess;
    }
    report(e.what());
    return kExitUsage;
  }
  if (!program_takes_extras) {
    const std::vector<std::string> extras = app.remaining(true);
    if (!extras.empty()) {
      report(describe_extras(app, extras));
      return kExitUsage;
    }
  }
  apply_common_options(common);
  body(common);
  return kExitSuccess;
}

}  // namespace

int hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : static_cast<int>(std::min<unsigned>(n, kMaxThreads));
}

bool is_device_string(std::string_view text) {
  if (text == "auto" || text == "cpu" || text == "emu" || text == "cuda") return true;
  if (!text.starts_with("cuda:")) return false;
  const std::string_view index = text.substr(5);
  if (index.empty() || index.size() > 4) return false;
  if (!std::all_of(index.begin(), index.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return std::stoi(std::string(index)) < 1024;
}

CLI::Validator device_validator() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (is_device_string(value)) return {};
        return fmt::format("'{}' is not a device; use auto, cpu, cuda, cuda:N or emu", value);
      },
      "", "DEVICE");
}

void add_common_options(CLI::App& app, CommonOptions& options) {
  if (options.threads == 0) options.threads = hardware_threads();
  app.set_version_flag("--version", fmt::format("{} {}", app.get_name(), DEEPER_VERSION),
                       "Print the version and exit");
  app.add_option("--device", options.device,
                 "Where to run: auto (CUDA if a GPU and driver are usable, else CPU), cpu, cuda, "
                 "cuda:N, or emu (CUDA kernels under the CPU emulator)")
      ->type_name("auto|cpu|cuda[:N]|emu")
      ->check(device_validator())
      ->capture_default_str();
  app.add_option("--seed", options.seed, "Seed of every random choice (0 to 2^64-1)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            // Checked here because the conversion alone would wrap "-1" and overflow silently.
            std::uint64_t n = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || end != value.data() + value.size()) {
              return fmt::format("'{}' is not a seed; use a whole number from 0 to 2^64-1", value);
            }
            return {};
          },
          "", "SEED"))
      ->capture_default_str();
  app.add_option("--threads", options.threads, "CPU threads to use (at least 1)")
      ->check(CLI::Validator(
          [](std::string& value) -> std::string {
            int n = 0;
            const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
            if (ec != std::errc() || end != value.data() + value.size() || n < 1 || n > kMaxThreads) {
              return fmt::format("'{}' is not a thread count; use a whole number from 1 to {}", value,
                                 kMaxThreads);
            }
            return {};
          },
          "", "THREADS"))
      ->capture_default_str();
  CLI::Option* quiet =
      app.add_flag("-q,--quiet", options.quiet, "Only warnings and errors; no progress output");
  CLI::Option* verbose = app.add_flag("-v,--verbose", options.verbose, "Also debug messages");
  quiet->excludes(verbose);
}

void apply_common_options(const CommonOptions& options) {
  if (options.quiet) {
    log::set_level(log::Level::warn);
  } else if (options.verbose) {
    log::set_level(log::Level::debug);
  } else {
    log::set_level(log::Level::info);
  }
  if (options.threads > 0) omp_set_num_threads(options.threads);  // the CPU backend's parallel loops
}

std::string program_name(std::string_view tool) {
  if (tool == "deeper" || tool.starts_with("deeper-")) return std::string(tool);
  return fmt::format("deeper-{}", tool);
}

int run_main(int argc, const char* const* argv, std::string_view tool, const ConfigureFn& configure,
             const BodyFn& body) {
  try {
    const std::string name = program_name(tool);
    log::set_program(name);
    CLI::App app(std::string(), name);
    CommonOptions common;
    add_common_options(app, common);
    if (configure) configure(app);
    const char* const no_args[] = {name.c_str()};
    if (argc < 1 || argv == nullptr) return parse_and_run(app, 1, no_args, common, body);
    return parse_and_run(app, argc, argv, common, body);
  } catch (const UsageError& e) {
    report(e.what());
    return kExitUsage;
  } catch (const std::exception& e) {  // deeper::Error included
    report(e.what());
    return kExitFailure;
  } catch (...) {
    report("unknown error (an exception that is not a std::exception)");
    return kExitFailure;
  }
}

int run_main(int argc, const char* const* argv, std::string_view tool, const BodyFn& body) {
  return run_main(argc, argv, tool, ConfigureFn(), body);
}

}  // namespace deeper
