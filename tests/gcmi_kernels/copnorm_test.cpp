// copnorm_rows: the emulated kernel against the CPU reference (bit for bit: the sort keys are
// unique), rank semantics, stable and jitter ties, NaN/Inf rows, limits.
#include "gcmi_test_data.h"

#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/gcmi/copnorm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

namespace dk = deeper::kernels;
using deeper::Backend;
using deeper::Device;

namespace {

const Device kEmu{Backend::emu, 0};
const Device kCpu{Backend::cpu, 0};

struct Result {
  std::vector<float> out;
  std::vector<__nv_bfloat16> out_bf16;
  std::vector<std::uint32_t> bad, ties;
};

// Runs copnorm_rows on `device` with poisoned outputs.
Result run(const Device& device, const std::vector<float>& in, std::int64_t rows, std::int64_t n,
           dk::CopnormTies policy = dk::CopnormTies::stable, std::uint64_t seed = 0,
           std::uint64_t offset = 0) {
  const auto table = gcmi_test::rank_table(n);
  Result r{std::vector<float>(in.size(), 12345.0f),
           std::vector<__nv_bfloat16>(in.size(), __float2bfloat16_rn(-777.0f)),
           std::vector<std::uint32_t>(static_cast<std::size_t>(rows), 0xDEADBEEFu),
           std::vector<std::uint32_t>(static_cast<std::size_t>(rows), 0xDEADBEEFu)};
  dk::CopnormParams p;
  p.in = in.data();
  p.rows = rows;
  p.n = n;
  p.table = table.data();
  p.out = r.out.data();
  p.out_bf16 = r.out_bf16.data();
  p.bad = r.bad.data();
  p.ties = r.ties.data();
  p.policy = policy;
  p.seed = seed;
  p.variable_offset = offset;
  dk::copnorm_rows(device, p);
  return r;
}

std::vector<std::uint16_t> bf16_bits(const std::vector<__nv_bfloat16>& v) {
  std::vector<std::uint16_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(std::uint16_t));
  return b;
}

// Values with many exact ties: zeros of both signs (ReLU-like) and a few repeated values.
std::vector<float> tied_rows(std::int64_t rows, std::int64_t n, unsigned seed) {
  auto v = gcmi_test::random_rows(rows, n, seed);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0) v[i] = (i % 3 == 0) ? -0.0f : 0.0f;
    if (i % 7 == 0) v[i] = 0.5f;
  }
  return v;
}

void expect_same(const Result& a, const Result& b, const std::string& what) {
  EXPECT_EQ(std::memcmp(a.out.data(), b.out.data(), a.out.size() * sizeof(float)), 0) << what;
  EXPECT_EQ(bf16_bits(a.out_bf16), bf16_bits(b.out_bf16)) << what;
  EXPECT_EQ(a.bad, b.bad) << what;
  EXPECT_EQ(a.ties, b.ties) << what;
}

}  // namespace

TEST(Copnorm, EmulatedKernelMatchesCpuBitForBit) {
  const std::uint64_t launches = deeper::emu::stats().launches;
  int sizes = 0;
  for (std::int64_t n : {1, 2, 31, 64, 1000}) {
    for (std::int64_t rows : {1, 3}) {
      for (bool ties : {false, true}) {
        const auto in =
            ties ? tied_rows(rows, n, 7 + static_cast<unsigned>(n)) : gcmi_test::random_rows(rows, n, 3);
        const std::string what =
            "n=" + std::to_string(n) + " rows=" + std::to_string(rows) + " ties=" + std::to_string(ties);
        const Result cpu = run(kCpu, in, rows, n), emu = run(kEmu, in, rows, n);
        expect_same(cpu, emu, what);
        const auto table = gcmi_test::rank_table(n);
        for (std::int64_t r = 0; r < rows; ++r) {
          std::vector<float> sorted(cpu.out.begin() + r * n, cpu.out.begin() + (r + 1) * n);
          std::sort(sorted.begin(), sorted.end());
          EXPECT_EQ(sorted, table) << what << ": a row is a permutation of the table";
          EXPECT_EQ(cpu.bad[static_cast<std::size_t>(r)], 0u) << what;
        }
        ++sizes;
      }
    }
  }
  EXPECT_EQ(deeper::emu::stats().launches - launches, static_cast<std::uint64_t>(sizes));
}

TEST(Copnorm, RanksFollowValuesAndStableTiesFollowTrialOrder) {
  const std::int64_t n = 200;
  const auto in = tied_rows(1, n, 11);
  const Result r = run(kEmu, in, 1, n);
  std::size_t distinct = 0;
  {
    std::vector<float> canon(in);
    for (auto& x : canon) x = x == 0.0f ? 0.0f : x;
    std::sort(canon.begin(), canon.end());
    distinct = static_cast<std::size_t>(std::unique(canon.begin(), canon.end()) - canon.begin());
  }
  EXPECT_EQ(r.ties[0], static_cast<std::uint32_t>(n) - distinct);
  EXPECT_GT(r.ties[0], static_cast<std::uint32_t>(n / 3));  // the data really is tie-heavy
  for (std::int64_t a = 0; a < n; ++a) {
    for (std::int64_t b = 0; b < n; ++b) {
      // -0.0 == +0.0 here, as in the reference: equal values rank in trial order.
      const bool before = in[a] < in[b] || (in[a] == in[b] && a < b);
      if (a != b) {
        ASSERT_EQ(r.out[a] < r.out[b], before) << a << " " << b;
      }
    }
  }
}

TEST(Copnorm, JitterIsReproducibleRandomAmongTiesAndKeyedByVariable) {
  const std::int64_t n = 100, rows = 3;
  const auto in = tied_rows(rows, n, 5);
  const Result a = run(kEmu, in, rows, n, dk::CopnormTies::jitter, 42);
  const Result a_cpu = run(kCpu, in, rows, n, dk::CopnormTies::jitter, 42);
  expect_same(a, a_cpu, "jitter, seed 42");
  expect_same(a, run(kEmu, in, rows, n, dk::CopnormTies::jitter, 42), "jitter rerun");
  const Result b = run(kCpu, in, rows, n, dk::CopnormTies::jitter, 43);
  const Result stable = run(kCpu, in, rows, n);
  EXPECT_NE(a.out, b.out) << "another seed breaks ties differently";
  EXPECT_NE(a.out, stable.out) << "jitter differs from trial order";
  EXPECT_EQ(a.ties, stable.ties);
  for (std::int64_t r = 0; r < rows; ++r) {
    for (std::int64_t i = 0; i < n; ++i) {
      for (std::int64_t j = 0; j < n; ++j) {
        const float x = in[r * n + i], y = in[r * n + j];
        if (x < y) {
          ASSERT_LT(a.out[r * n + i], a.out[r * n + j]) << "untied values keep their order";
        }
      }
    }
  }
  // Row 1 of a tile that starts at variable 1 gets the keys of variable 2 of the whole input.
  const std::vector<float> row2(in.begin() + 2 * n, in.end());
  const Result tiled = run(kEmu, row2, 1, n, dk::CopnormTies::jitter, 42, 2);
  EXPECT_TRUE(std::equal(tiled.out.begin(), tiled.out.end(), a.out.begin() + 2 * n));
}

TEST(Copnorm, NanAndInfRowsAreFlaggedAndOthersUntouched) {
  const std::int64_t n = 40, rows = 4;
  auto in = gcmi_test::random_rows(rows, n, 9);
  in[1 * n + 17] = std::numeric_limits<float>::quiet_NaN();
  in[3 * n + 0] = -std::numeric_limits<float>::infinity();
  for (const Device& d : {kCpu, kEmu}) {
    const Result r = run(d, in, rows, n);
    EXPECT_EQ(r.bad, (std::vector<std::uint32_t>{0, 1, 0, 1})) << d.name();
    EXPECT_EQ(r.ties[1], 0u);
    for (std::int64_t k = 0; k < n; ++k) {
      EXPECT_TRUE(std::isnan(r.out[1 * n + k]) && std::isnan(r.out[3 * n + k])) << d.name();
      EXPECT_TRUE(std::isnan(__bfloat162float(r.out_bf16[3 * n + k])));
      EXPECT_TRUE(std::isfinite(r.out[k]) && std::isfinite(r.out[2 * n + k])) << d.name();
    }
  }
}

TEST(Copnorm, LargestSupportedRowAndTheLimit) {
  const std::int64_t n = 8192;
  const auto in = tied_rows(1, n, 21);
  expect_same(run(kCpu, in, 1, n), run(kEmu, in, 1, n), "n=8192");
  const std::int64_t over = dk::kCopnormMaxN + 1;
  const std::vector<float> big(static_cast<std::size_t>(over), 1.0f);
  for (const Device& d : {kCpu, kEmu}) {
    try {
      run(d, big, 1, over);
      FAIL() << "N above the limit must throw";
    } catch (const deeper::Error& e) {
      EXPECT_NE(std::string(e.what()).find(std::to_string(dk::kCopnormMaxN)), std::string::npos) << e.what();
    }
  }
}

TEST(Copnorm, RejectsUnusableParameters) {
  std::vector<float> in(10, 1.0f), out(10);
  std::vector<std::uint32_t> flags(1);
  dk::CopnormParams p;
  p.in = in.data();
  p.rows = 1;
  p.n = 10;
  p.table = in.data();
  p.bad = flags.data();
  p.ties = flags.data();
  EXPECT_THROW(dk::copnorm_rows(kEmu, p), deeper::Error);  // no output
  p.out = out.data();
  p.n = 0;
  EXPECT_THROW(dk::copnorm_rows(kEmu, p), deeper::Error);
  p.n = 10;
  p.table = nullptr;
  EXPECT_THROW(dk::copnorm_rows(kCpu, p), deeper::Error);
  p.table = in.data();
  p.policy = static_cast<dk::CopnormTies>(7);
  EXPECT_THROW(dk::copnorm_rows(kCpu, p), deeper::Error);
  p.policy = dk::CopnormTies::stable;
  EXPECT_NO_THROW(dk::copnorm_rows(kCpu, p));
}
