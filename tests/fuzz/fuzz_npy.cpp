// libFuzzer target for the .npy parser (memory path): any input either parses or throws
// deeper::Error; a parsed array must survive encode -> parse unchanged.
#include <cstddef>
#include <cstdint>
#include <span>

#include "core/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace deeper::io;
  HostArray a;
  try {
    a = parse_npy(std::span(reinterpret_cast<const std::byte*>(data), size), "fuzz");
  } catch (const deeper::Error&) {
    return 0;  // rejected with a clear error: the expected outcome for most inputs
  }
  if (a.data.size() != static_cast<std::size_t>(a.numel()) * deeper::dtype_size(a.dtype)) __builtin_trap();
  // What was accepted must be writable again (the writer picks the version) and read back equal.
  const HostArray b = parse_npy(encode_npy(a.data.data(), a.dtype, a.shape), "fuzz round trip");
  if (b.dtype != a.dtype || b.shape != a.shape || b.data != a.data) __builtin_trap();
  return 0;
}
