// Host-side references for the mma_sync.cuh tests (tests/emu and tests/gpu_mma): bf16 patterns,
// the PTX fragment layouts of mma.m16n8k16 written out independently of the emulator, a double
// reference product, and the documented ldmatrix lane mapping.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

namespace deeper::test::mma {

inline float bf16_value(std::uint16_t bits) {
  const std::uint32_t b = std::uint32_t{bits} << 16;
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

// Random finite bf16 patterns in roughly [-2, 2] (uniform significands, a few exponents).
inline std::vector<std::uint16_t> random_bf16(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> mantissa(0, 127), exponent(-6, 0), sign(0, 1);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) {
    x = static_cast<std::uint16_t>(sign(gen) << 15 | (127 + exponent(gen)) << 7 | mantissa(gen));
  }
  return v;
}

// Small integers (-4..4) as bf16: every product and every partial sum of a 16-term dot product plus a
// small integer accumulator is exact in fp32, so any summation order gives the same bits.
inline std::vector<std::uint16_t> small_integer_bf16(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> dist(-4, 4);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) {
    const float f = static_cast<float>(dist(gen));
    std::uint32_t b;
    std::memcpy(&b, &f, sizeof b);
    x = static_cast<std::uint16_t>(b >> 16);  // exact: small integers have short significands
  }
  return v;
}

inline std::uint32_t pack(std::uint16_t lo, std::uint16_t hi) { return std::uint32_t{lo} | std::uint32_t{hi} << 16; }

// PTX ISA, "Matrix Fragments for mma.m16n8k16 with floating point type": groupID = lane >> 2,
// threadID_in_group = lane % 4; a0..a7 / b0..b3 / c0..c3 are the elements in register order.
//   A: row = groupID (+8 for a2, a3, a6, a7), col = 2*threadID_in_group + (i & 1) (+8 for a4..a7)
//   B: row = 2*threadID_in_group + (i & 1) (+8 for b2, b3), col = groupID
//   C: row = groupID (+8 for c2, c3), col = 2*threadID_in_group + (i & 1)
// A is 16x16 row-major, B 16x8 (k x n) row-major, C 16x8 row-major.
inline std::vector<std::uint32_t> a_fragments(const std::vector<std::uint16_t>& A) {
  std::vector<std::uint32_t> f(32 * 4);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    std::uint16_t e[8];
    for (int i = 0; i < 8; ++i) {
      const int row = g + ((i == 2 || i == 3 || i == 6 || i == 7) ? 8 : 0);
      const int col = 2 * t + (i & 1) + (i >= 4 ? 8 : 0);
      e[i] = A[static_cast<std::size_t>(row * 16 + col)];
    }
    for (int r = 0; r < 4; ++r) f[static_cast<std::size_t>(lane * 4 + r)] = pack(e[2 * r], e[2 * r + 1]);
  }
  return f;
}

inline std::vector<std::uint32_t> b_fragments(const std::vector<std::uint16_t>& B) {
  std::vector<std::uint32_t> f(32 * 2);
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane >> 2, t = lane % 4;
    std::uint16_t e[4];
    for (int i = 0; i < 4; ++i) e[i] = B[static_cast<std::size_t>((2 * t + (i & 1) + (i >= 2 ? 8 : 0)) * 8 + g)];
    for (int r = 0; r < 2; ++r) f[static_cast<std::size_t>(lane * 2 + r)] = pack(e[2 * r], e[2 * r + 1]);
  }
  return f;
}

inline int c_row(int lane, int i) { return (lane >> 2) + (i >= 2 ? 8 : 0); }
inline int c_col(int lane, int i) { return 2 * (lane % 4) + (i & 1); }

inline std::vector<float> c_fragments(const std::vector<float>& C) {
  std::vector<float> f(32 * 4);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) f[static_cast<std::size_t>(lane * 4 + i)] = C[static_cast<std::size_t>(c_row(lane, i) * 8 + c_col(lane, i))];
  }
  return f;
}

// D = A B + C in double; A is m x k, B k x n (row-major bf16 patterns), C m x n.
inline std::vector<double> reference_product(const std::vector<std::uint16_t>& A, const std::vector<std::uint16_t>& B,
                                             const std::vector<double>& C, int m, int n, int k, int ldb) {
  std::vector<double> D(static_cast<std::size_t>(m * n));
  for (int i = 0; i < m; ++i) {
    for (int j = 0; j < n; ++j) {
      double acc = C[static_cast<std::size_t>(i * n + j)];
      for (int q = 0; q < k; ++q) {
        acc += double{bf16_value(A[static_cast<std::size_t>(i * k + q)])} * bf16_value(B[static_cast<std::size_t>(q * ldb + j)]);
      }
      D[static_cast<std::size_t>(i * n + j)] = acc;
    }
  }
  return D;
}

inline std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(gen);
  return v;
}

// Inputs and expected outputs of mma_chain (mma_test_kernels.h): `steps` random (A, B) tile pairs and
// a random C, as per-lane fragments; expect[lane * 4 + i] is the exact (double) value of
// sum_s A_s B_s + C at lane's d[i], abs_sum[lane * 4 + i] the same sum over |terms| (the scale of
// the rounding error of an fp32 accumulation).
struct MmaChainCase {
  std::vector<std::uint32_t> a, b;
  std::vector<float> c;
  std::vector<double> expect, abs_sum;
};

inline MmaChainCase mma_chain_case(int steps, unsigned seed) {
  MmaChainCase k;
  const auto C = random_floats(16 * 8, seed);
  std::vector<double> expect(C.begin(), C.end()), abs_sum(C.size());
  for (std::size_t i = 0; i < C.size(); ++i) abs_sum[i] = std::fabs(C[i]);
  for (int s = 0; s < steps; ++s) {
    const auto A = random_bf16(16 * 16, seed * 31 + static_cast<unsigned>(s));
    const auto B = random_bf16(16 * 8, seed * 37 + static_cast<unsigned>(s));
    const auto fa = a_fragments(A), fb = b_fragments(B);
    k.a.insert(k.a.end(), fa.begin(), fa.end());
    k.b.insert(k.b.end(), fb.begin(), fb.end());
    expect = reference_product(A, B, expect, 16, 8, 16, 8);
    auto absA = A, absB = B;
    for (auto& x : absA) x &= 0x7FFF;
    for (auto& x : absB) x &= 0x7FFF;
    abs_sum = reference_product(absA, absB, abs_sum, 16, 8, 16, 8);
  }
  k.c = c_fragments(C);
  for (int lane = 0; lane < 32; ++lane) {
    for (int i = 0; i < 4; ++i) {
      const auto at = static_cast<std::size_t>(c_row(lane, i) * 8 + c_col(lane, i));
      k.expect.push_back(expect[at]);
      k.abs_sum.push_back(abs_sum[at]);
    }
  }
  return k;
}

// Inputs and expected outputs of ldmatrix_mma_roundtrip: A (16x16), B (16x16, k x n) row-major bf16,
// C (16x16) fp32; expect and abs_sum (16x16) as in MmaChainCase. d_x2 expects the first 8 columns.
struct RoundTripCase {
  std::vector<std::uint16_t> A, B;
  std::vector<float> C;
  std::vector<double> expect, abs_sum;
};

inline RoundTripCase roundtrip_case(unsigned seed) {
  RoundTripCase k{random_bf16(16 * 16, seed), random_bf16(16 * 16, seed + 1), random_floats(16 * 16, seed + 2), {}, {}};
  k.expect = reference_product(k.A, k.B, std::vector<double>(k.C.begin(), k.C.end()), 16, 16, 16, 16);
  auto absA = k.A, absB = k.B;
  for (auto& x : absA) x &= 0x7FFF;
  for (auto& x : absB) x &= 0x7FFF;
  std::vector<double> absC(k.C.size());
  for (std::size_t i = 0; i < absC.size(); ++i) absC[i] = std::fabs(k.C[i]);
  k.abs_sum = reference_product(absA, absB, absC, 16, 16, 16, 16);
  return k;
}

// ldmatrix's documented mapping: matrix j's row i is rows[row_of_lane[8 * j + i]] (8 patterns each).
// Lane l receives (row l/4, columns 2*(l%4), 2*(l%4)+1), or with trans (rows 2*(l%4), 2*(l%4)+1,
// column l/4), the lower index in the low half.
inline std::uint32_t ldmatrix_expected(const std::vector<std::uint16_t>& rows, const std::vector<int>& row_of_lane,
                                       int matrix, int lane, bool trans) {
  const auto element = [&](int r, int c) {
    return rows[static_cast<std::size_t>(row_of_lane[static_cast<std::size_t>(8 * matrix + r)] * 8 + c)];
  };
  const int q = lane / 4, p = 2 * (lane % 4);
  return trans ? pack(element(p, q), element(p + 1, q)) : pack(element(q, p), element(q, p + 1));
}

// Inputs and expected output of wgmma_tile (tests/emu/wgmma_test_kernels.h): A 64 x 32 (m, k) and
// B n x 32 (n, k) row-major bf16, C 64 x n fp32; expect = A B^T + C, with_c false: A B^T; abs_sum
// the same with absolute values (the tolerance scale), all 64 x n row-major in double.
struct WgmmaTileCase {
  std::vector<std::uint16_t> A, B;
  std::vector<float> C;
  std::vector<double> expect, abs_sum;
};

inline WgmmaTileCase wgmma_tile_case(int n, unsigned seed, bool with_c) {
  WgmmaTileCase k{random_bf16(64 * 32, seed), random_bf16(static_cast<std::size_t>(n) * 32, seed + 1),
                  random_floats(static_cast<std::size_t>(64 * n), seed + 2), {}, {}};
  k.expect.assign(static_cast<std::size_t>(64 * n), 0.0);
  k.abs_sum.assign(k.expect.size(), 0.0);
  for (int m = 0; m < 64; ++m) {
    for (int j = 0; j < n; ++j) {
      const auto at = static_cast<std::size_t>(m * n + j);
      double s = with_c ? k.C[at] : 0.0, a = with_c ? std::fabs(k.C[at]) : 0.0;
      for (int kk = 0; kk < 32; ++kk) {
        const double p = static_cast<double>(bf16_value(k.A[static_cast<std::size_t>(m * 32 + kk)])) *
                         bf16_value(k.B[static_cast<std::size_t>(j * 32 + kk)]);
        s += p;
        a += std::fabs(p);
      }
      k.expect[at] = s;
      k.abs_sum[at] = a;
    }
  }
  return k;
}

}  // namespace deeper::test::mma
