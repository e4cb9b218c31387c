// Logging: level filter, program-name prefix, one lock for records and the terminal status line.
#include "core/log.h"

#include <unistd.h>

#include <atomic>
#include <iostream>
#include <mutex>

namespace deeper::log {
namespace {

struct State {
  std::mutex mutex;
  std::atomic<Level> level{Level::info};
  std::string program = "deeper";
  std::ostream* stream = nullptr;  // nullptr: std::cerr
  std::string status;              // the status line now shown ("" when none)
};

State& state() {
  static State s;
  return s;
}

std::ostream& out_locked(State& s) { return s.stream ? *s.stream : std::cerr; }

// "\r" back to the line start, then ANSI "erase to end of line".
constexpr std::string_view kEraseLine = "\r\033[K";

// The message on one line: trailing whitespace dropped, inner newlines turned into "; ".
std::string one_line(std::string_view message) {
  while (!message.empty() && (message.back() == '\n' || message.back() == '\r' || message.back() == ' ' ||
                              message.back() == '\t')) {
    message.remove_suffix(1);
  }
  std::string line;
  line.reserve(message.size());
  for (char c : message) {
    if (c == '\n') {
      line += "; ";
    } else if (c != '\r') {
      line += c;
    }
  }
  return line;
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::error:
      return "error";
    case Level::warn:
      return "warn";
    case Level::info:
      return "info";
    case Level::debug:
      return "debug";
  }
  return "unknown";
}

std::optional<Level> parse_level(std::string_view name) {
  if (name == "error") return Level::error;
  if (name == "warn" || name == "warning") return Level::warn;
  if (name == "info") return Level::info;
  if (name == "debug") return Level::debug;
  return std::nullopt;
}

void set_level(Level level) { state().level.store(level); }
Level level() { return state().level.load(); }
bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

void set_program(std::string_view name) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.program = name.empty() ? "deeper" : std::string(name);
}

std::string program() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.program;
}

void set_stream(std::ostream* stream) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.stream = stream;
  s.status.clear();
}

bool to_terminal() {
  State& s = state();
  std::lock_guard lock(s.mutex);
  return s.stream == nullptr && ::isatty(STDERR_FILENO) == 1;
}

void write(Level l, std::string_view message) {
  if (!enabled(l)) return;
  std::string_view word;
  switch (l) {
    case Level::error:
      word = "error: ";
      break;
    case Level::warn:
      word = "warning: ";
      break;
    case Level::info:
      word = "";
      break;
    case Level::debug:
      word = "debug: ";
      break;
  }
  const std::string text = one_line(message);
  State& s = state();
  std::lock_guard lock(s.mutex);
  std::string record = s.status.empty() ? std::string() : std::string(kEraseLine);
  record += fmt::format("{}: {}{}\n", s.program, word, text);
  record += s.status;  // redraw the status line below the record
  std::ostream& out = out_locked(s);
  out << record;
  out.flush();
}

void show_status(std::string_view text) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  s.status.assign(text);
  std::ostream& out = out_locked(s);
  out << kEraseLine << s.status;
  out.flush();
}

void clear_status(bool keep) {
  State& s = state();
  std::lock_guard lock(s.mutex);
  if (s.status.empty()) return;
  s.status.clear();
  std::ostream& out = out_locked(s);
  out << (keep ? std::string_view("\n") : kEraseLine);
  out.flush();
}

Capture::Capture(std::ostream& stream, std::optional<Level> new_level) : previous_level_(level()) {
  State& s = state();
  {
    std::lock_guard lock(s.mutex);
    previous_stream_ = s.stream;
    s.stream = &stream;
    s.status.clear();
  }
  if (new_level) set_level(*new_level);
}

Capture::~Capture() {
  State& s = state();
  {
    std::lock_guard lock(s.mutex);
    s.stream = previous_stream_;
    s.status.clear();
  }
  set_level(previous_level_);
}

}  // namespace deeper::log
