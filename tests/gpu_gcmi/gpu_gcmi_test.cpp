// GCMI kernels on a real GPU against the CPU reference: copnorm_rows bit for bit (shared memory
// above 48 KiB included), allpairs_mi (simt_f32 and wmma_bf16) with fused permutation statistics,
// and a unit count whose Zx passes 2^31 elements. Every test skips, naming the reason, without a
// usable GPU or without the nvcc pass in this build.
#include "kernels/common/random_fill.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/copnorm.h"
#include "kernels/gcmi/permutations.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <gtest/gtest.h>

#include "tests/support/gpu_test_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#if DEEPER_HAVE_CUDA_KERNELS
namespace {

namespace dk = deeper::kernels;
using deeper::Device;

const Device kGpu = Device::cuda(0);

using deeper::test::to_gpu;
using deeper::test::to_host;

double inverse_normal_cdf(double p) {
  double lo = -40, hi = 40;
  for (int i = 0; i < 200 && hi - lo > 1e-15; ++i) {
    const double mid = 0.5 * (lo + hi);
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

std::vector<float> rank_table(std::int64_t n) {
  std::vector<float> t(static_cast<std::size_t>(n));
  for (std::int64_t i = 0; i < n; ++i)
    t[static_cast<std::size_t>(i)] = static_cast<float>(inverse_normal_cdf((i + 1.0) / (n + 1.0)));
  return t;
}

// Normal values with ties: a third of them zeros of either sign, every 11th equal to 0.25.
std::vector<float> tied_rows(std::int64_t rows, std::int64_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal;
  std::vector<float> v(static_cast<std::size_t>(rows * n));
  for (std::size_t i = 0; i < v.size(); ++i) {
    v[i] = normal(gen);
    if (v[i] < -0.4f) v[i] = (i & 1) ? -0.0f : 0.0f;
    if (i % 11 == 0) v[i] = 0.25f;
  }
  return v;
}

struct CopnormOut {
  std::vector<float> out;
  std::vector<std::uint16_t> bf16;
  std::vector<std::uint32_t> bad, ties;
};

CopnormOut copnorm_cpu(const std::vector<float>& in, std::int64_t rows, std::int64_t n,
                       const std::vector<float>& table, dk::CopnormTies policy, std::uint64_t seed) {
  CopnormOut o{std::vector<float>(in.size()), std::vector<std::uint16_t>(in.size()),
               std::vector<std::uint32_t>(static_cast<std::size_t>(rows)),
               std::vector<std::uint32_t>(static_cast<std::size_t>(rows))};
  dk::CopnormParams p;
  p.in = in.data();
  p.rows = rows;
  p.n = n;
  p.table = table.data();
  p.out = o.out.data();
  p.out_bf16 = reinterpret_cast<__nv_bfloat16*>(o.bf16.data());
  p.bad = o.bad.data();
  p.ties = o.ties.data();
  p.policy = policy;
  p.seed = seed;
  dk::cpu_impl::copnorm_rows(p);
  return o;
}

}  // namespace

TEST(GpuGcmi, CopnormMatchesCpuBitForBit) {
  DEEPER_REQUIRE_CUDA();
  struct Case {
    std::int64_t rows, n;
  };
  for (const Case c : {Case{3001, 1000}, Case{257, 4097}, Case{64, dk::kCopnormMaxN}, Case{5000, 31}}) {
    auto in = tied_rows(c.rows, c.n, static_cast<unsigned>(c.n));
    in[static_cast<std::size_t>(5 * c.n + 3)] = std::numeric_limits<float>::quiet_NaN();
    const auto table = rank_table(c.n);
    for (const auto policy : {dk::CopnormTies::stable, dk::CopnormTies::jitter}) {
      const CopnormOut want = copnorm_cpu(in, c.rows, c.n, table, policy, 9);
      auto d_in = to_gpu(in), d_table = to_gpu(table);
      const std::size_t values = in.size(), rows = static_cast<std::size_t>(c.rows);
      auto d_out = to_gpu(std::vector<float>(values, -1.0f)),
           d_bf16 = to_gpu(std::vector<std::uint16_t>(values, 0xFFFFu));
      auto d_bad = to_gpu(std::vector<std::uint32_t>(rows, 7u)),
           d_ties = to_gpu(std::vector<std::uint32_t>(rows, 7u));
      dk::CopnormParams p;
      p.in = static_cast<const float*>(d_in.data());
      p.rows = c.rows;
      p.n = c.n;
      p.table = static_cast<const float*>(d_table.data());
      p.out = static_cast<float*>(d_out.data());
      p.out_bf16 = static_cast<__nv_bfloat16*>(d_bf16.data());
      p.bad = static_cast<std::uint32_t*>(d_bad.data());
      p.ties = static_cast<std::uint32_t*>(d_ties.data());
      p.policy = policy;
      p.seed = 9;
      dk::copnorm_rows(kGpu, p);
      const std::string what = "rows=" + std::to_string(c.rows) + " n=" + std::to_string(c.n);
      const auto out = to_host<float>(d_out, values);
      EXPECT_EQ(std::memcmp(out.data(), want.out.data(), values * sizeof(float)), 0) << what;
      EXPECT_EQ(to_host<std::uint16_t>(d_bf16, values), want.bf16) << what;
      EXPECT_EQ(to_host<std::uint32_t>(d_bad, rows), want.bad) << what;
      EXPECT_EQ(to_host<std::uint32_t>(d_ties, rows), want.ties) << what;
      EXPECT_EQ(want.bad[5], 1u);
    }
  }
}

// All pairs with P permutations on the GPU and the CPU, from the same copula-normalised inputs.
TEST(GpuGcmi, AllPairsWithPermutationsMatchesCpu) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t U = 3001, F = 70, N = 1000, P = 50;
  const auto table = rank_table(N);
  const CopnormOut x = copnorm_cpu(tied_rows(U, N, 1), U, N, table, dk::CopnormTies::jitter, 1);
  // Zy: each feature mixes a unit with noise so that some pairs are strongly dependent.
  std::mt19937 gen(2);
  std::normal_distribution<float> normal;
  std::vector<float> y(static_cast<std::size_t>(F * N));
  for (std::int64_t f = 0; f < F; ++f) {
    for (std::int64_t k = 0; k < N; ++k)
      y[static_cast<std::size_t>(f * N + k)] =
          0.3f * x.out[static_cast<std::size_t>(f * 41 * N + k)] + normal(gen);
  }
  const CopnormOut zy = copnorm_cpu(y, F, N, table, dk::CopnormTies::stable, 0);
  std::vector<std::int32_t> perms(static_cast<std::size_t>(P * N));
  dk::make_permutations(5, 0, P, N, perms.data());
  auto d_zx = to_gpu(x.out), d_zy = to_gpu(zy.out), d_zxb = to_gpu(x.bf16), d_zyb = to_gpu(zy.bf16),
       d_perms = to_gpu(perms);
  const std::size_t pairs = static_cast<std::size_t>(U * F);
  for (const auto math : {dk::AllPairsMath::simt_f32, dk::AllPairsMath::wmma_bf16}) {
    const bool bf16 = math == dk::AllPairsMath::wmma_bf16;
    dk::AllPairsParams p;
    p.math = math;
    p.units = U;
    p.features = F;
    p.n = N;
    p.s_n = dk::table_sum_of_squares(table.data(), N, bf16);
    p.bias = 7.231552e-04;
    p.n_perms = P;
    // CPU reference.
    std::vector<float> mi(pairs), r2(pairs), max_pf(static_cast<std::size_t>(P * F)),
        max_p(static_cast<std::size_t>(P));
    std::vector<std::uint32_t> exceed(pairs);
    dk::AllPairsParams c = p;
    c.zx = x.out.data();
    c.zy = zy.out.data();
    c.zx_bf16 = reinterpret_cast<const __nv_bfloat16*>(x.bf16.data());
    c.zy_bf16 = reinterpret_cast<const __nv_bfloat16*>(zy.bf16.data());
    c.mi = mi.data();
    c.r2 = r2.data();
    c.perms = perms.data();
    c.exceed = exceed.data();
    c.max_r2_pf = max_pf.data();
    c.max_r2_p = max_p.data();
    dk::cpu_impl::allpairs_mi(c);
    // GPU, outputs poisoned.
    auto d_mi = to_gpu(std::vector<float>(pairs, -9.0f)), d_r2 = to_gpu(std::vector<float>(pairs, -9.0f));
    auto d_exceed = to_gpu(std::vector<std::uint32_t>(pairs, 12345u));
    auto d_max_pf = to_gpu(std::vector<float>(max_pf.size(), -9.0f)),
         d_max_p = to_gpu(std::vector<float>(max_p.size(), -9.0f));
    p.zx = static_cast<const float*>(d_zx.data());
    p.zy = static_cast<const float*>(d_zy.data());
    p.zx_bf16 = static_cast<const __nv_bfloat16*>(d_zxb.data());
    p.zy_bf16 = static_cast<const __nv_bfloat16*>(d_zyb.data());
    p.mi = static_cast<float*>(d_mi.data());
    p.r2 = static_cast<float*>(d_r2.data());
    p.perms = static_cast<const std::int32_t*>(d_perms.data());
    p.exceed = static_cast<std::uint32_t*>(d_exceed.data());
    p.max_r2_pf = static_cast<float*>(d_max_pf.data());
    p.max_r2_p = static_cast<float*>(d_max_p.data());
    dk::allpairs_mi(kGpu, p);
    const auto g_mi = to_host<float>(d_mi, pairs), g_r2 = to_host<float>(d_r2, pairs);
    const auto g_exceed = to_host<std::uint32_t>(d_exceed, pairs);
    const auto g_max_pf = to_host<float>(d_max_pf, max_pf.size()),
               g_max_p = to_host<float>(d_max_p, max_p.size());
    const char* what = bf16 ? "wmma_bf16" : "simt_f32";
    std::size_t inexact = 0;
    for (std::size_t i = 0; i < pairs; ++i) {
      ASSERT_NEAR(g_r2[i], r2[i], 2e-6) << what << " pair " << i;
      ASSERT_NEAR(g_mi[i], mi[i], 4e-6 / (1 - r2[i])) << what << " pair " << i;
      if (g_exceed[i] == exceed[i]) continue;
      // A count may differ only by the permutations whose r² ties the observed one within fp32 noise.
      ++inexact;
      const std::int64_t u = static_cast<std::int64_t>(i) / F, f = static_cast<std::int64_t>(i) % F;
      int near = 0;
      for (std::int64_t q = 0; q < P; ++q) {
        double g = 0;
        for (std::int64_t k = 0; k < N; ++k) {
          const std::size_t xi = static_cast<std::size_t>(u * N + k);
          const std::size_t yi = static_cast<std::size_t>(f * N + perms[static_cast<std::size_t>(q * N + k)]);
          g += bf16 ? static_cast<double>(
                          __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(x.bf16.data())[xi])) *
                          __bfloat162float(reinterpret_cast<const __nv_bfloat16*>(zy.bf16.data())[yi])
                    : static_cast<double>(x.out[xi]) * zy.out[yi];
        }
        const double rq = g / p.s_n;
        near += std::fabs(rq * rq - r2[i]) < 1e-5;
      }
      ASSERT_LE(std::abs(static_cast<int>(g_exceed[i]) - static_cast<int>(exceed[i])), near)
          << what << " pair " << i;
    }
    EXPECT_LT(inexact, pairs / 100) << what;
    for (std::size_t i = 0; i < max_pf.size(); ++i)
      ASSERT_NEAR(g_max_pf[i], max_pf[i], 2e-6) << what << " " << i;
    for (std::size_t i = 0; i < max_p.size(); ++i)
      ASSERT_NEAR(g_max_p[i], max_p[i], 2e-6) << what << " " << i;
  }
}

// U·N above 2^31: the unit tiles at the end of Zx (64-bit offsets) against the CPU on those rows.
TEST(GpuGcmi, MoreThan2To31InputElements) {
  DEEPER_REQUIRE_CUDA();
  const std::int64_t U = (std::int64_t{1} << 21) + 77, F = 64, N = 1100, tail = 300;
  const auto table = rank_table(N);
  deeper::DeviceBuffer raw(kGpu, static_cast<std::size_t>(U * N) * sizeof(float));
  deeper::DeviceBuffer zx(kGpu, static_cast<std::size_t>(U * N) * sizeof(float));
  deeper::DeviceBuffer flags(kGpu, static_cast<std::size_t>(U) * 4),
      ties(kGpu, static_cast<std::size_t>(U) * 4);
  auto d_table = to_gpu(table);
  dk::RandomFillParams fill;
  fill.out = raw.data();
  fill.count = U * N;
  fill.seed = 3;
  fill.dist = dk::RandomDistribution::normal_f32;
  dk::random_fill(kGpu, fill);
  dk::CopnormParams cp;
  cp.in = static_cast<const float*>(raw.data());
  cp.rows = U;
  cp.n = N;
  cp.table = static_cast<const float*>(d_table.data());
  cp.out = static_cast<float*>(zx.data());
  cp.bad = static_cast<std::uint32_t*>(flags.data());
  cp.ties = static_cast<std::uint32_t*>(ties.data());
  dk::copnorm_rows(kGpu, cp);
  // Zy = the first F rows of Zx; outputs for all U × F pairs.
  const auto zy = to_host<float>(zx, static_cast<std::size_t>(F * N));
  auto d_zy = to_gpu(zy);
  deeper::DeviceBuffer mi(kGpu, static_cast<std::size_t>(U * F) * sizeof(float));
  dk::AllPairsParams p;
  p.zx = static_cast<const float*>(zx.data());
  p.zy = static_cast<const float*>(d_zy.data());
  p.units = U;
  p.features = F;
  p.n = N;
  p.s_n = dk::table_sum_of_squares(table.data(), N, false);
  p.mi = static_cast<float*>(mi.data());
  dk::allpairs_mi(kGpu, p);
  // The last `tail` rows: copnorm and MI recomputed on the CPU.
  const std::size_t first = static_cast<std::size_t>((U - tail) * N);
  const auto raw_tail = to_host<float>(raw, static_cast<std::size_t>(tail * N), first);
  const CopnormOut want = copnorm_cpu(raw_tail, tail, N, table, dk::CopnormTies::stable, 0);
  EXPECT_EQ(to_host<float>(zx, static_cast<std::size_t>(tail * N), first), want.out);
  std::vector<float> want_mi(static_cast<std::size_t>(tail * F));
  dk::AllPairsParams c = p;
  c.zx = want.out.data();
  c.zy = zy.data();
  c.units = tail;
  c.mi = want_mi.data();
  dk::cpu_impl::allpairs_mi(c);
  const auto got = to_host<float>(mi, want_mi.size(), static_cast<std::size_t>((U - tail) * F));
  for (std::size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want_mi[i], 1e-5) << i;
}
#else
TEST(GpuGcmi, NeedsTheCudaPass) { GTEST_SKIP() << "this build has no CUDA kernels (DEEPER_WITH_CUDA=OFF)"; }
#endif
