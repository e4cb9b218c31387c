// allpairs_mi: the emulated SIMT and wmma kernels against the CPU backend and against an fp64
// oracle that materialises every permuted statistic; odd shapes, poisoned outputs, the r² clamp,
// the documented bf16 tolerance.
#include "gcmi_test_data.h"

#include "core/error.h"
#include "kernels/gcmi/allpairs.h"
#include "kernels/gcmi/permutations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace dk = deeper::kernels;
using deeper::Backend;
using deeper::Device;

namespace {

const Device kEmu{Backend::emu, 0};
const Device kCpu{Backend::cpu, 0};
constexpr float kPoison = -4242.0f;

// One problem: copula-normalised Zx (U × N) and Zy (F × N), some rows of Zy correlated with Zx.
struct Problem {
  std::int64_t U, F, N, P;
  std::vector<float> table;
  gcmi_test::Copnormed zx, zy;
  std::vector<std::int32_t> perms;
};

Problem make_problem(std::int64_t U, std::int64_t F, std::int64_t N, std::int64_t P, unsigned seed) {
  Problem pr{U, F, N, P, gcmi_test::rank_table(N), {}, {}, {}};
  const auto x = gcmi_test::random_rows(U, N, seed);
  const auto y = gcmi_test::correlated_rows(x, U, F, N, seed + 1);
  pr.zx = gcmi_test::copnorm_cpu(x, U, N, pr.table);
  pr.zy = gcmi_test::copnorm_cpu(y, F, N, pr.table);
  pr.perms.resize(static_cast<std::size_t>(P * N));
  dk::make_permutations(seed, 0, P, N, pr.perms.data());
  return pr;
}

struct Outputs {
  std::vector<float> mi, r2, max_pf, max_p;
  std::vector<std::uint32_t> exceed;
};

Outputs run(const Device& device, const Problem& pr, dk::AllPairsMath math, int perms_per_block = 0) {
  const std::size_t pairs = static_cast<std::size_t>(pr.U * pr.F);
  Outputs o{std::vector<float>(pairs, kPoison), std::vector<float>(pairs, kPoison),
            std::vector<float>(static_cast<std::size_t>(pr.P * pr.F), kPoison),
            std::vector<float>(static_cast<std::size_t>(pr.P), kPoison),
            std::vector<std::uint32_t>(pairs, 0xDEADBEEFu)};
  dk::AllPairsParams p;
  p.math = math;
  p.zx = pr.zx.f32.data();
  p.zy = pr.zy.f32.data();
  p.zx_bf16 = pr.zx.bf16.data();
  p.zy_bf16 = pr.zy.bf16.data();
  p.units = pr.U;
  p.features = pr.F;
  p.n = pr.N;
  p.s_n = dk::table_sum_of_squares(pr.table.data(), pr.N, math == dk::AllPairsMath::wmma_bf16);
  p.bias = 0.001;
  p.mi = o.mi.data();
  p.r2 = o.r2.data();
  p.perms = pr.perms.data();
  p.n_perms = pr.P;
  p.exceed = o.exceed.data();
  p.max_r2_pf = o.max_pf.data();
  p.max_r2_p = o.max_p.data();
  p.perms_per_block = perms_per_block;
  dk::allpairs_mi(device, p);
  return o;
}

// The fp64 oracle: every r2_p[u][f] materialised from the inputs the version reads.
struct Oracle {
  std::vector<double> r2;                // U × F observed
  std::vector<double> null_r2;           // P × U × F
  std::vector<std::uint32_t> exceed;     // U × F
  std::vector<std::uint32_t> near_ties;  // U × F: permutations with |r2_p − r2| < margin
  std::vector<double> max_pf, max_p;
};

Oracle oracle(const Problem& pr, dk::AllPairsMath math, double margin) {
  const bool bf16 = math == dk::AllPairsMath::wmma_bf16;
  const auto zx = bf16 ? gcmi_test::widen(pr.zx.bf16) : pr.zx.f32;
  const auto zy = bf16 ? gcmi_test::widen(pr.zy.bf16) : pr.zy.f32;
  const double s_n = dk::table_sum_of_squares(pr.table.data(), pr.N, bf16);
  const std::int64_t U = pr.U, F = pr.F, N = pr.N, P = pr.P;
  auto r2_of = [&](std::int64_t u, std::int64_t f, const std::int32_t* pi) {
    double g = 0;
    for (std::int64_t k = 0; k < N; ++k)
      g += static_cast<double>(zx[u * N + k]) * zy[f * N + (pi ? pi[k] : k)];
    const double r = g / s_n;
    return std::min(r * r, static_cast<double>(dk::kAllPairsMaxR2));
  };
  Oracle o{std::vector<double>(static_cast<std::size_t>(U * F)),
           std::vector<double>(static_cast<std::size_t>(P * U * F)),
           std::vector<std::uint32_t>(static_cast<std::size_t>(U * F)),
           std::vector<std::uint32_t>(static_cast<std::size_t>(U * F)),
           std::vector<double>(static_cast<std::size_t>(P * F)),
           std::vector<double>(static_cast<std::size_t>(P))};
  for (std::int64_t u = 0; u < U; ++u) {
    for (std::int64_t f = 0; f < F; ++f) o.r2[u * F + f] = r2_of(u, f, nullptr);
  }
  for (std::int64_t p = 0; p < P; ++p) {
    for (std::int64_t u = 0; u < U; ++u) {
      for (std::int64_t f = 0; f < F; ++f) {
        const double v = r2_of(u, f, &pr.perms[static_cast<std::size_t>(p * N)]);
        o.null_r2[(p * U + u) * F + f] = v;
        o.exceed[u * F + f] += v >= o.r2[u * F + f];
        o.near_ties[u * F + f] += std::fabs(v - o.r2[u * F + f]) < margin;
        o.max_pf[p * F + f] = std::max(o.max_pf[p * F + f], v);
        o.max_p[p] = std::max(o.max_p[p], v);
      }
    }
  }
  return o;
}

double mi_bits(double r2, double bias) { return -0.5 * std::log1p(-r2) / std::log(2.0) - bias; }

// Every output against the oracle: MI and r2 within `tol` (r2 scale), the counts exact except by
// at most the number of near-tied permutations of the pair, maxima within tol.
void expect_matches_oracle(const Outputs& out, const Oracle& o, const Problem& pr, double tol,
                           const std::string& what) {
  const std::size_t pairs = static_cast<std::size_t>(pr.U * pr.F);
  std::size_t inexact = 0, tied_pairs = 0;
  for (std::size_t i = 0; i < pairs; ++i) {
    ASSERT_NEAR(out.r2[i], o.r2[i], tol) << what << " pair " << i;
    ASSERT_NEAR(out.mi[i], mi_bits(o.r2[i], 0.001), 2 * tol / (1 - o.r2[i])) << what << " pair " << i;
    if (pr.P == 0) continue;
    const auto diff = static_cast<std::int64_t>(out.exceed[i]) - static_cast<std::int64_t>(o.exceed[i]);
    ASSERT_LE(std::llabs(diff), static_cast<std::int64_t>(o.near_ties[i])) << what << " pair " << i;
    inexact += diff != 0;
    tied_pairs += o.near_ties[i] != 0;
  }
  if (pr.P == 0) return;
  EXPECT_LT(tied_pairs, pairs / 10) << what << ": the data must leave most comparisons robust";
  EXPECT_LE(inexact, tied_pairs) << what;
  for (std::size_t i = 0; i < out.max_pf.size(); ++i)
    ASSERT_NEAR(out.max_pf[i], o.max_pf[i], tol) << what << " max " << i;
  for (std::size_t i = 0; i < out.max_p.size(); ++i)
    ASSERT_NEAR(out.max_p[i], o.max_p[i], tol) << what << " max_p " << i;
}

std::string name(const Problem& pr, const Device& d, dk::AllPairsMath m) {
  return d.name() + (m == dk::AllPairsMath::simt_f32 ? " simt" : " wmma") + " U=" + std::to_string(pr.U) +
         " F=" + std::to_string(pr.F) + " N=" + std::to_string(pr.N) + " P=" + std::to_string(pr.P);
}

}  // namespace

TEST(AllPairs, ObservedMiMatchesOracleOnOddShapes) {
  struct Shape {
    std::int64_t U, F, N;
  };
  for (const Shape s : {Shape{1, 1, 2}, Shape{3, 2, 2}, Shape{17, 5, 31}, Shape{64, 64, 128},
                        Shape{70, 65, 33}, Shape{9, 3, 1000}}) {
    const Problem pr = make_problem(s.U, s.F, s.N, 0, static_cast<unsigned>(s.U * 31 + s.N));
    for (const auto math : {dk::AllPairsMath::simt_f32, dk::AllPairsMath::wmma_bf16}) {
      const Oracle o = oracle(pr, math, 0);
      for (const Device& d : {kCpu, kEmu}) {
        const Outputs out = run(d, pr, math);
        expect_matches_oracle(out, o, pr, 2e-6, name(pr, d, math));
        // P = 0: the permutation outputs are untouched.
        EXPECT_TRUE(std::all_of(out.exceed.begin(), out.exceed.end(),
                                [](std::uint32_t c) { return c == 0xDEADBEEFu; }));
      }
    }
  }
}

TEST(AllPairs, FusedPermutationStatisticsEqualTheMaterialisedNull) {
  for (const auto math : {dk::AllPairsMath::simt_f32, dk::AllPairsMath::wmma_bf16}) {
    const Problem pr = make_problem(70, 67, 100, 10, 77);
    const Oracle o = oracle(pr, math, 1e-5);
    expect_matches_oracle(run(kCpu, pr, math), o, pr, 2e-6, name(pr, kCpu, math));
    expect_matches_oracle(run(kEmu, pr, math), o, pr, 2e-6, name(pr, kEmu, math));
    // Chunks of 3 permutations per block (10 = 3 + 3 + 3 + 1): the same statistics.
    const Outputs chunked = run(kEmu, pr, math, 3);
    expect_matches_oracle(chunked, o, pr, 2e-6, name(pr, kEmu, math) + " chunks of 3");
    // Some pairs are significant and some not: the counts span the range.
    EXPECT_TRUE(std::count(chunked.exceed.begin(), chunked.exceed.end(), 0u) > 0);
    EXPECT_TRUE(
        std::any_of(chunked.exceed.begin(), chunked.exceed.end(), [](std::uint32_t c) { return c >= 5; }));
  }
}

// N % 8 == 0 takes the version-2 permuted pass of wmma_bf16 (128-unit tiles, 16-byte loads, the
// permutation gathered per 8 trials): two unit tiles (150 = 128 + 22), two feature tiles (70 = 64 + 6),
// a partial last K tile (104 = 3 * 32 + 8) and chunks of 3 permutations.
TEST(AllPairs, VectorisedWmmaPermutedPassEqualsTheMaterialisedNull) {
  for (const std::int64_t n : {104, 64}) {
    const Problem pr = make_problem(150, 70, n, 7, 91);
    const Oracle o = oracle(pr, dk::AllPairsMath::wmma_bf16, 1e-5);
    expect_matches_oracle(run(kEmu, pr, dk::AllPairsMath::wmma_bf16), o, pr, 2e-6,
                          name(pr, kEmu, dk::AllPairsMath::wmma_bf16));
    expect_matches_oracle(run(kEmu, pr, dk::AllPairsMath::wmma_bf16, 3), o, pr, 2e-6,
                          name(pr, kEmu, dk::AllPairsMath::wmma_bf16) + " chunks of 3");
  }
}

TEST(AllPairs, IdenticalRowsGiveRNearOneAndAFiniteClampedMi) {
  Problem pr = make_problem(5, 3, 257, 0, 5);
  for (std::int64_t k = 0; k < pr.N; ++k) {  // Zy row 1 = Zx row 2, Zy row 2 = −Zx row 4
    pr.zy.f32[static_cast<std::size_t>(pr.N + k)] = pr.zx.f32[static_cast<std::size_t>(2 * pr.N + k)];
    pr.zy.bf16[static_cast<std::size_t>(pr.N + k)] = pr.zx.bf16[static_cast<std::size_t>(2 * pr.N + k)];
    pr.zy.f32[static_cast<std::size_t>(2 * pr.N + k)] = -pr.zx.f32[static_cast<std::size_t>(4 * pr.N + k)];
    pr.zy.bf16[static_cast<std::size_t>(2 * pr.N + k)] =
        __hneg(pr.zx.bf16[static_cast<std::size_t>(4 * pr.N + k)]);
  }
  const float ceiling = static_cast<float>(mi_bits(dk::kAllPairsMaxR2, 0.001));  // 12 − bias
  for (const auto math : {dk::AllPairsMath::simt_f32, dk::AllPairsMath::wmma_bf16}) {
    for (const Device& d : {kCpu, kEmu}) {
      const Outputs out = run(d, pr, math);
      for (const std::size_t pair : {std::size_t{2 * 3 + 1}, std::size_t{4 * 3 + 2}}) {
        EXPECT_LE(out.r2[pair], dk::kAllPairsMaxR2) << name(pr, d, math);
        EXPECT_NEAR(out.r2[pair], 1.0f, 2e-6f) << name(pr, d, math);
        EXPECT_TRUE(std::isfinite(out.mi[pair])) << name(pr, d, math);
        EXPECT_GT(out.mi[pair], 8.0f) << name(pr, d, math);
        EXPECT_LE(out.mi[pair], ceiling + 1e-5f) << name(pr, d, math);
      }
    }
  }
}

TEST(AllPairs, WmmaIsWithinTheDocumentedBf16ToleranceOfSimt) {
  for (const std::int64_t N : {31, 200}) {
    const Problem pr = make_problem(40, 20, N, 0, static_cast<unsigned>(N));
    const Outputs simt = run(kEmu, pr, dk::AllPairsMath::simt_f32);
    const Outputs wmma = run(kEmu, pr, dk::AllPairsMath::wmma_bf16);
    const double typical = std::ldexp(1.0, -8) * std::sqrt(2.0 / static_cast<double>(N));
    double worst = 0;
    for (std::size_t i = 0; i < simt.r2.size(); ++i) {
      const double dr =
          std::fabs(std::sqrt(static_cast<double>(wmma.r2[i])) - std::sqrt(static_cast<double>(simt.r2[i])));
      worst = std::max(worst, dr);
    }
    EXPECT_LE(worst, 6 * typical) << "N=" << N;
    EXPECT_GT(worst, 0.0) << "bf16 rounding must show";
  }
}

TEST(AllPairs, RejectsUnusableParameters) {
  std::vector<float> z(8, 0.5f), mi(4);
  dk::AllPairsParams p;
  p.zx = z.data();
  p.zy = z.data();
  p.units = 2;
  p.features = 2;
  p.n = 4;
  p.s_n = 1;
  p.mi = mi.data();
  EXPECT_NO_THROW(dk::allpairs_mi(kEmu, p));
  p.s_n = 0;
  EXPECT_THROW(dk::allpairs_mi(kEmu, p), deeper::Error);
  p.s_n = 1;
  p.n_perms = 3;  // no perms, r2, exceed, max
  EXPECT_THROW(dk::allpairs_mi(kCpu, p), deeper::Error);
  p.n_perms = 0;
  p.math = dk::AllPairsMath::wmma_bf16;  // no bf16 inputs
  EXPECT_THROW(dk::allpairs_mi(kEmu, p), deeper::Error);
  p.math = dk::AllPairsMath::simt_f32;
  p.n = 0;
  EXPECT_THROW(dk::allpairs_mi(kCpu, p), deeper::Error);
}
