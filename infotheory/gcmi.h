// Gaussian-copula mutual information (GCMI), the fp64 CPU reference (gcmi.md; docs/gcmi.md).
// Each gcmi_* estimator copula-normalises every marginal of its continuous arguments (copnorm.h)
// and applies the parametric Gaussian estimator (gaussian.h, discrete.h) to the result. GCMI is a
// lower bound on the true MI: it sees only dependence that a Gaussian copula can express (a donut
// or y = x^2 gives ~0).
//
// Layout: a variable of dimension d over N trials is a row-major d x N array of double. Labels are
// int32 in 0..classes-1. Results in bits, bias-corrected by default. Bad input (N not above the
// joint dimension, NaN/Inf, labels out of range, an empty or too small class, zero MAD, a
// covariance that is not positive definite) throws deeper::Error naming the problem.
//
// Jitter ties: the rows of the arguments are numbered consecutively as jitter variables, x rows
// 0..dx-1, then y, then z (for redundancy_mmi and pid_mmi: s, then x1, then x2), and within-class
// copnorms key the jitter on the original trial number.
#pragma once

#include <cstdint>

#include "infotheory/bias.h"
#include "infotheory/copnorm.h"
#include "infotheory/discrete.h"
#include "infotheory/gaussian.h"

namespace deeper::info {

struct GcmiOptions {
  bool bias_correct = true;
  TiePolicy ties = TiePolicy::stable;
  std::uint64_t seed = 0;  // the jitter seed
};

// The constant of the robust SD, 1 / Phi^-1(3/4): SD = 1.482602218505602 * MAD for Gaussian data.
inline constexpr double kMadToSd = 1.482602218505602;

// I(X; Y) = mi_gg(copnorm x, copnorm y), demeaned.
double gcmi_cc(const double* x, int dx, const double* y, int dy, std::int64_t n, const GcmiOptions& = {});

// Model comparison on the copnorm of the whole X (not per class): mi_model_gd(copnorm x, demeaned).
double gcmi_model_cd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                     const GcmiOptions& = {});

// Mixture: per class and dimension, copnorm the raw class data, scale by 1.482602218505602 x MAD
// and shift by the median of the raw class data, then mi_mixture_gd on the pooled result. Never
// bias-corrected (options.bias_correct is ignored); a zero MAD is an error.
double gcmi_mixture_cd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                       const GcmiOptions& = {});

// I(X; Y | Z) = cmi_ggg(copnorm x, copnorm y, copnorm z), demeaned.
double gccmi_ccc(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
                 const GcmiOptions& = {});

// I(X; Y | Z) for discrete Z: sum_k (N_k / N) I_k, with I_k = mi_gg of x and y copnormed within
// class k (bias-corrected at N_k, demeaned). Needs N_k > dx + dy in every class.
double gccmi_ccd(const double* x, int dx, const double* y, int dy, const std::int32_t* labels, std::int64_t n,
                 int classes, const GcmiOptions& = {});

// Co-information coI(X; Y; Z) = I(X;Y) - I(X;Y|Z) (> 0: redundant, < 0: synergistic), continuous z.
double coinfo_ccc(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
                  const GcmiOptions& = {});

// Co-information with discrete z: gcmi_cc(x, y) - gccmi_ccd(x, y, z).
double coinfo_ccd(const double* x, int dx, const double* y, int dy, const std::int32_t* labels,
                  std::int64_t n, int classes, const GcmiOptions& = {});

// Minimum-MI redundancy min(I(S;X1), I(S;X2)), each a GCMI.
double redundancy_mmi(const double* s, int ds, const double* x1, int d1, const double* x2, int d2,
                      std::int64_t n, const GcmiOptions& = {});

// The partial information decomposition with MMI redundancy (gcmi.md section 8).
struct PidMmi {
  double redundancy = 0;  // min(I(S;X1), I(S;X2))
  double unique1 = 0;     // I(S;X1) - redundancy
  double unique2 = 0;     // I(S;X2) - redundancy
  double synergy = 0;     // I(S;[X1,X2]) - max(I(S;X1), I(S;X2))
};
PidMmi pid_mmi(const double* s, int ds, const double* x1, int d1, const double* x2, int d2, std::int64_t n,
               const GcmiOptions& = {});

}  // namespace deeper::info
