// The conv layers of the lab's ResNet-10 (../shared/reference/resnet10.md) as Conv2dShape, for the
// gpu tests and the benchmarks: the 7 x 7 / 2 stem (pad 3), the 3 x 3 / 2 'valid' max-pool between
// stem and stage 2 (it only changes the size), and per stage the two 3 x 3 convs and the 1 x 1
// projection, with Keras/TF 'same' padding for the 3 x 3 convs (for stride 2 on an even size: 0
// before, 1 after) and 'valid' for the projections. Widths 64, 128, 256, 512.
#pragma once

#include "kernels/nn/conv2d.h"

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace deeper::kernels {

struct NamedConvShape {
  std::string name;
  Conv2dShape shape;
};

// Keras/TF 'same' padding of one axis: total = max((out - 1) * stride + kernel - in, 0) with
// out = ceil(in / stride), floor(total / 2) before and the rest after.
inline void keras_same_padding(int in, int kernel, int stride, int& before, int& after) {
  const int out = (in + stride - 1) / stride;
  const int total = (out - 1) * stride + kernel - in > 0 ? (out - 1) * stride + kernel - in : 0;
  before = total / 2;
  after = total - before;
}

inline Conv2dShape resnet10_conv(std::int64_t batch, int size, int in_channels, int out_channels, int kernel,
                                 int stride, bool same) {
  Conv2dShape s;
  s.batch = batch;
  s.height = s.width = size;
  s.in_channels = in_channels;
  s.out_channels = out_channels;
  s.kernel_h = s.kernel_w = kernel;
  s.stride_h = s.stride_w = stride;
  if (same) {
    keras_same_padding(size, kernel, stride, s.pad_top, s.pad_bottom);
    s.pad_left = s.pad_top;
    s.pad_right = s.pad_bottom;
  }
  return s;
}

// The 13 conv layers at input resolution `res` (e.g. 112 or 224), in network order.
inline std::vector<NamedConvShape> resnet10_conv_shapes(std::int64_t batch, int res) {
  std::vector<NamedConvShape> out;
  Conv2dShape stem = resnet10_conv(batch, res, 3, 64, 7, 2, false);
  stem.pad_top = stem.pad_left = stem.pad_bottom = stem.pad_right = 3;
  out.push_back({"stem_7x7s2_3to64", stem});
  int size = (stem.out_height() - 3) / 2 + 1;  // max-pool 3 x 3 / 2, 'valid'
  int in = 64;
  const int widths[4] = {64, 128, 256, 512};
  for (int stage = 0; stage < 4; ++stage) {
    const int k = widths[stage], stride = stage == 0 ? 1 : 2;
    const Conv2dShape conv1 = resnet10_conv(batch, size, in, k, 3, stride, true);
    const int next = conv1.out_height();
    char name[64];
    std::snprintf(name, sizeof name, "s%d_conv1_3x3s%d_%dto%d", stage + 2, stride, in, k);
    out.push_back({name, conv1});
    std::snprintf(name, sizeof name, "s%d_conv2_3x3s1_%d", stage + 2, k);
    out.push_back({name, resnet10_conv(batch, next, k, k, 3, 1, true)});
    std::snprintf(name, sizeof name, "s%d_proj_1x1s%d_%dto%d", stage + 2, stride, in, k);
    out.push_back({name, resnet10_conv(batch, size, in, k, 1, stride, false)});
    size = next;
    in = k;
  }
  return out;
}

}  // namespace deeper::kernels
