// Progress: a redrawn bar on a terminal, periodic log lines otherwise, one final line.
#include "core/progress.h"

#include <fmt/format.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>

#include "core/log.h"

namespace deeper {
namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int terminal_columns() {
  winsize size{};
  if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) return size.ws_col;
  if (const char* env = std::getenv("COLUMNS")) {
    const int columns = std::atoi(env);
    if (columns > 0) return columns;
  }
  return 80;
}

ProgressMode resolve(ProgressMode mode) {
  if (mode != ProgressMode::automatic) return mode;
  if (!log::enabled(log::Level::info)) return ProgressMode::silent;
  return log::to_terminal() ? ProgressMode::bar : ProgressMode::lines;
}

}  // namespace

std::string format_rate(double v) {
  if (!std::isfinite(v) || v < 0) return "?";
  static constexpr const char* kSuffix[] = {"", "k", "M", "G", "T"};
  int i = 0;
  while (v >= 999.5 && i < 4) {
    v /= 1000;
    ++i;
  }
  const int decimals = v == 0 ? 0 : v < 9.995 ? 2 : v < 99.95 ? 1 : 0;
  return fmt::format("{:.{}f}{}", v, decimals, kSuffix[i]);
}

std::string format_clock(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 1e9) return "?";
  const auto s = static_cast<std::uint64_t>(std::llround(seconds));
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60);
  return fmt::format("{}:{:02}", s / 60, s % 60);
}

std::string format_duration(double seconds) {
  if (std::isfinite(seconds) && seconds >= 0 && seconds < 59.95) {
    return fmt::format("{:.1f} s", seconds);
  }
  return format_clock(seconds);
}

Progress::Progress(std::string label, std::uint64_t total, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      options_(std::move(options)),
      mode_(resolve(options_.mode)),
      uncaught_at_start_(std::uncaught_exceptions()) {
  if (mode_ == ProgressMode::bar) columns_ = options_.width > 0 ? options_.width : terminal_columns();
  start_ = now();
  last_output_ = start_;
  if (mode_ == ProgressMode::bar) {
    std::lock_guard lock(mutex_);
    log::show_status(status_text(0, 0));
  }
}

Progress::~Progress() {
  try {
    if (std::uncaught_exceptions() > uncaught_at_start_) {
      std::lock_guard lock(mutex_);
      if (!finished_ && mode_ == ProgressMode::bar) log::clear_status();
      finished_ = true;
    } else {
      finish();
    }
  } catch (...) {
    // A destructor must not throw; losing the last progress line is harmless.
  }
}

double Progress::now() const { return options_.clock ? options_.clock() : steady_seconds(); }

void Progress::advance(std::uint64_t n) {
  count_.fetch_add(n);
  if (mode_ == ProgressMode::silent) return;
  const double t = now();
  std::lock_guard lock(mutex_);
  if (finished_) return;
  report_locked(count_.load(), t);  // the latest count: other threads may have added since
}

void Progress::report_locked(std::uint64_t count, double t) {
  const double elapsed = t - start_;
  if (mode_ == ProgressMode::bar) {
    const bool complete = total_ > 0 && count >= total_;
    if (complete || t - last_output_ >= options_.redraw_interval_s) {
      log::show_status(status_text(count, elapsed));
      last_output_ = t;
    }
    return;
  }
  // Lines mode: at each new 10% step short of the end, and whenever the interval has passed.
  const std::uint64_t decile = total_ > 0 ? std::min<std::uint64_t>(count * 10 / total_, 10) : 0;
  const bool new_decile = decile > last_decile_ && decile < 10;
  if (new_decile || t - last_output_ >= options_.line_interval_s) {
    log::info("{}", line_text(count, elapsed));
    last_output_ = t;
    last_decile_ = decile;
  }
}

void Progress::finish() {
  std::lock_guard lock(mutex_);
  if (finished_) return;
  finished_ = true;
  if (mode_ == ProgressMode::silent) return;
  if (mode_ == ProgressMode::bar) log::clear_status();
  const std::uint64_t count = count_.load();
  const double elapsed = now() - start_;
  const double rate = elapsed > 0 ? static_cast<double>(count) / elapsed : 0;
  const std::string amount =
      total_ > 0 && count != total_ ? fmt::format("{}/{}", count, total_) : fmt::format("{}", count);
  log::info("{}done, {} {} in {} ({} {}/s)", label_.empty() ? "" : label_ + ": ", amount, options_.unit,
            format_duration(elapsed), elapsed > 0 ? format_rate(rate) : "?", options_.unit);
}

std::string Progress::line_text(std::uint64_t count, double elapsed) const {
  const double rate = elapsed > 0 ? static_cast<double>(count) / elapsed : 0;
  std::string text = label_.empty() ? "" : label_ + ": ";
  if (total_ > 0) {
    const double remaining = static_cast<double>(total_ - std::min(count, total_));
    text += fmt::format("{}/{} {} ({}%), {} {}/s, ETA {}", count, total_, options_.unit, count * 100 / total_,
                        format_rate(rate), options_.unit, rate > 0 ? format_clock(remaining / rate) : "?");
  } else {
    text += fmt::format("{} {}, {} {}/s", count, options_.unit, format_rate(rate), options_.unit);
  }
  return text;
}

std::string Progress::status_text(std::uint64_t count, double elapsed) const {
  const double rate = elapsed > 0 ? static_cast<double>(count) / elapsed : 0;
  const std::string rate_text = elapsed > 0 ? format_rate(rate) : "?";
  if (total_ == 0) {
    std::string text = fmt::format("{}{} {}  {} {}/s", label_.empty() ? "" : label_ + " ", count,
                                   options_.unit, rate_text, options_.unit);
    return text.substr(0, static_cast<std::size_t>(std::max(columns_ - 1, 1)));
  }
  const std::uint64_t shown = std::min(count, total_);
  const double fraction = static_cast<double>(shown) / static_cast<double>(total_);
  const double remaining = static_cast<double>(total_ - shown);
  const std::string tail =
      fmt::format("{:3}%  {}/{} {}  {} {}/s  ETA {}", shown * 100 / total_, count, total_, options_.unit,
                  rate_text, options_.unit, rate > 0 ? format_clock(remaining / rate) : "?");
  const std::string head = label_.empty() ? "" : label_ + " ";
  // The bar takes what is left of the line, keeping one column free so the line never wraps.
  const int room = columns_ - 1 - static_cast<int>(head.size() + tail.size()) - 3;
  std::string text = head;
  if (room >= 10) {
    const int width = std::min(room, 40);
    const int filled = static_cast<int>(fraction * width);
    text += '[';
    text.append(static_cast<std::size_t>(filled), '#');
    text.append(static_cast<std::size_t>(width - filled), '.');
    text += "] ";
  }
  text += tail;
  return text.substr(0, static_cast<std::size_t>(std::max(columns_ - 1, 1)));
}

}  // namespace deeper
