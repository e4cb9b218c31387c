// Device paths of the ccc, co-information (continuous z) and model cd engines through the GCMI
// kernels (allpairs_cond_device.h). Everything runs on the default stream of `device`: uploads,
// copnorm, the kernels, downloads (each copy complete when copy_bytes returns).
#include "infotheory/allpairs_cond_device.h"

#include "core/error.h"
#include "infotheory/allpairs_common.h"
#include "infotheory/allpairs_stream.h"
#include "infotheory/bias.h"
#include "infotheory/checks.h"
#include "infotheory/copnorm.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/conditional.h"
#include "kernels/gcmi/copnorm.h"
#include "kernels/gcmi/permutations.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/nvtx.h"

#include <cuda_bf16.h>

#include <algorithm>
#include <cmath>
#include <string_view>
#include <vector>

namespace deeper::info {
namespace {

template <typename T>
T* as(const DeviceBuffer& b) {
  return static_cast<T*>(b.data());
}

template <typename T>
DeviceBuffer upload(const Device& device, const std::vector<T>& host) {
  DeviceBuffer d(device, std::max<std::size_t>(host.size(), 1) * sizeof(T));
  if (!host.empty()) copy_bytes(d.data(), device, host.data(), Device::cpu(), host.size() * sizeof(T));
  return d;
}

template <typename T>
std::vector<T> download(const Device& device, const DeviceBuffer& d, std::size_t count) {
  std::vector<T> host(count);
  if (count > 0) copy_bytes(host.data(), Device::cpu(), d.data(), device, count * sizeof(T));
  return host;
}

std::vector<__nv_bfloat16> to_bf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](float x) { return __float2bfloat16_rn(x); });
  return out;
}

// What every device path shares: the argument checks, the rank table on the device and its sums
// of squares, and copnorm of host rows.
struct Context {
  Context(std::string_view what_, const Device& device_, std::int64_t n_, const AllPairsOptions& options_)
      : what(what_), device(device_), n(n_), options(options_), bf16(options_.precision == GemmPrecision::bf16) {
    if (options.precision == GemmPrecision::f64) {
      fail("{} on {}: precision f64 runs on the CPU backend; use f32 or bf16 here", what, device.name());
    }
    if (options.gcmi.ties == TiePolicy::average) {
      fail("{} on {}: --ties average runs on the CPU backend only; use stable or jitter", what, device.name());
    }
    if (n > kernels::kCopnormMaxN) {
      fail("{} on {}: N = {} trials is more than the device copnorm's limit {}", what, device.name(), n,
           kernels::kCopnormMaxN);
    }
    const std::vector<double> table64 = copnorm_table(n);
    table.assign(table64.begin(), table64.end());
    d_table = upload(device, table);
    s_f = kernels::table_sum_of_squares(table.data(), n, false);
    s_b = kernels::table_sum_of_squares(table.data(), n, true);
  }

  // Copula-normalises `count` host rows (global variables offset..offset + count - 1, for jitter) on
  // the device into out32 (float) and/or out16 (bf16); returns their tie fractions. Errors name
  // `name` variable first + r.
  std::vector<double> copnorm(const double* rows, std::int64_t count, std::int64_t offset, std::string_view name,
                              std::int64_t first, float* out32, __nv_bfloat16* out16) const {
    const std::vector<float> in(rows, rows + count * n);
    return copnorm(in.data(), count, offset, name, first, out32, out16);
  }
  std::vector<double> copnorm(const float* rows, std::int64_t count, std::int64_t offset, std::string_view name,
                              std::int64_t first, float* out32, __nv_bfloat16* out16) const {
    DeviceBuffer d_in(device, static_cast<std::size_t>(std::max<std::int64_t>(count * n, 1)) * sizeof(float));
    copy_bytes(d_in.data(), device, rows, Device::cpu(), static_cast<std::size_t>(count * n) * sizeof(float));
    DeviceBuffer d_flags(device, static_cast<std::size_t>(2 * count) * sizeof(std::uint32_t));
    kernels::CopnormParams c;
    c.in = as<const float>(d_in);
    c.rows = count;
    c.n = n;
    c.table = as<const float>(d_table);
    c.out = out32;
    c.out_bf16 = out16;
    c.bad = as<std::uint32_t>(d_flags);
    c.ties = as<std::uint32_t>(d_flags) + count;
    c.policy = options.gcmi.ties == TiePolicy::jitter ? kernels::CopnormTies::jitter : kernels::CopnormTies::stable;
    c.seed = options.gcmi.seed;
    c.variable_offset = static_cast<std::uint64_t>(offset);
    kernels::copnorm_rows(device, c);
    const auto flags = download<std::uint32_t>(device, d_flags, static_cast<std::size_t>(2 * count));
    std::vector<double> ties(static_cast<std::size_t>(count));
    for (std::int64_t r = 0; r < count; ++r) {
      if (flags[static_cast<std::size_t>(r)] != 0) {
        fail("{}: {} variable {} is not finite in fp32 (NaN, Inf or beyond the float range)", what, name, first + r);
      }
      ties[static_cast<std::size_t>(r)] =
          static_cast<double>(flags[static_cast<std::size_t>(count + r)]) / static_cast<double>(n);
    }
    return ties;
  }

  DeviceBuffer buffer(std::int64_t count, std::size_t size) const {
    return DeviceBuffer(device, static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * size);
  }

  std::string_view what;
  const Device& device;
  std::int64_t n;
  const AllPairsOptions& options;
  bool bf16;
  std::vector<float> table;
  DeviceBuffer d_table;
  double s_f = 0, s_b = 0;  // Σ t² of the float table and of its bf16 rounding
};

// The common checks of ccc and coinfo, with the CPU engine's messages.
void check_ccc_inputs(std::string_view what, const double* x, std::int64_t units, const double* y,
                      std::int64_t features, const double* z, std::int64_t n, const AllPairsOptions& options) {
  check_all_pairs_arguments(units, features, n, options);
  if (n < 4) fail("{}: needs more trials than the joint dimension 3 (N = {})", what, n);
  detail::check_finite_rows(x, units, n, fmt::format("{}: x", what));
  detail::check_finite_rows(y, features, n, fmt::format("{}: y", what));
  detail::check_finite_rows(z, 1, n, fmt::format("{}: z", what));
}

// The copula data of y (device, and its float copy on the host) and z (host), and r_yz.
struct YzData {
  DeviceBuffer d_zy32, d_zy16;
  std::vector<float> zy, zz;
  std::vector<double> tie_fraction_y;
  std::vector<double> ryz;  // F
};

YzData prepare_yz(const Context& c, const double* y, std::int64_t units, std::int64_t features, const double* z) {
  const std::int64_t n = c.n;
  YzData d;
  d.d_zy32 = c.buffer(features * n, sizeof(float));
  if (c.bf16) d.d_zy16 = c.buffer(features * n, sizeof(__nv_bfloat16));
  d.tie_fraction_y =
      c.copnorm(y, features, units, "y", 0, as<float>(d.d_zy32), c.bf16 ? as<__nv_bfloat16>(d.d_zy16) : nullptr);
  d.zy = download<float>(c.device, d.d_zy32, static_cast<std::size_t>(features * n));
  const DeviceBuffer d_zz = c.buffer(n, sizeof(float));
  c.copnorm(z, 1, units + features, "z", 0, as<float>(d_zz), nullptr);
  d.zz = download<float>(c.device, d_zz, static_cast<std::size_t>(n));
  d.ryz.resize(static_cast<std::size_t>(features));
  for (std::int64_t f = 0; f < features; ++f) {
    double s = 0;
    for (std::int64_t k = 0; k < n; ++k) s += static_cast<double>(d.zy[static_cast<std::size_t>(f * n + k)]) * d.zz[static_cast<std::size_t>(k)];
    const double r = s / c.s_f;
    if (!(1.0 - r * r > 1e-12)) fail("{}: y variable {} is (numerically) a copy of z; I(x;y|z) is undefined", c.what, f);
    d.ryz[static_cast<std::size_t>(f)] = r;
  }
  return d;
}

// r_xz of every x row (copula data on the device) against zz, checked like the CPU engine; with
// `out32` / `out16` also the residualised rows.
std::vector<float> residualise(const Context& c, const DeviceBuffer& d_zx, std::int64_t units, std::int64_t first,
                               const std::vector<float>& zz, float* out32, __nv_bfloat16* out16) {
  const DeviceBuffer d_zz = upload(c.device, zz);
  DeviceBuffer d_a = c.buffer(units, sizeof(float));
  kernels::ResidualiseParams r;
  r.zx = as<const float>(d_zx);
  r.z = as<const float>(d_zz);
  r.rows = units;
  r.n = c.n;
  r.s_n = c.s_f;
  r.out = out32;
  r.out_bf16 = out16;
  r.a = as<float>(d_a);
  kernels::residualise_rows(c.device, r);
  std::vector<float> a = download<float>(c.device, d_a, static_cast<std::size_t>(units));
  for (std::int64_t u = 0; u < units; ++u) {
    // NaN where the kernel found 1 - r_xz² <= 1e-12 (fp64), the CPU engine's test.
    if (std::isnan(a[static_cast<std::size_t>(u)])) {
      fail("{}: x variable {} is (numerically) a copy of z; I(x;y|z) is undefined", c.what, first + u);
    }
  }
  return a;
}

std::vector<std::int32_t> permutations(const AllPairsOptions& options, std::int64_t n) {
  std::vector<std::int32_t> perms(static_cast<std::size_t>(options.permutations * n));
  if (options.permutations > 0) kernels::make_permutations(options.permutation_seed, 0, options.permutations, n, perms.data());
  return perms;
}

double bias_cmi(const AllPairsOptions& options, std::int64_t n) {
  return options.gcmi.bias_correct
             ? 2.0 * entropy_bias_bits(2, n) - entropy_bias_bits(3, n) - entropy_bias_bits(1, n)
             : 0.0;
}

// Signed r of every row of d_zx (U rows, float or bf16 as c.bf16) with `rows` rows of the table
// values (device, float or bf16): U × rows floats on the device, through the all-pairs kernel.
DeviceBuffer correlations(const Context& c, const DeviceBuffer& d_zx, std::int64_t units, const DeviceBuffer& d_rows,
                          std::int64_t rows) {
  DeviceBuffer d_r = c.buffer(units * rows, sizeof(float)), d_mi = c.buffer(units * rows, sizeof(float));
  kernels::AllPairsParams a;
  a.math = c.bf16 ? kernels::AllPairsMath::wmma_bf16 : kernels::AllPairsMath::simt_f32;
  if (c.bf16) {
    a.zx_bf16 = as<const __nv_bfloat16>(d_zx);
    a.zy_bf16 = as<const __nv_bfloat16>(d_rows);
  } else {
    a.zx = as<const float>(d_zx);
    a.zy = as<const float>(d_rows);
  }
  a.units = units;
  a.features = rows;
  a.n = c.n;
  a.s_n = c.bf16 ? c.s_b : c.s_f;
  a.mi = as<float>(d_mi);
  a.r = as<float>(d_r);
  kernels::allpairs_mi(c.device, a);
  return d_r;
}


// Units per tile: tiles.tile_units, or as many as keep one tile's device buffers within a quarter
// of the device's available memory and its host staging within 256 MiB.
std::int64_t tile_units(const Context& c, std::int64_t units, std::int64_t features, const TileOptions& tiles) {
  if (tiles.tile_units < 0) fail("{}: tile_units is {}; use 0 (automatic) or a positive count", c.what, tiles.tile_units);
  if (tiles.tile_units > 0) return std::min(tiles.tile_units, units);
  const auto n = static_cast<std::size_t>(c.n), f = static_cast<std::size_t>(features);
  const auto q = static_cast<std::size_t>(c.options.permutations + 1);
  // staging + x + Zx (float and bf16) + x' + a, and per pair MI, r2 or r, exceedance; coi: r_xz, its MI.
  const std::size_t per_unit = n * 4 * 4 + 8 + f * 16 + q * 8;
  std::size_t tile = std::max<std::size_t>(1, available_memory(c.device) / 4 / per_unit);
  tile = std::min(tile, std::max<std::size_t>(1, (std::size_t{256} << 20) / (n * sizeof(float))));
  return std::min<std::int64_t>(static_cast<std::int64_t>(tile), units);
}

// Calls `tile_fn(first, rows, staged)` for the tiles of X in order, with the rows as floats.
template <typename TileFn>
void for_each_tile(const UnitSource& source, std::int64_t units, std::int64_t n, std::int64_t tile, TileFn&& tile_fn) {
  std::vector<float> staged(static_cast<std::size_t>(tile * n));
  for (std::int64_t first = 0; first < units; first += tile) {
    const std::int64_t rows = std::min(tile, units - first);
    source(first, rows, staged.data());
    tile_fn(first, rows, staged.data());
  }
}

AllPairsResult ccc_on_device(const Device& device, const UnitSource& x, std::int64_t units, const double* y,
                             std::int64_t features, const double* z, std::int64_t n, const AllPairsOptions& options,
                             const TileOptions& tiles) {
  constexpr std::string_view what = "gccmi_ccc_all_pairs";
  DEEPER_NVTX_RANGE("gccmi_ccc_all_pairs(device)");
  const Context c(what, device, n, options);
  const std::int64_t P = options.permutations, tile = tile_units(c, units, features, tiles);
  AllPairsResult result = detail::empty_result(units, features, n, P);
  result.mi.assign(static_cast<std::size_t>(units * features), 0.0);
  if (P > 0) detail::start_null(result);
  YzData yz = prepare_yz(c, y, units, features, z);
  result.tie_fraction_y = yz.tie_fraction_y;

  // r² scales: 1 / (1 - r_yz²) observed, 1 / (1 - r_yz,p²) for the permuted y rows.
  std::vector<float> scale_obs(static_cast<std::size_t>(features)), scale_perm(static_cast<std::size_t>(P * features));
  for (std::int64_t f = 0; f < features; ++f) {
    const double r = yz.ryz[static_cast<std::size_t>(f)];
    scale_obs[static_cast<std::size_t>(f)] = static_cast<float>(1.0 / (1.0 - r * r));
  }
  const std::vector<std::int32_t> perms = permutations(options, n);
  for (std::int64_t p = 0; p < P; ++p) {
    const std::int32_t* pi = perms.data() + p * n;
    for (std::int64_t f = 0; f < features; ++f) {
      const float* row = yz.zy.data() + f * n;
      double s = 0;
      for (std::int64_t k = 0; k < n; ++k) s += static_cast<double>(row[pi[k]]) * yz.zz[static_cast<std::size_t>(k)];
      const double r = s / c.s_f;
      scale_perm[static_cast<std::size_t>(p * features + f)] = static_cast<float>(1.0 / std::max(1.0 - r * r, 1e-300));
    }
  }
  const DeviceBuffer d_scale_obs = upload(device, scale_obs), d_scale_perm = upload(device, scale_perm);
  const DeviceBuffer d_perms = upload(device, perms);
  DeviceBuffer d_zx = c.buffer(tile * n, sizeof(float));
  DeviceBuffer d_xr = c.buffer(tile * n, c.bf16 ? sizeof(__nv_bfloat16) : sizeof(float));
  DeviceBuffer d_mi = c.buffer(tile * features, sizeof(float)), d_r2 = c.buffer(tile * features, sizeof(float));
  DeviceBuffer d_exceed = c.buffer(tile * features, sizeof(std::uint32_t));
  DeviceBuffer d_max_pf = c.buffer(P * features, sizeof(float)), d_max_p = c.buffer(P, sizeof(float));
  std::vector<float> max_pf(static_cast<std::size_t>(P * features), 0.0f), max_p(static_cast<std::size_t>(P), 0.0f);
  const double bias = bias_cmi(options, n);

  for_each_tile(x, units, n, tile, [&](std::int64_t first, std::int64_t rows, const float* staged) {
    const auto ties = c.copnorm(staged, rows, first, "x", first, as<float>(d_zx), nullptr);
    result.tie_fraction_x.insert(result.tie_fraction_x.end(), ties.begin(), ties.end());
    residualise(c, d_zx, rows, first, yz.zz, c.bf16 ? nullptr : as<float>(d_xr), c.bf16 ? as<__nv_bfloat16>(d_xr) : nullptr);
    kernels::AllPairsParams a;
    a.math = c.bf16 ? kernels::AllPairsMath::wmma_bf16 : kernels::AllPairsMath::simt_f32;
    if (c.bf16) {
      a.zx_bf16 = as<const __nv_bfloat16>(d_xr);
      a.zy_bf16 = as<const __nv_bfloat16>(yz.d_zy16);
    } else {
      a.zx = as<const float>(d_xr);
      a.zy = as<const float>(yz.d_zy32);
    }
    a.units = rows;
    a.features = features;
    a.n = n;
    // |x'|² = S_N of the float table; |y|² that of the table the GEMM reads.
    a.s_n = c.bf16 ? std::sqrt(c.s_f * c.s_b) : c.s_f;
    a.bias = bias;
    a.mi = as<float>(d_mi);
    a.r2 = as<float>(d_r2);
    a.scale_obs = as<const float>(d_scale_obs);
    if (P > 0) {
      a.perms = as<const std::int32_t>(d_perms);
      a.n_perms = P;
      a.exceed = as<std::uint32_t>(d_exceed);
      a.max_r2_pf = as<float>(d_max_pf);
      a.max_r2_p = as<float>(d_max_p);
      a.scale_perm = as<const float>(d_scale_perm);
    }
    kernels::allpairs_mi(device, a);
    const auto pairs = static_cast<std::size_t>(rows * features), offset = static_cast<std::size_t>(first * features);
    const auto mi = download<float>(device, d_mi, pairs);
    std::copy(mi.begin(), mi.end(), result.mi.begin() + static_cast<std::ptrdiff_t>(offset));
    if (P > 0) {
      const auto exceed = download<std::uint32_t>(device, d_exceed, pairs);
      std::copy(exceed.begin(), exceed.end(), result.exceed.begin() + static_cast<std::ptrdiff_t>(offset));
      const auto tile_pf = download<float>(device, d_max_pf, max_pf.size());
      const auto tile_p = download<float>(device, d_max_p, max_p.size());
      for (std::size_t i = 0; i < max_pf.size(); ++i) max_pf[i] = std::max(max_pf[i], tile_pf[i]);
      for (std::size_t i = 0; i < max_p.size(); ++i) max_p[i] = std::max(max_p[i], tile_p[i]);
    }
  });
  const auto b = static_cast<float>(bias);
  for (std::size_t i = 0; i < result.max_null.size(); ++i) result.max_null[i] = kernels::allpairs_mi_bits(max_pf[i], b);
  for (std::size_t i = 0; i < result.max_null_all.size(); ++i) result.max_null_all[i] = kernels::allpairs_mi_bits(max_p[i], b);
  return result;
}

AllPairsResult coinfo_on_device(const Device& device, const UnitSource& x, std::int64_t units, const double* y,
                                std::int64_t features, const double* z, std::int64_t n, const AllPairsOptions& options,
                                const TileOptions& tiles) {
  constexpr std::string_view what = "coinfo_ccc_all_pairs";
  DEEPER_NVTX_RANGE("coinfo_ccc_all_pairs(device)");
  const Context c(what, device, n, options);
  const std::int64_t P = options.permutations, Q = P + 1, tile = tile_units(c, units, features, tiles);
  AllPairsResult result = detail::empty_result(units, features, n, P);
  result.mi.assign(static_cast<std::size_t>(units * features), 0.0);
  if (P > 0) detail::start_null(result);
  YzData yz = prepare_yz(c, y, units, features, z);
  result.tie_fraction_y = yz.tie_fraction_y;

  // The observed z and its P permutations as Q rows; r_yz of each on the host (fp64).
  const std::vector<std::int32_t> perms = permutations(options, n);
  std::vector<float> zq(static_cast<std::size_t>(Q * n));
  std::copy(yz.zz.begin(), yz.zz.end(), zq.begin());
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t s = 0; s < n; ++s) {
      zq[static_cast<std::size_t>((p + 1) * n + s)] = yz.zz[static_cast<std::size_t>(perms[static_cast<std::size_t>(p * n + s)])];
    }
  }
  std::vector<float> ryz(static_cast<std::size_t>(Q * features));
  for (std::int64_t q = 0; q < Q; ++q) {
    for (std::int64_t f = 0; f < features; ++f) {
      double s = 0;
      for (std::int64_t k = 0; k < n; ++k) {
        s += static_cast<double>(yz.zy[static_cast<std::size_t>(f * n + k)]) * zq[static_cast<std::size_t>(q * n + k)];
      }
      ryz[static_cast<std::size_t>(q * features + f)] = static_cast<float>(s / c.s_f);
    }
  }
  const DeviceBuffer d_zq = c.bf16 ? upload(device, to_bf16(zq)) : upload(device, zq);
  const DeviceBuffer d_ryz = upload(device, ryz);
  DeviceBuffer d_zx32 = c.buffer(tile * n, sizeof(float)), d_zx16;
  if (c.bf16) d_zx16 = c.buffer(tile * n, sizeof(__nv_bfloat16));
  const DeviceBuffer& d_zx = c.bf16 ? d_zx16 : d_zx32;
  DeviceBuffer d_coi = c.buffer(tile * features, sizeof(float)), d_exceed = c.buffer(tile * features, sizeof(std::uint32_t));
  DeviceBuffer d_max_pf = c.buffer(P * features, sizeof(std::uint32_t)), d_max_p = c.buffer(P, sizeof(std::uint32_t));
  std::vector<std::uint32_t> max_pf(static_cast<std::size_t>(P * features), 0u), max_p(static_cast<std::size_t>(P), 0u);

  for_each_tile(x, units, n, tile, [&](std::int64_t first, std::int64_t rows, const float* staged) {
    const auto ties = c.copnorm(staged, rows, first, "x", first, as<float>(d_zx32), c.bf16 ? as<__nv_bfloat16>(d_zx16) : nullptr);
    result.tie_fraction_x.insert(result.tie_fraction_x.end(), ties.begin(), ties.end());
    residualise(c, d_zx32, rows, first, yz.zz, nullptr, nullptr);  // only the copy-of-z check
    const DeviceBuffer d_rxy = correlations(c, d_zx, rows, c.bf16 ? yz.d_zy16 : yz.d_zy32, features);
    const DeviceBuffer d_rxz = correlations(c, d_zx, rows, d_zq, Q);
    kernels::CoinfoNullParams k;
    k.rxy = as<const float>(d_rxy);
    k.rxz = as<const float>(d_rxz);
    k.ryz = as<const float>(d_ryz);
    k.units = rows;
    k.features = features;
    k.n_perms = P;
    k.bias_mi = options.gcmi.bias_correct ? mi_bias_bits(1, 1, n) : 0.0;
    k.bias_cmi = bias_cmi(options, n);
    k.coi = as<float>(d_coi);
    if (P > 0) {
      k.exceed = as<std::uint32_t>(d_exceed);
      k.max_pf_key = as<std::uint32_t>(d_max_pf);
      k.max_p_key = as<std::uint32_t>(d_max_p);
    }
    kernels::coinfo_null(device, k);
    const auto pairs = static_cast<std::size_t>(rows * features), offset = static_cast<std::size_t>(first * features);
    const auto coi = download<float>(device, d_coi, pairs);
    std::copy(coi.begin(), coi.end(), result.mi.begin() + static_cast<std::ptrdiff_t>(offset));
    if (P > 0) {
      const auto exceed = download<std::uint32_t>(device, d_exceed, pairs);
      std::copy(exceed.begin(), exceed.end(), result.exceed.begin() + static_cast<std::ptrdiff_t>(offset));
      const auto tile_pf = download<std::uint32_t>(device, d_max_pf, max_pf.size());
      const auto tile_p = download<std::uint32_t>(device, d_max_p, max_p.size());
      for (std::size_t i = 0; i < max_pf.size(); ++i) max_pf[i] = std::max(max_pf[i], tile_pf[i]);
      for (std::size_t i = 0; i < max_p.size(); ++i) max_p[i] = std::max(max_p[i], tile_p[i]);
    }
  });
  for (std::size_t i = 0; i < result.max_null.size(); ++i) result.max_null[i] = kernels::cond_key_value(max_pf[i]);
  for (std::size_t i = 0; i < result.max_null_all.size(); ++i) result.max_null_all[i] = kernels::cond_key_value(max_p[i]);
  return result;
}

AllPairsResult cd_on_device(const Device& device, const double* x, std::int64_t units, const std::int32_t* labels,
                            std::int64_t n, int classes, const AllPairsOptions& options) {
  constexpr std::string_view what = "gcmi_model_cd_batched";
  DEEPER_NVTX_RANGE("gcmi_model_cd_batched(device)");
  check_all_pairs_arguments(units, 1, n, options);
  detail::check_finite_rows(x, units, n, "gcmi_model_cd_batched: x");
  const std::vector<std::int64_t> counts = detail::class_counts(labels, n, classes, "gcmi_model_cd_batched: labels");
  detail::check_class_sizes(counts, 1, what);
  if (classes > kernels::kCdMaxClasses) {
    fail("{} on {}: {} classes is more than the device kernel's {}; use the CPU backend", what, device.name(), classes,
         kernels::kCdMaxClasses);
  }
  const Context c(what, device, n, options);
  const std::int64_t P = options.permutations, Q = P + 1;
  AllPairsResult result = detail::empty_result(units, 1, n, P);

  DeviceBuffer d_z = c.buffer(units * n, c.bf16 ? sizeof(__nv_bfloat16) : sizeof(float));
  result.tie_fraction_x =
      c.copnorm(x, units, 0, "x", 0, c.bf16 ? nullptr : as<float>(d_z), c.bf16 ? as<__nv_bfloat16>(d_z) : nullptr);

  // Labels of every labelling, trial-major (N × Q): column 0 observed, column p + 1 permutation p.
  const std::vector<std::int32_t> perms = permutations(options, n);
  std::vector<std::int32_t> lab(static_cast<std::size_t>(n * Q));
  for (std::int64_t t = 0; t < n; ++t) {
    lab[static_cast<std::size_t>(t * Q)] = labels[t];
    for (std::int64_t p = 0; p < P; ++p) {
      lab[static_cast<std::size_t>(t * Q + p + 1)] = labels[perms[static_cast<std::size_t>(p * n + t)]];
    }
  }
  std::vector<std::int32_t> counts32(counts.begin(), counts.end());
  double constant = 0.0;
  if (options.gcmi.bias_correct) {
    for (const std::int64_t nk : counts) {
      constant += static_cast<double>(nk) / static_cast<double>(n) * entropy_bias_nats(1, nk);
    }
    constant -= entropy_bias_nats(1, n);
  }
  const DeviceBuffer d_lab = upload(device, lab), d_counts = upload(device, counts32);
  DeviceBuffer d_mi = c.buffer(units, sizeof(float)), d_exceed = c.buffer(units, sizeof(std::uint32_t));
  DeviceBuffer d_max = c.buffer(P, sizeof(std::uint32_t));
  kernels::CdModelParams k;
  if (c.bf16) {
    k.z_bf16 = as<const __nv_bfloat16>(d_z);
  } else {
    k.z = as<const float>(d_z);
  }
  k.labels = as<const std::int32_t>(d_lab);
  k.counts = as<const std::int32_t>(d_counts);
  k.units = units;
  k.n = n;
  k.n_perms = P;
  k.classes = classes;
  k.s_n = c.bf16 ? c.s_b : c.s_f;
  k.constant = constant;
  k.mi = as<float>(d_mi);
  k.exceed = as<std::uint32_t>(d_exceed);
  k.max_key = as<std::uint32_t>(d_max);
  kernels::cd_model(device, k, kernels::CdPass::observed);
  const auto mi = download<float>(device, d_mi, static_cast<std::size_t>(units));
  for (std::int64_t u = 0; u < units; ++u) {
    if (!std::isfinite(mi[static_cast<std::size_t>(u)])) {
      fail("{}: variable {} has zero variance within a class (all of the class's copula values are tied)", what, u);
    }
  }
  result.mi.assign(mi.begin(), mi.end());
  if (P == 0) return result;
  kernels::cd_model(device, k, kernels::CdPass::permuted);
  detail::start_null(result);
  result.exceed = download<std::uint32_t>(device, d_exceed, static_cast<std::size_t>(units));
  const auto max = download<std::uint32_t>(device, d_max, static_cast<std::size_t>(P));
  for (std::int64_t p = 0; p < P; ++p) {
    const double v = kernels::cond_key_value(max[static_cast<std::size_t>(p)]);
    if (!std::isfinite(v)) {
      fail("{}: a variable has zero variance within a class in permutation {}", what, p);
    }
    result.max_null[static_cast<std::size_t>(p)] = v;
    result.max_null_all[static_cast<std::size_t>(p)] = v;
  }
  return result;
}

}  // namespace

AllPairsResult gccmi_ccc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                   std::int64_t features, const double* z, std::int64_t trials,
                                   const AllPairsOptions& options) {
  if (device.backend == Backend::cpu) return gccmi_ccc_all_pairs(x, units, y, features, z, trials, options);
  check_ccc_inputs("gccmi_ccc_all_pairs", x, units, y, features, z, trials, options);
  return ccc_on_device(device, unit_source(x, trials), units, y, features, z, trials, options, {});
}

AllPairsResult coinfo_ccc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                    std::int64_t features, const double* z, std::int64_t trials,
                                    const AllPairsOptions& options) {
  if (device.backend == Backend::cpu) return coinfo_ccc_all_pairs(x, units, y, features, z, trials, options);
  check_ccc_inputs("coinfo_ccc_all_pairs", x, units, y, features, z, trials, options);
  return coinfo_on_device(device, unit_source(x, trials), units, y, features, z, trials, options, {});
}

namespace {

// The streamed forms: the cpu device gathers the tiles and runs the CPU engine.
template <typename Cpu, typename Dev>
AllPairsResult streamed(std::string_view what, const Device& device, const UnitSource& x, std::int64_t units,
                        const double* y, std::int64_t features, const double* z, std::int64_t trials,
                        const AllPairsOptions& options, const TileOptions& tiles, Cpu&& cpu, Dev&& dev) {
  check_all_pairs_arguments(units, features, trials, options);
  if (!x) fail("{}: the unit source is empty", what);
  detail::check_finite_rows(y, features, trials, fmt::format("{}: y", what));
  detail::check_finite_rows(z, 1, trials, fmt::format("{}: z", what));
  if (trials < 4) fail("{}: needs more trials than the joint dimension 3 (N = {})", what, trials);
  if (device.backend != Backend::cpu) return dev(device, x, units, y, features, z, trials, options, tiles);
  std::vector<float> staged(static_cast<std::size_t>(units * trials));
  x(0, units, staged.data());
  const std::vector<double> whole(staged.begin(), staged.end());
  return cpu(whole.data(), units, y, features, z, trials, options);
}

}  // namespace

AllPairsResult gccmi_ccc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                            const double* y, std::int64_t features, const double* z,
                                            std::int64_t trials, const AllPairsOptions& options,
                                            const TileOptions& tiles) {
  return streamed("gccmi_ccc_all_pairs", device, x, units, y, features, z, trials, options, tiles,
                  [](auto... a) { return gccmi_ccc_all_pairs(a...); }, ccc_on_device);
}

AllPairsResult coinfo_ccc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                             const double* y, std::int64_t features, const double* z,
                                             std::int64_t trials, const AllPairsOptions& options,
                                             const TileOptions& tiles) {
  return streamed("coinfo_ccc_all_pairs", device, x, units, y, features, z, trials, options, tiles,
                  [](auto... a) { return coinfo_ccc_all_pairs(a...); }, coinfo_on_device);
}

AllPairsResult gcmi_model_cd_batched(const Device& device, const double* x, std::int64_t units,
                                     const std::int32_t* labels, std::int64_t trials, int classes,
                                     const AllPairsOptions& options) {
  if (device.backend == Backend::cpu) return gcmi_model_cd_batched(x, units, labels, trials, classes, options);
  return cd_on_device(device, x, units, labels, trials, classes, options);
}

}  // namespace deeper::info
