// The perspective camera of kernels/raster/camera.h.
#include "kernels/raster/camera.h"

#include "core/error.h"

#include <cmath>
#include <numbers>

namespace deeper::kernels {

PerspectiveCamera PerspectiveCamera::from_fov_y(double fov_y_degrees, int width, int height, double near,
                                                double far) {
  DEEPER_CHECK(fov_y_degrees > 0 && fov_y_degrees < 180, "camera: vertical field of view {} deg is outside (0, 180)",
               fov_y_degrees);
  const double f = 0.5 * height / std::tan(0.5 * fov_y_degrees * std::numbers::pi / 180.0);
  return from_focal(f, width, height, near, far);
}

PerspectiveCamera PerspectiveCamera::from_focal(double focal_pixels, int width, int height, double near,
                                                double far) {
  PerspectiveCamera c;
  c.width = width;
  c.height = height;
  c.fx = c.fy = focal_pixels;
  c.cx = 0.5 * width;
  c.cy = 0.5 * height;
  c.near = near;
  c.far = far;
  check_camera(c);
  return c;
}

void check_camera(const PerspectiveCamera& c) {
  DEEPER_CHECK(c.width >= 1 && c.height >= 1, "camera: image size {} x {} (W x H) must be positive", c.width,
               c.height);
  DEEPER_CHECK(std::isfinite(c.fx) && std::isfinite(c.fy) && c.fx > 0 && c.fy > 0,
               "camera: focal lengths ({}, {}) px must be finite and positive", c.fx, c.fy);
  DEEPER_CHECK(std::isfinite(c.cx) && std::isfinite(c.cy), "camera: principal point ({}, {}) is not finite",
               c.cx, c.cy);
  DEEPER_CHECK(std::isfinite(c.far) && c.near > 0 && c.near < c.far,
               "camera: clip planes near = {}, far = {} must satisfy 0 < near < far", c.near, c.far);
}

std::array<float, 16> projection_matrix(const PerspectiveCamera& c) {
  check_camera(c);
  const double w = c.width, h = c.height, n = c.near, f = c.far;
  // x_c = (2 fx / W) x + (1 - 2 cx / W) z, so x_c / (-z) = 2 (cx + fx x / (-z)) / W - 1; likewise
  // y_c = (2 fy / H) y + (2 cy / H - 1) z, so y_c / (-z) = 1 - 2 (cy - fy y / (-z)) / H.
  const double m[16] = {2 * c.fx / w, 0, 1 - 2 * c.cx / w, 0,                 //
                        0, 2 * c.fy / h, 2 * c.cy / h - 1, 0,                 //
                        0, 0, -(f + n) / (f - n), -2 * f * n / (f - n),       //
                        0, 0, -1, 0};
  std::array<float, 16> out{};
  for (int i = 0; i < 16; ++i) out[static_cast<std::size_t>(i)] = static_cast<float>(m[i]);
  return out;
}

std::array<double, 2> project_to_pixel(const PerspectiveCamera& c, double x, double y, double z) {
  DEEPER_CHECK(z < 0, "camera: point ({}, {}, {}) is not in front of the camera (z must be < 0)", x, y, z);
  return {c.cx + c.fx * x / -z, c.cy - c.fy * y / -z};
}

void transform_points(const std::array<float, 16>& m, const float* xyz, std::int64_t n, float* clip) {
#pragma omp parallel for schedule(static)
  for (std::int64_t k = 0; k < n; ++k) {
    const float x = xyz[3 * k], y = xyz[3 * k + 1], z = xyz[3 * k + 2];
    for (int r = 0; r < 4; ++r) {
      clip[4 * k + r] = m[4 * r] * x + m[4 * r + 1] * y + m[4 * r + 2] * z + m[4 * r + 3];
    }
  }
}

}  // namespace deeper::kernels
