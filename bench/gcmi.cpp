// GCMI kernel benchmarks: copula normalisation and all-pairs MI with fused permutation statistics.
//
//   bench_gcmi [--device=auto|cpu|cuda[:N]] [Google Benchmark flags]
//
// copnorm/V:../N:..         copnorm_rows (stable ties, float output): values/s = V·N/t and GB/s
//                           counting 4 bytes read + 4 written per value.
// allpairs/<math>/U:../P:.. allpairs_mi at F = 64, N = 1000 with P permutations (exceedance counts,
//                           per-(p, f) and per-p maxima): pair_trials/s = U·F·N·(P + 1)/t and
//                           GFLOPs = 2·U·F·N·(P + 1)/t/1e9, for simt_f32 and wmma_bf16.
// Sizes: on the CPU (which runs the cpu reference path of both versions) U = 4096, P = 0 and 10,
// V = 4096; on a GPU U = 2^14, 2^16, 2^18, 2^20, P = 0 and 100, V = 2^16 and 2^20. Inputs are
// random normal rows (random_fill) copula-normalised on the device itself. GPU work is timed with
// CUDA events (manual time), CPU work with the host clock; the first repetition is a warm-up.
#include "bench/harness.h"
#include "core/special_functions.h"
#include "core/stopwatch.h"
#include "infotheory/allpairs_stream.h"
#include "kernels/common/random_fill.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/copnorm.h"
#include "kernels/gcmi/permutations.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/stream.h"

#include <benchmark/benchmark.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

using deeper::Device;
namespace dk = deeper::kernels;

constexpr std::int64_t kFeatures = 64;
constexpr std::int64_t kTrials = 1000;

struct Setup {
  Device device;
  std::int64_t max_units = 0;
  deeper::DeviceBuffer table, raw, zx, zx_bf16, zy, zy_bf16, flags, ties;
  double s_n_f32 = 0, s_n_bf16 = 0;
};
Setup g;

using deeper::bench::timed_loop;

dk::CopnormParams copnorm_params(const deeper::DeviceBuffer& in, std::int64_t rows, float* out,
                                 __nv_bfloat16* out_bf16) {
  dk::CopnormParams p;
  p.in = static_cast<const float*>(in.data());
  p.rows = rows;
  p.n = kTrials;
  p.table = static_cast<const float*>(g.table.data());
  p.out = out;
  p.out_bf16 = out_bf16;
  p.bad = static_cast<std::uint32_t*>(g.flags.data());
  p.ties = static_cast<std::uint32_t*>(g.ties.data());
  return p;
}

// Random normal inputs, copula-normalised on the device: Zx (max_units rows) and Zy (64 rows).
void prepare_inputs() {
  const std::int64_t rows = g.max_units;
  std::vector<float> table(kTrials);
  for (std::int64_t i = 0; i < kTrials; ++i) {
    table[static_cast<std::size_t>(i)] =
        static_cast<float>(deeper::ndtri(static_cast<double>(i + 1) / (kTrials + 1)));
  }
  g.s_n_f32 = dk::table_sum_of_squares(table.data(), kTrials, false);
  g.s_n_bf16 = dk::table_sum_of_squares(table.data(), kTrials, true);
  const auto values = static_cast<std::size_t>(rows * kTrials);
  g.table = deeper::DeviceBuffer(g.device, table.size() * sizeof(float));
  deeper::copy_bytes(g.table.data(), g.device, table.data(), Device::cpu(), g.table.bytes());
  g.raw = deeper::DeviceBuffer(g.device, values * sizeof(float));
  g.zx = deeper::DeviceBuffer(g.device, values * sizeof(float));
  g.zx_bf16 = deeper::DeviceBuffer(g.device, values * sizeof(__nv_bfloat16));
  g.zy = deeper::DeviceBuffer(g.device, kFeatures * kTrials * sizeof(float));
  g.zy_bf16 = deeper::DeviceBuffer(g.device, kFeatures * kTrials * sizeof(__nv_bfloat16));
  g.flags = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(rows) * sizeof(std::uint32_t));
  g.ties = deeper::DeviceBuffer(g.device, static_cast<std::size_t>(rows) * sizeof(std::uint32_t));
  deeper::Stream stream(g.device);
  dk::RandomFillParams fill;
  fill.out = g.raw.data();
  fill.count = rows * kTrials;
  fill.seed = 1;
  fill.dist = dk::RandomDistribution::normal_f32;
  dk::random_fill(g.device, fill, stream.native());
  dk::copnorm_rows(g.device,
                   copnorm_params(g.raw, kFeatures, static_cast<float*>(g.zy.data()),
                                  static_cast<__nv_bfloat16*>(g.zy_bf16.data())),
                   stream.native());
  fill.seed = 2;
  dk::random_fill(g.device, fill, stream.native());
  dk::copnorm_rows(g.device,
                   copnorm_params(g.raw, rows, static_cast<float*>(g.zx.data()),
                                  static_cast<__nv_bfloat16*>(g.zx_bf16.data())),
                   stream.native());
  stream.synchronize();
}

void BM_copnorm(benchmark::State& state) {
  const std::int64_t rows = state.range(0);
  deeper::Stream stream(g.device);
  const auto p = copnorm_params(g.raw, rows, static_cast<float*>(g.zx.data()), nullptr);
  const double seconds = timed_loop(state, stream, [&] { dk::copnorm_rows(g.device, p, stream.native()); });
  const double values = static_cast<double>(rows * kTrials) * static_cast<double>(state.iterations());
  state.counters["values_per_s"] = values / seconds;
  state.counters["GBps"] = 8.0 * values / seconds * 1e-9;
  // Zx now holds the same values again (copnorm of the same raw rows): nothing to restore.
}

void BM_allpairs(benchmark::State& state, dk::AllPairsMath math) {
  const std::int64_t units = state.range(0), perms = state.range(1);
  deeper::Stream stream(g.device);
  const auto pairs = static_cast<std::size_t>(units * kFeatures);
  deeper::DeviceBuffer mi(g.device, pairs * sizeof(float)), r2(g.device, pairs * sizeof(float));
  deeper::DeviceBuffer exceed(g.device, pairs * sizeof(std::uint32_t));
  deeper::DeviceBuffer max_pf(g.device, static_cast<std::size_t>(perms * kFeatures) * sizeof(float) + 4);
  deeper::DeviceBuffer max_p(g.device, static_cast<std::size_t>(perms) * sizeof(float) + 4);
  deeper::DeviceBuffer perm_idx(g.device,
                                static_cast<std::size_t>(perms * kTrials) * sizeof(std::int32_t) + 4);
  if (perms > 0) {
    std::vector<std::int32_t> host(static_cast<std::size_t>(perms * kTrials));
    dk::make_permutations(7, 0, perms, kTrials, host.data());
    deeper::copy_bytes(perm_idx.data(), g.device, host.data(), Device::cpu(),
                       host.size() * sizeof(std::int32_t));
  }
  dk::AllPairsParams p;
  p.math = math;
  p.zx = static_cast<const float*>(g.zx.data());
  p.zy = static_cast<const float*>(g.zy.data());
  p.zx_bf16 = static_cast<const __nv_bfloat16*>(g.zx_bf16.data());
  p.zy_bf16 = static_cast<const __nv_bfloat16*>(g.zy_bf16.data());
  p.units = units;
  p.features = kFeatures;
  p.n = kTrials;
  p.s_n = math == dk::AllPairsMath::wmma_bf16 ? g.s_n_bf16 : g.s_n_f32;
  p.bias = 7.231552e-04;  // c(1000)
  p.mi = static_cast<float*>(mi.data());
  p.r2 = static_cast<float*>(r2.data());
  p.perms = static_cast<const std::int32_t*>(perm_idx.data());
  p.n_perms = perms;
  p.exceed = static_cast<std::uint32_t*>(exceed.data());
  p.max_r2_pf = static_cast<float*>(max_pf.data());
  p.max_r2_p = static_cast<float*>(max_p.data());
  const double seconds = timed_loop(state, stream, [&] { dk::allpairs_mi(g.device, p, stream.native()); });
  const double pair_trials = static_cast<double>(units * kFeatures * kTrials) *
                             static_cast<double>(perms + 1) * static_cast<double>(state.iterations());
  state.counters["pair_trials_per_s"] = pair_trials / seconds;
  state.counters["GFLOPs"] = 2.0 * pair_trials / seconds * 1e-9;
}

// The whole cc job as a user runs it (infotheory/allpairs_stream.h): X streamed from host memory in
// tiles (upload overlapped with compute), copnorm, the all-pairs kernel with permutation statistics,
// and the results back in host memory (U x F MI and exceedance counts, the null maxima). The source
// cycles through a pool of 4,096 host units, so the host's side costs only a memcpy per unit.
void BM_streamed_job(benchmark::State& state) {
  const std::int64_t units = state.range(0), perms = state.range(1);
  constexpr std::int64_t kPool = 4096;
  static std::vector<float> pool;
  static std::vector<double> y;
  if (pool.empty()) {
    std::mt19937 gen(3);
    std::normal_distribution<float> normal;
    pool.resize(static_cast<std::size_t>(kPool * kTrials));
    for (auto& v : pool) v = normal(gen);
    y.resize(static_cast<std::size_t>(kFeatures * kTrials));
    for (auto& v : y) v = normal(gen);
  }
  const deeper::info::UnitSource source = [](std::int64_t first, std::int64_t rows, float* out) {
    for (std::int64_t r = 0; r < rows; ++r) {
      std::memcpy(out + r * kTrials, pool.data() + ((first + r) % kPool) * kTrials, kTrials * sizeof(float));
    }
  };
  deeper::info::AllPairsOptions o;
  o.permutations = static_cast<int>(perms);
  o.permutation_seed = 1;
  o.precision = deeper::info::GemmPrecision::bf16;
  for (auto _ : state) {
    deeper::Stopwatch clock;
    const auto r = deeper::info::gcmi_cc_all_pairs_streamed(g.device, source, units, y.data(), kFeatures, kTrials, o);
    state.SetIterationTime(clock.total());
    benchmark::DoNotOptimize(r.mi.data());
  }
  state.counters["pair_trials_per_s"] =
      benchmark::Counter(static_cast<double>(units * kFeatures * kTrials) * static_cast<double>(perms + 1),
                         benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  return deeper::bench::run(
      argc, argv, "bench_gcmi",
      "GCMI kernels: copula normalisation (values/s, GB/s) and all-pairs MI with fused permutation\n"
      "statistics (pair-trials/s, GFLOP/s), F = 64 features, N = 1000 trials.",
      [](const deeper::Device& device) {
        g.device = device;
        const bool gpu = device.backend == deeper::Backend::cuda;
        const std::vector<std::int64_t> units =
            gpu ? std::vector<std::int64_t>{1 << 14, 1 << 16, 1 << 18, 1 << 20} : std::vector<std::int64_t>{4096};
        const std::vector<std::int64_t> perms =
            gpu ? std::vector<std::int64_t>{0, 100} : std::vector<std::int64_t>{0, 10};
        const std::vector<std::int64_t> copnorm_rows =
            gpu ? std::vector<std::int64_t>{1 << 16, 1 << 20} : std::vector<std::int64_t>{4096};
        g.max_units = units.back();
        prepare_inputs();
        auto* copnorm = benchmark::RegisterBenchmark("copnorm", BM_copnorm)->ArgNames({"V"});
        for (const auto v : copnorm_rows) copnorm->Arg(v);
        copnorm->UseManualTime()->Unit(benchmark::kMillisecond);
        for (const auto math : {dk::AllPairsMath::simt_f32, dk::AllPairsMath::wmma_bf16}) {
          const char* name = math == dk::AllPairsMath::simt_f32 ? "allpairs/simt_f32" : "allpairs/wmma_bf16";
          auto* b = benchmark::RegisterBenchmark(name, BM_allpairs, math)->ArgNames({"U", "P"});
          for (const auto u : units) {
            for (const auto p : perms) b->Args({u, p});
          }
          // The target job: U = 2^20, F = 64, N = 1000 with 1000 permutations (tensor cores).
          if (gpu && math == dk::AllPairsMath::wmma_bf16) b->Args({units.back(), 1000});
          b->UseManualTime()->Unit(benchmark::kMillisecond);
        }
        if (gpu) {
          benchmark::RegisterBenchmark("streamed_job/bf16", BM_streamed_job)
              ->ArgNames({"U", "P"})
              ->Args({units.back(), 0})
              ->Args({units.back(), 1000})
              ->UseManualTime()
              ->Unit(benchmark::kMillisecond);
        }
      });
}
