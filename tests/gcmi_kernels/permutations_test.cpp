// make_permutations / fisher_yates_permutation: valid, reproducible, addressable by index, and
// independent of how they are generated in batches.
#include "core/error.h"
#include "kernels/gcmi/permutations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

namespace dk = deeper::kernels;

TEST(Permutations, EveryRowIsAPermutationAndRowsDiffer) {
  for (const std::int64_t n : {1, 2, 31, 1000}) {
    const std::int64_t count = 20;
    std::vector<std::int32_t> perms(static_cast<std::size_t>(count * n), -1);
    dk::make_permutations(7, 0, count, n, perms.data());
    std::vector<std::int32_t> identity(static_cast<std::size_t>(n));
    std::iota(identity.begin(), identity.end(), 0);
    int distinct_from_identity = 0;
    for (std::int64_t p = 0; p < count; ++p) {
      std::vector<std::int32_t> row(perms.begin() + p * n, perms.begin() + (p + 1) * n);
      distinct_from_identity += row != identity;
      std::sort(row.begin(), row.end());
      ASSERT_EQ(row, identity) << "n=" << n << " p=" << p;
    }
    if (n >= 31) {
      EXPECT_EQ(distinct_from_identity, count) << n;
    }
  }
}

TEST(Permutations, AFunctionOfSeedAndIndexOnly) {
  const std::int64_t n = 50;
  std::vector<std::int32_t> all(static_cast<std::size_t>(8 * n)), tail(static_cast<std::size_t>(3 * n)),
      other(static_cast<std::size_t>(8 * n)), one(static_cast<std::size_t>(n));
  dk::make_permutations(99, 0, 8, n, all.data());
  dk::make_permutations(99, 5, 3, n, tail.data());
  EXPECT_TRUE(std::equal(tail.begin(), tail.end(), all.begin() + 5 * n));
  dk::fisher_yates_permutation(99, 2, static_cast<std::int32_t>(n), one.data());
  EXPECT_TRUE(std::equal(one.begin(), one.end(), all.begin() + 2 * n));
  dk::make_permutations(100, 0, 8, n, other.data());
  EXPECT_NE(all, other);
}

TEST(Permutations, PositionsAreUniform) {
  // Where trial 0 lands over 4000 permutations of 8 trials: about 500 each (chi-square, 7 dof).
  const std::int64_t n = 8, count = 4000;
  std::vector<std::int32_t> perms(static_cast<std::size_t>(count * n));
  dk::make_permutations(3, 0, count, n, perms.data());
  std::vector<int> hits(n);
  for (std::int64_t p = 0; p < count; ++p) {
    for (std::int64_t k = 0; k < n; ++k)
      hits[static_cast<std::size_t>(k)] += perms[static_cast<std::size_t>(p * n + k)] == 0;
  }
  double chi2 = 0;
  for (const int h : hits) chi2 += (h - 500.0) * (h - 500.0) / 500.0;
  EXPECT_LT(chi2, 24.3);  // p = 0.001
}

TEST(Permutations, RejectsBadArguments) {
  std::vector<std::int32_t> out(10);
  EXPECT_THROW(dk::make_permutations(1, 0, -1, 10, out.data()), deeper::Error);
  EXPECT_THROW(dk::make_permutations(1, 0, 1, 0, out.data()), deeper::Error);
  EXPECT_THROW(dk::make_permutations(1, 0, 1, 10, nullptr), deeper::Error);
  EXPECT_NO_THROW(dk::make_permutations(1, 0, 0, 10, nullptr));
}
