// interpolate_grad: the backward pass of interpolate (kernels/raster/interpolate.h).
//
// Forward, per pixel of image b covered by triangle t = (t0, t1, t2) with barycentrics (u, v):
//   out[c] = u · a[t0, c] + v · a[t1, c] + (1 - u - v) · a[t2, c].
// Given g = d loss / d out (B x H x W x C), this adds (+=):
//   grad_attr[t0, c] += u g[c],  grad_attr[t1, c] += v g[c],  grad_attr[t2, c] += (1 - u - v) g[c]
//     (B x V x C when attr_batched, else V x C summed over images);
//   grad_rast[pixel, 0] += sum_c g[c] (a[t0, c] - a[t2, c])   (d loss / d u)
//   grad_rast[pixel, 1] += sum_c g[c] (a[t1, c] - a[t2, c])   (d loss / d v)
//     (B x H x W x 4, the rasterize output's layout; channels 2 and 3 untouched), which
//     rasterize_grad carries on to the vertex positions.
// Background pixels (id -1) and pixels with an invalid id or vertex index (NaN forward) add nothing.
//
// Kernel: one thread per pixel (grid-stride in int64, warp-uniform loop), channels in a loop. The
// attribute scatter is warp-aggregated: consecutive lanes on the same (image, triangle) sum their
// contributions with a segmented shuffle reduction and the first lane issues the atomics
// (grad_accum.h; fixed-point int64 atomics in deterministic mode). grad_rast needs no atomics.
// Cost per pixel and channel: 3 multiply-adds and 2 subtractions, 3 gathered attribute values,
// 4 B of g read, ~15 shuffles and up to 3 atomics (one per segment); 16 B of rast per pixel.
//
// CPU reference: templated on float / double (gradient checks in double), serial over images when
// attr is shared (OpenMP over images otherwise).
#pragma once

#include "kernels/raster/grad_accum.h"
#include "kernels/runtime/device.h"

#include <cstdint>

namespace deeper::kernels {

template <typename T>
struct InterpolateGradParamsT {
  const T* attr = nullptr;  // batch x vertices x channels, or vertices x channels (!attr_batched)
  bool attr_batched = true;
  const float* rast = nullptr;        // batch x height x width x 4, from rasterize
  const std::int32_t* tri = nullptr;  // triangles x 3
  std::int64_t batch = 0, vertices = 0, triangles = 0, channels = 0;
  int height = 0, width = 0;
  const T* grad_out = nullptr;  // batch x height x width x channels: d loss / d interpolate output
  GradAccumT<T> grad_attr;      // += shape of attr; grad_attr.grad nullptr: not computed
  T* grad_rast = nullptr;       // += channels 0, 1 of batch x height x width x 4; nullptr: not computed
  bool check_indices = true;    // as InterpolateParams::check_indices
};
using InterpolateGradParams = InterpolateGradParamsT<float>;

void check_interpolate_grad_params(const InterpolateGradParams& p);

namespace cpu_impl {
template <typename T>
void interpolate_grad(const InterpolateGradParamsT<T>& p);  // float and double
}
namespace emu_impl {
void interpolate_grad(const InterpolateGradParams& p, void* stream);
}
namespace cuda_impl {
void interpolate_grad(const InterpolateGradParams& p, void* stream);
}

// Runs on `device`'s backend (every pointer memory of that device); `stream`: Stream::native().
void interpolate_grad(const Device& device, const InterpolateGradParams& p, void* stream = nullptr);

}  // namespace deeper::kernels
