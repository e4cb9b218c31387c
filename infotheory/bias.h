// Analytic bias corrections of Gaussian entropies and mutual information (gcmi.md section 3).
// For a d-dimensional Gaussian sample of N trials, the plug-in entropy from the unbiased sample
// covariance is biased low by
//   B(d, N) = d (ln 2 - ln(N - 1)) / 2 + sum_{i=1..d} psi((N - i) / 2) / 2   (nats, negative),
// and the corrected entropy is H - B(d, N). Every function here needs N > d.
#pragma once

#include <cstdint>

namespace deeper::info {

// B(d, N) in nats (negative). Throws deeper::Error unless d >= 1 and N > d.
double entropy_bias_nats(int d, std::int64_t n);

// b(d, N) = B(d, N) / ln 2 in bits (negative): the amount subtracted from a plug-in entropy.
double entropy_bias_bits(int d, std::int64_t n);

// b(dx) + b(dy) - b(dx + dy) in bits (positive): the amount subtracted from a plug-in MI between a
// dx- and a dy-dimensional variable over N trials (needs N > dx + dy).
double mi_bias_bits(int dx, int dy, std::int64_t n);

}  // namespace deeper::info
