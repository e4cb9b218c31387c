// Face synthesis kernels (definitions, layouts and costs in kernels/render/synthesis.h). Built by
// nvcc (cuda_impl) and for the emulator (emu_impl). Each kernel evaluates the per-element functions
// of the header in the same operation order as the cpu reference (synthesis_cpu.cpp), so the
// backends agree bit for bit. Version 1.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/render/synthesis.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

constexpr unsigned kThreads = 256;
constexpr int kRowTile = 8;

__global__ void __launch_bounds__(kThreads) render_setup_kernel(RenderSetupParams p) {
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t b = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; b < p.batch; b += stride) {
    render_setup_image(p, b);
  }
}

// One thread per column and a tile of kRowTile rows: the basis value of (k, j) is read once per
// tile; each output's fma chain is blend_value's (same start, same order).
__global__ void __launch_bounds__(kThreads) blend_rows_kernel(BlendRowsParams p) {
  const std::int64_t tiles = (p.rows + kRowTile - 1) / kRowTile;
  const std::int64_t col_blocks = (p.cols + kThreads - 1) / kThreads;
  const std::int64_t work = tiles * col_blocks;
  for (std::int64_t w = blockIdx.x; w < work; w += gridDim.x) {
    const std::int64_t tile = w / col_blocks;
    const std::int64_t j = (w - tile * col_blocks) * kThreads + threadIdx.x;
    if (j >= p.cols) continue;
    const std::int64_t r0 = tile * kRowTile;
    const int n = static_cast<int>(p.rows - r0 < kRowTile ? p.rows - r0 : kRowTile);
    float acc[kRowTile];
    for (int i = 0; i < kRowTile; ++i) acc[i] = i < n ? blend_start(p, r0 + i, j) : 0.0f;
    for (std::int64_t k = 0; k < p.k; ++k) {
      const float bk = p.basis[k * p.cols + j];
      for (int i = 0; i < kRowTile; ++i) {
        if (i < n) acc[i] = rng::exact::fma(p.coef[(r0 + i) * p.coef_stride + k], bk, acc[i]);
      }
    }
    for (int i = 0; i < kRowTile; ++i) {
      if (i < n) p.out[(r0 + i) * p.cols + j] = acc[i];
    }
  }
}

__global__ void __launch_bounds__(kThreads) pose_project_kernel(PoseProjectParams p) {
  const std::int64_t total = p.batch * p.vertices;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::int64_t b = i / p.vertices;
    pose_project_vertex(p, b, i - b * p.vertices);
  }
}

__global__ void __launch_bounds__(kThreads) vertex_normals_kernel(VertexNormalsParams p) {
  const std::int64_t total = p.batch * p.vertices;
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t i = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) {
    const std::int64_t b = i / p.vertices;
    vertex_normal(p, b, i - b * p.vertices);
  }
}

}  // namespace

void render_setup(const RenderSetupParams& p, void* stream) {
  check_render_setup_params(p);
  if (p.batch == 0) return;
  launch(render_setup_kernel, dim3(grid_blocks(p.batch, kThreads)), dim3(kThreads), 0, stream, "render_setup", p);
}

void blend_rows(const BlendRowsParams& p, void* stream) {
  check_blend_rows_params(p);
  if (p.rows == 0 || p.cols == 0) return;
  const std::int64_t work = (p.rows + kRowTile - 1) / kRowTile * ((p.cols + kThreads - 1) / kThreads);
  const unsigned blocks = static_cast<unsigned>(work < 132 * 64 ? work : 132 * 64);
  launch(blend_rows_kernel, dim3(blocks), dim3(kThreads), 0, stream, "blend_rows", p);
}

void pose_project(const PoseProjectParams& p, void* stream) {
  check_pose_project_params(p);
  const std::int64_t total = p.batch * p.vertices;
  if (total == 0) return;
  launch(pose_project_kernel, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, "pose_project", p);
}

void vertex_normals(const VertexNormalsParams& p, void* stream) {
  check_vertex_normals_params(p);
  const std::int64_t total = p.batch * p.vertices;
  if (total == 0) return;
  launch(vertex_normals_kernel, dim3(grid_blocks(total, kThreads)), dim3(kThreads), 0, stream, "vertex_normals",
         p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
