// Progress reporting for long work (rendering, training epochs, permutation nulls).
//
// On a terminal: one bar at the bottom of the screen, redrawn in place, with count/total, rate and
// ETA; log records written meanwhile appear above it (core/log.h keeps it there):
//   render [##########..........]  50%  5000/10000 images  1.23k images/s  ETA 0:04
// Otherwise (a log file, CI): plain log lines at every 10% and at least every `line_interval_s`:
//   deeper-render: render: 5000/10000 images (50%), 1.23k images/s, ETA 0:04
// and in both cases one final line when the work is done:
//   deeper-render: render: done, 10000 images in 8.1 s (1.23k images/s)
// With --quiet (log level below info) nothing is printed. A terminal has one status line: show one
// bar at a time (a second live bar replaces the first).
//
//   deeper::Progress progress("render", n_images, {.unit = "images"});
//   for (...) { ...; progress.advance(batch); }   // from any thread
//   progress.finish();                             // or let the destructor do it
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

namespace deeper {

enum class ProgressMode {
  automatic,  // silent if the log level is below info, else a bar on a terminal, else lines
  bar,        // the redrawn bar (through log::show_status)
  lines,      // periodic log lines
  silent,     // nothing
};

struct ProgressOptions {
  std::string unit = "items";  // what is counted, plural: "images", "steps", "pairs"
  ProgressMode mode = ProgressMode::automatic;
  double line_interval_s = 30.0;   // lines mode: a line at least this often (and at every 10%)
  double redraw_interval_s = 0.1;  // bar mode: redraw at most this often
  int width = 0;                   // bar mode: columns; 0 asks the terminal (80 if it cannot)
  std::function<double()> clock;   // seconds on a monotonic clock; empty: std::steady_clock
};

class Progress {
 public:
  // `total` 0 means unknown: no percentage, bar or ETA, only count and rate.
  Progress(std::string label, std::uint64_t total, ProgressOptions options = {});
  // Finishes (final line) if not yet finished; during stack unwinding by an exception it only
  // erases the bar, so a failed run does not claim to be done.
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Counts `n` more items done; thread-safe.
  void advance(std::uint64_t n = 1);
  // Erases the bar and prints the final line; later calls do nothing.
  void finish();

  std::uint64_t count() const { return count_.load(); }
  std::uint64_t total() const { return total_; }
  // The mode in effect (never automatic).
  ProgressMode mode() const { return mode_; }

 private:
  double now() const;
  std::string status_text(std::uint64_t count, double elapsed) const;
  std::string line_text(std::uint64_t count, double elapsed) const;
  void report_locked(std::uint64_t count, double t);

  std::string label_;
  std::uint64_t total_;
  ProgressOptions options_;
  ProgressMode mode_;
  int columns_ = 80;
  double start_ = 0;
  int uncaught_at_start_ = 0;
  std::atomic<std::uint64_t> count_{0};

  std::mutex mutex_;  // guards what follows
  bool finished_ = false;
  double last_output_ = 0;  // time of the last line or redraw
  std::uint64_t last_decile_ = 0;
};

// Formatting helpers, shared with anything that prints rates and durations.
// 0.512, 12.3, 512, 1.23k, 45.6M, 7.89G
std::string format_rate(double per_second);
// "8.1 s" below a minute, else as format_clock
std::string format_duration(double seconds);
// "m:ss" or "h:mm:ss" (an ETA); "?" for a negative or non-finite time
std::string format_clock(double seconds);

}  // namespace deeper
