// Tensor: a small, contiguous, row-major n-d array on a device.
//
// A Tensor is a handle: storage (a DeviceBuffer shared by every tensor made from it, or a
// non-owning view of arena or external memory) + a byte offset + dtype + shape (up to 8 dims) +
// device + a layout tag. Copying a Tensor copies the handle, not the data. Views (slice, reshape,
// with_layout) share the storage; copy_from and to() move data, between any two devices.
//
// Layout is a tag that says how a 4-D shape is read: nhwc means [N, H, W, C] with C fastest
// (DESIGN.md: activations channels-last). Memory is always contiguous row-major.
//
// Everything that can go wrong (negative dims, numel overflow, shape/dtype mismatches, out-of-range
// slices) throws deeper::Error with a message that names the operation and the shapes.
#pragma once

#include "core/dtype.h"
#include "kernels/runtime/device.h"
#include "kernels/runtime/memory.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace deeper {

class Arena;
class Stream;

enum class Layout : std::uint8_t { plain, nhwc };

// "plain" or "nhwc".
std::string_view layout_name(Layout layout);

// Up to 8 non-negative dimensions. A rank-0 shape is a scalar (one element).
class Shape {
 public:
  static constexpr int max_rank = 8;

  Shape() = default;
  // Throws deeper::Error on more than 8 dims or a negative dim.
  Shape(std::initializer_list<std::int64_t> dims);
  explicit Shape(std::span<const std::int64_t> dims);

  int rank() const { return rank_; }
  // Throws deeper::Error when i is not in [0, rank).
  std::int64_t operator[](int i) const;
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }
  // The product of the dims. Throws deeper::Error when it overflows int64.
  std::int64_t numel() const;
  // "[2, 3, 4]"; "[]" for a scalar.
  std::string to_string() const;

  bool operator==(const Shape& other) const;

 private:
  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

class Tensor {
 public:
  Tensor() = default;  // undefined: holds nothing; most operations throw

  // A new tensor that owns its storage (one DeviceBuffer), contents uninitialised.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu(),
                      Layout layout = Layout::plain);
  // A non-owning view of `data` (memory of `device`), which must outlive the tensor and be aligned
  // to the element size; data may be null only when the shape has no elements.
  static Tensor view(void* data, const Shape& shape, DType dtype, Device device,
                     Layout layout = Layout::plain);
  // A non-owning view of a fresh allocation from `arena` (valid until the arena is reset past it);
  // `name` appears in the error when the arena is full.
  static Tensor view(Arena& arena, const Shape& shape, DType dtype, std::string_view name,
                     Layout layout = Layout::plain);

  bool defined() const { return defined_; }
  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int i) const { return shape_[i]; }
  // Row-major contiguous strides, in elements.
  Shape strides() const;
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  Layout layout() const { return layout_; }
  std::int64_t numel() const { return numel_; }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel_) * dtype_size(dtype_); }
  // True when this tensor shares ownership of its storage (made by empty() or to(), or a view of one).
  bool owns_storage() const { return storage_ != nullptr; }

  // The first element (a device pointer on cuda); nullptr for an undefined tensor.
  void* data_raw() const { return base_ != nullptr ? base_ + offset_ : nullptr; }
  // The first element as T*. Throws deeper::Error when T does not match dtype() or the tensor is
  // undefined.
  template <typename T>
  T* data() const {
    check_element_type(dtype_of<T>());
    return static_cast<T*>(data_raw());
  }

  // Rows [begin, end) along dim 0, sharing storage. Throws unless 0 <= begin <= end <= dim(0).
  Tensor slice(std::int64_t begin, std::int64_t end) const;
  // The same elements under another shape with the same numel, sharing storage. The nhwc tag is
  // kept when the new shape is 4-D, otherwise the view is plain.
  Tensor reshape(const Shape& shape) const;
  // The same tensor with another layout tag (nhwc needs a 4-D shape).
  Tensor with_layout(Layout layout) const;

  // Copies src's elements into this tensor, across devices if needed. Shape, dtype and layout must
  // match. Stream rules as copy_bytes: without a CUDA stream the copy is complete on return.
  void copy_from(const Tensor& src, Stream* stream = nullptr);
  // A new owning tensor on `device` holding a copy of this one (always a copy, even when the device
  // is the same).
  Tensor to(Device device, Stream* stream = nullptr) const;
  // Sets every byte to zero (0.0 for the float types).
  void fill_zero(Stream* stream = nullptr);

  // "Tensor(f32 [2, 3, 4], nhwc, cuda:0)", with ", view" for a non-owning view.
  std::string to_string() const;

 private:
  void check_element_type(DType requested) const;
  void check_defined(std::string_view operation) const;

  std::shared_ptr<DeviceBuffer> storage_;  // null for views of arena or external memory
  std::byte* base_ = nullptr;              // start of the storage (owned or not)
  std::size_t offset_ = 0;                 // bytes from base_ to the first element
  Shape shape_;
  std::int64_t numel_ = 0;
  DType dtype_ = DType::f32;
  Device device_;
  Layout layout_ = Layout::plain;
  bool defined_ = false;
};

}  // namespace deeper
