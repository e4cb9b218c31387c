// random_fill: the CUDA kernel run under the emulator (emu_impl) against the cpu reference, bit for
// bit, with poisoned output buffers; the element definition of random_fill.h checked directly;
// pinned values (a change to any generator shows here, since every dataset depends on them);
// statistical sanity with fixed seeds; parameter validation.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/common/random.h"
#include "kernels/common/random_fill.h"
#include "kernels/emu/emulator.h"

namespace {

namespace rng = deeper::rng;
namespace dk = deeper::kernels;
using dk::RandomDistribution;
using dk::RandomFillParams;

constexpr RandomDistribution kAllDists[] = {
    RandomDistribution::uniform_f32, RandomDistribution::uniform_open_f32, RandomDistribution::normal_f32,
    RandomDistribution::uniform_f64, RandomDistribution::normal_f64,       RandomDistribution::uniform_u32,
    RandomDistribution::bits_u32,
};

const char* dist_name(RandomDistribution d) {
  switch (d) {
    case RandomDistribution::uniform_f32:
      return "uniform_f32";
    case RandomDistribution::uniform_open_f32:
      return "uniform_open_f32";
    case RandomDistribution::normal_f32:
      return "normal_f32";
    case RandomDistribution::uniform_f64:
      return "uniform_f64";
    case RandomDistribution::normal_f64:
      return "normal_f64";
    case RandomDistribution::uniform_u32:
      return "uniform_u32";
    case RandomDistribution::bits_u32:
      return "bits_u32";
  }
  return "?";
}

constexpr unsigned char kPoison = 0xA5;  // 0xA5A5A5A5 is neither a plausible float nor a small int

// A byte buffer of count elements plus a guard element on each side, all poisoned.
struct Poisoned {
  std::size_t elem;
  std::int64_t count;
  std::vector<unsigned char> bytes;
  Poisoned(RandomDistribution d, std::int64_t n)
      : elem(dk::random_element_size(d)),
        count(n),
        bytes((static_cast<std::size_t>(n) + 2) * elem, kPoison) {}
  void* data() { return bytes.data() + elem; }
  bool guards_intact() const {
    for (std::size_t i = 0; i < elem; ++i) {
      if (bytes[i] != kPoison || bytes[bytes.size() - 1 - i] != kPoison) return false;
    }
    return true;
  }
  // Index of the first element still entirely poisoned, or -1.
  std::int64_t first_unwritten() const {
    for (std::int64_t i = 0; i < count; ++i) {
      bool all = true;
      for (std::size_t b = 0; b < elem; ++b)
        all = all && bytes[(static_cast<std::size_t>(i) + 1) * elem + b] == kPoison;
      if (all) return i;
    }
    return -1;
  }
};

RandomFillParams params(RandomDistribution d, void* out, std::int64_t n, std::uint64_t seed,
                        std::uint32_t stream) {
  RandomFillParams p;
  p.out = out;
  p.count = n;
  p.seed = seed;
  p.stream = stream;
  p.dist = d;
  p.bound = 1000003;  // uniform_u32 only: a prime, so 2^32 mod bound != 0 and rejection can happen
  return p;
}

// Emulated kernel == cpu reference, bit for bit, every element written, nothing outside touched.
TEST(RandomFill, EmulatorMatchesCpuBitForBit) {
  const std::int64_t sizes[] = {0, 1, 2, 3, 5, 7, 255, 256, 257, 1023, 1025, 4099, 1024 * 256 * 2 + 13};
  const std::uint64_t seeds[] = {0, 1, 0xDEADBEEFCAFEF00Dull};
  const std::uint32_t streams[] = {0, 3, 0xFFFFFFFFu};
  const std::uint64_t launches_before = deeper::emu::stats().launches;
  int nonempty = 0;
  for (RandomDistribution d : kAllDists) {
    for (std::int64_t n : sizes) {
      for (int v = 0; v < 3; ++v) {
        if (n > 5000 && v > 0) continue;  // the large size once per distribution
        const std::uint64_t seed = seeds[v];
        const std::uint32_t stream = streams[(v + static_cast<int>(n)) % 3];
        SCOPED_TRACE(std::string(dist_name(d)) + " n=" + std::to_string(n) + " seed=" + std::to_string(seed) +
                     " stream=" + std::to_string(stream) + " variant=" + std::to_string(v));
        // Offsets: none, one that splits a block, one past 2^32 blocks (the index's high word).
        const std::uint64_t offset = v == 0 ? 0 : v == 1 ? 3 : (std::uint64_t{5} << 34) + 1;
        Poisoned cpu(d, n), emu(d, n);
        RandomFillParams p = params(d, cpu.data(), n, seed, stream);
        p.offset = offset;
        dk::cpu_impl::random_fill(p);
        p.out = emu.data();
        dk::emu_impl::random_fill(p, nullptr);
        EXPECT_EQ(cpu.first_unwritten(), -1);
        EXPECT_EQ(emu.first_unwritten(), -1);
        EXPECT_TRUE(cpu.guards_intact());
        EXPECT_TRUE(emu.guards_intact());
        ASSERT_EQ(std::memcmp(cpu.bytes.data(), emu.bytes.data(), cpu.bytes.size()), 0);
        nonempty += n > 0;
      }
    }
  }
  // Every nonempty fill really ran as an emulated kernel launch.
  EXPECT_EQ(deeper::emu::stats().launches - launches_before, static_cast<std::uint64_t>(nonempty));
}

// The backend dispatch reaches the same implementations; cuda without nvcc kernels is an error.
TEST(RandomFill, DispatchByDevice) {
  const std::int64_t n = 777;
  std::vector<float> ref(n), cpu(n), emu(n);
  dk::cpu_impl::random_fill(params(RandomDistribution::normal_f32, ref.data(), n, 8, 8));
  const std::uint64_t launches = deeper::emu::stats().launches;
  dk::random_fill(deeper::Device::cpu(), params(RandomDistribution::normal_f32, cpu.data(), n, 8, 8));
  EXPECT_EQ(deeper::emu::stats().launches, launches);
  dk::random_fill(deeper::Device::emu(), params(RandomDistribution::normal_f32, emu.data(), n, 8, 8));
  EXPECT_EQ(deeper::emu::stats().launches, launches + 1);
  EXPECT_EQ(cpu, ref);
  EXPECT_EQ(emu, ref);
  if (!deeper::cuda_kernels_built()) {
    EXPECT_THROW(
        dk::random_fill(deeper::Device::cuda(), params(RandomDistribution::normal_f32, cpu.data(), n, 8, 8)),
        deeper::Error);
  }
}

// Scale and shift: out = fma(scale, v, shift) in the output precision, same on both backends.
TEST(RandomFill, AffineMatchesAndIsTheFma) {
  for (RandomDistribution d : {RandomDistribution::uniform_f32, RandomDistribution::normal_f32,
                               RandomDistribution::uniform_f64, RandomDistribution::normal_f64}) {
    SCOPED_TRACE(dist_name(d));
    const std::int64_t n = 1001;
    Poisoned plain(d, n), cpu(d, n), emu(d, n);
    dk::cpu_impl::random_fill(params(d, plain.data(), n, 9, 4));
    RandomFillParams p = params(d, cpu.data(), n, 9, 4);
    p.scale = 0.02;
    p.shift = -3.5;
    dk::cpu_impl::random_fill(p);
    p.out = emu.data();
    dk::emu_impl::random_fill(p, nullptr);
    ASSERT_EQ(std::memcmp(cpu.bytes.data(), emu.bytes.data(), cpu.bytes.size()), 0);
    for (std::int64_t i = 0; i < n; ++i) {
      if (dk::random_element_size(d) == 4) {
        const float v = static_cast<const float*>(plain.data())[i];
        EXPECT_EQ(static_cast<const float*>(cpu.data())[i], std::fma(0.02f, v, -3.5f)) << i;
      } else {
        const double v = static_cast<const double*>(plain.data())[i];
        EXPECT_EQ(static_cast<const double*>(cpu.data())[i], std::fma(0.02, v, -3.5)) << i;
      }
    }
  }
}

// The element definition in random_fill.h, evaluated independently from random_block.
TEST(RandomFill, ElementDefinition) {
  const std::uint64_t seed = 77;
  const std::uint32_t stream = 5;
  const std::int64_t n = 103;
  std::vector<std::uint32_t> bits(n), ints(n);
  std::vector<float> uf(n), uo(n), nf(n);
  std::vector<double> ud(n), nd(n);
  auto fill = [&](RandomDistribution d, void* out) {
    dk::cpu_impl::random_fill(params(d, out, n, seed, stream));
  };
  fill(RandomDistribution::bits_u32, bits.data());
  fill(RandomDistribution::uniform_u32, ints.data());
  fill(RandomDistribution::uniform_f32, uf.data());
  fill(RandomDistribution::uniform_open_f32, uo.data());
  fill(RandomDistribution::normal_f32, nf.data());
  fill(RandomDistribution::uniform_f64, ud.data());
  fill(RandomDistribution::normal_f64, nd.data());
  for (std::int64_t i = 0; i < n; ++i) {
    const rng::Philox4x32Block b4 = rng::random_block(seed, stream, static_cast<std::uint64_t>(i / 4));
    const std::uint32_t w = b4.w[i % 4];
    EXPECT_EQ(bits[i], w);
    EXPECT_EQ(uf[i], static_cast<float>(w >> 8) / 16777216.0f);
    EXPECT_EQ(uo[i], (static_cast<float>(w >> 9) + 0.5f) / 8388608.0f);
    const int pair = static_cast<int>(i % 4) & ~1;
    const rng::Float2 z = rng::normal_float2(b4.w[pair], b4.w[pair + 1]);
    EXPECT_EQ(nf[i], (i % 2) ? z.y : z.x);
    // Lemire by the book: the first accepted word of draws 0, 1, 2, ... at this word position.
    std::uint32_t expected_int = 0;
    for (std::uint32_t draw = 0;; ++draw) {
      const std::uint32_t x =
          rng::random_block(seed, stream, static_cast<std::uint64_t>(i / 4), draw).w[i % 4];
      const std::uint64_t m = static_cast<std::uint64_t>(x) * 1000003u;
      if (static_cast<std::uint32_t>(m) >= (std::uint64_t{1} << 32) % 1000003u) {
        expected_int = static_cast<std::uint32_t>(m >> 32);
        break;
      }
    }
    EXPECT_EQ(ints[i], expected_int);

    const rng::Philox4x32Block b2 = rng::random_block(seed, stream, static_cast<std::uint64_t>(i / 2));
    const int h = static_cast<int>(i % 2) * 2;
    const std::uint64_t k53 = ((static_cast<std::uint64_t>(b2.w[h]) << 32) | b2.w[h + 1]) >> 11;
    EXPECT_EQ(ud[i], static_cast<double>(k53) / 9007199254740992.0);
    const rng::Double2 zd = rng::normal_double2(b2.w[0], b2.w[1], b2.w[2], b2.w[3]);
    EXPECT_EQ(nd[i], (i % 2) ? zd.y : zd.x);
  }
  // A prefix does not depend on how many elements are filled.
  std::vector<float> shorter(10);
  dk::cpu_impl::random_fill(params(RandomDistribution::normal_f32, shorter.data(), 10, seed, stream));
  for (int i = 0; i < 10; ++i) EXPECT_EQ(shorter[i], nf[i]);
}

// out[k] holds element offset + k: tiles at any offsets reassemble the whole sequence, on the cpu
// and under the emulator, including an offset whose block index needs the counter's high word.
TEST(RandomFill, TilesWithOffsetsReassemble) {
  const std::uint64_t far = (std::uint64_t{3} << 33) - 5;  // block index passes 2^32
  for (RandomDistribution d : kAllDists) {
    SCOPED_TRACE(dist_name(d));
    for (std::uint64_t base : {std::uint64_t{0}, far}) {
      const std::int64_t n = 1000;
      Poisoned whole(d, n);
      RandomFillParams p = params(d, whole.data(), n, 11, 12);
      p.offset = base;
      dk::cpu_impl::random_fill(p);
      std::vector<unsigned char> tiled(static_cast<std::size_t>(n) * whole.elem);
      const std::int64_t cuts[] = {0, 1, 2, 7, 130, 131, 600, n};
      for (int c = 0; c + 1 < 8; ++c) {
        RandomFillParams t = params(d, tiled.data() + static_cast<std::size_t>(cuts[c]) * whole.elem,
                                    cuts[c + 1] - cuts[c], 11, 12);
        t.offset = base + static_cast<std::uint64_t>(cuts[c]);
        if (c % 2) {
          dk::emu_impl::random_fill(t, nullptr);
        } else {
          dk::cpu_impl::random_fill(t);
        }
      }
      ASSERT_EQ(std::memcmp(tiled.data(), whole.data(), tiled.size()), 0) << "base " << base;
    }
  }
  // The far elements are what the definition says: element i = far + k from block i / 4.
  std::uint32_t w[8];
  RandomFillParams p = params(RandomDistribution::bits_u32, w, 8, 11, 12);
  p.offset = far;
  dk::emu_impl::random_fill(p, nullptr);
  for (std::uint64_t k = 0; k < 8; ++k) {
    EXPECT_EQ(w[k], rng::random_block(11, 12, (far + k) / 4).w[(far + k) % 4]) << k;
  }
}

// Pinned outputs. Every random choice in deeper (datasets, initial weights, permutations) depends
// on these generators; a change to Philox, the addressing, a conversion or the portable math shows
// here. Also catches a host compiler that contracts a*b+c into fma behind our back. Values written
// when the generators were finished; change them only with a deliberate, documented format change.
TEST(RandomFill, PinnedValues) {
  const std::uint64_t seed = 2018;  // the paper's year
  const std::uint32_t stream = 1;
  std::uint32_t bits[4];
  float uf[4], nf[4];
  double ud[2], nd[2];
  std::uint32_t ints[4];
  auto fill = [&](RandomDistribution d, void* out, std::int64_t n) {
    RandomFillParams p = params(d, out, n, seed, stream);
    p.bound = 10;
    dk::cpu_impl::random_fill(p);
  };
  fill(RandomDistribution::bits_u32, bits, 4);
  fill(RandomDistribution::uniform_f32, uf, 4);
  fill(RandomDistribution::normal_f32, nf, 4);
  fill(RandomDistribution::uniform_f64, ud, 2);
  fill(RandomDistribution::normal_f64, nd, 2);
  fill(RandomDistribution::uniform_u32, ints, 4);
  const auto fbits = [](float x) { return std::bit_cast<std::uint32_t>(x); };
  const auto dbits = [](double x) { return std::bit_cast<std::uint64_t>(x); };
  const std::uint32_t bits_expected[4] = {0x459e6c70, 0x87bcf853, 0x8484c61d, 0xd9799dad};
  const std::uint32_t uf_expected[4] = {0x3e8b3cd8, 0x3f07bcf8, 0x3f0484c6, 0x3f59799d};
  // -1.58476186, -0.304654598, 0.671672165, -0.930464745
  const std::uint32_t nf_expected[4] = {0xbfcad97a, 0xbe9bfbb0, 0x3f2bf2b5, 0xbf6e32f0};
  const std::uint64_t ud_expected[2] = {0x3fd1679b1c21ef3eull, 0x3fe09098c3bb2f33ull};
  // -1.6038651479535266, -0.17860843612455624
  const std::uint64_t nd_expected[2] = {0xbff9a96e805a793cull, 0xbfc6dca427f8eb14ull};
  const std::uint32_t ints_expected[4] = {2, 5, 5, 8};
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(bits[i], bits_expected[i]) << i;
    EXPECT_EQ(fbits(uf[i]), uf_expected[i]) << i << ": " << uf[i];
    EXPECT_EQ(fbits(nf[i]), nf_expected[i]) << i << ": " << nf[i];
    EXPECT_EQ(ints[i], ints_expected[i]) << i;
  }
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(dbits(ud[i]), ud_expected[i]) << i << ": " << ud[i];
    EXPECT_EQ(dbits(nd[i]), nd_expected[i]) << i << ": " << nd[i];
  }
}

// ---------------------------------------------------------------------------------------------
// Statistics, with fixed seeds (deterministic) and bounds at about 5 standard errors.

TEST(RandomFillStats, NormalMomentsAndTails) {
  const std::int64_t n = 1 << 20;
  for (RandomDistribution d : {RandomDistribution::normal_f32, RandomDistribution::normal_f64}) {
    SCOPED_TRACE(dist_name(d));
    std::vector<double> x(n);
    if (d == RandomDistribution::normal_f32) {
      std::vector<float> f(n);
      dk::cpu_impl::random_fill(params(d, f.data(), n, 12345, 2));
      for (std::int64_t i = 0; i < n; ++i) x[i] = f[i];
    } else {
      dk::cpu_impl::random_fill(params(d, x.data(), n, 12345, 2));
    }
    double s1 = 0, s2 = 0, s3 = 0, s4 = 0;
    std::int64_t beyond2 = 0, beyond3 = 0;
    for (double v : x) {
      ASSERT_TRUE(std::isfinite(v));
      s1 += v;
      s2 += v * v;
      s3 += v * v * v;
      s4 += v * v * v * v;
      beyond2 += std::fabs(v) > 2.0;
      beyond3 += std::fabs(v) > 3.0;
    }
    const double mean = s1 / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(n));                     // se 1/sqrt(n)
    EXPECT_NEAR(var, 1.0, 5.0 * std::sqrt(2.0 / n));                // se sqrt(2/n)
    EXPECT_NEAR(s3 / n, 0.0, 5.0 * std::sqrt(15.0 / n));            // skewness, se sqrt(15/n)
    EXPECT_NEAR(s4 / n, 3.0, 5.0 * std::sqrt(96.0 / n));            // kurtosis, se sqrt(96/n)
    const double p2 = 0.0455002638963584, p3 = 0.0026997960632601;  // P(|Z| > 2), P(|Z| > 3)
    EXPECT_NEAR(static_cast<double>(beyond2) / n, p2, 5.0 * std::sqrt(p2 * (1 - p2) / n));
    EXPECT_NEAR(static_cast<double>(beyond3) / n, p3, 5.0 * std::sqrt(p3 * (1 - p3) / n));
  }
}

TEST(RandomFillStats, UniformFloatsMeanVarianceAndRange) {
  const std::int64_t n = 1 << 20;
  for (RandomDistribution d : {RandomDistribution::uniform_f32, RandomDistribution::uniform_open_f32,
                               RandomDistribution::uniform_f64}) {
    SCOPED_TRACE(dist_name(d));
    std::vector<double> x(n);
    if (d == RandomDistribution::uniform_f64) {
      dk::cpu_impl::random_fill(params(d, x.data(), n, 7, 0));
    } else {
      std::vector<float> f(n);
      dk::cpu_impl::random_fill(params(d, f.data(), n, 7, 0));
      for (std::int64_t i = 0; i < n; ++i) x[i] = f[i];
    }
    double s1 = 0, s2 = 0;
    for (double v : x) {
      ASSERT_GE(v, 0.0);
      ASSERT_LT(v, 1.0);
      if (d == RandomDistribution::uniform_open_f32) {
        ASSERT_GT(v, 0.0);
      }
      s1 += v;
      s2 += v * v;
    }
    const double mean = s1 / n, var = s2 / n - mean * mean;
    EXPECT_NEAR(mean, 0.5, 5.0 * std::sqrt(1.0 / 12 / n));
    EXPECT_NEAR(var, 1.0 / 12, 5.0 * std::sqrt(1.0 / 180 / n));  // var of (U - 1/2)^2 is 1/180
  }
}

// Chi-square goodness of fit of uniform_u32 over its bound, for a small bound and for a bound
// where a multiply-shift without rejection is visibly biased.
double chi_square(const std::vector<std::int64_t>& counts, double expected) {
  double chi2 = 0;
  for (std::int64_t c : counts) chi2 += (c - expected) * (c - expected) / expected;
  return chi2;
}

TEST(RandomFillStats, UniformIntChiSquare) {
  const std::int64_t n = 1 << 20;
  const std::uint32_t bound = 97;
  std::vector<std::uint32_t> v(n);
  RandomFillParams p = params(RandomDistribution::uniform_u32, v.data(), n, 31337, 9);
  p.bound = bound;
  dk::cpu_impl::random_fill(p);
  std::vector<std::int64_t> counts(bound, 0);
  for (std::uint32_t x : v) {
    ASSERT_LT(x, bound);
    ++counts[x];
  }
  // 96 degrees of freedom: mean 96, sd sqrt(192) = 13.9; 96 + 5 sd = 165.
  EXPECT_LT(chi_square(counts, static_cast<double>(n) / bound), 165.0);
  EXPECT_GT(chi_square(counts, static_cast<double>(n) / bound), 40.0);  // not suspiciously perfect
}

TEST(RandomFillStats, UniformIntUnbiasedWhereRejectionMatters) {
  // bound = 3 * 2^30: the multiply-shift alone maps x to floor(3x/4) and makes residue 0 (mod 3)
  // twice as likely as 1 or 2; rejection of the 2^32 mod bound = 2^30 low values (a quarter of all
  // words) makes the residues equally likely. The same for the emulated kernel.
  const std::int64_t n = 3 * 100000;
  const std::uint32_t bound = 3u << 30;
  std::vector<std::uint32_t> cpu(n), emu(n);
  RandomFillParams p = params(RandomDistribution::uniform_u32, cpu.data(), n, 5, 6);
  p.bound = bound;
  dk::cpu_impl::random_fill(p);
  p.out = emu.data();
  dk::emu_impl::random_fill(p, nullptr);
  ASSERT_EQ(cpu, emu);
  std::vector<std::int64_t> residues(3, 0);
  for (std::uint32_t x : cpu) {
    ASSERT_LT(x, bound);
    ++residues[x % 3];
  }
  // 2 degrees of freedom: 99.9999% quantile is 27.6.
  EXPECT_LT(chi_square(residues, n / 3.0), 27.6) << residues[0] << " " << residues[1] << " " << residues[2];
}

// Different streams and different seeds give unrelated sequences (no shared words at the same
// position beyond chance), and nearby indices are not correlated.
TEST(RandomFillStats, StreamsAndSeedsIndependent) {
  const std::int64_t n = 1 << 16;
  std::vector<std::uint32_t> a(n), b(n), c(n);
  dk::cpu_impl::random_fill(params(RandomDistribution::bits_u32, a.data(), n, 1, 0));
  dk::cpu_impl::random_fill(params(RandomDistribution::bits_u32, b.data(), n, 1, 1));
  dk::cpu_impl::random_fill(params(RandomDistribution::bits_u32, c.data(), n, 2, 0));
  std::int64_t same_ab = 0, same_ac = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    same_ab += a[i] == b[i];
    same_ac += a[i] == c[i];
  }
  EXPECT_LE(same_ab, 1);
  EXPECT_LE(same_ac, 1);
  // Lag-1 correlation of uniforms: se 1/sqrt(n).
  std::vector<float> u(n);
  dk::cpu_impl::random_fill(params(RandomDistribution::uniform_f32, u.data(), n, 3, 3));
  double s = 0;
  for (std::int64_t i = 0; i + 1 < n; ++i) s += (u[i] - 0.5) * (u[i + 1] - 0.5);
  EXPECT_NEAR(s / (n - 1) * 12.0, 0.0, 5.0 / std::sqrt(n));
}

// ---------------------------------------------------------------------------------------------

TEST(RandomFill, RejectsBadParameters) {
  float f = 0;
  std::uint32_t u = 0;
  RandomFillParams p = params(RandomDistribution::uniform_f32, &f, -1, 0, 0);
  EXPECT_THROW(dk::cpu_impl::random_fill(p), deeper::Error);
  EXPECT_THROW(dk::emu_impl::random_fill(p, nullptr), deeper::Error);
  p = params(RandomDistribution::uniform_f32, nullptr, 3, 0, 0);
  EXPECT_THROW(dk::cpu_impl::random_fill(p), deeper::Error);
  EXPECT_THROW(dk::emu_impl::random_fill(p, nullptr), deeper::Error);
  p = params(RandomDistribution::uniform_u32, &u, 1, 0, 0);
  p.bound = 0;
  EXPECT_THROW(dk::cpu_impl::random_fill(p), deeper::Error);
  EXPECT_THROW(dk::emu_impl::random_fill(p, nullptr), deeper::Error);
  std::uint32_t last[3] = {0, 0, 0};
  p = params(RandomDistribution::bits_u32, last, 2, 0, 0);
  p.offset = ~std::uint64_t{0} - 2;  // elements 2^64 - 3 and 2^64 - 2: the last ones allowed
  EXPECT_NO_THROW(dk::cpu_impl::random_fill(p));
  EXPECT_EQ(last[0], rng::random_block(0, 0, p.offset / 4).w[p.offset % 4]);
  EXPECT_EQ(last[1], rng::random_block(0, 0, (p.offset + 1) / 4).w[(p.offset + 1) % 4]);
  EXPECT_EQ(last[2], 0u);
  std::uint32_t last_emu[3] = {0, 0, 0};
  p.out = last_emu;
  EXPECT_NO_THROW(dk::emu_impl::random_fill(p, nullptr));
  EXPECT_TRUE(last_emu[0] == last[0] && last_emu[1] == last[1] && last_emu[2] == 0u);
  p.count = 3;  // offset + count would reach 2^64
  EXPECT_THROW(dk::cpu_impl::random_fill(p), deeper::Error);
  EXPECT_THROW(dk::emu_impl::random_fill(p, nullptr), deeper::Error);
  p = params(static_cast<RandomDistribution>(99), &u, 1, 0, 0);
  EXPECT_THROW(dk::cpu_impl::random_fill(p), deeper::Error);
  EXPECT_THROW(dk::emu_impl::random_fill(p, nullptr), deeper::Error);
  p = params(RandomDistribution::uniform_u32, &u, 1, 0, 0);
  p.bound = 1;
  u = 7;
  EXPECT_NO_THROW(dk::cpu_impl::random_fill(p));
  EXPECT_EQ(u, 0u);  // bound 1: always 0
  // count == 0 with a null buffer is fine and launches nothing.
  const std::uint64_t launches = deeper::emu::stats().launches;
  EXPECT_NO_THROW(
      dk::emu_impl::random_fill(params(RandomDistribution::normal_f32, nullptr, 0, 0, 0), nullptr));
  EXPECT_EQ(deeper::emu::stats().launches, launches);
}

}  // namespace
