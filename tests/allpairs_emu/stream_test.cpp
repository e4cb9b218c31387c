// gcmi_cc_all_pairs_streamed: X in tiles from a UnitSource gives the same bits as one untiled run,
// on the emulator (two tiles in flight on two streams) and on the CPU backend.
#include "infotheory/allpairs_stream.h"

#include "core/error.h"

#include <gtest/gtest.h>

#include "tests/allpairs_emu/engine_test_data.h"

#include <cmath>
#include <random>
#include <stdexcept>
#include <vector>

namespace info = deeper::info;

namespace {

const deeper::Device kEmu{deeper::Backend::emu, 0};

using Data = deeper::test::EngineData;

Data make_data(std::int64_t units, std::int64_t features, std::int64_t n, unsigned seed) {
  return deeper::test::engine_data(units, features, n, seed, 3, 0.8, 5);
}

void expect_same(const info::AllPairsResult& a, const info::AllPairsResult& b) {
  EXPECT_EQ(a.mi, b.mi);
  EXPECT_EQ(a.exceed, b.exceed);
  EXPECT_EQ(a.max_null, b.max_null);
  EXPECT_EQ(a.max_null_all, b.max_null_all);
  EXPECT_EQ(a.tie_fraction_x, b.tie_fraction_x);
  EXPECT_EQ(a.tie_fraction_y, b.tie_fraction_y);
}

info::AllPairsOptions options(info::GemmPrecision precision) {
  info::AllPairsOptions o;
  o.permutations = 9;
  o.permutation_seed = 11;
  o.precision = precision;
  return o;
}

}  // namespace

TEST(AllPairsStreamed, TilesOnTheEmulatorGiveTheUntiledBits) {
  const Data d = make_data(23, 4, 70, 3);
  for (auto precision : {info::GemmPrecision::f32, info::GemmPrecision::bf16}) {
    const auto o = options(precision);
    const auto whole = info::gcmi_cc_all_pairs(kEmu, d.x.data(), d.units, d.y.data(), d.features, d.n, o);
    ASSERT_EQ(whole.mi.size(), 23u * 4u);
    for (std::int64_t tile : {1, 5, 8, 23, 100}) {
      SCOPED_TRACE(tile);
      const auto tiled = info::gcmi_cc_all_pairs_streamed(kEmu, info::unit_source(d.x.data(), d.n), d.units,
                                                          d.y.data(), d.features, d.n, o, {tile});
      expect_same(tiled, whole);
    }
  }
}

TEST(AllPairsStreamed, TilesOnTheCpuGiveTheUntiledResult) {
  const Data d = make_data(17, 3, 60, 5);
  auto o = options(info::GemmPrecision::f64);
  // The source hands out floats: the untiled reference gets the same float-rounded values.
  std::vector<double> x32(d.x.size());
  for (std::size_t i = 0; i < x32.size(); ++i) x32[i] = static_cast<float>(d.x[i]);
  const auto whole = info::gcmi_cc_all_pairs(x32.data(), d.units, d.y.data(), d.features, d.n, o);
  const auto tiled = info::gcmi_cc_all_pairs_streamed(deeper::Device::cpu(), info::unit_source(d.x.data(), d.n),
                                                      d.units, d.y.data(), d.features, d.n, o, {4});
  expect_same(tiled, whole);
}

TEST(AllPairsStreamed, TheSourceIsAskedForEachTileInOrder) {
  const Data d = make_data(10, 2, 40, 7);
  std::vector<std::pair<std::int64_t, std::int64_t>> asked;
  const auto inner = info::unit_source(d.x.data(), d.n);
  const info::UnitSource source = [&](std::int64_t first, std::int64_t rows, float* out) {
    asked.emplace_back(first, rows);
    inner(first, rows, out);
  };
  info::gcmi_cc_all_pairs_streamed(kEmu, source, d.units, d.y.data(), d.features, d.n,
                                   options(info::GemmPrecision::f32), {4});
  const std::vector<std::pair<std::int64_t, std::int64_t>> want{{0, 4}, {4, 4}, {8, 2}};
  EXPECT_EQ(asked, want);
}

TEST(AllPairsStreamed, BadInputIsReportedWithTheGlobalUnitIndex) {
  Data d = make_data(12, 2, 40, 9);
  d.x[static_cast<std::size_t>(9 * d.n + 3)] = std::nan("");
  for (const auto& device : {kEmu, deeper::Device::cpu()}) {
    auto o = options(device == kEmu ? info::GemmPrecision::f32 : info::GemmPrecision::f64);
    try {
      info::gcmi_cc_all_pairs_streamed(device, info::unit_source(d.x.data(), d.n), d.units, d.y.data(), d.features,
                                       d.n, o, {5});
      ADD_FAILURE() << "NaN accepted on " << device.name();
    } catch (const deeper::Error& e) {
      EXPECT_NE(std::string(e.what()).find("9"), std::string::npos) << e.what();
    }
  }
  const auto o = options(info::GemmPrecision::f32);
  const info::UnitSource failing = [](std::int64_t first, std::int64_t, float*) {
    if (first > 0) throw std::runtime_error("producer failed");
  };
  EXPECT_THROW(info::gcmi_cc_all_pairs_streamed(kEmu, failing, 12, d.y.data(), d.features, d.n, o, {5}),
               std::runtime_error);
  EXPECT_THROW(info::gcmi_cc_all_pairs_streamed(kEmu, info::unit_source(d.x.data(), d.n), 12, d.y.data(), d.features,
                                                d.n, o, {-1}),
               deeper::Error);
  EXPECT_THROW(info::gcmi_cc_all_pairs_streamed(kEmu, info::UnitSource{}, 12, d.y.data(), d.features, d.n, o, {}),
               deeper::Error);
}

TEST(AllPairsStreamed, DefaultTileFitsTheDevice) {
  const auto o = options(info::GemmPrecision::bf16);
  const std::int64_t tile = info::default_tile_units(kEmu, std::int64_t{1} << 20, 64, 1000, o);
  EXPECT_GE(tile, 1);
  EXPECT_LE(tile, std::int64_t{1} << 20);
  // The staging cap: 256 MiB of floats per tile.
  EXPECT_LE(tile * 1000 * 4, std::int64_t{256} << 20);
  EXPECT_EQ(info::default_tile_units(kEmu, 3, 64, 1000, o), 3);
}
