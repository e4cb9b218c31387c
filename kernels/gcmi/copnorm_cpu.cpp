// copnorm_rows on the CPU: the reference for copnorm.cu and the cpu backend (definition in
// copnorm.h). Per row (OpenMP over rows): build the same unique 64-bit keys, std::sort them, scatter
// the table. Also holds check_copnorm_params and the backend dispatch.
#include "kernels/gcmi/copnorm.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace deeper::kernels {

void check_copnorm_params(const CopnormParams& p) {
  DEEPER_CHECK(p.rows >= 0, "copnorm_rows: negative number of rows {}", p.rows);
  DEEPER_CHECK(p.n >= 1 && p.n <= kCopnormMaxN,
               "copnorm_rows: N = {} trials is outside [1, {}] (the keys of a row must fit in shared memory)",
               p.n, kCopnormMaxN);
  DEEPER_CHECK(p.policy == CopnormTies::stable || p.policy == CopnormTies::jitter,
               "copnorm_rows: unknown tie policy {} (stable or jitter; average is CPU-only in infotheory/)",
               static_cast<std::uint32_t>(p.policy));
  if (p.rows == 0) return;
  DEEPER_CHECK(p.in != nullptr && p.table != nullptr, "copnorm_rows: null input or table");
  DEEPER_CHECK(p.out != nullptr || p.out_bf16 != nullptr,
               "copnorm_rows: no output (out and out_bf16 are both null)");
  DEEPER_CHECK(p.bad != nullptr && p.ties != nullptr, "copnorm_rows: null bad-row flags or tie counts");
}

namespace cpu_impl {

void copnorm_rows(const CopnormParams& p) {
  check_copnorm_params(p);
  const std::uint32_t m = copnorm_pow2(p.n);
  const float nan = std::numeric_limits<float>::quiet_NaN();
#pragma omp parallel
  {
    std::vector<std::uint64_t> keys(static_cast<std::size_t>(p.n));
#pragma omp for schedule(dynamic, 16)
    for (std::int64_t row = 0; row < p.rows; ++row) {
      const float* in = p.in + row * p.n;
      const std::uint64_t variable = p.variable_offset + static_cast<std::uint64_t>(row);
      bool bad = false;
      for (std::int64_t i = 0; i < p.n; ++i) {
        const auto k = static_cast<std::uint32_t>(i);
        bad |= !std::isfinite(in[i]);
        const std::uint32_t w =
            p.policy == CopnormTies::jitter ? copnorm_jitter_word(p.seed, variable, k) : 0u;
        keys[static_cast<std::size_t>(i)] =
            (std::uint64_t{copnorm_value_word(in[i])} << 32) | copnorm_tie_word(p.policy, w, k, m);
      }
      float* out = p.out ? p.out + row * p.n : nullptr;
      __nv_bfloat16* out_bf16 = p.out_bf16 ? p.out_bf16 + row * p.n : nullptr;
      if (bad) {
        if (out) std::fill(out, out + p.n, nan);
        if (out_bf16) std::fill(out_bf16, out_bf16 + p.n, __float2bfloat16_rn(nan));
        p.bad[row] = 1;
        p.ties[row] = 0;
        continue;
      }
      std::sort(keys.begin(), keys.end());
      std::uint32_t ties = 0;
      for (std::int64_t i = 0; i < p.n; ++i) {
        const std::uint64_t key = keys[static_cast<std::size_t>(i)];
        const std::size_t trial = static_cast<std::uint32_t>(key) & (m - 1);
        if (out) out[trial] = p.table[i];
        if (out_bf16) out_bf16[trial] = __float2bfloat16_rn(p.table[i]);
        if (i > 0 && (key >> 32) == (keys[static_cast<std::size_t>(i - 1)] >> 32)) ++ties;
      }
      p.bad[row] = 0;
      p.ties[row] = ties;
    }
  }
}

}  // namespace cpu_impl

void copnorm_rows(const Device& device, const CopnormParams& p, void* stream) {
  check_copnorm_params(p);
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::copnorm_rows(p);
    case Backend::emu:
      return emu_impl::copnorm_rows(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::copnorm_rows(p, stream));
  }
}

}  // namespace deeper::kernels
