// NumPy .npy reading and writing (format versions 1.0, 2.0 and 3.0), and HostArray, the plain
// in-memory array (dtype + shape + bytes) that the npy and safetensors readers return.
//
// Supported: little-endian, C-order arrays of f32, f64, f16, i32, i64, u8, u16 and bool
// ('<f4' '<f8' '<f2' '<i4' '<i8' '|u1' '<u2' '|b1'). Everything else (Fortran order, big-endian,
// other or structured dtypes, object arrays), malformed headers, truncated or oversized data, and
// absurd shapes (more than 2^40 elements) are rejected with a deeper::Error whose message starts
// with the file name and says what is wrong. The writer picks version 1.0 unless the header needs
// the 4-byte length of 2.0, and replaces the target atomically (core/atomic_file.h).
// The format: https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "core/dtype.h"
#include "core/error.h"

namespace deeper::io {

// The largest element count a file may declare (2^40); larger shapes are treated as corrupt.
inline constexpr std::int64_t kMaxFileElements = std::int64_t{1} << 40;

// Element count of `shape`, checked: dimensions non-negative, and the product of the non-zero
// dimensions at most kMaxFileElements. `what` prefixes the error ("npy file 'x.npy'").
std::int64_t checked_element_count(std::span<const std::int64_t> shape, std::string_view what);

// "(2, 3)" style rendering of a shape, for messages.
std::string shape_string(std::span<const std::int64_t> shape);

// A loaded array: C-order elements, little-endian, `data.size() == numel() * dtype_size(dtype)`.
struct HostArray {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> data;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::size_t nbytes() const { return data.size(); }

  // A copy of the elements as T; throws if T does not match the dtype.
  template <typename T>
  std::vector<T> to_vector() const {
    DEEPER_CHECK(dtype_of<T>() == dtype, "array holds {}, not {}", dtype_name(dtype),
                 dtype_name(dtype_of<T>()));
    std::vector<T> out(data.size() / sizeof(T));
    if (!out.empty()) std::memcpy(out.data(), data.data(), out.size() * sizeof(T));
    return out;
  }
};

// Reads an .npy file. The header is validated before the data is allocated.
HostArray read_npy(const std::filesystem::path& path);

// Parses an .npy image held in memory; `name` is used in error messages.
HostArray parse_npy(std::span<const std::byte> bytes, std::string_view name = "<memory>");

// The complete .npy bytes for `data` (C order, numel(shape) elements of `dtype`).
// version 0 chooses 1.0 unless the header is too long for it (then 2.0); 1, 2 or 3 force that
// version (3.0 differs from 2.0 only in allowing UTF-8 in the header).
std::vector<std::byte> encode_npy(const void* data, DType dtype, std::span<const std::int64_t> shape,
                                  int version = 0);

// Writes an .npy file atomically: the old file stays intact if anything fails.
void write_npy(const std::filesystem::path& path, const void* data, DType dtype,
               std::span<const std::int64_t> shape, int version = 0);

inline void write_npy(const std::filesystem::path& path, const HostArray& array, int version = 0) {
  write_npy(path, array.data.data(), array.dtype, array.shape, version);
}

template <typename T>
void write_npy(const std::filesystem::path& path, std::span<const T> values,
               std::span<const std::int64_t> shape) {
  const std::int64_t n = checked_element_count(shape, fmt::format("npy file '{}'", path.string()));
  if (static_cast<std::int64_t>(values.size()) != n) {
    fail("npy file '{}': shape {} needs {} elements but {} were given", path.string(), shape_string(shape), n,
         values.size());
  }
  write_npy(path, values.data(), dtype_of<T>(), shape);
}

}  // namespace deeper::io
