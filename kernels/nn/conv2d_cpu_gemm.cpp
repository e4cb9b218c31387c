// The cpu backend's fp32 convolutions as im2col + sgemm (conv2d_cpu_gemm.h).
#include "kernels/nn/conv2d_cpu_gemm.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
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

// A 1 x 1, stride-1, unpadded conv: the columns are x itself.
bool cols_are_x(const Conv2dShape& s) {
  return s.kernel_h == 1 && s.kernel_w == 1 && s.stride_h == 1 && s.stride_w == 1 && s.pad_top == 0 && s.pad_left == 0 &&
         s.pad_bottom == 0 && s.pad_right == 0;
}

// Rows [m0, m1) of the column matrix: row m = (n, p, q) holds, for each tap (r, s), the C input
// values under it (zeros in the padding).
void im2col(const Conv2dShape& s, const Gemm& g, const float* x, std::int64_t m0, std::int64_t m1, float* cols) {
  const int C = s.in_channels;
  const std::size_t bytes = static_cast<std::size_t>(C) * sizeof(float);
#pragma omp parallel for schedule(static)
  for (std::int64_t m = m0; m < m1; ++m) {
    const std::int64_t n = m / g.pq, pq = m % g.pq;
    const int p = static_cast<int>(pq / g.Q), q = static_cast<int>(pq % g.Q);
    float* row = cols + (m - m0) * g.rsc;
    for (int r = 0; r < s.kernel_h; ++r) {
      const int h = p * s.stride_h - s.pad_top + r;
      for (int t = 0; t < s.kernel_w; ++t) {
        const int wi = q * s.stride_w - s.pad_left + t;
        float* dst = row + (static_cast<std::int64_t>(r) * s.kernel_w + t) * C;
        if (h < 0 || h >= s.height || wi < 0 || wi >= s.width) {
          std::memset(dst, 0, bytes);
        } else {
          std::memcpy(dst, x + ((n * s.height + h) * s.width + wi) * C, bytes);
        }
      }
    }
  }
}

// Rows per chunk of columns (at least one).
std::int64_t chunk_rows(const Gemm& g) { return std::clamp<std::int64_t>(kConvGemmChunkValues / g.rsc, 1, g.rows); }

int as_int(std::int64_t v) { return static_cast<int>(v); }

}  // namespace

void conv2d_forward_gemm(const Conv2dShape& s, const float* x, const float* w, float* y, bool accumulate) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels;
  const float beta = accumulate ? 1.0f : 0.0f;
  if (cols_are_x(s)) {  // y = x · w^T
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, as_int(g.rows), K, as_int(g.rsc), 1.0f, x, as_int(g.rsc), w,
                as_int(g.rsc), beta, y, K);
    return;
  }
  const std::int64_t chunk = chunk_rows(g);
  std::vector<float> cols(static_cast<std::size_t>(chunk * g.rsc));
  for (std::int64_t m0 = 0; m0 < g.rows; m0 += chunk) {
    const std::int64_t m1 = std::min(g.rows, m0 + chunk);
    im2col(s, g, x, m0, m1, cols.data());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, as_int(m1 - m0), K, as_int(g.rsc), 1.0f, cols.data(),
                as_int(g.rsc), w, as_int(g.rsc), beta, y + m0 * K, K);
  }
}

void conv2d_dgrad_gemm(const Conv2dShape& s, const float* dy, const float* w, float* dx, bool accumulate) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels, C = s.in_channels;
  if (cols_are_x(s)) {  // dx = dy · w
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int(g.rows), C, K, 1.0f, dy, K, w, C,
                accumulate ? 1.0f : 0.0f, dx, C);
    return;
  }
  // Whole images per chunk, so the scatter of different images runs in parallel without races.
  const std::int64_t per_image = g.pq * g.rsc;
  const std::int64_t images = std::clamp<std::int64_t>(kConvGemmChunkValues / per_image, 1, s.batch);
  const std::int64_t image_values = static_cast<std::int64_t>(s.height) * s.width * C;
  std::vector<float> cols(static_cast<std::size_t>(images * per_image));
  for (std::int64_t n0 = 0; n0 < s.batch; n0 += images) {
    const std::int64_t n1 = std::min(s.batch, n0 + images);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, as_int((n1 - n0) * g.pq), as_int(g.rsc), K, 1.0f,
                dy + n0 * g.pq * K, K, w, as_int(g.rsc), 0.0f, cols.data(), as_int(g.rsc));
#pragma omp parallel for schedule(static)
    for (std::int64_t n = n0; n < n1; ++n) {
      float* dxn = dx + n * image_values;
      if (!accumulate) std::fill(dxn, dxn + image_values, 0.0f);
      const float* rows = cols.data() + (n - n0) * per_image;
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

void conv2d_wgrad_gemm(const Conv2dShape& s, const float* x, const float* dy, float* dw, bool accumulate) {
  const Gemm g = gemm_of(s);
  const int K = s.out_channels;
  if (cols_are_x(s)) {  // dw = dy^T · x
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, as_int(g.rsc), as_int(g.rows), 1.0f, dy, K, x,
                as_int(g.rsc), accumulate ? 1.0f : 0.0f, dw, as_int(g.rsc));
    return;
  }
  const std::int64_t chunk = chunk_rows(g);
  std::vector<float> cols(static_cast<std::size_t>(chunk * g.rsc));
  for (std::int64_t m0 = 0; m0 < g.rows; m0 += chunk) {
    const std::int64_t m1 = std::min(g.rows, m0 + chunk);
    im2col(s, g, x, m0, m1, cols.data());
    const float beta = m0 == 0 && !accumulate ? 0.0f : 1.0f;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, as_int(g.rsc), as_int(m1 - m0), 1.0f, dy + m0 * K, K,
                cols.data(), as_int(g.rsc), beta, dw, as_int(g.rsc));
  }
}

}  // namespace deeper::kernels::cpu_impl
