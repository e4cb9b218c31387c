// The default procedural face model, built once per test program.
#pragma once

#include "renderer/face_model.h"

namespace deeper::render {

inline const FaceModel& test_model() {
  static const FaceModel model = make_procedural_model();
  return model;
}

}  // namespace deeper::render
