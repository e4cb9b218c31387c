// Batch normalisation on the CPU: the reference for batchnorm.cu (definitions in batchnorm.h), in
// float or double, with fp64 sums. Also the parameter checks, the workspace size and the dispatch.
#include "kernels/nn/batchnorm.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/nn/optimizer.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace deeper::kernels {

int batchnorm_splits(std::int64_t rows, std::int64_t channels) {
  const std::int64_t channel_blocks = (channels + 31) / 32;
  const std::int64_t wanted = std::max<std::int64_t>(1, 1024 / std::max<std::int64_t>(channel_blocks, 1));
  const std::int64_t useful = std::max<std::int64_t>(1, (rows + 63) / 64);  // >= 8 rows per thread
  return static_cast<int>(std::min<std::int64_t>({wanted, useful, 1024}));
}

std::size_t batchnorm_workspace_bytes(std::int64_t rows, std::int64_t channels) {
  // partial sums: splits x 3 x channels doubles; coefficients: 6 x channels floats
  const auto splits = static_cast<std::size_t>(batchnorm_splits(rows, channels));
  const auto c = static_cast<std::size_t>(std::max<std::int64_t>(channels, 0));
  return splits * 3 * c * sizeof(double) + 6 * c * sizeof(float);
}

namespace {

void check_sizes(const char* op, std::int64_t rows, std::int64_t channels, std::int64_t min_rows) {
  DEEPER_CHECK(rows >= min_rows, "{}: {} rows (N·H·W); needs at least {}", op, rows, min_rows);
  DEEPER_CHECK(channels >= 1 && channels <= (std::int64_t{1} << 24), "{}: {} channels is outside [1, 2^24]", op,
               channels);
  DEEPER_CHECK(rows <= (std::int64_t{1} << 40) / channels, "{}: {} x {} values is too many", op, rows, channels);
}

template <typename T>
void check_channels(const char* op, const char* which, const BatchNormChannelsT<T>& bn, bool need_beta,
                    bool need_stats) {
  DEEPER_CHECK(bn.gamma != nullptr, "{}: null gamma ({})", op, which);
  DEEPER_CHECK(!need_beta || bn.beta != nullptr, "{}: null beta ({})", op, which);
  DEEPER_CHECK(bn.mean != nullptr, "{}: null mean ({})", op, which);
  if (need_stats) {
    DEEPER_CHECK(bn.invstd != nullptr, "{}: null saved invstd ({})", op, which);
  } else {
    DEEPER_CHECK(bn.invstd != nullptr || bn.var != nullptr, "{}: neither invstd nor var given ({})", op, which);
    DEEPER_CHECK(bn.invstd != nullptr || (bn.eps > T(0) && std::isfinite(static_cast<double>(bn.eps))),
                 "{}: eps {} must be positive ({})", op, static_cast<double>(bn.eps), which);
  }
}

// The running statistics and hyper-parameters of a statistics call (batchnorm_stats and
// batchnorm_stats_from_partials).
template <typename T>
void check_running_statistics(const char* op, const BatchNormStatsParamsT<T>& p) {
  DEEPER_CHECK((p.running_mean == nullptr) == (p.running_var == nullptr),
               "{}: give both running_mean and running_var, or neither", op);
  DEEPER_CHECK(p.eps > T(0) && std::isfinite(static_cast<double>(p.eps)), "{}: eps {} must be positive", op,
               static_cast<double>(p.eps));
  DEEPER_CHECK(p.momentum >= T(0) && p.momentum <= T(1), "{}: momentum {} is outside [0, 1]", op,
               static_cast<double>(p.momentum));
}

}  // namespace

template <typename T>
void check_batchnorm_stats_params(const BatchNormStatsParamsT<T>& p, bool device_side) {
  check_sizes("batchnorm_stats", p.rows, p.channels, 2);
  DEEPER_CHECK(p.x != nullptr && p.save_mean != nullptr && p.save_invstd != nullptr,
               "batchnorm_stats: null input, save_mean or save_invstd");
  check_running_statistics("batchnorm_stats", p);
  DEEPER_CHECK(!device_side || p.workspace != nullptr,
               "batchnorm_stats: null workspace (batchnorm_workspace_bytes(rows, channels) bytes)");
  DEEPER_CHECK(!device_side || reinterpret_cast<std::uintptr_t>(p.workspace) % 16 == 0,
               "batchnorm_stats: the workspace must be 16-byte aligned");
}

void check_batchnorm_stats_from_partials_params(const BatchNormStatsParamsT<float>& p, const double* partials,
                                                int splits) {
  const char* op = "batchnorm_stats_from_partials";
  check_sizes(op, p.rows, p.channels, 2);
  DEEPER_CHECK(p.save_mean != nullptr && p.save_invstd != nullptr, "{}: null save_mean or save_invstd", op);
  check_running_statistics(op, p);
  DEEPER_CHECK(partials != nullptr, "{}: null partials", op);
  DEEPER_CHECK(reinterpret_cast<std::uintptr_t>(partials) % alignof(double) == 0, "{}: partials must be 8-byte aligned",
               op);
  DEEPER_CHECK(splits >= 1, "{}: {} splits; needs at least 1", op, splits);
}

template <typename T>
void check_batchnorm_apply_params(const BatchNormApplyParamsT<T>& p) {
  check_sizes("batchnorm_apply", p.rows, p.channels, 1);
  DEEPER_CHECK(p.x != nullptr && p.y != nullptr, "batchnorm_apply: null input or output");
  check_channels("batchnorm_apply", "main", p.bn, true, false);
  if (p.residual != BnResidual::none) DEEPER_CHECK(p.r != nullptr, "batchnorm_apply: null residual");
  if (p.residual == BnResidual::batchnorm) check_channels("batchnorm_apply", "residual", p.r_bn, true, false);
}

template <typename T>
void check_batchnorm_backward_params(const BatchNormBackwardParamsT<T>& p, bool device_side) {
  check_sizes("batchnorm_backward", p.rows, p.channels, 1);
  DEEPER_CHECK(p.dy != nullptr && p.x != nullptr && p.dx != nullptr, "batchnorm_backward: null dy, x or dx");
  DEEPER_CHECK(p.dgamma != nullptr && p.dbeta != nullptr, "batchnorm_backward: null dgamma or dbeta");
  DEEPER_CHECK(!p.relu || p.y != nullptr, "batchnorm_backward: null y (the forward output; needed with relu)");
  check_channels("batchnorm_backward", "main", p.bn, false, true);
  if (p.residual != BnResidual::none) DEEPER_CHECK(p.dr != nullptr, "batchnorm_backward: null residual gradient dr");
  if (p.residual == BnResidual::batchnorm) {
    DEEPER_CHECK(p.r != nullptr, "batchnorm_backward: null residual input r");
    DEEPER_CHECK(p.dr_gamma != nullptr && p.dr_beta != nullptr, "batchnorm_backward: null dr_gamma or dr_beta");
    check_channels("batchnorm_backward", "residual", p.r_bn, false, true);
  }
  DEEPER_CHECK(!device_side || p.workspace != nullptr,
               "batchnorm_backward: null workspace (batchnorm_workspace_bytes(rows, channels) bytes)");
  DEEPER_CHECK(!device_side || reinterpret_cast<std::uintptr_t>(p.workspace) % 16 == 0,
               "batchnorm_backward: the workspace must be 16-byte aligned");
}

namespace cpu_impl {

namespace {

// Per-channel sums over the rows, row-major (cache-friendly for NHWC): rows are cut into a fixed
// number of chunks (independent of the thread count, so results are reproducible), each chunk
// accumulates NQ x C doubles with term(q, i, c), and the chunks are added in order.
template <int NQ, typename F>
std::vector<double> channel_sums(std::int64_t rows, std::int64_t C, F&& term) {
  const std::int64_t chunks = std::min<std::int64_t>(rows, 64), per = (rows + chunks - 1) / chunks;
  std::vector<double> partial(static_cast<std::size_t>(chunks * NQ * C), 0.0);
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < chunks; ++k) {
    double* acc = partial.data() + k * NQ * C;
    for (std::int64_t r = k * per; r < std::min(rows, (k + 1) * per); ++r) {
      for (std::int64_t c = 0; c < C; ++c) {
        double t[NQ];
        term(r * C + c, c, t);
        for (int q = 0; q < NQ; ++q) acc[q * C + c] += t[q];
      }
    }
  }
  std::vector<double> total(static_cast<std::size_t>(NQ * C), 0.0);
  for (std::int64_t k = 0; k < chunks; ++k) {
    for (std::int64_t j = 0; j < NQ * C; ++j) total[j] += partial[k * NQ * C + j];
  }
  return total;
}

}  // namespace

namespace {

// Channel c's outputs from its batch mean and biased variance (which normalises): save_mean,
// save_invstd, and the running statistics moved by momentum m, the mean towards mean + x_bias and
// the variance by `var_step` = m · the unbiased variance (rounded as the caller's arithmetic does:
// each caller matches a different reference bit for bit).
template <typename T>
void store_channel_statistics(const BatchNormStatsParamsT<T>& p, std::int64_t c, double mean, double var,
                              double var_step) {
  p.save_mean[c] = static_cast<T>(mean);
  p.save_invstd[c] = static_cast<T>(1.0 / std::sqrt(var + static_cast<double>(p.eps)));
  if (p.running_mean == nullptr) return;
  const double m = static_cast<double>(p.momentum);
  const double biased_mean = mean + (p.x_bias != nullptr ? static_cast<double>(p.x_bias[c]) : 0.0);
  p.running_mean[c] = static_cast<T>((1 - m) * static_cast<double>(p.running_mean[c]) + m * biased_mean);
  p.running_var[c] = static_cast<T>((1 - m) * static_cast<double>(p.running_var[c]) + var_step);
}

}  // namespace

template <typename T>
void batchnorm_stats(const BatchNormStatsParamsT<T>& p) {
  check_batchnorm_stats_params(p, false);
  const std::int64_t C = p.channels;
  const double n = static_cast<double>(p.rows);
  const std::vector<double> sums =
      channel_sums<1>(p.rows, C, [&](std::int64_t i, std::int64_t, double* t) { t[0] = static_cast<double>(p.x[i]); });
  std::vector<double> mean(static_cast<std::size_t>(C));
  for (std::int64_t c = 0; c < C; ++c) mean[c] = sums[c] / n;
  const std::vector<double> squares = channel_sums<1>(p.rows, C, [&](std::int64_t i, std::int64_t c, double* t) {
    const double d = static_cast<double>(p.x[i]) - mean[c];
    t[0] = d * d;
  });
  const double m = static_cast<double>(p.momentum);
  for (std::int64_t c = 0; c < C; ++c) store_channel_statistics(p, c, mean[c], squares[c] / n, m * (squares[c] / (n - 1)));
}

void batchnorm_stats_from_partials(const BatchNormStatsParams& p, const double* partials, int splits) {
  check_batchnorm_stats_from_partials_params(p, partials, splits);
  constexpr int kRowLanes = 8;  // bn_stats_final_kernel's lanes (batchnorm.cu), for its order of additions
  const std::int64_t C = p.channels;
  for (std::int64_t c = 0; c < C; ++c) {
    double total[2] = {0.0, 0.0};
    for (int lane = 0; lane < kRowLanes; ++lane) {
      double acc[2] = {0.0, 0.0};
      for (int k = lane; k < splits; k += kRowLanes) {
        acc[0] += partials[(2 * static_cast<std::int64_t>(k)) * C + c];
        acc[1] += partials[(2 * static_cast<std::int64_t>(k) + 1) * C + c];
      }
      total[0] += acc[0];
      total[1] += acc[1];
    }
    const double n = static_cast<double>(p.rows);
    const double mean = total[0] / n;
    double var = total[1] / n - mean * mean;
    var = var > 0.0 ? var : 0.0;
    store_channel_statistics(p, c, mean, var, p.momentum * var * n / (n - 1.0));  // bn_stats_final_kernel's rounding
  }
}

namespace {

template <typename T>
T channel_invstd(const BatchNormChannelsT<T>& bn, std::int64_t c) {
  return bn.invstd != nullptr ? bn.invstd[c] : T(1) / std::sqrt(bn.var[c] + bn.eps);
}

template <typename T>
T relu_value(T z) {
  return z > T(0) || z != z ? z : T(0);
}

}  // namespace

template <typename T>
void batchnorm_apply(const BatchNormApplyParamsT<T>& p) {
  check_batchnorm_apply_params(p);
  const std::int64_t C = p.channels;
  std::vector<T> invstd(static_cast<std::size_t>(C)), r_invstd(static_cast<std::size_t>(C));
  std::vector<T> center(static_cast<std::size_t>(C)), r_center(static_cast<std::size_t>(C));  // mean - x_bias
  for (std::int64_t c = 0; c < C; ++c) {
    invstd[c] = channel_invstd(p.bn, c);
    center[c] = p.bn.mean[c] - (p.bn.x_bias != nullptr ? p.bn.x_bias[c] : T(0));
    if (p.residual == BnResidual::batchnorm) {
      r_invstd[c] = channel_invstd(p.r_bn, c);
      r_center[c] = p.r_bn.mean[c] - (p.r_bn.x_bias != nullptr ? p.r_bn.x_bias[c] : T(0));
    }
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < p.rows; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t i = r * C + c;
      T z = p.bn.gamma[c] * ((p.x[i] - center[c]) * invstd[c]) + p.bn.beta[c];
      if (p.residual == BnResidual::identity) z += p.r[i];
      if (p.residual == BnResidual::batchnorm) {
        z += p.r_bn.gamma[c] * ((p.r[i] - r_center[c]) * r_invstd[c]) + p.r_bn.beta[c];
      }
      p.y[i] = p.relu ? relu_value(z) : z;
      if (p.y_bf16 != nullptr) p.y_bf16[i] = float_to_bf16_bits(static_cast<float>(p.y[i]));
    }
  }
}

template <typename T>
void batchnorm_backward(const BatchNormBackwardParamsT<T>& p) {
  check_batchnorm_backward_params(p, false);
  const std::int64_t C = p.channels, rows = p.rows;
  const auto dz = [&](std::int64_t i) { return p.relu && !(p.y[i] > T(0)) ? T(0) : p.dy[i]; };
  const bool two = p.residual == BnResidual::batchnorm;
  const std::vector<double> sums = channel_sums<3>(rows, C, [&](std::int64_t i, std::int64_t c, double* t) {
    const double g = static_cast<double>(dz(i));
    t[0] = g;
    t[1] = g * (static_cast<double>(p.x[i]) - static_cast<double>(p.bn.mean[c]));
    t[2] = two ? g * (static_cast<double>(p.r[i]) - static_cast<double>(p.r_bn.mean[c])) : 0.0;
  });
  std::vector<double> k(static_cast<std::size_t>(6 * C));
  for (std::int64_t c = 0; c < C; ++c) {
    const double s = sums[c], sx = sums[C + c], sr = sums[2 * C + c];
    const double inv = static_cast<double>(p.bn.invstd[c]), n = static_cast<double>(rows);
    p.dbeta[c] = static_cast<T>(s);
    p.dgamma[c] = static_cast<T>(sx * inv);
    k[c] = static_cast<double>(p.bn.gamma[c]) * inv;
    k[C + c] = sx * inv * inv / n;
    if (two) {
      const double rinv = static_cast<double>(p.r_bn.invstd[c]);
      p.dr_beta[c] = static_cast<T>(s);
      p.dr_gamma[c] = static_cast<T>(sr * rinv);
      k[2 * C + c] = static_cast<double>(p.r_bn.gamma[c]) * rinv;
      k[3 * C + c] = sr * rinv * rinv / n;
    }
    k[4 * C + c] = s / n;
  }
#pragma omp parallel for schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t c = 0; c < C; ++c) {
      const std::int64_t i = r * C + c;
      const double g = static_cast<double>(dz(i)), mean_g = k[4 * C + c];
      const double xc = static_cast<double>(p.x[i]) - static_cast<double>(p.bn.mean[c]);
      p.dx[i] = static_cast<T>(k[c] * (g - mean_g - xc * k[C + c]));
      if (p.dx_bf16 != nullptr) p.dx_bf16[i] = float_to_bf16_bits(static_cast<float>(p.dx[i]));
      if (p.residual == BnResidual::identity) p.dr[i] = static_cast<T>(g);
      if (two) {
        const double rc = static_cast<double>(p.r[i]) - static_cast<double>(p.r_bn.mean[c]);
        p.dr[i] = static_cast<T>(k[2 * C + c] * (g - mean_g - rc * k[3 * C + c]));
      }
      if (p.dr_bf16 != nullptr && p.residual != BnResidual::none) {
        p.dr_bf16[i] = float_to_bf16_bits(static_cast<float>(p.dr[i]));
      }
    }
  }
}

}  // namespace cpu_impl

#define DEEPER_BATCHNORM_INSTANTIATE(T)                                                      \
  template void check_batchnorm_stats_params(const BatchNormStatsParamsT<T>&, bool);         \
  template void check_batchnorm_apply_params(const BatchNormApplyParamsT<T>&);               \
  template void check_batchnorm_backward_params(const BatchNormBackwardParamsT<T>&, bool);   \
  template void cpu_impl::batchnorm_stats(const BatchNormStatsParamsT<T>&);                   \
  template void cpu_impl::batchnorm_apply(const BatchNormApplyParamsT<T>&);                   \
  template void cpu_impl::batchnorm_backward(const BatchNormBackwardParamsT<T>&);
DEEPER_BATCHNORM_INSTANTIATE(float)
DEEPER_BATCHNORM_INSTANTIATE(double)
#undef DEEPER_BATCHNORM_INSTANTIATE

void batchnorm_stats(const Device& device, const BatchNormStatsParams& p, void* stream) {
  check_batchnorm_stats_params(p, device.backend != Backend::cpu);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::batchnorm_stats(p);
    case Backend::emu:
      return emu_impl::batchnorm_stats(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::batchnorm_stats(p, stream));
  }
}

void batchnorm_stats_from_partials(const Device& device, const BatchNormStatsParams& p, const double* partials,
                                   int splits, void* stream) {
  check_batchnorm_stats_from_partials_params(p, partials, splits);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::batchnorm_stats_from_partials(p, partials, splits);
    case Backend::emu:
      return emu_impl::batchnorm_stats_from_partials(p, partials, splits, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::batchnorm_stats_from_partials(p, partials, splits, stream));
  }
}

void batchnorm_apply(const Device& device, const BatchNormApplyParams& p, void* stream) {
  check_batchnorm_apply_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::batchnorm_apply(p);
    case Backend::emu:
      return emu_impl::batchnorm_apply(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::batchnorm_apply(p, stream));
  }
}

void batchnorm_backward(const Device& device, const BatchNormBackwardParams& p, void* stream) {
  check_batchnorm_backward_params(p, device.backend != Backend::cpu);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::batchnorm_backward(p);
    case Backend::emu:
      return emu_impl::batchnorm_backward(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::batchnorm_backward(p, stream));
  }
}

void batchnorm_forward_train(const Device& device, const BatchNormStatsParams& stats, BatchNormApplyParams apply,
                             void* stream) {
  DEEPER_CHECK(apply.x == stats.x && apply.rows == stats.rows && apply.channels == stats.channels,
               "batchnorm_forward_train: the apply step must read the same x ({} x {}) as the statistics",
               stats.rows, stats.channels);
  batchnorm_stats(device, stats, stream);
  apply.bn.mean = stats.save_mean;
  apply.bn.invstd = stats.save_invstd;
  batchnorm_apply(device, apply, stream);
}

}  // namespace deeper::kernels
