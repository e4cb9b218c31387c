// Shared helpers of the infotheory tests: seeded Gaussian data from deeper's Philox generator,
// and a check that a call throws deeper::Error with a message containing a given phrase.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/common/random.h"

namespace deeper::info::testing {

// count standard normal doubles, a pure function of (seed, stream).
inline std::vector<double> normals(std::uint64_t seed, std::uint32_t stream, std::size_t count) {
  rng::RandomSequence seq(seed, stream, 0);
  std::vector<double> v(count);
  for (std::size_t i = 0; i < count; i += 2) {
    const auto p = seq.normal_double2();
    v[i] = p.x;
    if (i + 1 < count) v[i + 1] = p.y;
  }
  return v;
}

// count integers uniform in [0, bound).
inline std::vector<std::int32_t> uniform_labels(std::uint64_t seed, std::uint32_t stream, std::size_t count,
                                                std::uint32_t bound) {
  rng::RandomSequence seq(seed, stream, 0);
  std::vector<std::int32_t> v(count);
  for (auto& e : v) e = static_cast<std::int32_t>(seq.uniform_int(bound));
  return v;
}

// Runs f and expects a deeper::Error whose message contains `phrase`.
template <typename F>
void expect_error(F&& f, const std::string& phrase) {
  try {
    f();
    ADD_FAILURE() << "no deeper::Error thrown; expected one mentioning '" << phrase << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(phrase), std::string::npos)
        << "message '" << e.what() << "' does not mention '" << phrase << "'";
  }
}

}  // namespace deeper::info::testing
