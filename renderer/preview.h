// A CPU preview renderer for looking at faces (contact sheets, documentation); not the GPU
// rasterizer of kernels/raster/. Orthographic projection after a rotation (yaw, then pitch, then
// roll) about a pivot behind the face; a z-buffer over pixel centres (inclusive edges, back faces
// culled); per-pixel interpolated normals and UVs; bilinear texture lookup; Lambert + ambient
// lighting; box-filtered supersampling.
//
// Screen: pixel (px, py) has its centre at (px + 0.5, py + 0.5); a point (x, y) of the rotated
// face lands at (width / 2 + s x, height / 2 - s (y - center_y)) with s = pixels_per_mm.
#pragma once

#include <span>
#include <vector>

#include "renderer/mesh.h"
#include "renderer/vec.h"

namespace deeper::render {

struct PreviewView {
  int width = 128;
  int height = 128;
  float yaw_deg = 0.0f;    // turn about the vertical axis; positive turns the face toward +x
  float pitch_deg = 0.0f;  // nod about the x axis; positive lifts the chin
  float roll_deg = 0.0f;   // tilt in the image plane; positive is counter-clockwise
  float pixels_per_mm = 0.0f;  // 0: fit a 170 mm tall face to the height
  float center_y = -2.0f;      // the face-plane y (mm) at the image centre
  float pivot_z = -45.0f;      // the rotation centre, (0, center_y, pivot_z)
  Vec3 light{0.35f, 0.45f, 1.0f};  // direction toward the light (normalized inside)
  float ambient = 0.45f;
  float diffuse = 0.7f;
  Vec3 background{0.55f, 0.57f, 0.60f};
  int supersample = 3;  // samples per pixel side, box-filtered
};

// Renders the mesh at `positions` (V x 3) with `texture` (tex_height x tex_width x 3) into an
// RGB image (height x width x 3, floats; texture values are clamped to [0, 1] when sampled).
std::vector<float> render_preview(const Mesh& mesh, std::span<const float> positions, std::span<const float> texture,
                                  int tex_height, int tex_width, const PreviewView& view);

}  // namespace deeper::render
