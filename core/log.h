// Logging: one line per record on stderr, prefixed with the program name.
//
//   deeper-train: error: checkpoint 'run/ckpt.safetensors' is truncated
//   deeper-train: warning: --threads 64 exceeds the 16 hardware threads
//   deeper-train: using device cuda:0 (NVIDIA H100 80GB HBM3)
//   deeper-train: debug: arena reserved 12.5 GiB
//
// Levels are error < warn < info < debug; records above the current level are dropped. The default
// level is info; --quiet lowers it to warn, --verbose raises it to debug (core/cli.h sets it).
// A record never spans lines: newlines inside a message become "; ".
//
// Everything here is thread-safe: records from several threads never interleave. The same lock
// guards a "status line" (a progress bar, core/progress.h) kept at the bottom of a terminal: a
// record written while it is shown is printed above it and the bar is redrawn below.
#pragma once

#include <fmt/format.h>

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace deeper::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };

// "error", "warn", "info", "debug".
std::string_view level_name(Level level);
// Parses a level name as level_name writes it ("warning" is accepted too); nullopt if unknown.
std::optional<Level> parse_level(std::string_view name);

void set_level(Level level);
Level level();
// True when a record at `level` would be written.
bool enabled(Level level);

// The prefix of every record, e.g. "deeper-train". Defaults to "deeper".
void set_program(std::string_view name);
std::string program();

// Where records go; std::cerr by default. The stream must outlive its use; pass nullptr to go back
// to std::cerr. Meant for tests and for programs that capture their own diagnostics.
void set_stream(std::ostream* stream);
// True when records go to std::cerr and stderr is a terminal.
bool to_terminal();

// Writes one record (if `level` is enabled): "<program>: <level word>: <message>" ("warning" for
// warn; info records carry no level word).
void write(Level level, std::string_view message);

// Shows `text` as the status line, replacing the previous one (carriage return, no newline).
// Only meaningful on a terminal; core/progress.h calls it.
void show_status(std::string_view text);
// Erases the status line, if one is shown. With `keep`, ends it with a newline instead, leaving the
// final bar on screen.
void clear_status(bool keep = false);

template <typename... Args>
void error(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::error)) write(Level::error, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::warn)) write(Level::warn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void info(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::info)) write(Level::info, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::debug)) write(Level::debug, fmt::format(format, std::forward<Args>(args)...));
}

// Redirects records to `stream` and sets the level for its lifetime, then restores both
// (for tests: `log::Capture capture(out, log::Level::debug);`).
class Capture {
 public:
  explicit Capture(std::ostream& stream, std::optional<Level> level = std::nullopt);
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;

 private:
  std::ostream* previous_stream_;
  Level previous_level_;
};

}  // namespace deeper::log
