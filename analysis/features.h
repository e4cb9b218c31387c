// The stimulus features of the reverse-correlation analyses, in face-surface coordinates (before pose),
// so the same feature can be compared across poses and layers (../shared/reference/paper.md section 4):
//   shape    each (selected) vertex's 3D position, d = 3 (the identity displacement basis^T s; the
//            category mean is a constant per target and does not change any MI)
//   texture  each texel's RGB, d = 3, on the texture map box-averaged by `texel_factor` (256 -> 64 at
//            factor 4): basis^T t with the basis downsampled once
// Each is one GEMM (3 J x K) (K x N) over the trials' coefficients. Rows are variable-major with each
// dimension's N trials contiguous: the layout of the multivariate GCMI engine (infotheory/allpairs_mv.h).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "infotheory/allpairs.h"
#include "renderer/face_model.h"
#include "renderer/identities.h"

namespace deeper::analysis {

struct FeatureSet {
  std::string kind;                   // "shape" or "texture"
  std::int64_t count = 0;             // variables J
  std::int64_t trials = 0;            // N
  std::vector<std::int64_t> index;    // shape: the vertex of each variable; texture: its texel (row-major)
  int grid_height = 0, grid_width = 0;  // texture: the downsampled grid
  std::vector<double> rows;           // (J * 3) x N
  // Per variable, bit i set when dimension i is used: not constant over the trials and not (minus) a
  // multiple of a used dimension. A vertex whose displacement lies along one fixed direction moves
  // its three coordinates in proportion, so its copula-normalised dimensions coincide; its MI is
  // that of one of them (the multivariate engine refuses collinear dimensions).
  std::vector<std::uint8_t> dims;
};

// Every `vertex_stride`-th vertex (0, k, 2k, ...). Throws deeper::Error for a stride < 1, no faces, or a
// face whose shape coefficients do not match the model.
FeatureSet shape_features(const render::FaceModel& model, std::span<const render::Identity> faces,
                          int vertex_stride = 1);
// The texel grid (Ht / f) x (Wt / f). Throws deeper::Error unless f >= 1 divides both texture sides.
FeatureSet texture_features(const render::FaceModel& model, std::span<const render::Identity> faces,
                            int texel_factor);

// MI of every feature with y (y_vars variables of dimension dy, rows (y_vars dy) x N) and the
// permutation statistics, as infotheory gcmi_cc_all_pairs_mv with each feature at its used
// dimensions (features grouped by dimension count, one engine call per group; permutation p is the
// same in every group, so the maxima combine exactly). A feature with no used dimension has MI 0.
info::AllPairsResult features_cc(const FeatureSet& features, const double* y, std::int64_t y_vars, int dy,
                                 const info::AllPairsOptions& options = {});
// The same for labels (gcmi_model_cd_batched_mv): result U x 1.
info::AllPairsResult features_cd(const FeatureSet& features, const std::int32_t* labels, int classes,
                                 const info::AllPairsOptions& options = {});
// Sets features.dims from the rows (called by the constructors above).
void mark_used_dimensions(FeatureSet& features);

// Features [0, J) restricted to trials [0, n) (a copy with N = n).
FeatureSet first_trials(const FeatureSet& features, std::int64_t n);
// The basis rows a feature set is built from, downsampled as texture_features does: (K_t) x (h w 3).
std::vector<float> downsampled_texture_basis(const render::FaceModel& model, int texel_factor);

}  // namespace deeper::analysis
