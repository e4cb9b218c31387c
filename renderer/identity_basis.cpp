// Orthonormalization of the identity components: sort by the raw fields' norms (the SD spectrum,
// largest first), then modified Gram-Schmidt in double precision, run twice for orthogonality to
// rounding level. A component that is (numerically) a combination of earlier ones is an error.
#include <numeric>

#include "core/error.h"
#include "renderer/procedural.h"

namespace deeper::render::procedural {

void orthonormalize(std::vector<RawComponent> raw, int count, std::vector<float>& basis, std::vector<float>& sd,
                    std::vector<int>& band) {
  if (count < 0 || count > static_cast<int>(raw.size()))
    fail("face model: {} components requested, the procedural model has {}", count, raw.size());
  std::vector<double> norm(raw.size());
  for (std::size_t k = 0; k < raw.size(); ++k) {
    double s = 0;
    for (float v : raw[k].field) s += static_cast<double>(v) * v;
    norm[k] = std::sqrt(s);
  }
  std::vector<std::size_t> order(raw.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return norm[a] > norm[b]; });
  const std::size_t dim = raw.empty() ? 0 : raw[0].field.size();
  std::vector<std::vector<double>> q;
  q.reserve(static_cast<std::size_t>(count));
  sd.clear();
  band.clear();
  for (int k = 0; k < count; ++k) {
    const RawComponent& c = raw[order[static_cast<std::size_t>(k)]];
    std::vector<double> v(c.field.begin(), c.field.end());
    for (int pass = 0; pass < 2; ++pass) {
      for (const auto& u : q) {
        double d = 0;
        for (std::size_t i = 0; i < dim; ++i) d += u[i] * v[i];
        for (std::size_t i = 0; i < dim; ++i) v[i] -= d * u[i];
      }
    }
    double s = 0;
    for (double x : v) s += x * x;
    s = std::sqrt(s);
    if (!(s > 1e-6 * norm[order[static_cast<std::size_t>(k)]]))
      fail("face model: identity component {} is a combination of the earlier ones", k);
    for (double& x : v) x /= s;
    q.push_back(std::move(v));
    sd.push_back(static_cast<float>(norm[order[static_cast<std::size_t>(k)]]));
    band.push_back(c.band);
  }
  basis.resize(static_cast<std::size_t>(count) * dim);
  for (int k = 0; k < count; ++k)
    for (std::size_t i = 0; i < dim; ++i) basis[static_cast<std::size_t>(k) * dim + i] = static_cast<float>(q[k][i]);
}

}  // namespace deeper::render::procedural
