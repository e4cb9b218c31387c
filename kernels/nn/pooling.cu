// Max-pool and global average pool kernels (definitions in kernels/nn/pooling.h). Version 2: max-pool
// vectorised over channels (float4 / int4 when C % 4 == 0 and aligned), indices decoded once per
// thread by multiply-shift division, the 3x3 window unrolled, backward window ranges division-free.
#include "kernels/common/kernel_prelude.cuh"
#include "kernels/nn/nn_device.cuh"
#include "kernels/nn/pooling.h"

namespace deeper::kernels::DEEPER_KERNEL_NS {

namespace {

using nn::kLanes;
using nn::kRowLanes;

// Index arithmetic of the max-pool kernels. Narrow: 32-bit indices, multiply-shift division (all
// dividends < 2^31, checked by the launcher). Wide: 64-bit indices and ordinary division.
struct NarrowIndex {
  using Index = std::uint32_t;
  using Coord = int;
  using Div = PoolDivisor;
  static Div divisor(std::int64_t d) { return PoolDivisor::make(d); }
};
struct WideDivisor {
  std::int64_t divisor = 1;
  __device__ __forceinline__ std::int64_t div(std::int64_t n) const { return n / divisor; }
};
struct WideIndex {
  using Index = std::int64_t;
  using Coord = std::int64_t;
  using Div = WideDivisor;
  static Div divisor(std::int64_t d) { return WideDivisor{d}; }
};

// A thread's item (outer, inner, channel group) decoded from its flat index, channel group fastest.
// forward: outer = n·Ho + oh, inner = ow; backward: outer = n·H + h, inner = w.
template <typename Ix>
struct PoolGrid {
  using Index = typename Ix::Index;
  using Coord = typename Ix::Coord;
  Index total = 0;  // threads' items: N · rows · columns · C / V
  typename Ix::Div groups, columns, rows, stride;  // C / V, Wo or W, Ho or H, s
  std::int64_t out_height = 0, out_width = 0;      // Ho, Wo

  // Item idx: image n, row and column (oh, ow forward; h, w backward), channel group cg.
  struct Item {
    Index n, cg;
    Coord row, col;
  };
  __device__ __forceinline__ Item item(Index idx) const {
    const Index pixel = groups.div(idx), cg = idx - pixel * static_cast<Index>(groups.divisor);
    const Index r = columns.div(pixel), n = rows.div(r);
    return {n, cg, static_cast<Coord>(r - n * static_cast<Index>(rows.divisor)),
            static_cast<Coord>(pixel - r * static_cast<Index>(columns.divisor))};
  }
};

template <typename Ix>
PoolGrid<Ix> make_grid(std::int64_t total, std::int64_t groups, std::int64_t columns, std::int64_t rows, int stride,
                       std::int64_t out_height, std::int64_t out_width) {
  return {static_cast<typename Ix::Index>(total), Ix::divisor(groups), Ix::divisor(columns), Ix::divisor(rows),
          Ix::divisor(stride), out_height, out_width};
}

// 32-bit indices when every dividend and coordinate fits (H + p and W + p bound the coordinates).
bool narrow_indices(std::int64_t items, std::int64_t height, std::int64_t width, int pad) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 31;
  return items < kLimit && height + pad < kLimit && width + pad < kLimit;
}

template <int V>
__device__ __forceinline__ void store_index(std::int32_t* ptr, const std::int32_t (&v)[V]) {
  if constexpr (V == 4) {
    *reinterpret_cast<int4*>(ptr) = make_int4(v[0], v[1], v[2], v[3]);
  } else {
    *ptr = v[0];
  }
}

template <int V>
__device__ __forceinline__ void load_index(const std::int32_t* ptr, std::int32_t (&v)[V]) {
  if constexpr (V == 4) {
    const int4 t = *reinterpret_cast<const int4*>(ptr);
    v[0] = t.x;
    v[1] = t.y;
    v[2] = t.z;
    v[3] = t.w;
  } else {
    v[0] = *ptr;
  }
}

// One thread per (n, oh, ow, V channels); the window loop is fully unrolled when K > 0 (K == kernel).
template <int V, int K, typename Ix>
__global__ void __launch_bounds__(nn::kElementwiseThreads)
    maxpool_forward_kernel(MaxPoolParams p, PoolGrid<Ix> g) {
  using Index = typename Ix::Index;
  using Coord = typename Ix::Coord;
  const int k = K > 0 ? K : p.kernel;
  const Coord H = static_cast<Coord>(p.height), W = static_cast<Coord>(p.width);
  const Coord s = p.stride, pad = p.pad;
  const std::int64_t C = p.channels;
  const Index step = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index idx = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; idx < g.total; idx += step) {
    const auto [n, cg, oh, ow] = g.item(idx);
    const Coord h0 = oh * s - pad, w0 = ow * s - pad;
    const float* xn = p.x + static_cast<std::int64_t>(n) * p.height * p.width * C + static_cast<std::int64_t>(cg) * V;
    float best[V];
    std::int32_t at[V];
    const auto first = static_cast<std::int32_t>((h0 < 0 ? 0 : h0) * W + (w0 < 0 ? 0 : w0));
    for (int j = 0; j < V; ++j) {
      best[j] = __int_as_float(static_cast<int>(0xff800000u));  // -inf: the first input always wins
      at[j] = first;
    }
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
    for (int kh = 0; kh < k; ++kh) {
      const Coord h = h0 + kh;
      if (h < 0 || h >= H) continue;
      const float* xr = xn + static_cast<std::int64_t>(h * W) * C;
#if defined(__CUDA_ARCH__)
#pragma unroll
#endif
      for (int kw = 0; kw < k; ++kw) {
        const Coord w = w0 + kw;
        if (w < 0 || w >= W) continue;
        const nn::Pack<V> v = nn::load<V>(xr + static_cast<std::int64_t>(w) * C);
        const auto pos = static_cast<std::int32_t>(h * W + w);
        for (int j = 0; j < V; ++j) {
          // a NaN best stays; a NaN input or a strictly larger one takes over (first maximum wins)
          if (best[j] == best[j] && (v.v[j] > best[j] || v.v[j] != v.v[j])) {
            best[j] = v.v[j];
            at[j] = pos;
          }
        }
      }
    }
    nn::Pack<V> out;
    for (int j = 0; j < V; ++j) out.v[j] = best[j];
    nn::store<V>(p.y + static_cast<std::int64_t>(idx) * V, out);
    if (p.y_bf16 != nullptr) nn::store_bf16<V>(p.y_bf16 + static_cast<std::int64_t>(idx) * V, out);
    store_index<V>(p.argmax + static_cast<std::int64_t>(idx) * V, at);
  }
}

// Windows along one axis containing input coordinate x (padded: x + pad = q·s + r): those o with
// o·s <= x + pad <= o·s + k - 1, i.e. o = q, q - 1, ... while r + (q - o)·s < k, clipped to [0, out).
// Sets [lo, hi]; empty (lo > hi) when none.
template <typename Ix>
__device__ __forceinline__ void window_range(typename Ix::Coord x, typename Ix::Coord pad, int k,
                                             typename Ix::Coord s, typename Ix::Coord out,
                                             const typename Ix::Div& div_s, typename Ix::Coord& lo,
                                             typename Ix::Coord& hi) {
  using Coord = typename Ix::Coord;
  using Index = typename Ix::Index;
  const Coord xp = x + pad;
  const auto q = static_cast<Coord>(div_s.div(static_cast<Index>(xp)));
  Coord r = xp - q * s;
  hi = q < out - 1 ? q : out - 1;
  if (r >= k) {
    lo = hi + 1;
    return;
  }
  lo = q;
  while (lo > 0 && r + s < k) {
    r += s;
    --lo;
  }
}

// One thread per (n, h, w, V channels): sums, per lane, dy of the windows whose argmax is (h, w).
template <int V, typename Ix>
__global__ void __launch_bounds__(nn::kElementwiseThreads)
    maxpool_backward_kernel(MaxPoolBackwardParams p, PoolGrid<Ix> g) {
  using Index = typename Ix::Index;
  using Coord = typename Ix::Coord;
  const Coord W = static_cast<Coord>(g.columns.divisor);
  const Coord Ho = static_cast<Coord>(g.out_height), Wo = static_cast<Coord>(g.out_width);
  const Coord s = p.stride, pad = p.pad;
  const std::int64_t C = p.channels;
  const Index step = static_cast<Index>(gridDim.x) * blockDim.x;
  for (Index idx = static_cast<Index>(blockIdx.x) * blockDim.x + threadIdx.x; idx < g.total; idx += step) {
    const auto [n, cg, h, w] = g.item(idx);
    Coord oh_lo, oh_hi, ow_lo, ow_hi;
    window_range<Ix>(h, pad, p.kernel, s, Ho, g.stride, oh_lo, oh_hi);
    window_range<Ix>(w, pad, p.kernel, s, Wo, g.stride, ow_lo, ow_hi);
    const std::int64_t base = static_cast<std::int64_t>(n) * Ho * Wo * C + static_cast<std::int64_t>(cg) * V;
    const float* dyn = p.dy + base;
    const std::int32_t* amn = p.argmax + base;
    const auto self = static_cast<std::int32_t>(h * W + w);
    float sum[V];
    for (int j = 0; j < V; ++j) sum[j] = 0.0f;
    for (Coord oh = oh_lo; oh <= oh_hi; ++oh) {
      for (Coord ow = ow_lo; ow <= ow_hi; ++ow) {
        const std::int64_t o = (static_cast<std::int64_t>(oh) * Wo + ow) * C;
        std::int32_t a[V];
        load_index<V>(amn + o, a);
        bool any = false;
        for (int j = 0; j < V; ++j) any = any || a[j] == self;
        if (!any) continue;
        const nn::Pack<V> d = nn::load<V>(dyn + o);
        for (int j = 0; j < V; ++j) {
          if (a[j] == self) sum[j] += d.v[j];
        }
      }
    }
    nn::Pack<V> out;
    for (int j = 0; j < V; ++j) out.v[j] = sum[j];
    nn::store<V>(p.dx + static_cast<std::int64_t>(idx) * V, out);
  }
}

// Grid (channel blocks, batch): block sums its image's H·W rows for 32 channels.
__global__ void __launch_bounds__(kLanes* kRowLanes) global_avgpool_forward_kernel(GlobalAvgPoolParams p) {
  const std::int64_t C = p.channels, plane = p.height * p.width;
  const std::int64_t c = static_cast<std::int64_t>(blockIdx.x) * kLanes + threadIdx.x;
  const std::int64_t n = blockIdx.y;
  double acc[1] = {0.0};
  if (c < C) {
    float s = 0.0f;
    const float* xn = p.x + n * plane * C + c;
    for (std::int64_t r = threadIdx.y; r < plane; r += kRowLanes) s += xn[r * C];
    acc[0] = s;
  }
  nn::column_sum<1>(acc);
  if (threadIdx.y == 0 && c < C) p.y[n * C + c] = static_cast<float>(acc[0] / static_cast<double>(plane));
}

__global__ void __launch_bounds__(nn::kElementwiseThreads) global_avgpool_backward_kernel(GlobalAvgPoolBackwardParams p) {
  const std::int64_t C = p.channels, plane = p.height * p.width, total = p.batch * plane * C;
  const float scale = 1.0f / static_cast<float>(plane);
  const std::int64_t stride = static_cast<std::int64_t>(gridDim.x) * blockDim.x;
  for (std::int64_t idx = static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += stride) {
    const std::int64_t c = idx % C, n = idx / (plane * C);
    p.dx[idx] = p.dy[n * C + c] * scale;
  }
}

}  // namespace

namespace {

template <int V, typename Ix>
void launch_maxpool_forward(const MaxPoolParams& p, std::int64_t Ho, std::int64_t Wo, void* stream) {
  const std::int64_t items = p.batch * Ho * Wo * (p.channels / V);
  const PoolGrid<Ix> g = make_grid<Ix>(items, p.channels / V, Wo, Ho, p.stride, Ho, Wo);
  const dim3 grid(grid_blocks(items, nn::kElementwiseThreads)), block(nn::kElementwiseThreads);
  if (p.kernel == 3) {
    launch(maxpool_forward_kernel<V, 3, Ix>, grid, block, 0, stream, "maxpool_forward", p, g);
  } else {
    launch(maxpool_forward_kernel<V, 0, Ix>, grid, block, 0, stream, "maxpool_forward", p, g);
  }
}

template <int V, typename Ix>
void launch_maxpool_backward(const MaxPoolBackwardParams& p, void* stream) {
  const std::int64_t items = p.batch * p.height * p.width * (p.channels / V);
  const PoolGrid<Ix> g = make_grid<Ix>(items, p.channels / V, p.width, p.height, p.stride,
                                       pool_output_size(p.height, p.kernel, p.stride, p.pad),
                                       pool_output_size(p.width, p.kernel, p.stride, p.pad));
  launch(maxpool_backward_kernel<V, Ix>, dim3(grid_blocks(items, nn::kElementwiseThreads)),
         dim3(nn::kElementwiseThreads), 0, stream, "maxpool_backward", p, g);
}

}  // namespace

void maxpool_forward(const MaxPoolParams& p, void* stream) {
  const std::int64_t Ho = pool_output_size(p.height, p.kernel, p.stride, p.pad);
  const std::int64_t Wo = pool_output_size(p.width, p.kernel, p.stride, p.pad);
  const bool vec = p.channels % 4 == 0 && nn::aligned16(p.x) && nn::aligned16(p.y) && nn::aligned16(p.argmax) &&
                   nn::aligned8(p.y_bf16);
  const bool narrow = narrow_indices(p.batch * Ho * Wo * p.channels / (vec ? 4 : 1), p.height, p.width, p.pad);
  if (vec) {
    return narrow ? launch_maxpool_forward<4, NarrowIndex>(p, Ho, Wo, stream)
                  : launch_maxpool_forward<4, WideIndex>(p, Ho, Wo, stream);
  }
  return narrow ? launch_maxpool_forward<1, NarrowIndex>(p, Ho, Wo, stream)
                : launch_maxpool_forward<1, WideIndex>(p, Ho, Wo, stream);
}

void maxpool_backward(const MaxPoolBackwardParams& p, void* stream) {
  const bool vec = p.channels % 4 == 0 && nn::aligned16(p.dy) && nn::aligned16(p.argmax) && nn::aligned16(p.dx);
  const bool narrow = narrow_indices(p.batch * p.height * p.width * p.channels / (vec ? 4 : 1), p.height, p.width, p.pad);
  if (vec) {
    return narrow ? launch_maxpool_backward<4, NarrowIndex>(p, stream) : launch_maxpool_backward<4, WideIndex>(p, stream);
  }
  return narrow ? launch_maxpool_backward<1, NarrowIndex>(p, stream) : launch_maxpool_backward<1, WideIndex>(p, stream);
}

void global_avgpool_forward(const GlobalAvgPoolParams& p, void* stream) {
  const auto channel_blocks = static_cast<unsigned>((p.channels + kLanes - 1) / kLanes);
  launch(global_avgpool_forward_kernel, dim3(channel_blocks, static_cast<unsigned>(p.batch)), dim3(kLanes, kRowLanes),
         0, stream, "global_avgpool_forward", p);
}

void global_avgpool_backward(const GlobalAvgPoolBackwardParams& p, void* stream) {
  const std::int64_t total = p.batch * p.height * p.width * p.channels;
  launch(global_avgpool_backward_kernel, dim3(grid_blocks(total, nn::kElementwiseThreads)),
         dim3(nn::kElementwiseThreads), 0, stream, "global_avgpool_backward", p);
}

}  // namespace deeper::kernels::DEEPER_KERNEL_NS
