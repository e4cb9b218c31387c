// nvcuda::wmma under the emulator: warp-level matrix fragments, loads, stores and mma_sync.
//
// Every lane holds the whole tile in its fragment (num_elements = rows x cols), so element-wise
// operations over frag.x[] behave as on a GPU, whatever the GPU's lane mapping. load_matrix_sync,
// store_matrix_sync and mma_sync are warp collectives over all 32 lanes: they wait for the whole
// warp, then one lane's action serves all, as the hardware's collective operation does.
// mma_sync multiplies exactly (a 16-bit product fits in fp32) and accumulates in fp32 in k order.
// Shapes: m16n16k16, m32n8k16, m8n32k16 with __half or __nv_bfloat16 inputs and float or __half
// accumulators. tf32, int8 and the sub-byte types are not emulated (they do not compile).
#pragma once

#include "kernels/emu/thread_context.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstring>
#include <type_traits>

namespace nvcuda::wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

namespace detail {

template <typename Use, int M, int N, int K>
struct tile_shape;
template <int M, int N, int K>
struct tile_shape<matrix_a, M, N, K> {
  static constexpr int rows = M, cols = K;
};
template <int M, int N, int K>
struct tile_shape<matrix_b, M, N, K> {
  static constexpr int rows = K, cols = N;
};
template <int M, int N, int K>
struct tile_shape<accumulator, M, N, K> {
  static constexpr int rows = M, cols = N;
};

template <int M, int N, int K>
constexpr bool supported_shape = (M == 16 && N == 16 && K == 16) || (M == 32 && N == 8 && K == 16) ||
                                 (M == 8 && N == 32 && K == 16);

template <typename T>
float to_float(T v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __half2float(v);
  } else {
    return __bfloat162float(v);
  }
}

template <typename T>
T from_float(float v) {
  if constexpr (std::is_same_v<T, float>) {
    return v;
  } else if constexpr (std::is_same_v<T, __half>) {
    return __float2half_rn(v);
  } else {
    return __float2bfloat16_rn(v);
  }
}

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
class fragment {
  static_assert(detail::supported_shape<M, N, K>, "wmma shape not emulated (m16n16k16, m32n8k16, m8n32k16)");
  static_assert(std::is_same_v<T, __half> || std::is_same_v<T, __nv_bfloat16> ||
                    (std::is_same_v<Use, accumulator> && std::is_same_v<T, float>),
                "wmma element type not emulated (half or bfloat16 inputs, float or half accumulators)");

 public:
  using element_type = T;
  using use = Use;
  using layout = Layout;
  static constexpr int rows = detail::tile_shape<Use, M, N, K>::rows;
  static constexpr int cols = detail::tile_shape<Use, M, N, K>::cols;
  static constexpr int num_elements = rows * cols;
  T x[num_elements];  // row-major tile
};

template <typename Use, int M, int N, int K, typename T, typename Layout>
void fill_fragment(fragment<Use, M, N, K, T, Layout>& f, const T& value) {
  for (auto& e : f.x) e = value;
}

namespace detail {

template <typename Frag, typename T>
struct LoadSlot {
  Frag* frag;
  const T* ptr;
  unsigned ldm;
  bool col_major;
};

template <typename Frag, typename T>
void complete_load(void* const* slots, unsigned participants) {
  const LoadSlot<Frag, T>* first = nullptr;
  for (unsigned lane = 0; lane < 32 && first == nullptr; ++lane) {
    if (participants >> lane & 1u) first = static_cast<LoadSlot<Frag, T>*>(slots[lane]);
  }
  Frag tile;
  for (int r = 0; r < Frag::rows; ++r) {
    for (int c = 0; c < Frag::cols; ++c) {
      const std::size_t at = first->col_major ? r + std::size_t{first->ldm} * c : std::size_t{first->ldm} * r + c;
      tile.x[r * Frag::cols + c] = first->ptr[at];
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (participants >> lane & 1u) *static_cast<LoadSlot<Frag, T>*>(slots[lane])->frag = tile;
  }
}

template <typename Frag, typename T>
void load(Frag& f, const T* ptr, unsigned ldm, bool col_major) {
  LoadSlot<Frag, T> slot{&f, ptr, ldm, col_major};
  ::deeper::emu::detail::warp_collective(0xFFFFFFFFu, ::deeper::emu::detail::WarpOp::wmma_load, &slot,
                                         &complete_load<Frag, T>);
}

}  // namespace detail

template <typename Use, int M, int N, int K, typename T, typename Layout>
void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const T* ptr, unsigned ldm) {
  static_assert(!std::is_same_v<Use, accumulator>, "accumulator loads take a layout_t argument");
  detail::load(f, ptr, ldm, std::is_same_v<Layout, col_major>);
}

template <int M, int N, int K, typename T>
void load_matrix_sync(fragment<accumulator, M, N, K, T>& f, const T* ptr, unsigned ldm, layout_t layout) {
  detail::load(f, ptr, ldm, layout == mem_col_major);
}

namespace detail {

template <typename Frag, typename T>
struct StoreSlot {
  const Frag* frag;
  T* ptr;
  unsigned ldm;
  bool col_major;
};

template <typename Frag, typename T>
void complete_store(void* const* slots, unsigned participants) {
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (!(participants >> lane & 1u)) continue;
    const auto* s = static_cast<StoreSlot<Frag, T>*>(slots[lane]);
    for (int r = 0; r < Frag::rows; ++r) {
      for (int c = 0; c < Frag::cols; ++c) {
        const std::size_t at = s->col_major ? r + std::size_t{s->ldm} * c : std::size_t{s->ldm} * r + c;
        s->ptr[at] = s->frag->x[r * Frag::cols + c];
      }
    }
    return;  // one lane's store serves the warp
  }
}

}  // namespace detail

template <int M, int N, int K, typename T>
void store_matrix_sync(T* ptr, const fragment<accumulator, M, N, K, T>& f, unsigned ldm, layout_t layout) {
  using Frag = fragment<accumulator, M, N, K, T>;
  detail::StoreSlot<Frag, T> slot{&f, ptr, ldm, layout == mem_col_major};
  ::deeper::emu::detail::warp_collective(0xFFFFFFFFu, ::deeper::emu::detail::WarpOp::wmma_store, &slot,
                                         &detail::complete_store<Frag, T>);
}

namespace detail {

template <typename D, typename A, typename B, typename C>
struct MmaSlot {
  D* d;
  const A* a;
  const B* b;
  const C* c;
};

template <typename D, typename A, typename B, typename C>
void complete_mma(void* const* slots, unsigned participants) {
  const MmaSlot<D, A, B, C>* first = nullptr;
  for (unsigned lane = 0; lane < 32 && first == nullptr; ++lane) {
    if (participants >> lane & 1u) first = static_cast<MmaSlot<D, A, B, C>*>(slots[lane]);
  }
  constexpr int M = A::rows, K = A::cols, N = B::cols;
  D out;
  for (int i = 0; i < M; ++i) {
    for (int j = 0; j < N; ++j) {
      float acc = to_float(first->c->x[i * N + j]);
      for (int k = 0; k < K; ++k) acc += to_float(first->a->x[i * K + k]) * to_float(first->b->x[k * N + j]);
      out.x[i * N + j] = from_float<typename D::element_type>(acc);
    }
  }
  for (unsigned lane = 0; lane < 32; ++lane) {
    if (participants >> lane & 1u) *static_cast<MmaSlot<D, A, B, C>*>(slots[lane])->d = out;
  }
}

}  // namespace detail

template <int M, int N, int K, typename TI, typename LA, typename LB, typename TD, typename TC>
void mma_sync(fragment<accumulator, M, N, K, TD>& d, const fragment<matrix_a, M, N, K, TI, LA>& a,
              const fragment<matrix_b, M, N, K, TI, LB>& b, const fragment<accumulator, M, N, K, TC>& c) {
  using D = fragment<accumulator, M, N, K, TD>;
  using A = fragment<matrix_a, M, N, K, TI, LA>;
  using B = fragment<matrix_b, M, N, K, TI, LB>;
  using C = fragment<accumulator, M, N, K, TC>;
  detail::MmaSlot<D, A, B, C> slot{&d, &a, &b, &c};
  ::deeper::emu::detail::warp_collective(0xFFFFFFFFu, ::deeper::emu::detail::WarpOp::wmma_mma, &slot,
                                         &detail::complete_mma<D, A, B, C>);
}

}  // namespace nvcuda::wmma
