// All-pairs Gaussian-copula MI between two sets of univariate variables, with permutation
// statistics: the batched form of gcmi_cc (docs/gcmi.md, ../shared/reference/gcmi.md §10.1, §9).
//
// X holds U variables and Y holds F variables over the same N trials, row-major (U x N, F x N).
// Every row is copula-normalised once; then one GEMM G = Zx Zy^T gives every pair's correlation
// r = G / (|zx| |zy|), and MI = -1/2 log2(1 - r^2) - c(N) (bits; c(N) the bias correction).
// Permutation p permutes the trials of Y (copnorm commutes with a trial permutation) and is
// reduced on the fly: per-pair exceedance counts and per-permutation maxima, never the null itself.
#pragma once

#include "infotheory/gcmi.h"
#include "kernels/runtime/device.h"

#include <cstdint>
#include <vector>

namespace deeper::info {

// f64 and f32: the CPU path (OpenBLAS). f32 and bf16: the kernel path on cuda or emu (fp32 SIMT,
// or bf16 tensor cores with fp32 accumulation).
enum class GemmPrecision { f64, f32, bf16 };

struct AllPairsOptions {
  GcmiOptions gcmi;                        // bias correction, tie policy, jitter seed
  int permutations = 0;                    // P; 0: no null
  std::uint64_t permutation_seed = 0;      // Philox seed of the permutation indices
  GemmPrecision precision = GemmPrecision::f64;
};

struct AllPairsResult {
  std::int64_t units = 0, features = 0, trials = 0, permutations = 0;
  std::vector<double> mi;             // U x F, bits
  std::vector<double> tie_fraction_x; // U
  std::vector<double> tie_fraction_y; // F
  // With permutations (empty otherwise):
  std::vector<std::uint32_t> exceed;  // U x F: #{p : T_p >= T_obs}
  std::vector<double> max_null;       // P x F: max over units of the null MI for feature f (bits)
  std::vector<double> max_null_all;   // P: max over all pairs (bits)

  double p_value(std::int64_t u, std::int64_t f) const;  // (1 + exceed) / (1 + P)
};

// Computes the U x F MI matrix (and the permutation statistics) on the CPU. Throws deeper::Error on
// bad shapes, N < 3, non-finite values.
AllPairsResult gcmi_cc_all_pairs(const double* x, std::int64_t units, const double* y, std::int64_t features,
                                 std::int64_t trials, const AllPairsOptions& options = {});

// The same on a device through the GCMI kernels (kernels/gcmi): copnorm by per-row shared-memory
// sorts, then one all-pairs kernel with the permutation statistics in its epilogue. `device` is
// cuda or emu; precision f32 or bf16; ties stable or jitter (average runs on the CPU only);
// N <= 16384. Inputs are host arrays (converted to fp32 and copied to the device); results come back
// to the host. MI agrees with the fp64 CPU path to fp32 (or bf16) rounding.
AllPairsResult gcmi_cc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                 std::int64_t features, std::int64_t trials, const AllPairsOptions& options = {});

// Throws deeper::Error for arguments no backend accepts: no variables, N < 3 or > 2^31 - 1,
// a negative permutation count.
void check_all_pairs_arguments(std::int64_t units, std::int64_t features, std::int64_t trials,
                               const AllPairsOptions& options);

// Family-wise corrected p-values from the maxima over all pairs: (1 + #{p : M_p >= T_obs}) / (1 + P).
std::vector<double> maxstat_p_values(const AllPairsResult& result);
// The (1 - alpha) quantile of the maxima over all pairs (the "higher" order statistic:
// the ceil((1 - alpha) P)-th smallest), in bits.
double maxstat_threshold(const AllPairsResult& result, double alpha);
// Benjamini-Hochberg adjusted p-values (q-values) of the per-pair p-values.
std::vector<double> fdr_bh(const std::vector<double>& p_values);

}  // namespace deeper::info
