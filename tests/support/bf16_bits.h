// The bf16 bit patterns of fp32 values, by the cpu backend's to_bf16 kernel (round to nearest even):
// the reference for kernels that write bf16 outputs directly.
#pragma once

#include "kernels/render/compose.h"
#include "kernels/runtime/device.h"

#include <cstdint>
#include <vector>

namespace deeper::test_util {

inline std::vector<std::uint16_t> bf16_bits(const std::vector<float>& x) {
  std::vector<std::uint16_t> out(x.size(), 0xFFFFu);
  kernels::ToBf16Params p;
  p.in = x.data();
  p.out = out.data();
  p.count = static_cast<std::int64_t>(x.size());
  kernels::to_bf16(Device::cpu(), p);
  return out;
}

}  // namespace deeper::test_util
