// All-pairs GCMI (cc, univariate, with permutation statistics) over X in tiles of units, for X
// larger than device memory or produced on the fly (a network's activations, layer by layer).
//
// X's U variables are asked for tile by tile from a UnitSource; Y (F variables) stays resident.
// On a CUDA device two tiles are in flight on two streams: while the device copy-normalises and
// runs the all-pairs kernel on tile k, the source fills tile k + 1 on the host and its upload
// overlaps tile k's compute. Each tile's MI, exceedance counts and per-permutation maxima come back
// to the host; maxima are combined across tiles (max is exact), so the result is bit-identical to
// one untiled run on the same backend, whatever the tile size (tested). On the CPU backend each
// tile runs the CPU engine (allpairs.h).
#pragma once

#include "infotheory/allpairs.h"

#include <cstdint>
#include <functional>

namespace deeper::info {

// Writes variables [first, first + rows) of X into `out`, variable-major: rows x N floats, row r
// the N trials of variable first + r. Called once per tile, in order of `first`, on the calling
// thread. Throwing from it stops the run (the exception propagates).
using UnitSource = std::function<void(std::int64_t first, std::int64_t rows, float* out)>;

struct TileOptions {
  // Units per tile; 0 chooses: as many as keep two tiles within a quarter of the device's
  // available memory and each tile's host staging buffer within 256 MiB.
  std::int64_t tile_units = 0;
};

// The U x F result of gcmi_cc_all_pairs (allpairs.h) for X given by `x`. Same options, errors and
// precision rules as the array versions (device: f32 or bf16; cpu: f64 or f32).
AllPairsResult gcmi_cc_all_pairs_streamed(const Device& device, const UnitSource& x, std::int64_t units,
                                          const double* y, std::int64_t features, std::int64_t trials,
                                          const AllPairsOptions& options = {}, const TileOptions& tiles = {});

// The tile size TileOptions{0} resolves to on `device` for these sizes (at least 1, at most U).
std::int64_t default_tile_units(const Device& device, std::int64_t units, std::int64_t features,
                                std::int64_t trials, const AllPairsOptions& options);

// A UnitSource over a host array X (U x N doubles, row-major), converting to float.
UnitSource unit_source(const double* x, std::int64_t trials);

}  // namespace deeper::info
