// Mutual information between a continuous Gaussian variable and a discrete one (gcmi.md sections
// 5 and 6). Labels are int32 in 0..classes-1, one per trial; every class must be non-empty and,
// where its covariance is needed, hold more trials than the dimension (N_k > d). Layout as in
// gaussian.h (row-major d x N). Results in bits; errors are deeper::Error.
#pragma once

#include <cstdint>

namespace deeper::info {

// Model comparison: I = (H_unc - sum_k w_k H_k) / ln 2 with w_k = N_k / N, where H_unc uses the
// covariance of all trials (demeaned unless declared demeaned) and H_k the covariance of class k
// demeaned within the class; with bias_correct, H_unc - B(d, N) and H_k - B(d, N_k).
double mi_model_gd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes,
                   bool bias_correct = true, bool demeaned = false);

// Gaussian mixture: I = (H_mix - sum_k w_k H_k) / ln 2, where H_k is the entropy of class k's
// Gaussian fit (mean m_k, unbiased covariance C_k = L_k L_k^T) and H_mix the entropy of the mixture
// sum_k w_k N(m_k, C_k) by the unscented transform with the 2d sigma points m_k +- sqrt(d) times
// the columns of L_k. No bias correction (H_mix has none).
double mi_mixture_gd(const double* x, int d, const std::int32_t* labels, std::int64_t n, int classes);

}  // namespace deeper::info
