// All-pairs GCMI on a device (cuda or the emulator) through the GCMI kernels, tile by tile with two
// tiles in flight (allpairs_stream.h), and the array entry point of allpairs.h for devices.
#include "infotheory/allpairs_stream.h"
#include "infotheory/allpairs_common.h"

#include "core/error.h"
#include "core/log.h"
#include "core/stopwatch.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/copnorm.h"
#include "kernels/gcmi/permutations.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/nvtx.h"
#include "kernels/runtime/stream.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <vector>

namespace deeper::info {
namespace {

constexpr std::size_t kMaxStagingBytes = std::size_t{256} << 20;  // host staging per tile

template <typename T>
T* as(const DeviceBuffer& b) {
  return static_cast<T*>(b.data());
}
template <typename T>
T* as(const PinnedBuffer& b) {
  return static_cast<T*>(b.data());
}

void check_streamed_arguments(const Device& device, std::int64_t units, std::int64_t features, std::int64_t trials,
                              const AllPairsOptions& options, const TileOptions& tiles) {
  check_all_pairs_arguments(units, features, trials, options);
  if (tiles.tile_units < 0) fail("all-pairs GCMI: tile_units is {}; use 0 (automatic) or a positive count", tiles.tile_units);
  if (device.backend == Backend::cpu) return;
  if (options.precision == GemmPrecision::f64) {
    fail("all-pairs GCMI on {}: precision f64 runs on the CPU backend; use f32 or bf16 here", device.name());
  }
  if (options.gcmi.ties == TiePolicy::average) {
    fail("all-pairs GCMI on {}: --ties average runs on the CPU backend only; use stable or jitter", device.name());
  }
}

// Folds one tile's result (units [first, first + tile.units)) into the whole.
void merge_tile(AllPairsResult& total, const AllPairsResult& tile, std::int64_t first) {
  std::copy(tile.mi.begin(), tile.mi.end(), total.mi.begin() + static_cast<std::ptrdiff_t>(first * total.features));
  if (total.permutations > 0) {
    std::copy(tile.exceed.begin(), tile.exceed.end(),
              total.exceed.begin() + static_cast<std::ptrdiff_t>(first * total.features));
    for (std::size_t i = 0; i < total.max_null.size(); ++i) total.max_null[i] = std::max(total.max_null[i], tile.max_null[i]);
    for (std::size_t i = 0; i < total.max_null_all.size(); ++i) {
      total.max_null_all[i] = std::max(total.max_null_all[i], tile.max_null_all[i]);
    }
  }
  total.tie_fraction_x.insert(total.tie_fraction_x.end(), tile.tie_fraction_x.begin(), tile.tie_fraction_x.end());
  if (total.tie_fraction_y.empty()) total.tie_fraction_y = tile.tie_fraction_y;
}

AllPairsResult whole_result(std::int64_t units, std::int64_t features, std::int64_t trials, std::int64_t perms) {
  AllPairsResult r = detail::empty_result(units, features, trials, perms);
  r.mi.assign(static_cast<std::size_t>(units * features), 0.0);
  if (perms > 0) detail::start_null(r);
  return r;
}

// CPU backend: each tile through the CPU engine.
AllPairsResult streamed_on_cpu(const UnitSource& source, std::int64_t units, const double* y, std::int64_t features,
                               std::int64_t n, const AllPairsOptions& options, std::int64_t tile) {
  AllPairsResult total = whole_result(units, features, n, options.permutations);
  std::vector<float> staged(static_cast<std::size_t>(tile * n));
  std::vector<double> rows_f64(staged.size());
  for (std::int64_t first = 0; first < units; first += tile) {
    const std::int64_t rows = std::min(tile, units - first);
    const auto count = static_cast<std::size_t>(rows * n);
    source(first, rows, staged.data());
    std::copy(staged.begin(), staged.begin() + static_cast<std::ptrdiff_t>(count), rows_f64.begin());
    try {
      merge_tile(total, gcmi_cc_all_pairs(rows_f64.data(), rows, y, features, n, options), first);
    } catch (const Error& e) {
      if (tile >= units) throw;
      fail("{} (in the tile of units {}..{})", e.what(), first, first + rows - 1);
    }
  }
  return total;
}

// The device side of one tile slot: staging, device buffers, results, its own stream.
struct Slot {
  Slot(const Device& device, std::int64_t tile, std::int64_t n, std::int64_t features, std::int64_t perms, bool bf16)
      : stream(device) {
    const auto values = static_cast<std::size_t>(tile * n);
    const auto pairs = static_cast<std::size_t>(tile * features);
    staging = PinnedBuffer(values * sizeof(float));
    x = DeviceBuffer(device, values * sizeof(float));
    zx = DeviceBuffer(device, values * (bf16 ? sizeof(__nv_bfloat16) : sizeof(float)));
    flags = DeviceBuffer(device, static_cast<std::size_t>(2 * tile) * sizeof(std::uint32_t));
    mi = DeviceBuffer(device, pairs * sizeof(float));
    r2 = DeviceBuffer(device, pairs * sizeof(float));
    out_flags = PinnedBuffer(static_cast<std::size_t>(2 * tile) * sizeof(std::uint32_t));
    out_mi = PinnedBuffer(pairs * sizeof(float));
    if (perms > 0) {
      exceed = DeviceBuffer(device, pairs * sizeof(std::uint32_t));
      max_pf = DeviceBuffer(device, static_cast<std::size_t>(perms * features) * sizeof(float));
      max_p = DeviceBuffer(device, static_cast<std::size_t>(perms) * sizeof(float));
      out_exceed = PinnedBuffer(pairs * sizeof(std::uint32_t));
      out_max_pf = PinnedBuffer(static_cast<std::size_t>(perms * features) * sizeof(float));
      out_max_p = PinnedBuffer(static_cast<std::size_t>(perms) * sizeof(float));
    }
  }
  Stream stream;
  PinnedBuffer staging, out_flags, out_mi, out_exceed, out_max_pf, out_max_p;
  DeviceBuffer x, zx, flags, mi, r2, exceed, max_pf, max_p;  // flags: tile bad flags, then tile tie counts
  std::int64_t first = 0, rows = 0;
  bool in_flight = false;
};

AllPairsResult streamed_on_device(const Device& device, const UnitSource& source, std::int64_t units, const double* y,
                                  std::int64_t features, std::int64_t n, const AllPairsOptions& options,
                                  std::int64_t tile) {
  DEEPER_NVTX_RANGE("gcmi_cc_all_pairs_streamed");
  const std::int64_t P = options.permutations;
  const bool bf16 = options.precision == GemmPrecision::bf16;
  const std::size_t z_size = bf16 ? sizeof(__nv_bfloat16) : sizeof(float);
  Stopwatch clock;

  // Resident: the rank table, Y and its copula normalisation, the permutation indices.
  const std::vector<double> table64 = copnorm_table(n);
  const std::vector<float> table(table64.begin(), table64.end());
  DeviceBuffer d_table(device, table.size() * sizeof(float));
  copy_bytes(d_table.data(), device, table.data(), Device::cpu(), d_table.bytes());
  const auto copnorm = [&](const float* in, std::int64_t rows, void* out, std::uint32_t* bad, std::uint32_t* ties,
                           std::int64_t variable_offset, Stream& stream) {
    kernels::CopnormParams c;
    c.in = in;
    c.rows = rows;
    c.n = n;
    c.table = as<const float>(d_table);
    if (bf16) {
      c.out_bf16 = static_cast<__nv_bfloat16*>(out);
    } else {
      c.out = static_cast<float*>(out);
    }
    c.bad = bad;
    c.ties = ties;
    c.policy = options.gcmi.ties == TiePolicy::jitter ? kernels::CopnormTies::jitter : kernels::CopnormTies::stable;
    c.seed = options.gcmi.seed;
    c.variable_offset = static_cast<std::uint64_t>(variable_offset);
    kernels::copnorm_rows(device, c, stream.native());
  };

  AllPairsResult total = whole_result(units, features, n, P);
  DeviceBuffer d_zy(device, static_cast<std::size_t>(features * n) * z_size);
  {
    Stream stream(device);
    const std::vector<float> y32(y, y + features * n);
    DeviceBuffer d_y(device, y32.size() * sizeof(float));
    DeviceBuffer d_flags(device, static_cast<std::size_t>(2 * features) * sizeof(std::uint32_t));
    copy_bytes(d_y.data(), device, y32.data(), Device::cpu(), d_y.bytes());
    copnorm(as<const float>(d_y), features, d_zy.data(), as<std::uint32_t>(d_flags), as<std::uint32_t>(d_flags) + features,
            units, stream);
    stream.synchronize();
    std::vector<std::uint32_t> flags(static_cast<std::size_t>(2 * features));
    copy_bytes(flags.data(), Device::cpu(), d_flags.data(), device, d_flags.bytes());
    for (std::int64_t f = 0; f < features; ++f) {
      if (flags[static_cast<std::size_t>(f)] != 0) fail("all-pairs GCMI: y variable {} holds NaN or Inf", f);
      total.tie_fraction_y.push_back(static_cast<double>(flags[static_cast<std::size_t>(features + f)]) /
                                     static_cast<double>(n));
    }
  }
  DeviceBuffer d_perms;
  if (P > 0) {
    std::vector<std::int32_t> perms(static_cast<std::size_t>(P * n));
    kernels::make_permutations(options.permutation_seed, 0, P, n, perms.data());
    d_perms = DeviceBuffer(device, perms.size() * sizeof(std::int32_t));
    copy_bytes(d_perms.data(), device, perms.data(), Device::cpu(), d_perms.bytes());
  }
  const double s_n = kernels::table_sum_of_squares(table.data(), n, bf16);
  const double bias = options.gcmi.bias_correct ? mi_bias_bits(1, 1, n) : 0.0;
  const double t_setup = clock.lap();

  const int slot_count = tile < units ? 2 : 1;
  std::vector<Slot> slots;
  slots.reserve(2);
  for (int s = 0; s < slot_count; ++s) slots.emplace_back(device, tile, n, features, P, bf16);

  // Queues one filled tile: upload, copnorm, the all-pairs kernel, and the downloads.
  const auto submit = [&](Slot& s) {
    const auto values = static_cast<std::size_t>(s.rows * n);
    const auto pairs = static_cast<std::size_t>(s.rows * features);
    copy_bytes(s.x.data(), device, s.staging.data(), Device::cpu(), values * sizeof(float), &s.stream);
    copnorm(as<const float>(s.x), s.rows, s.zx.data(), as<std::uint32_t>(s.flags), as<std::uint32_t>(s.flags) + s.rows,
            s.first, s.stream);
    kernels::AllPairsParams a;
    a.math = bf16 ? kernels::AllPairsMath::wmma_bf16 : kernels::AllPairsMath::simt_f32;
    if (bf16) {
      a.zx_bf16 = as<const __nv_bfloat16>(s.zx);
      a.zy_bf16 = as<const __nv_bfloat16>(d_zy);
    } else {
      a.zx = as<const float>(s.zx);
      a.zy = as<const float>(d_zy);
    }
    a.units = s.rows;
    a.features = features;
    a.n = n;
    a.s_n = s_n;
    a.bias = bias;
    a.mi = as<float>(s.mi);
    a.r2 = as<float>(s.r2);
    if (P > 0) {
      a.perms = as<const std::int32_t>(d_perms);
      a.n_perms = P;
      a.exceed = as<std::uint32_t>(s.exceed);
      a.max_r2_pf = as<float>(s.max_pf);
      a.max_r2_p = as<float>(s.max_p);
    }
    kernels::allpairs_mi(device, a, s.stream.native());
    copy_bytes(s.out_flags.data(), Device::cpu(), s.flags.data(), device,
               static_cast<std::size_t>(2 * s.rows) * sizeof(std::uint32_t), &s.stream);
    copy_bytes(s.out_mi.data(), Device::cpu(), s.mi.data(), device, pairs * sizeof(float), &s.stream);
    if (P > 0) {
      copy_bytes(s.out_exceed.data(), Device::cpu(), s.exceed.data(), device, pairs * sizeof(std::uint32_t), &s.stream);
      copy_bytes(s.out_max_pf.data(), Device::cpu(), s.max_pf.data(), device,
                 static_cast<std::size_t>(P * features) * sizeof(float), &s.stream);
      copy_bytes(s.out_max_p.data(), Device::cpu(), s.max_p.data(), device, static_cast<std::size_t>(P) * sizeof(float),
                 &s.stream);
    }
    s.in_flight = true;
  };
  double t_wait = 0, t_source = 0;
  // Waits for a tile and folds its results into the whole.
  const auto collect = [&](Slot& s) {
    Stopwatch wait;
    s.stream.synchronize();
    t_wait += wait.lap();
    s.in_flight = false;
    const auto* flags = as<const std::uint32_t>(s.out_flags);
    for (std::int64_t r = 0; r < s.rows; ++r) {
      if (flags[r] != 0) fail("all-pairs GCMI: x variable {} holds NaN or Inf", s.first + r);
      total.tie_fraction_x.push_back(static_cast<double>(flags[s.rows + r]) / static_cast<double>(n));
    }
    const std::size_t offset = static_cast<std::size_t>(s.first * features);
    const auto pairs = static_cast<std::size_t>(s.rows * features);
    const auto* mi = as<const float>(s.out_mi);
    std::copy(mi, mi + pairs, total.mi.begin() + static_cast<std::ptrdiff_t>(offset));
    if (P > 0) {
      const auto* exceed = as<const std::uint32_t>(s.out_exceed);
      std::copy(exceed, exceed + pairs, total.exceed.begin() + static_cast<std::ptrdiff_t>(offset));
      const auto* max_pf = as<const float>(s.out_max_pf);
      const auto* max_p = as<const float>(s.out_max_p);
      const auto b = static_cast<float>(bias);
      for (std::size_t i = 0; i < total.max_null.size(); ++i) {
        total.max_null[i] = std::max(total.max_null[i], static_cast<double>(kernels::allpairs_mi_bits(max_pf[i], b)));
      }
      for (std::size_t i = 0; i < total.max_null_all.size(); ++i) {
        total.max_null_all[i] = std::max(total.max_null_all[i], static_cast<double>(kernels::allpairs_mi_bits(max_p[i], b)));
      }
    }
  };

  std::int64_t tiles = 0;
  for (std::int64_t first = 0; first < units; first += tile, ++tiles) {
    Slot& s = slots[static_cast<std::size_t>(tiles % slot_count)];
    if (s.in_flight) collect(s);  // tile k - 2: its staging buffer is free again
    s.first = first;
    s.rows = std::min(tile, units - first);
    Stopwatch produce;
    source(first, s.rows, as<float>(s.staging));  // overlaps the device's work on tile k - 1
    t_source += produce.lap();
    submit(s);
  }
  // Drain in submission order so that tie fractions stay in unit order.
  for (std::int64_t k = std::max<std::int64_t>(0, tiles - slot_count); k < tiles; ++k) {
    Slot& s = slots[static_cast<std::size_t>(k % slot_count)];
    if (s.in_flight) collect(s);
  }
  log::debug("gcmi cc on {}: U={} F={} N={} P={} in {} tile(s) of {} units: setup {:.4f} s, source {:.4f} s, "
             "waiting for the device {:.4f} s, total {:.4f} s",
             device.name(), units, features, n, P, tiles, tile, t_setup, t_source, t_wait, clock.total());
  return total;
}

}  // namespace

std::int64_t default_tile_units(const Device& device, std::int64_t units, std::int64_t features, std::int64_t trials,
                                const AllPairsOptions& options) {
  const bool bf16 = options.precision == GemmPrecision::bf16;
  const auto n = static_cast<std::size_t>(trials), f = static_cast<std::size_t>(features);
  // Bytes per unit of a tile: staging + x + Zx + flags, and MI, r2, exceedance per feature.
  const std::size_t per_unit = n * (4 + 4 + (bf16 ? 2 : 4)) + 8 + f * 12;
  const std::size_t budget = available_memory(device) / 4 / 2;  // two tiles in a quarter
  std::size_t tile = std::max<std::size_t>(1, budget / per_unit);
  tile = std::min(tile, std::max<std::size_t>(1, kMaxStagingBytes / (n * sizeof(float))));
  return std::min<std::int64_t>(static_cast<std::int64_t>(tile), std::max<std::int64_t>(units, 1));
}

UnitSource unit_source(const double* x, std::int64_t trials) {
  return [x, trials](std::int64_t first, std::int64_t rows, float* out) {
    const double* from = x + first * trials;
    std::transform(from, from + rows * trials, out, [](double v) { return static_cast<float>(v); });
  };
}

AllPairsResult gcmi_cc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                          const double* y, std::int64_t features, std::int64_t trials,
                                          const AllPairsOptions& options, const TileOptions& tiles) {
  check_streamed_arguments(device, units, features, trials, options, tiles);
  if (!x) fail("all-pairs GCMI: the unit source is empty");
  if (y == nullptr) fail("all-pairs GCMI: y is null");
  const std::int64_t tile = tiles.tile_units > 0 ? std::min(tiles.tile_units, units)
                                                 : default_tile_units(device, units, features, trials, options);
  if (device.backend == Backend::cpu) return streamed_on_cpu(x, units, y, features, trials, options, tile);
  return streamed_on_device(device, x, units, y, features, trials, options, tile);
}

AllPairsResult gcmi_cc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                 std::int64_t features, std::int64_t trials, const AllPairsOptions& options) {
  if (device.backend == Backend::cpu) return gcmi_cc_all_pairs(x, units, y, features, trials, options);
  if (x == nullptr) fail("all-pairs GCMI: x is null");
  return gcmi_cc_all_pairs_streamed(device, unit_source(x, trials), units, y, features, trials, options);
}

}  // namespace deeper::info
