// The cpu backend's fp32 convolutions as im2col + sgemm (conv2d_cpu_gemm.h).
#include "kernels/nn/conv2d_cpu_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

namespace deeper::kernels::cpu_impl {
namespace {

struct Gemm {
  int P, Q;
  std::int64_t pq;    // output pixels per image
  std::int64_t rsc;   // GEMM depth of forward / wgrad: R·S·C
  std::int64_t rows;  // M = N·P·Q
};

Gemm gemm_of(const Conv2dShape& s) {
  Gemm g{};
  g.P = s.out_height();
  g.Q = s.out_width();
  g.pq = static_cast<std::int64_t>(g.P) * g.Q;
  g.rsc = static_cast<std::int64_t>(s.kernel_h) * s.kernel_w * s.in_channels;
  g.rows = s.batch * g.pq;
  return g;
}

// OpenBLAS on one thread for the guard's lifetime: the blocks below are spread over OpenMP's
// threads, and OpenBLAS's own pool competing with them for the cores made the step slower, not faster.
class SingleThreadedBlas {
 public:
  SingleThreadedBlas() : previous_(openblas_get_num_threads()) {
    if (previous_ != 1) openblas_set_num_threads(1);
  }
  ~SingleThreadedBlas() {
    if (previous_ != 1) openblas_set_num_threads(previous_);
  }
  SingleThreadedBlas(const SingleThreadedBlas&) = delete;
  SingleThreadedBlas& operator=(const SingleThreadedBlas&) = delete;

 private:
  int previous_;
};

// `units` (rows, or images) in contiguous blocks of at most `max_per_block`, and at least
// min(kMinBlocks, units / min_per_block) blocks so that the OpenMP threads have work. A function of
// the sizes only (never of the thread count), so results do not depend on how many threads run.
struct Blocks {
  std::int64_t count, size;  // block b covers [b·size, min((b + 1)·size, units))
};
constexpr std::int64_t kMinBlocks = 16;

Blocks blocks_of(std::int64_t units, std::int64_t max_per_block, std::int64_t min_per_block) {
  max_per_block = std::max<std::int64_t>(max_per_block, 1);
  std::int64_t count = std::max((units + max_per_block - 1) / max_per_block,
                                std::min(kMinBlocks, units / std::max<std::int64_t>(min_per_block, 1)));
  count = std::clamp<std::int64_t>(count, 1, units);
  const std::int64_t size = (units + count - 1) / count;
  return {(units + size - 1) / size, size};
}

// A 1 x 1, stride-1, unpadded conv: the columns are x itself.
bool cols_are_x(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0;
}

// Rows [m0, m1) of the column matrix: row m = (n, p, q) holds, for each tap (r, s), the C input
// values under it (zeros in the padding). The taps of one kernel row read consecutive input pixels,
// so each kernel row is one copy of its in-image taps (S·C values) plus zeros for the rest. Runs on
// the calling thread.
void im2col(const Conv2dShape& s, const Gemm& g, const float* x, std::int64_t m0, std::int64_t m1, float* cols) {
  const int C = s.in_channels, S = s.kernel_w;
  const std::int64_t tap_row = static_cast<std::int64_t>(S) * C;  // one kernel row's values
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::int64_t n = m / g.pq, pq = m % g.pq;
    const int p = static_cast<int>(pq / g.Q), q = static_cast<int>(pq % g.Q);
    const int w0 = q * s.stride_w - s.pad_left;  // input column of tap t = 0
    const int t_lo = std::max(0, -w0), t_hi = std::min(S, s.width - w0);  // taps inside the image
    float* row = cols + (m - m0) * g.rsc;
    for (int r = 0; r < s.kernel_h; ++r) {
      const int h = p * s.stride_h - s.pad_top + r;
      float* dst = row + r * tap_row;
      if (h < 0 || h >= s.height || t_lo >= t_hi) {
        std::fill(dst, dst + tap_row, 0.0f);
        continue;
      }
      std::fill(dst, dst + static_cast<std::int64_t>(t_lo) * C, 0.0f);
      std::memcpy(dst + static_cast<std::int64_t>(t_lo) * C, x + ((n * s.height + h) * s.width + w0 + t_lo) * C,
                  static_cast<std::size_t>(t_hi - t_lo) * C * sizeof(float));
      std::fill(dst + static_cast<std::int64_t>(t_hi) * C, dst + tap_row, 0.0f);
    }
  }
}

int as_int(std::int64_t v) { return static_cast<int>(v); }

// The calling thread's column buffer, at least `values` floats. Kept across calls (OpenMP's worker
// threads persist), so a step's convolutions neither allocate nor zero-fill it; every value a block
// reads is written by its im2col or sgemm first.
float* thread_columns(std::int64_t values) {
  thread_local std::vector<float> columns;
  if (columns.size() < static_cast<std::size_t>(values)) columns.resize(static_cast<std::size_t>(values));
  return columns.data();
}

// Minimum rows (or images' rows) per block: below this a block's GEMM is too thin to be worth a thread.
constexpr std::int64_t kMinBlockRows = 64;

}  // namespace

void conv2d_forward_gemm(const Conv2dShape& s, const float* x, const float* w, float* y, bool accumulate,
                         std::int64_t chunk_values) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels;
  const float beta = accumulate ? 1.0f : 0.0f;
  const bool direct = cols_are_x(s);
  const Blocks blocks = blocks_of(g.rows, chunk_values / g.rsc, kMinBlockRows);
  const SingleThreadedBlas blas;
  // Each block: its rows' columns, then y[rows] = cols · w^T; the blocks write disjoint rows of y.
#pragma omp parallel
  {
    float* const cols = direct ? nullptr : thread_columns(blocks.size * g.rsc);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < blocks.count; ++b) {
      const std::int64_t m0 = b * blocks.size, m1 = std::min(g.rows, m0 + blocks.size);
      const float* a = x + m0 * g.rsc;
      if (!direct) {
        im2col(s, g, x, m0, m1, cols);
        a = cols;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, as_int(m1 - m0), K, as_int(g.rsc), 1.0f, a, as_int(g.rsc), w,
                  as_int(g.rsc), beta, y + m0 * K, K);
    }
  }
}

void conv2d_dgrad_gemm(const Conv2dShape& s, const float* dy, const float* w, float* dx, bool accumulate,
                       std::int64_t chunk_values) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels, C = s.in_channels;
  const SingleThreadedBlas blas;
  if (cols_are_x(s)) {  // dx = dy · w, in row blocks
    const Blocks blocks = blocks_of(g.rows, g.rows, kMinBlockRows);
#pragma omp parallel for schedule(static)
    for (std::int64_t b = 0; b < blocks.count; ++b) {
      const std::int64_t m0 = b * blocks.size, m1 = std::min(g.rows, m0 + blocks.size);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int(m1 - m0), C, K, 1.0f, dy + m0 * K, K, w, C,
                  accumulate ? 1.0f : 0.0f, dx + m0 * C, C);
    }
    return;
  }
  // Blocks of whole images: a block's columns scatter only into its own images' dx.
  const std::int64_t per_image = g.pq * g.rsc;
  const Blocks blocks = blocks_of(s.batch, chunk_values / per_image, (kMinBlockRows + g.pq - 1) / g.pq);
  const std::int64_t image_values = static_cast<std::int64_t>(s.height) * s.width * C;
#pragma omp parallel
  {
    float* const cols = thread_columns(blocks.size * per_image);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < blocks.count; ++b) {
      const std::int64_t n0 = b * blocks.size, n1 = std::min(s.batch, n0 + blocks.size);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int((n1 - n0) * g.pq), as_int(g.rsc), K, 1.0f,
                  dy + n0 * g.pq * K, K, w, as_int(g.rsc), 0.0f, cols, as_int(g.rsc));
      for (std::int64_t n = n0; n < n1; ++n) {
        float* dxn = dx + n * image_values;
        if (!accumulate) std::fill(dxn, dxn + image_values, 0.0f);
        const float* rows = cols + (n - n0) * per_image;
        for (int p = 0; p < g.P; ++p) {
          for (int q = 0; q < g.Q; ++q) {
            const float* row = rows + (static_cast<std::int64_t>(p) * g.Q + q) * g.rsc;
            for (int r = 0; r < s.kernel_h; ++r) {
              const int h = p * s.stride_h - s.pad_top + r;
              if (h < 0 || h >= s.height) continue;
              for (int t = 0; t < s.kernel_w; ++t) {
                const int wi = q * s.stride_w - s.pad_left + t;
                if (wi < 0 || wi >= s.width) continue;
                const float* src = row + (static_cast<std::int64_t>(r) * s.kernel_w + t) * C;
                float* dst = dxn + (static_cast<std::int64_t>(h) * s.width + wi) * C;
                for (int c = 0; c < C; ++c) dst[c] += src[c];
              }
            }
          }
        }
      }
    }
  }
}

void conv2d_wgrad_gemm(const Conv2dShape& s, const float* x, const float* dy, float* dw, bool accumulate,
                       std::int64_t chunk_values) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels;
  const std::int64_t dw_values = K * g.rsc;
  const bool direct = cols_are_x(s);
  // Each block sums its rows into its own partial dw, a chunk of columns at a time; the partials
  // are then added in block order.
  const std::int64_t chunk = std::max<std::int64_t>(chunk_values / g.rsc, 1);
  const Blocks blocks = blocks_of(g.rows, std::max(g.rows / kMinBlocks, chunk), kMinBlockRows);
  // Every partial is set by its block's first sgemm (beta 0), so it needs no zero-fill.
  const std::unique_ptr<float[]> partials(new float[static_cast<std::size_t>(blocks.count * dw_values)]);
  const SingleThreadedBlas blas;
#pragma omp parallel
  {
    float* const cols = direct ? nullptr : thread_columns(std::min(chunk, blocks.size) * g.rsc);
#pragma omp for schedule(static)
    for (std::int64_t b = 0; b < blocks.count; ++b) {
      const std::int64_t b0 = b * blocks.size, b1 = std::min(g.rows, b0 + blocks.size);
      float* partial = partials.get() + b * dw_values;
      for (std::int64_t m0 = b0; m0 < b1; m0 += chunk) {
        const std::int64_t m1 = std::min(b1, m0 + chunk);
        const float* a = x + m0 * g.rsc;
        if (!direct) {
          im2col(s, g, x, m0, m1, cols);
          a = cols;
        }
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, as_int(g.rsc), as_int(m1 - m0), 1.0f, dy + m0 * K, K, a,
                    as_int(g.rsc), m0 == b0 ? 0.0f : 1.0f, partial, as_int(g.rsc));
      }
    }
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < dw_values; ++i) {
      float sum = accumulate ? dw[i] : 0.0f;
      for (std::int64_t b = 0; b < blocks.count; ++b) sum += partials[static_cast<std::size_t>(b * dw_values + i)];
      dw[i] = sum;
    }
  }
}

}  // namespace deeper::kernels::cpu_impl
