// All-pairs GCMI on a device (cuda or the emulator) through the GCMI kernels: see allpairs.h.
#include "infotheory/allpairs.h"
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

template <typename T>
DeviceBuffer upload(const Device& device, const std::vector<T>& host) {
  DeviceBuffer buffer(device, host.size() * sizeof(T));
  if (!host.empty()) copy_bytes(buffer.data(), device, host.data(), Device::cpu(), buffer.bytes());
  return buffer;
}

template <typename T>
std::vector<T> download(const DeviceBuffer& buffer, std::size_t count) {
  std::vector<T> host(count);
  if (count > 0) copy_bytes(host.data(), Device::cpu(), buffer.data(), buffer.device(), count * sizeof(T));
  return host;
}

std::vector<float> to_float(const double* v, std::int64_t count) {
  return std::vector<float>(v, v + count);
}

}  // namespace

AllPairsResult gcmi_cc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                 std::int64_t features, std::int64_t trials, const AllPairsOptions& options) {
  if (device.backend == Backend::cpu) return gcmi_cc_all_pairs(x, units, y, features, trials, options);
  check_all_pairs_arguments(units, features, trials, options);
  if (options.precision == GemmPrecision::f64) {
    fail("all-pairs GCMI on {}: precision f64 runs on the CPU backend; use f32 or bf16 here", device.name());
  }
  if (options.gcmi.ties == TiePolicy::average) {
    fail("all-pairs GCMI on {}: --ties average runs on the CPU backend only; use stable or jitter", device.name());
  }
  DEEPER_NVTX_RANGE("gcmi_cc_all_pairs");
  const std::int64_t n = trials, P = options.permutations;
  const bool bf16 = options.precision == GemmPrecision::bf16;
  Stream stream(device);
  Stopwatch clock;  // phase timings, logged with --verbose

  // Copula normalisation on the device: x rows are variables 0..U-1, y rows U..U+F-1.
  const std::vector<double> table64 = copnorm_table(n);
  const std::vector<float> table(table64.begin(), table64.end());
  DeviceBuffer d_table = upload(device, table);
  DeviceBuffer d_x = upload(device, to_float(x, units * n)), d_y = upload(device, to_float(y, features * n));
  const std::size_t zx_bytes = static_cast<std::size_t>(units * n) * (bf16 ? sizeof(__nv_bfloat16) : sizeof(float));
  const std::size_t zy_bytes = static_cast<std::size_t>(features * n) * (bf16 ? sizeof(__nv_bfloat16) : sizeof(float));
  const double t_upload = clock.lap();
  DeviceBuffer d_zx(device, zx_bytes), d_zy(device, zy_bytes);
  DeviceBuffer d_bad(device, static_cast<std::size_t>(units + features) * sizeof(std::uint32_t));
  DeviceBuffer d_ties(device, static_cast<std::size_t>(units + features) * sizeof(std::uint32_t));
  const auto run_copnorm = [&](const DeviceBuffer& in, std::int64_t rows, DeviceBuffer& out, std::int64_t first) {
    kernels::CopnormParams c;
    c.in = static_cast<const float*>(in.data());
    c.rows = rows;
    c.n = n;
    c.table = static_cast<const float*>(d_table.data());
    if (bf16) {
      c.out_bf16 = static_cast<__nv_bfloat16*>(out.data());
    } else {
      c.out = static_cast<float*>(out.data());
    }
    c.bad = static_cast<std::uint32_t*>(d_bad.data()) + first;
    c.ties = static_cast<std::uint32_t*>(d_ties.data()) + first;
    c.policy = options.gcmi.ties == TiePolicy::jitter ? kernels::CopnormTies::jitter : kernels::CopnormTies::stable;
    c.seed = options.gcmi.seed;
    c.variable_offset = static_cast<std::uint64_t>(first);
    kernels::copnorm_rows(device, c, stream.native());
  };
  run_copnorm(d_x, units, d_zx, 0);
  run_copnorm(d_y, features, d_zy, units);

  stream.synchronize();
  const double t_copnorm = clock.lap();
  const auto bad = download<std::uint32_t>(d_bad, static_cast<std::size_t>(units + features));
  const auto ties = download<std::uint32_t>(d_ties, static_cast<std::size_t>(units + features));
  for (std::int64_t r = 0; r < units + features; ++r) {
    if (bad[static_cast<std::size_t>(r)] != 0) {
      fail("all-pairs GCMI: {} variable {} holds NaN or Inf", r < units ? "x" : "y", r < units ? r : r - units);
    }
  }

  AllPairsResult result = detail::empty_result(units, features, n, P);
  for (std::int64_t r = 0; r < units + features; ++r) {
    const double fraction = static_cast<double>(ties[static_cast<std::size_t>(r)]) / static_cast<double>(n);
    (r < units ? result.tie_fraction_x : result.tie_fraction_y).push_back(fraction);
  }

  // The all-pairs kernel, with the permutation statistics in its epilogue.
  const auto pairs = static_cast<std::size_t>(units * features);
  DeviceBuffer d_mi(device, pairs * sizeof(float)), d_r2(device, pairs * sizeof(float));
  DeviceBuffer d_perms, d_exceed, d_max_pf, d_max_p;
  kernels::AllPairsParams a;
  a.math = bf16 ? kernels::AllPairsMath::wmma_bf16 : kernels::AllPairsMath::simt_f32;
  if (bf16) {
    a.zx_bf16 = static_cast<const __nv_bfloat16*>(d_zx.data());
    a.zy_bf16 = static_cast<const __nv_bfloat16*>(d_zy.data());
  } else {
    a.zx = static_cast<const float*>(d_zx.data());
    a.zy = static_cast<const float*>(d_zy.data());
  }
  a.units = units;
  a.features = features;
  a.n = n;
  a.s_n = kernels::table_sum_of_squares(table.data(), n, bf16);
  a.bias = options.gcmi.bias_correct ? mi_bias_bits(1, 1, n) : 0.0;
  a.mi = static_cast<float*>(d_mi.data());
  a.r2 = static_cast<float*>(d_r2.data());
  if (P > 0) {
    std::vector<std::int32_t> perms(static_cast<std::size_t>(P * n));
    kernels::make_permutations(options.permutation_seed, 0, P, n, perms.data());
    d_perms = upload(device, perms);
    d_exceed = DeviceBuffer(device, pairs * sizeof(std::uint32_t));
    d_max_pf = DeviceBuffer(device, static_cast<std::size_t>(P * features) * sizeof(float));
    d_max_p = DeviceBuffer(device, static_cast<std::size_t>(P) * sizeof(float));
    a.perms = static_cast<const std::int32_t*>(d_perms.data());
    a.n_perms = P;
    a.exceed = static_cast<std::uint32_t*>(d_exceed.data());
    a.max_r2_pf = static_cast<float*>(d_max_pf.data());
    a.max_r2_p = static_cast<float*>(d_max_p.data());
  }
  const double t_setup = clock.lap();
  kernels::allpairs_mi(device, a, stream.native());
  stream.synchronize();
  const double t_kernel = clock.lap();

  const auto mi = download<float>(d_mi, pairs);
  result.mi.assign(mi.begin(), mi.end());
  if (P > 0) {
    result.exceed = download<std::uint32_t>(d_exceed, pairs);
    const auto bias = static_cast<float>(a.bias);
    for (float r2 : download<float>(d_max_pf, static_cast<std::size_t>(P * features))) {
      result.max_null.push_back(kernels::allpairs_mi_bits(r2, bias));
    }
    for (float r2 : download<float>(d_max_p, static_cast<std::size_t>(P))) {
      result.max_null_all.push_back(kernels::allpairs_mi_bits(r2, bias));
    }
  }
  log::debug("gcmi cc on {}: U={} F={} N={} P={}: upload {:.4f} s, copnorm {:.4f} s, setup {:.4f} s, "
             "all-pairs kernel {:.4f} s, download {:.4f} s", device.name(), units, features, n, P, t_upload,
             t_copnorm, t_setup, t_kernel, clock.lap());
  return result;
}

}  // namespace deeper::info
