// Bias constants of Gaussian entropies (see bias.h).
#include "infotheory/bias.h"

#include <cmath>
#include <numbers>

#include "core/error.h"
#include "core/special_functions.h"

namespace deeper::info {

double entropy_bias_nats(int d, std::int64_t n) {
  if (d < 1) fail("entropy bias: dimension must be at least 1 (got {})", d);
  if (n <= d) fail("entropy bias: needs more trials than dimensions (N = {}, d = {}; N must exceed d)", n, d);
  const double nd = static_cast<double>(n);
  const double dterm = (std::numbers::ln2 - std::log(nd - 1.0)) / 2.0;
  double psiterms = 0.0;
  for (int i = 1; i <= d; ++i) psiterms += digamma((nd - i) / 2.0) / 2.0;
  return d * dterm + psiterms;
}

double entropy_bias_bits(int d, std::int64_t n) { return entropy_bias_nats(d, n) / std::numbers::ln2; }

double mi_bias_bits(int dx, int dy, std::int64_t n) {
  return entropy_bias_bits(dx, n) + entropy_bias_bits(dy, n) - entropy_bias_bits(dx + dy, n);
}

}  // namespace deeper::info
