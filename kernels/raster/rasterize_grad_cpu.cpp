// rasterize_grad on the CPU: the reference for rasterize_grad.cu (definition in rasterize_grad.h),
// templated on float and double, OpenMP over images; the parameter checks and the dispatch.
#include "kernels/raster/rasterize_grad.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/rasterize.h"

namespace deeper::kernels {

namespace {
template <typename T>
void check_params(const RasterizeGradParamsT<T>& p) {
  DEEPER_CHECK(p.batch >= 0, "rasterize_grad: negative batch {}", p.batch);
  DEEPER_CHECK(p.vertices >= 1 && p.vertices <= INT32_MAX, "rasterize_grad: {} vertices is outside [1, 2^31 - 1]",
               p.vertices);
  DEEPER_CHECK(p.triangles >= 0 && p.triangles <= INT32_MAX,
               "rasterize_grad: {} triangles is outside [0, 2^31 - 1]", p.triangles);
  DEEPER_CHECK(p.height >= 1 && p.height <= kRasterMaxSize && p.width >= 1 && p.width <= kRasterMaxSize,
               "rasterize_grad: image size {} x {} (H x W) is outside [1, {}] per side", p.height, p.width,
               kRasterMaxSize);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.pos != nullptr && p.rast != nullptr && p.grad_rast != nullptr,
               "rasterize_grad: null positions, rasterize output or its gradient");
  DEEPER_CHECK(p.tri != nullptr || p.triangles == 0, "rasterize_grad: null triangles");
  DEEPER_CHECK(p.grad_pos.fixed == nullptr || p.grad_pos.grad != nullptr,
               "rasterize_grad: a fixed-point workspace without grad_pos");
  DEEPER_CHECK(p.grad_pos.fixed == nullptr || (p.grad_pos.bits >= 0 && p.grad_pos.bits <= 60),
               "rasterize_grad: grad_pos fixed-point bits {} is outside [0, 60]", p.grad_pos.bits);
}
}  // namespace

void check_rasterize_grad_params(const RasterizeGradParams& p) { check_params(p); }

namespace cpu_impl {

template <typename T>
void rasterize_grad(const RasterizeGradParamsT<T>& p) {
  check_params(p);
  if (!p.grad_pos.grad) return;
  const std::int64_t size = p.batch * p.vertices * 4;
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_begin(p.grad_pos, size);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (int j = 0; j < p.height; ++j) {
      for (int i = 0; i < p.width; ++i) {
        const std::int64_t pixel = (b * p.height + j) * p.width + i;
        const std::int32_t id = raster_pixel_id(p.rast + 4 * pixel);
        if (id < 0 || id >= p.triangles) continue;
        const T* g = p.grad_rast + 4 * pixel;
        if (g[0] == T(0) && g[1] == T(0) && g[2] == T(0)) continue;
        std::int64_t vi[3];
        T c[3][4];
        bool in_range = true;
        for (int k = 0; k < 3; ++k) {
          const std::int64_t v = p.tri[3 * std::int64_t{id} + k];
          in_range = in_range && v >= 0 && v < p.vertices;
          vi[k] = b * p.vertices + (in_range ? v : 0);
          for (int e = 0; e < 4; ++e) c[k][e] = p.pos[4 * vi[k] + e];
        }
        T grad[3][4];
        if (!in_range || !bary_backward(c, pixel_centre_ndc_x<T>(i, p.width), pixel_centre_ndc_y<T>(j, p.height), g[0],
                                        g[1], g[2], grad)) {
          continue;
        }
        for (int k = 0; k < 3; ++k) {
          for (int e = 0; e < 4; ++e) grad_add_host(p.grad_pos, 4 * vi[k] + e, grad[k][e]);
        }
      }
    }
  }
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_finish(p.grad_pos, size);
}

template void rasterize_grad<float>(const RasterizeGradParamsT<float>&);
template void rasterize_grad<double>(const RasterizeGradParamsT<double>&);

}  // namespace cpu_impl

void rasterize_grad(const Device& device, const RasterizeGradParams& p, void* stream) {
  check_rasterize_grad_params(p);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "rasterize_grad");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::rasterize_grad(p);
    case Backend::emu:
      return emu_impl::rasterize_grad(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::rasterize_grad(p, stream));
  }
}

}  // namespace deeper::kernels
