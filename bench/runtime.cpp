// Runtime benchmarks: the memory-bandwidth ceiling and the first kernels measured against it.
//
//   bench_runtime [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// copy/engine   cudaMemcpyAsync device-to-device (CUDA) or memcpy (CPU): the ceiling, in GB/s
//               counting read + write bytes, measured in this run;
// copy/kernel   deeper's copy kernel (kernels/common/copy.cu), 2 x bytes moved;
// reduce/kernel deeper's two-pass float sum (kernels/common/reduce.cu), 4 bytes read per value.
// Each reports GBps (GB/s) and `of_ceiling`, the fraction of the copy ceiling measured at start-up on
// the same device (a reduction reads only, so its ceiling is the same HBM rate). GPU work is timed
// with CUDA events (manual time); CPU work with the host clock. Buffers are 4x the H100's 50 MB L2
// on a GPU, so every repetition streams from HBM; inputs are random, never zeros.
#include "bench/harness.h"
#include "kernels/common/copy.h"
#include "kernels/common/reduce.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using deeper::bench::time_once;
using deeper::bench::timed_loop;

using deeper::Device;

struct Setup {
  Device device;
  std::size_t bytes = 0;
  double ceiling_gbps = 0;  // copy/engine, measured first
};
Setup g_setup;

void engine_copy(const deeper::DeviceBuffer& src, deeper::DeviceBuffer& dst, deeper::Stream& stream) {
  deeper::copy_bytes(dst.data(), g_setup.device, src.data(), g_setup.device, src.bytes(), &stream);
}

deeper::DeviceBuffer random_buffer(std::size_t bytes, unsigned seed) {
  std::vector<float> host(bytes / sizeof(float));
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  for (auto& v : host) v = dist(gen);
  deeper::DeviceBuffer buffer(g_setup.device, bytes);
  deeper::copy_bytes(buffer.data(), g_setup.device, host.data(), Device::cpu(), bytes);
  return buffer;
}

// Counters: GB/s over the timed repetitions and its fraction of the copy ceiling of this run.
void report(benchmark::State& state, double bytes_per_iteration, double seconds) {
  const double gbps = bytes_per_iteration * static_cast<double>(state.iterations()) / seconds * 1e-9;
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes_per_iteration * static_cast<double>(state.iterations())));
  state.counters["GBps"] = gbps;
  state.counters["of_ceiling"] = gbps / g_setup.ceiling_gbps;
}

void BM_copy_engine(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  auto src = random_buffer(g_setup.bytes, 1);
  deeper::DeviceBuffer dst(g_setup.device, g_setup.bytes);
  engine_copy(src, dst, stream);  // warm-up
  const double seconds = timed_loop(state, stream, [&] { engine_copy(src, dst, stream); });
  report(state, 2.0 * static_cast<double>(g_setup.bytes), seconds);
}

void BM_copy_kernel(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  auto src = random_buffer(g_setup.bytes, 2);
  deeper::DeviceBuffer dst(g_setup.device, g_setup.bytes);
  const deeper::kernels::CopyParams p{src.data(), dst.data(), static_cast<std::int64_t>(g_setup.bytes)};
  deeper::kernels::copy(g_setup.device, p, stream.native());  // warm-up
  const double seconds = timed_loop(state, stream, [&] { deeper::kernels::copy(g_setup.device, p, stream.native()); });
  report(state, 2.0 * static_cast<double>(g_setup.bytes), seconds);
}

void BM_reduce_kernel(benchmark::State& state) {
  deeper::Stream stream(g_setup.device);
  auto in = random_buffer(g_setup.bytes, 3);
  const auto n = static_cast<std::int64_t>(g_setup.bytes / sizeof(float));
  deeper::DeviceBuffer partials(g_setup.device, deeper::kernels::reduce_sum_blocks(n) * sizeof(float));
  deeper::DeviceBuffer out(g_setup.device, sizeof(float));
  const deeper::kernels::ReduceSumParams p{static_cast<const float*>(in.data()), n, static_cast<float*>(partials.data()),
                                           static_cast<float*>(out.data())};
  deeper::kernels::reduce_sum(g_setup.device, p, stream.native());  // warm-up
  const double seconds =
      timed_loop(state, stream, [&] { deeper::kernels::reduce_sum(g_setup.device, p, stream.native()); });
  report(state, static_cast<double>(g_setup.bytes), seconds);
}

// The ceiling: median GB/s of 10 engine copies, before any benchmark runs.
double measure_ceiling() {
  deeper::Stream stream(g_setup.device);
  auto src = random_buffer(g_setup.bytes, 4);
  deeper::DeviceBuffer dst(g_setup.device, g_setup.bytes);
  engine_copy(src, dst, stream);
  std::vector<double> rates;
  for (int i = 0; i < 10; ++i) {
    const double s = time_once(stream, [&] { engine_copy(src, dst, stream); });
    rates.push_back(2.0 * static_cast<double>(g_setup.bytes) / s * 1e-9);
  }
  std::nth_element(rates.begin(), rates.begin() + 5, rates.end());
  return rates[5];
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_runtime",
      "Copy ceiling, copy kernel and float-sum reduction, in GB/s and as a fraction of the ceiling.",
      [](const Device& device) {
        g_setup.device = device;
        g_setup.bytes = device.backend == deeper::Backend::cuda ? (std::size_t{200} << 20) : (std::size_t{64} << 20);
        g_setup.ceiling_gbps = measure_ceiling();
        std::fprintf(stderr, "bench_runtime: copy ceiling %.1f GB/s (read + write) over %zu MiB buffers\n",
                     g_setup.ceiling_gbps, g_setup.bytes >> 20);
        benchmark::RegisterBenchmark("copy/engine", BM_copy_engine)->UseManualTime()->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark("copy/kernel", BM_copy_kernel)->UseManualTime()->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark("reduce/kernel", BM_reduce_kernel)->UseManualTime()->Unit(benchmark::kMillisecond);
      });
}
