// A pinhole perspective camera and its OpenGL-style projection matrix, for feeding rasterize.
//
// Camera space: right-handed, x right, y up, the camera at the origin looking down -z (a point in
// front of the camera has z < 0). Image: pixel (i, j) is column i, row j, row 0 at the top; it covers
// the continuous pixel coordinates [i, i+1) x [j, j+1), centre (i + 0.5, j + 0.5). A camera-space
// point (x, y, z) lands at
//   s_x = c_x + f_x · x / (-z),   s_y = c_y - f_y · y / (-z)    (pixels; rows grow down)
// and the clip-space vertex M · (x, y, z, 1) has w = -z, NDC x = 2 s_x / W - 1, NDC y = 1 - 2 s_y / H
// (kernels/raster/raster_math.h), and NDC z = z/w from -1 at the near plane to +1 at the far plane.
#pragma once

#include <array>
#include <cstdint>

namespace deeper::kernels {

struct PerspectiveCamera {
  int width = 0, height = 0;  // image size in pixels
  double fx = 0, fy = 0;      // focal lengths in pixels
  double cx = 0, cy = 0;      // principal point in continuous pixel coordinates (centre: W/2, H/2)
  double near = 0, far = 0;   // clip planes, 0 < near < far (camera-space distances along -z)

  // Square pixels, principal point at the image centre, vertical field of view in degrees (0, 180).
  static PerspectiveCamera from_fov_y(double fov_y_degrees, int width, int height, double near, double far);
  // Square pixels, principal point at the image centre, focal length in pixels.
  static PerspectiveCamera from_focal(double focal_pixels, int width, int height, double near, double far);
};

// Throws deeper::Error unless the camera is usable (positive size, focal lengths, 0 < near < far,
// finite values).
void check_camera(const PerspectiveCamera& camera);

// The 4 x 4 projection matrix, row-major: clip = M · (x, y, z, 1).
std::array<float, 16> projection_matrix(const PerspectiveCamera& camera);

// The continuous pixel coordinates (s_x, s_y) of a camera-space point with z < 0, in double.
std::array<double, 2> project_to_pixel(const PerspectiveCamera& camera, double x, double y, double z);

// clip[n x 4] = M · (xyz[n x 3], 1), with a 4 x 4 row-major matrix (plain fp32, OpenMP).
void transform_points(const std::array<float, 16>& m, const float* xyz, std::int64_t n, float* clip);

}  // namespace deeper::kernels
