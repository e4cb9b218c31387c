// Inputs of deeper-mi: .npy arrays with trials on the first axis, checked and laid out for the
// estimators (each variable's d x N samples contiguous).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace deeper::mi_app {

// V variables of dimension d over N trials, from an array of shape (N,), (N, V) or (N, V, d).
struct VariableSet {
  std::string path;
  std::int64_t trials = 0, count = 0;
  int dim = 1;
  std::vector<double> data;  // variable v, dimension j, trial t at ((v * dim) + j) * trials + t
  const double* variable(std::int64_t v) const { return data.data() + v * dim * trials; }
};

// Discrete labels 0..K-1 over N trials, from an integer array of shape (N,).
struct Labels {
  std::string path;
  std::vector<std::int32_t> values;
  int classes = 0;
};

// Throws deeper::Error naming the file: unreadable, wrong dtype or rank, empty, NaN or Inf.
VariableSet load_variables(const std::string& path);
// Throws deeper::Error naming the file: not integer, not 1-D, negative, an empty class.
Labels load_labels(const std::string& path);
// True when the file holds an integer array (labels) rather than continuous values.
bool holds_labels(const std::string& path);

}  // namespace deeper::mi_app
