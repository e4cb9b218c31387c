#include "analysis/features.h"

#include <cblas.h>

#include <algorithm>

#include "core/error.h"

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

}  // namespace deeper::analysis
