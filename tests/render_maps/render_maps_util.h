// Shared by the render_maps tests: the small procedural model, the error text of a call.
#pragma once

#include "core/error.h"
#include "renderer/face_model.h"

#include <string>

namespace render_maps_test {

// 17 x 17 grid (289 vertices, 512 triangles), 6 shape and 5 texture components, 32 x 32 texture.
inline const deeper::render::FaceModel& small_model() {
  static const deeper::render::FaceModel model =
      deeper::render::make_procedural_model(deeper::render::ProceduralOptions{17, 6, 5, 32});
  return model;
}

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const deeper::Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace render_maps_test
