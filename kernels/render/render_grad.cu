// The render pipeline's backward kernels (definitions, layout and costs in
// kernels/render/render_grad.h): compose_grad and pose_project_grad one block per image with a
// fixed-order shared-memory tree for the per-image sums; vertex_normals_grad two passes, one thread
// per (image, vertex); project_rows one block per output with a tree; factor_grad one thread per
// image. Built by nvcc (cuda_impl) and for the emulator (emu_impl). Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/raster/grad_accum.cuh"
#include "kernels/render/render_grad.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kBlockThreads = 128;
constexpr unsigned kThreads = 256;
constexpr unsigned kRowThreads = 256;

// Sums vals[0..n) of every thread of the block in a fixed order; thread 0 gets the totals in vals.
__device__ __forceinline__ void block_tree_sum(float (*partial)[kBlockThreads], float* vals, int n) {
  for (int k = 0; k < n; ++k) partial[k][threadIdx.x] = vals[k];
  __syncthreads();
  for (unsigned half = kBlockThreads / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      for (int k = 0; k < n; ++k) partial[k][threadIdx.x] += partial[k][threadIdx.x + half];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    for (int k = 0; k < n; ++k) vals[k] = partial[k][0];
  }
}

__global__ void __launch_bounds__(kBlockThreads) compose_grad_kernel(ComposeGradParams p) {
  __shared__ float partial[kLightValues][kBlockThreads];
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t tex_size = static_cast<std::int64_t>(p.tex_height) * p.tex_width * 3;
  const std::int64_t b = blockIdx.x;
  const std::int64_t ti = p.shared_texture ? 0 : p.tex_index[b * p.tex_index_stride];
  if (ti < 0 || ti >= p.tex_count) return;  // uniform over the block
  const float* tex = p.textures + ti * tex_size;
  const float* light = p.light + b * p.light_stride;
  float acc[kShadeMaxLightParams];
  for (int k = 0; k < kShadeMaxLightParams; ++k) acc[k] = 0.0f;
  const GradAccumT<float> gt = p.grad_tex;
  for (std::int64_t rem = threadIdx.x; rem < plane; rem += blockDim.x) {
    const std::int64_t pixel = b * plane + rem;
    if (static_cast<std::int32_t>(__float_as_uint(p.rast[4 * pixel + 3])) == -1) continue;
    compose_pixel_grad(tex, p.tex_height, p.tex_width, p.uv + 2 * pixel, p.normal + 3 * pixel, light,
                       p.grad_out + 3 * pixel, p.grad_uv ? p.grad_uv + 2 * pixel : nullptr,
                       p.grad_normal ? p.grad_normal + 3 * pixel : nullptr, acc, [&](std::int64_t off, float v) {
                         if (gt.grad) grad_atomic_add(gt, b * tex_size + off, v);
                       });
  }
  if (!p.grad_light) return;  // uniform over the block
  block_tree_sum(partial, acc, kLightValues);
  if (threadIdx.x == 0) shade_light_finish(ShadeModel::lambert, light, acc, p.grad_light + b * kLightValues);
}

__global__ void __launch_bounds__(kBlockThreads) pose_project_grad_kernel(PoseProjectGradParams p) {
  __shared__ float partial[kPoseGradValues][kBlockThreads];
  const std::int64_t b = blockIdx.x;
  const float* pose = p.pose + b * p.pose_stride;
  float acc[kPoseGradValues];
  for (int k = 0; k < kPoseGradValues; ++k) acc[k] = 0.0f;
  for (std::int64_t v = threadIdx.x; v < p.vertices; v += blockDim.x) {
    const std::int64_t row = b * p.vertices + v;
    pose_project_vertex_grad(p.positions + 3 * row, pose, p.pivot, p.distance, p.projection, p.grad_clip + 4 * row,
                             p.grad_camera ? p.grad_camera + 3 * row : nullptr,
                             p.grad_positions ? p.grad_positions + 3 * row : nullptr, acc);
  }
  if (!p.grad_pose) return;  // uniform over the block
  block_tree_sum(partial, acc, kPoseGradValues);
  if (threadIdx.x == 0) {
    for (int k = 0; k < kPoseGradValues; ++k) p.grad_pose[b * kPoseGradValues + k] += acc[k];
  }
}

__global__ void __launch_bounds__(kThreads) normal_raw_grad_kernel(VertexNormalsGradParams p) {
  const std::int64_t n = p.batch * p.vertices;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    normal_raw_grad(p, i / p.vertices, i % p.vertices);
  }
}

__global__ void __launch_bounds__(kThreads) normal_position_grad_kernel(VertexNormalsGradParams p) {
  const std::int64_t n = p.batch * p.vertices;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    normal_position_grad(p, i / p.vertices, i % p.vertices);
  }
}

// Block (k, r0) = (blockIdx.x, blockIdx.y); rows r0, r0 + gridDim.y, ...
__global__ void __launch_bounds__(kRowThreads) project_rows_kernel(ProjectRowsParams p) {
  __shared__ float partial[kRowThreads];
  const std::int64_t k = blockIdx.x;
  const float* basis = p.basis + k * p.cols;
  for (std::int64_t r = blockIdx.y; r < p.rows; r += gridDim.y) {  // uniform over the block
    const float* g = p.g + r * p.g_stride;
    float s = 0.0f;
    for (std::int64_t j = threadIdx.x; j < p.cols; j += blockDim.x) s += basis[j] * g[j];
    partial[threadIdx.x] = s;
    __syncthreads();
    for (unsigned half = kRowThreads / 2; half > 0; half >>= 1) {
      if (threadIdx.x < half) partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) p.out[r * p.out_stride + k] += partial[0];
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kThreads) factor_grad_kernel(FactorGradParams p) {
  const std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b < p.batch) factor_grad_image(p, b);
}

}  // namespace

void compose_grad(const ComposeGradParams& p, void* stream) {
  check_compose_grad_params(p);
  if (p.batch == 0) return;
  const std::int64_t size = p.batch * p.tex_height * p.tex_width * 3;
  grad_accum_begin(p.grad_tex, size, stream);
  launch(compose_grad_kernel, dim3(static_cast<unsigned>(p.batch)), dim3(kBlockThreads), 0, stream, "compose_grad", p);
  grad_accum_finish(p.grad_tex, size, stream);
}

void pose_project_grad(const PoseProjectGradParams& p, void* stream) {
  check_pose_project_grad_params(p);
  if (p.batch == 0 || p.vertices == 0 || (!p.grad_positions && !p.grad_pose)) return;
  launch(pose_project_grad_kernel, dim3(static_cast<unsigned>(p.batch)), dim3(kBlockThreads), 0, stream,
         "pose_project_grad", p);
}

void vertex_normals_grad(const VertexNormalsGradParams& p, void* stream) {
  check_vertex_normals_grad_params(p);
  const std::int64_t n = p.batch * p.vertices;
  if (n == 0) return;
  launch(normal_raw_grad_kernel, dim3(grid_blocks(n, kThreads)), dim3(kThreads), 0, stream, "vertex_normals_grad", p);
  launch(normal_position_grad_kernel, dim3(grid_blocks(n, kThreads)), dim3(kThreads), 0, stream,
         "vertex_normals_grad", p);
}

void project_rows(const ProjectRowsParams& p, void* stream) {
  check_project_rows_params(p);
  if (p.rows == 0 || p.k == 0) return;
  const auto grid_rows = static_cast<unsigned>(p.rows < 65535 ? p.rows : 65535);
  launch(project_rows_kernel, dim3(static_cast<unsigned>(p.k), grid_rows), dim3(kRowThreads), 0,
         stream, "project_rows", p);
}

void factor_grad(const FactorGradParams& p, void* stream) {
  check_factor_grad_params(p);
  if (p.batch == 0) return;
  launch(factor_grad_kernel, dim3(grid_blocks(p.batch, kThreads)), dim3(kThreads), 0, stream, "factor_grad", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
