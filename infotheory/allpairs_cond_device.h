// Device paths (cuda or emu) of the batched conditional, co-information and model cd engines:
// the same results as the CPU engines of allpairs_conditional.h and allpairs_cd.h (same
// definitions, jitter numbering and Philox permutations, so the same exceedance counts except for
// null statistics within rounding of the observed one), to fp32 rounding (precision f32) or bf16
// rounding (bf16). A cpu `device` runs the CPU engines (f64 or f32).
//
// ccc (continuous z, permutations of y): every row is copula-normalised on the device; each x row
// is residualised against z and renormalised (kernels/gcmi/conditional.h residualise_rows), so the
// all-pairs kernel's r for (x', y∘π_p) is (r_xy,p − r_xz r_yz,p) / sqrt(1 − r_xz²), and with its
// per-(permutation, feature) scale 1 / (1 − r_yz,p²) its r² is the squared partial correlation;
// r_yz and r_yz,p (P × F) are computed on the host in fp64 from the device's copula values. The
// kernel's epilogue gives the CMI (bias of the CPU engine), exceedance counts and maxima.
//
// coinfo ccc (continuous z, permutations of z): r_xy (signed) by the all-pairs kernel, r_xz of
// the observed and the P permuted z rows by one more all-pairs GEMM (those rows as "features"),
// r_yz,p on the host; then coinfo_null computes coI = I(x;y) − I(x;y|z_p) per (u, f, p) with the
// one-sided exceedance counts #{coI_p ≥ coI} and the maxima.
//
// model cd (labels 0..K−1, K ≤ 64, permutations of the labels): copnorm on the device, then
// cd_model's class sums per (unit, labelling) with the model formula in fp64.
//
// Limits: precision f32 or bf16 (f64 only on the cpu device), ties stable or jitter (average only
// on the CPU), N ≤ 16384 (kernels/gcmi/copnorm.h). Inputs are host arrays (rounded to fp32 on
// upload, as gcmi_cc_all_pairs on a device); results come back to the host. ccd and coinfo with
// discrete z stay CPU-only. Errors: everything the CPU engines reject, plus those limits.
//
// ccc and coinfo run X in tiles of units (TileOptions, allpairs_stream.h; automatic: a quarter of
// the device's available memory), one tile after the other; y, z, the permutations and the
// r_yz,p terms stay resident. Per-pair results are the untiled ones (each depends on its unit
// only) and maxima are combined exactly, so any tile size gives the same bits (tested). The
// `_streamed` forms take X from a UnitSource (e.g. a network's activations); there x is checked
// for non-finite values on the device (in fp32), and a cpu device gathers X and runs the CPU engine.
#pragma once

#include "infotheory/allpairs.h"
#include "infotheory/allpairs_cd.h"
#include "infotheory/allpairs_conditional.h"
#include "infotheory/allpairs_stream.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::info {

AllPairsResult gccmi_ccc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                   std::int64_t features, const double* z, std::int64_t trials,
                                   const AllPairsOptions& options = {});

AllPairsResult coinfo_ccc_all_pairs(const Device& device, const double* x, std::int64_t units, const double* y,
                                    std::int64_t features, const double* z, std::int64_t trials,
                                    const AllPairsOptions& options = {});

AllPairsResult gccmi_ccc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                            const double* y, std::int64_t features, const double* z,
                                            std::int64_t trials, const AllPairsOptions& options = {},
                                            const TileOptions& tiles = {});

AllPairsResult coinfo_ccc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                             const double* y, std::int64_t features, const double* z,
                                             std::int64_t trials, const AllPairsOptions& options = {},
                                             const TileOptions& tiles = {});

AllPairsResult gcmi_model_cd_batched(const Device& device, const double* x, std::int64_t units,
                                     const std::int32_t* labels, std::int64_t trials, int classes,
                                     const AllPairsOptions& options = {});

}  // namespace deeper::info
