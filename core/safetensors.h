// safetensors reading and writing (https://github.com/huggingface/safetensors, format section).
//
// Layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON (padded with spaces),
// then the data buffer. The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin,
// end]} (offsets relative to the buffer) plus an optional "__metadata__" string-to-string map.
//
// The reader rejects, with a deeper::Error naming the file and the problem: a header length that
// is larger than the file or than 100 MB, invalid or duplicate-key JSON, unknown dtypes, shapes
// that are negative or absurd (more than 2^40 elements), offsets whose length differs from
// shape x itemsize, offsets outside the buffer, overlapping tensors, holes between tensors and
// unused bytes at the end. Dtypes: F32 F64 BF16 F16 I32 I64 U8 U16 BOOL.
//
// The writer keeps the tensors' order in the JSON header, places the data so that every tensor
// starts at a multiple of its element size (largest elements first, as the Python package does),
// pads the header with spaces to a multiple of 8 bytes, and replaces the target atomically.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/npy.h"  // HostArray

namespace deeper::io {

inline constexpr std::uint64_t kMaxSafetensorsHeader = 100'000'000;  // as in the reference reader

using SafetensorsMetadata = std::map<std::string, std::string>;

struct SafetensorsTensor {
  std::string name;
  HostArray array;
};

// A whole file in memory: tensors in header order, and the __metadata__ map.
struct SafetensorsFile {
  std::vector<SafetensorsTensor> tensors;
  SafetensorsMetadata metadata;

  const SafetensorsTensor* find(std::string_view name) const;
  const HostArray& at(std::string_view name) const;  // throws if there is no such tensor

  // Appends a tensor, copying `numel(shape) * dtype_size(dtype)` bytes from `data`.
  void add(std::string name, const void* data, DType dtype, std::span<const std::int64_t> shape);
  void add(std::string name, HostArray array);
};

// A tensor to write, referring to memory owned by the caller (no copy is made).
struct SafetensorsView {
  std::string_view name;
  DType dtype;
  std::span<const std::int64_t> shape;
  const void* data;
};

// The safetensors dtype string ("F32", "BF16", ...) and back; the latter throws for unknown names.
std::string_view safetensors_dtype_name(DType dtype);
DType safetensors_dtype_from_name(std::string_view name, std::string_view what);

SafetensorsFile read_safetensors(const std::filesystem::path& path);
SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, std::string_view name = "<memory>");

std::vector<std::byte> encode_safetensors(std::span<const SafetensorsView> tensors,
                                          const SafetensorsMetadata& metadata = {});
std::vector<std::byte> encode_safetensors(const SafetensorsFile& file);

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsView> tensors,
                       const SafetensorsMetadata& metadata = {});
void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file);

}  // namespace deeper::io
