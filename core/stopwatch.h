// Stopwatch: seconds on the monotonic clock, for phase timings in logs (`--verbose`).
#pragma once

#include <chrono>

namespace deeper {

class Stopwatch {
 public:
  Stopwatch() : start_(std::chrono::steady_clock::now()), lap_(start_) {}
  // Seconds since the last lap() (or construction), and starts a new lap.
  double lap() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - lap_).count();
    lap_ = now;
    return seconds;
  }
  // Seconds since construction.
  double total() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

 private:
  std::chrono::steady_clock::time_point start_, lap_;
};

}  // namespace deeper
