// antialias, antialias_grad and antialias_edge_mask on the CPU: the reference for antialias.cu (definition in
// antialias.h), templated on float and double, OpenMP over images; the edge topology builder, the
// parameter checks and the dispatch.
#include "kernels/raster/antialias.h"

#include "core/error.h"
#include "kernels/common/dispatch.h"
#include "kernels/raster/rasterize.h"

#include <unordered_map>

namespace deeper::kernels {

std::vector<std::int32_t> build_edge_topology(const std::int32_t* tri, std::int64_t triangles, std::int64_t vertices) {
  DEEPER_CHECK(triangles >= 0 && triangles <= INT32_MAX, "build_edge_topology: {} triangles is outside [0, 2^31 - 1]",
               triangles);
  DEEPER_CHECK(vertices >= 1 && vertices <= INT32_MAX, "build_edge_topology: {} vertices is outside [1, 2^31 - 1]",
               vertices);
  DEEPER_CHECK(tri != nullptr || triangles == 0, "build_edge_topology: null triangles");
  for (std::int64_t i = 0; i < 3 * triangles; ++i) {
    DEEPER_CHECK(tri[i] >= 0 && tri[i] < vertices, "build_edge_topology: triangle {} has vertex index {} outside [0, {})",
                 i / 3, tri[i], vertices);
  }
  // Undirected edge -> the first (triangle, edge) seen, and how many triangles share it.
  struct Entry {
    std::int64_t first;
    std::int64_t second;
    int count;
  };
  std::unordered_map<std::uint64_t, Entry> edges;
  edges.reserve(static_cast<std::size_t>(3 * triangles));
  for (std::int64_t t = 0; t < triangles; ++t) {
    for (int k = 0; k < 3; ++k) {
      const std::uint32_t a = static_cast<std::uint32_t>(tri[3 * t + k]), b = static_cast<std::uint32_t>(tri[3 * t + (k + 1) % 3]);
      if (a == b) continue;
      const std::uint64_t key = (static_cast<std::uint64_t>(a < b ? a : b) << 32) | (a < b ? b : a);
      auto [it, inserted] = edges.try_emplace(key, Entry{3 * t + k, -1, 0});
      if (it->second.count == 1) it->second.second = 3 * t + k;
      ++it->second.count;
    }
  }
  std::vector<std::int32_t> opposite(static_cast<std::size_t>(3 * triangles), -1);
  auto opposite_vertex = [&](std::int64_t edge) { return tri[3 * (edge / 3) + (edge % 3 + 2) % 3]; };
  for (const auto& [key, e] : edges) {
    if (e.count != 2) continue;
    opposite[static_cast<std::size_t>(e.first)] = opposite_vertex(e.second);
    opposite[static_cast<std::size_t>(e.second)] = opposite_vertex(e.first);
  }
  return opposite;
}

namespace {

// The mesh counts and image size shared by antialias and its edge mask.
void check_mesh(const char* op, std::int64_t batch, std::int64_t vertices, std::int64_t triangles) {
  DEEPER_CHECK(batch >= 0, "{}: negative batch {}", op, batch);
  DEEPER_CHECK(vertices >= 1 && vertices <= INT32_MAX, "{}: {} vertices is outside [1, 2^31 - 1]", op, vertices);
  DEEPER_CHECK(triangles >= 0 && triangles <= INT32_MAX, "{}: {} triangles is outside [0, 2^31 - 1]", op, triangles);
}
void check_image_size(const char* op, int height, int width) {
  DEEPER_CHECK(height >= 1 && height <= kRasterMaxSize && width >= 1 && width <= kRasterMaxSize,
               "{}: image size {} x {} (H x W) is outside [1, {}] per side", op, height, width, kRasterMaxSize);
}

template <typename T>
void check_params(const AntialiasParamsT<T>& p, bool backward) {
  const char* op = backward ? "antialias_grad" : "antialias";
  check_mesh(op, p.batch, p.vertices, p.triangles);
  DEEPER_CHECK(p.channels >= 1 && p.channels <= kAntialiasMaxChannels, "{}: {} channels is outside [1, {}]", op,
               p.channels, kAntialiasMaxChannels);
  check_image_size(op, p.height, p.width);
  if (p.batch == 0) return;
  DEEPER_CHECK(p.color != nullptr && p.rast != nullptr && p.pos != nullptr,
               "{}: null colour, rasterize output or positions", op);
  DEEPER_CHECK((p.tri != nullptr && p.topology != nullptr) || p.triangles == 0, "{}: null triangles or edge topology",
               op);
  if (backward) {
    DEEPER_CHECK(p.grad_out != nullptr, "{}: null output gradient", op);
    DEEPER_CHECK(p.grad_pos.fixed == nullptr || p.grad_pos.grad != nullptr,
                 "{}: a fixed-point workspace without grad_pos", op);
    DEEPER_CHECK(p.grad_pos.fixed == nullptr || (p.grad_pos.bits >= 0 && p.grad_pos.bits <= 60),
                 "{}: grad_pos fixed-point bits {} is outside [0, 60]", op, p.grad_pos.bits);
  } else {
    DEEPER_CHECK(p.out != nullptr || p.out_bf16 != nullptr, "{}: null output (out and out_bf16)", op);
    DEEPER_CHECK(p.out != nullptr || p.channels <= kAntialiasBf16OnlyChannels,
                 "{}: a bf16-only output (no out) takes at most {} channels, not {}", op, kAntialiasBf16OnlyChannels,
                 p.channels);
  }
}

template <typename T>
void check_mask_params(const AntialiasEdgeMaskParamsT<T>& p) {
  const char* op = "antialias_edge_mask";
  check_mesh(op, p.batch, p.vertices, p.triangles);
  check_image_size(op, p.height, p.width);
  if (p.batch == 0 || p.triangles == 0) return;
  DEEPER_CHECK(p.pos != nullptr, "{}: null positions", op);
  DEEPER_CHECK(p.tri != nullptr && p.topology != nullptr, "{}: null triangles or edge topology", op);
  DEEPER_CHECK(p.mask != nullptr, "{}: null mask", op);
}

}  // namespace

void check_antialias_params(const AntialiasParams& p, bool backward) { check_params(p, backward); }
void check_antialias_edge_mask_params(const AntialiasEdgeMaskParams& p) { check_mask_params(p); }

namespace cpu_impl {

// The f32 forward into out, or (bf16 only) into a per-thread scratch image; then, with out_bf16,
// each image converted right after it is finished (still in cache).
template <typename T>
void antialias(const AntialiasParamsT<T>& p) {
  check_params(p, false);
  const std::int64_t values = static_cast<std::int64_t>(p.height) * p.width * p.channels;
#pragma omp parallel
  {
    std::vector<T> scratch(p.out ? 0 : static_cast<std::size_t>(values));
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < p.batch; ++b) {
      T* image = p.out ? p.out + b * values : scratch.data();
      for (int j = 0; j < p.height; ++j) {
        for (int i = 0; i < p.width; ++i) {
          aa_pixel_forward(p, b, i, j, image + (static_cast<std::int64_t>(j) * p.width + i) * p.channels);
        }
      }
      if (p.out_bf16) {
        std::uint16_t* bits = p.out_bf16 + b * values;
        for (std::int64_t q = 0; q < values; ++q) bits[q] = float_to_bf16_bits(static_cast<float>(image[q]));
      }
    }
  }
}

template <typename T>
void antialias_grad(const AntialiasParamsT<T>& p) {
  check_params(p, true);
  if (!p.grad_color && !p.grad_pos.grad) return;
  const std::int64_t size = p.batch * p.vertices * 4;
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_begin(p.grad_pos, size);
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (int j = 0; j < p.height; ++j) {
      for (int i = 0; i < p.width; ++i) {
        aa_pixel_backward(p, b, i, j, [&](std::int64_t at, T v) { grad_add_host(p.grad_pos, at, v); });
      }
    }
  }
  if constexpr (sizeof(T) == sizeof(float)) grad_accum_finish(p.grad_pos, size);
}

template <typename T>
void antialias_edge_mask(const AntialiasEdgeMaskParamsT<T>& p) {
  check_mask_params(p);
  const AntialiasParamsT<T> g = p.geometry();
#pragma omp parallel for schedule(static)
  for (std::int64_t b = 0; b < p.batch; ++b) {
    for (std::int64_t t = 0; t < p.triangles; ++t) p.mask[b * p.triangles + t] = aa_triangle_mask(g, b, t);
  }
}

template void antialias_edge_mask<float>(const AntialiasEdgeMaskParamsT<float>&);
template void antialias_edge_mask<double>(const AntialiasEdgeMaskParamsT<double>&);
template void antialias<float>(const AntialiasParamsT<float>&);
template void antialias<double>(const AntialiasParamsT<double>&);
template void antialias_grad<float>(const AntialiasParamsT<float>&);
template void antialias_grad<double>(const AntialiasParamsT<double>&);

}  // namespace cpu_impl

void antialias(const Device& device, const AntialiasParams& p, void* stream) {
  check_antialias_params(p, false);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "antialias");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::antialias(p);
    case Backend::emu:
      return emu_impl::antialias(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::antialias(p, stream));
  }
}

void antialias_grad(const Device& device, const AntialiasParams& p, void* stream) {
  check_antialias_params(p, true);
  if (p.check_indices && p.batch > 0) check_triangle_indices(device, p.tri, p.triangles, p.vertices, "antialias_grad");
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::antialias_grad(p);
    case Backend::emu:
      return emu_impl::antialias_grad(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::antialias_grad(p, stream));
  }
}

void antialias_edge_mask(const Device& device, const AntialiasEdgeMaskParams& p, void* stream) {
  check_antialias_edge_mask_params(p);
  if (p.check_indices && p.batch > 0 && p.triangles > 0) {
    check_triangle_indices(device, p.tri, p.triangles, p.vertices, "antialias_edge_mask");
  }
  switch (device.backend) {
    case Backend::cpu:
      return cpu_impl::antialias_edge_mask(p);
    case Backend::emu:
      return emu_impl::antialias_edge_mask(p, stream);
    case Backend::cuda:
      return DEEPER_CUDA_KERNEL(cuda_impl::antialias_edge_mask(p, stream));
  }
}

}  // namespace deeper::kernels
