// Command-line conventions shared by every deeper program, on top of CLI11.
//
// Every program has --help, --version, --device, --seed, --threads, --quiet and --verbose, exits
// with 0 on success, 1 on a runtime error and 2 on a usage error, and reports an error as one line
// on stderr: "deeper-<tool>: error: <what>". A program's main() is one call:
//
//   int main(int argc, char** argv) {
//     std::string out;
//     return deeper::run_main(argc, argv, "render",
//         [&](CLI::App& app) { app.add_option("--out", out, "output folder")->required(); },
//         [&](const deeper::CommonOptions& common) { render(out, common.device, common.seed); });
//   }
//
// The device string is only checked for its form here; resolving it to a device is the runtime's
// job (kernels/runtime/device.h).
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "core/error.h"

namespace deeper {

// Exit statuses.
inline constexpr int kExitSuccess = 0;
inline constexpr int kExitFailure = 1;  // a runtime error: any deeper::Error or std::exception
inline constexpr int kExitUsage = 2;    // a usage error: bad or unknown option, bad value

// A usage error found after parsing (e.g. two options that contradict each other); run_main exits
// with kExitUsage instead of kExitFailure.
class UsageError : public Error {
 public:
  using Error::Error;
};

// The options every program takes. Set fields before add_common_options to change a default.
struct CommonOptions {
  std::string device = "auto";  // auto | cpu | cuda | cuda:N | emu
  std::uint64_t seed = 0;
  int threads = 0;       // 0 before parsing: becomes the hardware thread count
  bool quiet = false;    // log warnings and errors only; no progress output
  bool verbose = false;  // log debug records too
};

// The number of hardware threads (at least 1).
int hardware_threads();

// True for "auto", "cpu", "emu", "cuda" and "cuda:N" with N a decimal number below 1024.
bool is_device_string(std::string_view text);

// A CLI11 validator that accepts exactly what is_device_string accepts.
CLI::Validator device_validator();

// Adds --version (printing "<app name> <DEEPER_VERSION>"), --device, --seed, --threads,
// -q/--quiet and -v/--verbose to `app`, storing into `options`. --quiet and --verbose exclude
// each other. If options.threads is 0, it is set to hardware_threads() first.
void add_common_options(CLI::App& app, CommonOptions& options);

// Applies parsed common options to the process: the log level (quiet: warn, verbose: debug,
// otherwise info).
void apply_common_options(const CommonOptions& options);

// "deeper-<tool>" (a tool already named "deeper-..." is kept as it is).
std::string program_name(std::string_view tool);

using ConfigureFn = std::function<void(CLI::App& app)>;
using BodyFn = std::function<void(const CommonOptions& options)>;

// Runs a program: names it "deeper-<tool>" (for the usage text and log records), adds the common
// options, lets `configure` add the program's own options and subcommands, parses argv, applies
// the common options, then runs `body`. Returns the exit status:
//   0  success, --help, --version;
//   1  body threw deeper::Error, std::exception or anything else;
//   2  a CLI11 parse error (unknown option, missing or bad value, typo: with a "did you mean"
//      hint) or a deeper::UsageError.
// Errors are printed as one log line, "deeper-<tool>: error: <what>". Help and version text go to
// std::cout. No exception escapes. argv[0] is ignored.
int run_main(int argc, const char* const* argv, std::string_view tool, const ConfigureFn& configure,
             const BodyFn& body);
// The same for a program with no options of its own.
int run_main(int argc, const char* const* argv, std::string_view tool, const BodyFn& body);

}  // namespace deeper
