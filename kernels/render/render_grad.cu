// The render pipeline's backward kernels (definitions, layout and costs in
// kernels/render/render_grad.h): compose_grad and pose_project_grad one block per image with a
// fixed-order shared-memory tree for the per-image sums; vertex_normals_grad two passes, one thread
// per (image, vertex); project_rows a tiled two-pass reduction (fixed order); factor_grad one thread per
// image. Built by nvcc (cuda_impl) and for the emulator (emu_impl). Version 2 (per-image lighting model).
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
  __shared__ float partial[kShLightValues][kBlockThreads];
  const std::int64_t plane = static_cast<std::int64_t>(p.height) * p.width;
  const std::int64_t tex_size = static_cast<std::int64_t>(p.tex_height) * p.tex_width * 3;
  const std::int64_t b = blockIdx.x;
  const std::int64_t ti = p.shared_texture ? 0 : p.tex_index[b * p.tex_index_stride];
  if (ti < 0 || ti >= p.tex_count) return;  // uniform over the block
  const float* tex = p.textures + ti * tex_size;
  const float* light = p.light + b * p.light_stride;
  const ShadeModel model = compose_grad_model(p, b);  // uniform over the block
  float acc[kShadeMaxLightParams];
  for (int k = 0; k < kShadeMaxLightParams; ++k) acc[k] = 0.0f;
  const GradAccumT<float> gt = p.grad_tex;
  for (std::int64_t rem = threadIdx.x; rem < plane; rem += blockDim.x) {
    const std::int64_t pixel = b * plane + rem;
    if (static_cast<std::int32_t>(__float_as_uint(p.rast[4 * pixel + 3])) == -1) continue;
    compose_pixel_grad(model, tex, p.tex_height, p.tex_width, p.uv + 2 * pixel, p.normal + 3 * pixel, light,
                       p.grad_out + 3 * pixel, p.grad_uv ? p.grad_uv + 2 * pixel : nullptr,
                       p.grad_normal ? p.grad_normal + 3 * pixel : nullptr, acc, [&](std::int64_t off, float v) {
                         if (gt.grad) grad_atomic_add(gt, b * tex_size + off, v);
                       });
  }
  float* grad = model == ShadeModel::lambert ? (p.grad_light ? p.grad_light + b * kLightValues : nullptr)
                                              : (p.grad_sh ? p.grad_sh + b * kShLightValues : nullptr);
  if (!grad) return;  // uniform over the block
  block_tree_sum(partial, acc, shade_light_params(model));
  if (threadIdx.x == 0) shade_light_finish(model, light, acc, grad);
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

constexpr int kColsPerThread = kProjectRowsChunk / kRowThreads;  // 8
constexpr int kWarps = kRowThreads / 32;

// Pass 1: block (chunk, tile) = (blockIdx.x, blockIdx.y), tiles tile, tile + gridDim.y, ...
__global__ void __launch_bounds__(kRowThreads) project_rows_partial_kernel(ProjectRowsParams p) {
  __shared__ float red[kWarps][kProjectRowsTile];
  const std::int64_t chunk = blockIdx.x;
  const unsigned lane = threadIdx.x & 31u, warp = threadIdx.x >> 5;
  for (std::int64_t tile = blockIdx.y; tile * kProjectRowsTile < p.rows; tile += gridDim.y) {  // uniform
    const std::int64_t r0 = tile * kProjectRowsTile;
    const std::int64_t nr = p.rows - r0 < kProjectRowsTile ? p.rows - r0 : kProjectRowsTile;
    float gv[kProjectRowsTile][kColsPerThread];
    for (int e = 0; e < kColsPerThread; ++e) {
      const std::int64_t j = chunk * kProjectRowsChunk + static_cast<std::int64_t>(e) * kRowThreads + threadIdx.x;
      for (int r = 0; r < kProjectRowsTile; ++r) gv[r][e] = (r < nr && j < p.cols) ? p.g[(r0 + r) * p.g_stride + j] : 0.0f;
    }
    for (std::int64_t k = 0; k < p.k; ++k) {
      float acc[kProjectRowsTile];
      for (int r = 0; r < kProjectRowsTile; ++r) acc[r] = 0.0f;
      for (int e = 0; e < kColsPerThread; ++e) {
        const std::int64_t j = chunk * kProjectRowsChunk + static_cast<std::int64_t>(e) * kRowThreads + threadIdx.x;
        const float b = j < p.cols ? p.basis[k * p.cols + j] : 0.0f;
        for (int r = 0; r < kProjectRowsTile; ++r) acc[r] += b * gv[r][e];
      }
      for (int r = 0; r < kProjectRowsTile; ++r) {
        for (int offset = 16; offset > 0; offset >>= 1) acc[r] += __shfl_xor_sync(0xFFFFFFFFu, acc[r], offset);
      }
      if (lane == 0) {
        for (int r = 0; r < kProjectRowsTile; ++r) red[warp][r] = acc[r];
      }
      __syncthreads();
      if (threadIdx.x < nr) {
        float sum = 0.0f;
        for (int w = 0; w < kWarps; ++w) sum += red[w][threadIdx.x];
        p.workspace[((chunk * p.rows) + r0 + threadIdx.x) * p.k + k] = sum;
      }
      __syncthreads();
    }
  }
}

// Pass 2: one thread per (row, k): the chunks' partial sums in order.
__global__ void __launch_bounds__(kThreads) project_rows_finish_kernel(ProjectRowsParams p, std::int64_t chunks) {
  const std::int64_t n = p.rows * p.k;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    const std::int64_t r = i / p.k, k = i % p.k;
    float sum = 0.0f;
    for (std::int64_t c = 0; c < chunks; ++c) sum += p.workspace[(c * p.rows + r) * p.k + k];
    p.out[r * p.out_stride + k] += sum;
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
  if (p.rows == 0 || p.k == 0 || p.cols == 0) return;
  check_project_rows_workspace(p);
  const std::int64_t chunks = (p.cols + kProjectRowsChunk - 1) / kProjectRowsChunk;
  const std::int64_t tiles = (p.rows + kProjectRowsTile - 1) / kProjectRowsTile;
  const auto grid_tiles = static_cast<unsigned>(tiles < 65535 ? tiles : 65535);
  launch(project_rows_partial_kernel, dim3(static_cast<unsigned>(chunks), grid_tiles), dim3(kRowThreads), 0, stream,
         "project_rows", p);
  launch(project_rows_finish_kernel, dim3(grid_blocks(p.rows * p.k, kThreads)), dim3(kThreads), 0, stream,
         "project_rows", p, chunks);
}

void factor_grad(const FactorGradParams& p, void* stream) {
  check_factor_grad_params(p);
  if (p.batch == 0) return;
  launch(factor_grad_kernel, dim3(grid_blocks(p.batch, kThreads)), dim3(kThreads), 0, stream, "factor_grad", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
