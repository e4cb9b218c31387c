// The shared main() of deeper's benchmark programs (bench/<name>.cpp -> bench_<name>):
//
//   int main(int argc, char** argv) {
//     return deeper::bench::run(argc, argv, "bench_x", "what it measures", [](const deeper::Device& d) {
//       ... set up inputs on d, then benchmark::RegisterBenchmark(...) ...
//     });
//   }
//
// It takes --device=auto|cpu|cuda[:N] (the emulator is refused: it checks kernels, it is not
// timed), prints --help, logs the device choice, runs `setup` (which registers the benchmarks),
// passes every other flag to Google Benchmark, and turns errors into one line and exit code 1
// (2 for usage errors).
#pragma once

#include "kernels/runtime/device.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace deeper::bench {

// Seconds one run of f() takes on `stream`, timed with the device's events (CUDA events on a GPU,
// the steady clock on the CPU).
template <typename F>
double time_once(Stream& stream, F&& f) {
  Event start(stream.device()), stop(stream.device());
  start.record(stream);
  f();
  stop.record(stream);
  stop.synchronize();
  return elapsed_ms(start, stop) * 1e-3;
}

// The timed loop of a benchmark: one warm-up run, then every repetition timed by time_once and
// reported as manual time (register with ->UseManualTime()). Returns the timed seconds in total.
template <typename F>
double timed_loop(benchmark::State& state, Stream& stream, F&& f) {
  f();
  stream.synchronize();
  double total = 0;
  for (auto _ : state) {
    const double s = time_once(stream, f);
    state.SetIterationTime(s);
    total += s;
  }
  return total;
}

inline int run(int argc, char** argv, const char* name, const char* description,
               const std::function<void(const Device&)>& setup) {
  std::string spec = "auto";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--device=", 9) == 0) {
      spec = argv[i] + 9;
    } else if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf("usage: %s [--device=auto|cpu|cuda[:N]] [Google Benchmark flags, e.g. --benchmark_min_time=0.5]\n%s\n",
                  argv[0], description);
      return 0;
    } else {
      rest.push_back(argv[i]);
    }
  }
  try {
    const DeviceChoice choice = select_device(spec);
    if (choice.device.backend == Backend::emu) {
      std::fprintf(stderr, "%s: error: the emulator checks kernels, it is not timed; use --device cpu or cuda\n", name);
      return 2;
    }
    std::fprintf(stderr, "%s: %s\n%s: %s\n", name, choice.why.c_str(), name, describe_device(choice.device).c_str());
    setup(choice.device);
    int bench_argc = static_cast<int>(rest.size());
    benchmark::Initialize(&bench_argc, rest.data());
    if (benchmark::ReportUnrecognizedArguments(bench_argc, rest.data())) return 2;
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s: error: %s\n", name, e.what());
    return 1;
  }
}

}  // namespace deeper::bench
