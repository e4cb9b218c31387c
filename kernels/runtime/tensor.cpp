#include "kernels/runtime/tensor.h"

#include "core/error.h"
#include "kernels/runtime/arena.h"
#include "kernels/runtime/stream.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace deeper {
namespace {

// numel * dtype_size in bytes; throws when it does not fit in int64 (and so in size_t).
std::size_t checked_nbytes(const Shape& shape, DType dtype, std::string_view operation) {
  const std::int64_t numel = shape.numel();
  const auto element = static_cast<std::int64_t>(dtype_size(dtype));
  if (numel > std::numeric_limits<std::int64_t>::max() / element) {
    fail("{}: {} {} has {} elements, too many bytes to address", operation, dtype_name(dtype),
         shape.to_string(), numel);
  }
  return static_cast<std::size_t>(numel * element);
}

void check_layout(const Shape& shape, Layout layout, std::string_view operation) {
  if (layout == Layout::nhwc && shape.rank() != 4) {
    fail("{}: layout nhwc needs a 4-D shape [N, H, W, C], got {}", operation, shape.to_string());
  }
}

}  // namespace

std::string_view layout_name(Layout layout) {
  switch (layout) {
    case Layout::plain: return "plain";
    case Layout::nhwc: return "nhwc";
  }
  return "?";
}

// ------------------------------------------------------------------------------------------------
// Shape

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(max_rank)) {
    fail("shape with {} dims: at most {} are supported", dims.size(), max_rank);
  }
  for (std::size_t i = 0; i < dims.size(); ++i) {
    dims_[i] = dims[i];
    rank_ = static_cast<int>(i) + 1;
  }
  for (int i = 0; i < rank_; ++i) {
    if (dims_[i] < 0) fail("negative dimension {} (dim {}) in shape {}", dims_[i], i, to_string());
  }
}

std::int64_t Shape::operator[](int i) const {
  if (i < 0 || i >= rank_) fail("dim {} out of range for shape {} of rank {}", i, to_string(), rank_);
  return dims_[i];
}

std::int64_t Shape::numel() const {
  std::int64_t numel = 1;
  for (int i = 0; i < rank_; ++i) {
    if (__builtin_mul_overflow(numel, dims_[i], &numel)) {
      fail("shape {} has more than 2^63 elements", to_string());
    }
  }
  return numel;
}

std::string Shape::to_string() const { return fmt::format("[{}]", fmt::join(dims(), ", ")); }

bool Shape::operator==(const Shape& other) const {
  if (rank_ != other.rank_) return false;
  for (int i = 0; i < rank_; ++i) {
    if (dims_[i] != other.dims_[i]) return false;
  }
  return true;
}

// ------------------------------------------------------------------------------------------------
// Tensor: construction

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device, Layout layout) {
  check_layout(shape, layout, "Tensor::empty");
  const std::size_t nbytes = checked_nbytes(shape, dtype, "Tensor::empty");
  auto storage = std::make_shared<DeviceBuffer>(device, nbytes);
  Tensor t = Tensor::view(storage->data(), shape, dtype, device, layout);
  t.storage_ = std::move(storage);
  return t;
}

Tensor Tensor::view(void* data, const Shape& shape, DType dtype, Device device, Layout layout) {
  check_layout(shape, layout, "Tensor::view");
  const std::size_t nbytes = checked_nbytes(shape, dtype, "Tensor::view");
  if (data == nullptr && nbytes > 0) {
    fail("Tensor::view: null pointer for {} {} on {}", dtype_name(dtype), shape.to_string(), device.name());
  }
  if (reinterpret_cast<std::uintptr_t>(data) % dtype_size(dtype) != 0) {
    fail("Tensor::view: pointer {} is not aligned to the {}-byte {} elements", fmt::ptr(data),
         dtype_size(dtype), dtype_name(dtype));
  }
  Tensor t;
  t.base_ = static_cast<std::byte*>(data);
  t.shape_ = shape;
  t.numel_ = shape.numel();
  t.dtype_ = dtype;
  t.device_ = device;
  t.layout_ = layout;
  t.defined_ = true;
  return t;
}

Tensor Tensor::view(Arena& arena, const Shape& shape, DType dtype, std::string_view name, Layout layout) {
  check_layout(shape, layout, "Tensor::view");
  const std::size_t nbytes = checked_nbytes(shape, dtype, "Tensor::view");
  return view(arena.allocate(nbytes, name), shape, dtype, arena.device(), layout);
}

// ------------------------------------------------------------------------------------------------
// Tensor: views

Shape Tensor::strides() const {
  std::array<std::int64_t, Shape::max_rank> strides{};
  std::int64_t stride = 1;
  for (int i = shape_.rank() - 1; i >= 0; --i) {
    strides[static_cast<std::size_t>(i)] = stride;
    stride *= shape_[i];
  }
  return Shape(std::span<const std::int64_t>(strides.data(), static_cast<std::size_t>(shape_.rank())));
}

Tensor Tensor::slice(std::int64_t begin, std::int64_t end) const {
  check_defined("slice");
  if (rank() == 0) fail("Tensor::slice: cannot slice a scalar ({})", to_string());
  const std::int64_t rows = shape_[0];
  if (begin < 0 || end < begin || end > rows) {
    fail("Tensor::slice: rows [{}, {}) out of range for dim 0 of size {} in {}", begin, end, rows,
         to_string());
  }
  std::vector<std::int64_t> dims(shape_.dims().begin(), shape_.dims().end());
  dims[0] = 1;
  const std::int64_t row_elements = Shape(dims).numel();
  dims[0] = end - begin;
  Tensor t = *this;
  t.shape_ = Shape(dims);
  t.numel_ = t.shape_.numel();
  t.offset_ += static_cast<std::size_t>(begin * row_elements) * dtype_size(dtype_);
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_defined("reshape");
  const std::int64_t numel = shape.numel();
  if (numel != numel_) {
    fail("Tensor::reshape: cannot view {} ({} elements) as {} ({} elements)", to_string(), numel_,
         shape.to_string(), numel);
  }
  Tensor t = *this;
  t.shape_ = shape;
  if (shape.rank() != 4) t.layout_ = Layout::plain;
  return t;
}

Tensor Tensor::with_layout(Layout layout) const {
  check_defined("with_layout");
  check_layout(shape_, layout, "Tensor::with_layout");
  Tensor t = *this;
  t.layout_ = layout;
  return t;
}

// ------------------------------------------------------------------------------------------------
// Tensor: data movement

void Tensor::copy_from(const Tensor& src, Stream* stream) {
  check_defined("copy_from");
  src.check_defined("copy_from (source)");
  if (src.shape_ != shape_ || src.dtype_ != dtype_ || src.layout_ != layout_) {
    fail("Tensor::copy_from: source {} does not match destination {} (shape, dtype and layout must be equal)",
         src.to_string(), to_string());
  }
  if (src.data_raw() == data_raw() && src.device_ == device_) return;  // the same elements
  copy_bytes(data_raw(), device_, src.data_raw(), src.device_, nbytes(), stream);
}

Tensor Tensor::to(Device device, Stream* stream) const {
  check_defined("to");
  Tensor t = empty(shape_, dtype_, device, layout_);
  t.copy_from(*this, stream);
  return t;
}

void Tensor::fill_zero(Stream* stream) {
  check_defined("fill_zero");
  fill_bytes(data_raw(), device_, 0, nbytes(), stream);
}

std::string Tensor::to_string() const {
  if (!defined_) return "Tensor(undefined)";
  return fmt::format("Tensor({} {}, {}, {}{})", dtype_name(dtype_), shape_.to_string(), layout_name(layout_),
                     device_.name(), storage_ ? "" : ", view");
}

void Tensor::check_element_type(DType requested) const {
  check_defined("data");
  if (requested != dtype_) {
    fail("Tensor::data: requested {} elements from {}", dtype_name(requested), to_string());
  }
}

void Tensor::check_defined(std::string_view operation) const {
  if (!defined_) fail("Tensor::{} on an undefined tensor", operation);
}

}  // namespace deeper
