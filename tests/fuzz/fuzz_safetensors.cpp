// libFuzzer target for the safetensors parser (memory path): any input either parses or throws
// deeper::Error; a parsed file must survive encode -> parse unchanged (names, order, dtypes,
// shapes, bytes, metadata).
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deeper::io;
  SafetensorsFile f;
  try {
    f = parse_safetensors(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  } catch (const deeper::Error&) {
    return 0;  // rejected with a clear error
  }
  const SafetensorsFile g = parse_safetensors(encode_safetensors(f), "fuzz round trip");
  if (g.metadata != f.metadata || g.tensors.size() != f.tensors.size()) __builtin_trap();
  for (std::size_t i = 0; i < f.tensors.size(); ++i) {
    const auto& a = f.tensors[i];
    const auto& b = g.tensors[i];
    if (a.name != b.name || a.array.dtype != b.array.dtype || a.array.shape != b.array.shape ||
        a.array.data != b.array.data) {
      __builtin_trap();
    }
  }
  return 0;
}
