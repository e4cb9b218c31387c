// Contact sheets of the face model, rendered with the CPU preview renderer: a grid of identities,
// and one row per factor sweep. docs/renderer.md shows the committed ones and how to regenerate
// them (tests/renderer/tools/make_contact_sheets.cpp).
#pragma once

#include <cstdint>
#include <filesystem>

#include "core/png.h"
#include "renderer/face_model.h"

namespace deeper::render {

// `count` identities of make_identities(model, seed, count), `columns` per row, `size` pixels each;
// frontal-ish views with a small yaw and pitch that vary with the identity, neutral expression.
io::Image8 identity_sheet(const FaceModel& model, std::uint64_t seed, int count = 64, int columns = 8,
                          int size = 128);

// One row per factor sweep, 7 columns, `size` pixels each (docs/renderer.md lists the rows):
// gender x ethnicity, age, four shape components and four texture components at z = -3..3,
// the seven expressions, yaw from -45 to 45 degrees.
io::Image8 factor_sweep_sheet(const FaceModel& model, std::uint64_t seed, int size = 128);

// Writes identities.png and factor_sweeps.png into `directory` (created if missing).
void write_contact_sheets(const FaceModel& model, const std::filesystem::path& directory, std::uint64_t seed = 1);

}  // namespace deeper::render
