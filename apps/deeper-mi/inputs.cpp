// Loading and checking deeper-mi's .npy inputs: see inputs.h.
#include "apps/deeper-mi/inputs.h"

#include "core/error.h"
#include "core/npy.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace deeper::mi_app {
namespace {

template <typename T>
std::vector<double> as_doubles(const io::HostArray& a) {
  const std::vector<T> v = a.to_vector<T>();
  return std::vector<double>(v.begin(), v.end());
}

bool is_integer(DType t) {
  return t == DType::i32 || t == DType::i64 || t == DType::u8 || t == DType::u16;
}

}  // namespace

VariableSet load_variables(const std::string& path) {
  const io::HostArray a = io::read_npy(path);
  std::vector<double> raw;
  switch (a.dtype) {
    case DType::f32: raw = as_doubles<float>(a); break;
    case DType::f64: raw = as_doubles<double>(a); break;
    case DType::i32: raw = as_doubles<std::int32_t>(a); break;
    case DType::i64: raw = as_doubles<std::int64_t>(a); break;
    case DType::u8: raw = as_doubles<std::uint8_t>(a); break;
    case DType::u16: raw = as_doubles<std::uint16_t>(a); break;
    default: fail("{}: dtype {} is not a number type deeper-mi reads", path, dtype_name(a.dtype));
  }
  if (a.shape.empty() || a.shape.size() > 3) {
    fail("{}: shape has {} axes; expected (N,), (N, V) or (N, V, d) with trials first", path, a.shape.size());
  }
  VariableSet s;
  s.path = path;
  s.trials = a.shape[0];
  s.count = a.shape.size() >= 2 ? a.shape[1] : 1;
  s.dim = a.shape.size() == 3 ? static_cast<int>(a.shape[2]) : 1;
  if (s.trials == 0 || s.count == 0 || s.dim == 0) fail("{}: empty array (shape {})", path, io::shape_string(a.shape));
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (!std::isfinite(raw[i])) {
      fail("{}: {} at trial {} (element {}); deeper-mi needs finite values", path, std::isnan(raw[i]) ? "NaN" : "Inf",
           static_cast<std::int64_t>(i) / (s.count * s.dim), i);
    }
  }
  // Trial-major (N, V, d) to variable-major (V, d, N): a transpose of the N x (V d) matrix, in
  // 64 x 64 tiles so that both sides stay in cache (a row-by-row loop is ~10x slower at 10^8 values).
  s.data.resize(raw.size());
  const std::int64_t columns = s.count * s.dim, tile = 64;
  for (std::int64_t t0 = 0; t0 < s.trials; t0 += tile) {
    const std::int64_t t1 = std::min(t0 + tile, s.trials);
    for (std::int64_t c0 = 0; c0 < columns; c0 += tile) {
      const std::int64_t c1 = std::min(c0 + tile, columns);
      for (std::int64_t c = c0; c < c1; ++c) {
        for (std::int64_t t = t0; t < t1; ++t) {
          s.data[static_cast<std::size_t>(c * s.trials + t)] = raw[static_cast<std::size_t>(t * columns + c)];
        }
      }
    }
  }
  return s;
}

bool holds_labels(const std::string& path) { return is_integer(io::read_npy(path).dtype); }

Labels load_labels(const std::string& path) {
  const io::HostArray a = io::read_npy(path);
  if (!is_integer(a.dtype)) fail("{}: labels must be integers 0..K-1, not {}", path, dtype_name(a.dtype));
  if (a.shape.size() != 1) fail("{}: labels must have shape (N,), not {}", path, io::shape_string(a.shape));
  if (a.shape[0] == 0) fail("{}: no labels", path);
  std::vector<double> v;
  switch (a.dtype) {
    case DType::i32: v = as_doubles<std::int32_t>(a); break;
    case DType::i64: v = as_doubles<std::int64_t>(a); break;
    case DType::u8: v = as_doubles<std::uint8_t>(a); break;
    default: v = as_doubles<std::uint16_t>(a); break;
  }
  Labels labels;
  labels.path = path;
  double max_label = 0;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] < 0) fail("{}: label {} at trial {} is negative; labels are 0..K-1", path, v[i], i);
    if (v[i] > 1e6) fail("{}: label {} at trial {} is larger than the 1,000,000 classes deeper-mi accepts", path, v[i], i);
    max_label = std::max(max_label, v[i]);
  }
  labels.classes = static_cast<int>(max_label) + 1;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(labels.classes), 0);
  labels.values.resize(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    labels.values[i] = static_cast<std::int32_t>(v[i]);
    ++counts[static_cast<std::size_t>(labels.values[i])];
  }
  for (int k = 0; k < labels.classes; ++k) {
    if (counts[static_cast<std::size_t>(k)] == 0) {
      fail("{}: class {} has no trials; labels must use every value 0..{}", path, k, labels.classes - 1);
    }
  }
  return labels;
}

}  // namespace deeper::mi_app
