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

#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <exception>
#include <functional>
#include <string>
#include <vector>

namespace deeper::bench {

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
