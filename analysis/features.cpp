#include "analysis/features.h"

#include <cblas.h>

#include <algorithm>
#include <bit>

#include <cmath>

#include "core/error.h"
#include "infotheory/allpairs_mv.h"

namespace deeper::analysis {

namespace {

// rows (3J x N) = basis_rows (3J x K) * coefficients (K x N).
void project(const std::vector<double>& basis_rows, std::int64_t rows, std::int64_t k,
             const std::vector<double>& coefficients, std::int64_t n, std::vector<double>& out) {
  out.assign(static_cast<std::size_t>(rows * n), 0.0);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(rows), static_cast<int>(n),
              static_cast<int>(k), 1.0, basis_rows.data(), static_cast<int>(k), coefficients.data(),
              static_cast<int>(n), 0.0, out.data(), static_cast<int>(n));
}

std::vector<double> coefficient_matrix(std::span<const render::Identity> faces, std::int64_t k, bool shape) {
  const auto n = static_cast<std::int64_t>(faces.size());
  std::vector<double> c(static_cast<std::size_t>(k * n));
  for (std::int64_t t = 0; t < n; ++t) {
    const auto& v = shape ? faces[static_cast<std::size_t>(t)].shape : faces[static_cast<std::size_t>(t)].texture;
    if (static_cast<std::int64_t>(v.size()) != k) {
      throw Error(fmt::format("trial face {}: {} {} coefficients, the face model has {}", t, v.size(),
                              shape ? "shape" : "texture", k));
    }
    for (std::int64_t j = 0; j < k; ++j) c[static_cast<std::size_t>(j * n + t)] = v[static_cast<std::size_t>(j)];
  }
  return c;
}

}  // namespace

FeatureSet shape_features(const render::FaceModel& model, std::span<const render::Identity> faces, int vertex_stride) {
  DEEPER_CHECK(vertex_stride >= 1, "shape_features: vertex stride {} must be at least 1", vertex_stride);
  DEEPER_CHECK(!faces.empty(), "shape_features: no trial faces");
  const std::int64_t v = model.vertex_count(), k = model.shape_components();
  FeatureSet f;
  f.kind = "shape";
  f.trials = static_cast<std::int64_t>(faces.size());
  for (std::int64_t i = 0; i < v; i += vertex_stride) f.index.push_back(i);
  f.count = static_cast<std::int64_t>(f.index.size());
  std::vector<double> basis(static_cast<std::size_t>(f.count * 3 * k));
  for (std::int64_t j = 0; j < f.count; ++j) {
    for (int d = 0; d < 3; ++d) {
      for (std::int64_t c = 0; c < k; ++c) {
        basis[static_cast<std::size_t>((j * 3 + d) * k + c)] =
            model.shape_basis[static_cast<std::size_t>(c * v * 3 + f.index[static_cast<std::size_t>(j)] * 3 + d)];
      }
    }
  }
  project(basis, f.count * 3, k, coefficient_matrix(faces, k, true), f.trials, f.rows);
  mark_used_dimensions(f);
  return f;
}

std::vector<float> downsampled_texture_basis(const render::FaceModel& model, int factor) {
  const int ht = model.texture_height, wt = model.texture_width;
  if (factor < 1 || ht % factor != 0 || wt % factor != 0) {
    throw Error(fmt::format("texel factor {} must be at least 1 and divide the {} x {} texture", factor, ht, wt));
  }
  const int h = ht / factor, w = wt / factor;
  const std::int64_t k = model.texture_components();
  std::vector<float> out(static_cast<std::size_t>(k * h * w * 3), 0.0f);
  const float scale = 1.0f / static_cast<float>(factor * factor);
  for (std::int64_t c = 0; c < k; ++c) {
    const float* src = model.texture_basis.data() + c * std::int64_t{ht} * wt * 3;
    float* dst = out.data() + c * std::int64_t{h} * w * 3;
    for (int y = 0; y < ht; ++y) {
      for (int x = 0; x < wt; ++x) {
        for (int ch = 0; ch < 3; ++ch) {
          dst[((y / factor) * w + x / factor) * 3 + ch] += scale * src[(std::int64_t{y} * wt + x) * 3 + ch];
        }
      }
    }
  }
  return out;
}

FeatureSet texture_features(const render::FaceModel& model, std::span<const render::Identity> faces, int factor) {
  DEEPER_CHECK(!faces.empty(), "texture_features: no trial faces");
  const std::vector<float> ds = downsampled_texture_basis(model, factor);
  const std::int64_t k = model.texture_components();
  FeatureSet f;
  f.kind = "texture";
  f.trials = static_cast<std::int64_t>(faces.size());
  f.grid_height = model.texture_height / factor;
  f.grid_width = model.texture_width / factor;
  f.count = std::int64_t{f.grid_height} * f.grid_width;
  f.index.resize(static_cast<std::size_t>(f.count));
  for (std::int64_t i = 0; i < f.count; ++i) f.index[static_cast<std::size_t>(i)] = i;
  std::vector<double> basis(static_cast<std::size_t>(f.count * 3 * k));
  for (std::int64_t r = 0; r < f.count * 3; ++r) {
    for (std::int64_t c = 0; c < k; ++c) {
      basis[static_cast<std::size_t>(r * k + c)] = ds[static_cast<std::size_t>(c * f.count * 3 + r)];
    }
  }
  project(basis, f.count * 3, k, coefficient_matrix(faces, k, false), f.trials, f.rows);
  mark_used_dimensions(f);
  return f;
}

FeatureSet first_trials(const FeatureSet& features, std::int64_t n) {
  DEEPER_CHECK(n >= 1 && n <= features.trials, "first_trials: {} trials asked, the set has {}", n, features.trials);
  FeatureSet f = features;
  f.trials = n;
  f.rows.resize(static_cast<std::size_t>(f.count * 3 * n));
  for (std::int64_t r = 0; r < f.count * 3; ++r) {
    std::copy_n(features.rows.begin() + r * features.trials, n, f.rows.begin() + r * n);
  }
  return f;
}

void mark_used_dimensions(FeatureSet& f) {
  const std::int64_t n = f.trials;
  f.dims.assign(static_cast<std::size_t>(f.count), 0);
  double scale = 0.0;
  std::vector<double> mean(static_cast<std::size_t>(f.count * 3)), var(mean.size());
  for (std::int64_t r = 0; r < f.count * 3; ++r) {
    const double* x = f.rows.data() + r * n;
    double m = 0.0, v = 0.0;
    for (std::int64_t t = 0; t < n; ++t) m += x[t];
    m /= static_cast<double>(n);
    for (std::int64_t t = 0; t < n; ++t) v += (x[t] - m) * (x[t] - m);
    mean[static_cast<std::size_t>(r)] = m;
    var[static_cast<std::size_t>(r)] = v;
    scale = std::max(scale, v);
  }
  for (std::int64_t j = 0; j < f.count; ++j) {
    std::uint8_t used = 0;
    for (int d = 0; d < 3; ++d) {
      const auto r = static_cast<std::size_t>(j * 3 + d);
      if (!(var[r] > 1e-20 * scale)) continue;  // constant
      bool multiple = false;
      for (int e = 0; e < d && !multiple; ++e) {
        if (!(used & (1u << e))) continue;
        const auto q = static_cast<std::size_t>(j * 3 + e);
        double c = 0.0;
        const double* x = f.rows.data() + static_cast<std::int64_t>(r) * n;
        const double* y = f.rows.data() + static_cast<std::int64_t>(q) * n;
        for (std::int64_t t = 0; t < n; ++t) c += (x[t] - mean[r]) * (y[t] - mean[q]);
        multiple = std::abs(c) >= (1.0 - 1e-9) * std::sqrt(var[r] * var[q]);
      }
      if (!multiple) used = static_cast<std::uint8_t>(used | (1u << d));
    }
    f.dims[static_cast<std::size_t>(j)] = used;
  }
}

namespace {

// Runs `engine(x, count, d)` per group of features with d used dimensions and scatters the results
// into a J x `columns` result.
template <typename Engine>
info::AllPairsResult grouped(const FeatureSet& f, std::int64_t columns, std::int64_t permutations, Engine&& engine) {
  DEEPER_CHECK(static_cast<std::int64_t>(f.dims.size()) == f.count, "features: {} dimension masks for {} features",
               f.dims.size(), f.count);
  const std::int64_t n = f.trials;
  info::AllPairsResult out;
  out.units = f.count;
  out.features = columns;
  out.trials = n;
  out.permutations = permutations;
  out.mi.assign(static_cast<std::size_t>(f.count * columns), 0.0);
  out.tie_fraction_x.assign(static_cast<std::size_t>(f.count), 0.0);
  if (permutations > 0) {
    out.exceed.assign(out.mi.size(), static_cast<std::uint32_t>(permutations));
    out.max_null.assign(static_cast<std::size_t>(permutations * columns), 0.0);
    out.max_null_all.assign(static_cast<std::size_t>(permutations), 0.0);
  }
  for (int d = 1; d <= 3; ++d) {
    std::vector<std::int64_t> members;
    for (std::int64_t j = 0; j < f.count; ++j) {
      if (std::popcount(static_cast<unsigned>(f.dims[static_cast<std::size_t>(j)])) == d) members.push_back(j);
    }
    if (members.empty()) continue;
    std::vector<double> x(static_cast<std::size_t>(static_cast<std::int64_t>(members.size()) * d * n));
    for (std::size_t m = 0; m < members.size(); ++m) {
      int k = 0;
      for (int e = 0; e < 3; ++e) {
        if (!(f.dims[static_cast<std::size_t>(members[m])] & (1u << e))) continue;
        std::copy_n(f.rows.begin() + (members[m] * 3 + e) * n, n,
                    x.begin() + (static_cast<std::int64_t>(m) * d + k) * n);
        ++k;
      }
    }
    const info::AllPairsResult r = engine(x.data(), static_cast<std::int64_t>(members.size()), d);
    for (std::size_t m = 0; m < members.size(); ++m) {
      const std::int64_t j = members[m];
      out.tie_fraction_x[static_cast<std::size_t>(j)] = r.tie_fraction_x[m];
      for (std::int64_t c = 0; c < columns; ++c) {
        out.mi[static_cast<std::size_t>(j * columns + c)] = r.mi[m * static_cast<std::size_t>(columns) + static_cast<std::size_t>(c)];
        if (permutations > 0) {
          out.exceed[static_cast<std::size_t>(j * columns + c)] = r.exceed[m * static_cast<std::size_t>(columns) + static_cast<std::size_t>(c)];
        }
      }
    }
    for (std::size_t i = 0; i < r.max_null.size(); ++i) out.max_null[i] = std::max(out.max_null[i], r.max_null[i]);
    for (std::size_t i = 0; i < r.max_null_all.size(); ++i) {
      out.max_null_all[i] = std::max(out.max_null_all[i], r.max_null_all[i]);
    }
    if (out.tie_fraction_y.empty()) out.tie_fraction_y = r.tie_fraction_y;
  }
  return out;
}

}  // namespace

info::AllPairsResult features_cc(const FeatureSet& f, const double* y, std::int64_t y_vars, int dy,
                                 const info::AllPairsOptions& options) {
  return grouped(f, y_vars, options.permutations, [&](const double* x, std::int64_t count, int d) {
    return info::gcmi_cc_all_pairs_mv(x, count, d, y, y_vars, dy, f.trials, options);
  });
}

info::AllPairsResult features_cd(const FeatureSet& f, const std::int32_t* labels, int classes,
                                 const info::AllPairsOptions& options) {
  return grouped(f, 1, options.permutations, [&](const double* x, std::int64_t count, int d) {
    return info::gcmi_model_cd_batched_mv(x, count, d, labels, f.trials, classes, options);
  });
}

}  // namespace deeper::analysis
