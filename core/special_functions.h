// Special functions in double precision that the information-theory code needs: the inverse
// standard normal CDF (for copula normalisation tables) and the digamma function (for the
// analytic bias correction of Gaussian entropies). Plain host code, no dependencies.
#pragma once

namespace deeper {

// Phi^-1(p), the inverse of the standard normal CDF, to full double precision (relative error
// ~1e-16) by Wichura's algorithm AS 241 (PPND16, Applied Statistics 37:477-484, 1988).
// ndtri(0) = -inf, ndtri(1) = +inf; NaN for p outside [0, 1] or NaN.
double ndtri(double p);

// psi(x) = d/dx ln Gamma(x). For x > 0: the recurrence psi(x) = psi(x + 1) - 1/x up to x >= 10,
// then the asymptotic series ln x - 1/(2x) - sum B_2k / (2k x^2k) through x^-14 (absolute error
// below 1e-15). Negative non-integers use the reflection psi(x) = psi(1 - x) - pi / tan(pi x).
// NaN at the poles (0, -1, -2, ...) and for NaN; psi(+inf) = +inf.
double digamma(double x);

}  // namespace deeper
