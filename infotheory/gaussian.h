// Parametric estimators for Gaussian variables (gcmi.md sections 3, 4, 7): entropy, mutual
// information and conditional mutual information from log-determinants of the unbiased sample
// covariance (Cholesky), with the analytic bias correction of bias.h. These are the estimators
// that the gcmi_* functions (gcmi.h) apply to copula-normalised data.
//
// Layout: a variable of dimension d over N trials is a row-major d x N array of double (each
// dimension's N samples contiguous). `demeaned = true` declares that every row already has mean 0
// (the covariance is then X X^T / (N - 1) without subtracting means). Results are in bits.
// Errors (deeper::Error): null data, d < 1, N not above the joint dimension, NaN/Inf, a
// covariance that is not positive definite.
#pragma once

#include <cstdint>

namespace deeper::info {

// Entropy of a d-dimensional Gaussian: (1/2) ln|C| + (d/2) ln(2 pi e), minus B(d, N) when
// bias_correct, in bits.
double ent_g(const double* x, int d, std::int64_t n, bool bias_correct = true, bool demeaned = false);

// I(X; Y) = (H_X + H_Y - H_XY) / ln 2 from the joint covariance of [X; Y]; each entropy term has
// its own bias correction B(d, N) for d = dx, dy, dx + dy.
double mi_gg(const double* x, int dx, const double* y, int dy, std::int64_t n, bool bias_correct = true,
             bool demeaned = false);

// I(X; Y | Z) = (H_XZ + H_YZ - H_XYZ - H_Z) / ln 2 from principal blocks of the covariance of
// [X; Y; Z], each with its own bias correction.
double cmi_ggg(const double* x, int dx, const double* y, int dy, const double* z, int dz, std::int64_t n,
               bool bias_correct = true, bool demeaned = false);

}  // namespace deeper::info
