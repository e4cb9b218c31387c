// Tensors: shapes, dtype-checked access, views (slice, reshape, layout), copies and their errors.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/runtime/arena.h"
#include "kernels/runtime/stream.h"
#include "kernels/runtime/tensor.h"
#include "tests/support/error_of.h"

#include <array>
#include <cstdint>
#include <numeric>
#include <vector>

namespace deeper {
namespace {

using test_util::error_of;

// A cpu f32 tensor holding 0, 1, 2, ...
Tensor iota_tensor(const Shape& shape, Device device = Device::cpu()) {
  Tensor t = Tensor::empty(shape, DType::f32, device);
  float* p = t.data<float>();
  std::iota(p, p + t.numel(), 0.0f);
  return t;
}

TEST(Shape, BasicsAndText) {
  const Shape s{2, 3, 4};
  EXPECT_EQ(s.rank(), 3);
  EXPECT_EQ(s[1], 3);
  EXPECT_EQ(s.numel(), 24);
  EXPECT_EQ(s.to_string(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
  EXPECT_EQ(Shape{}.to_string(), "[]");
  EXPECT_EQ((Shape{5, 0, 7}).numel(), 0);
  EXPECT_EQ(s, (Shape{2, 3, 4}));
  EXPECT_NE(s, (Shape{2, 3}));
  EXPECT_NE(error_of([&] { static_cast<void>(s[3]); }).find("dim 3 out of range for shape [2, 3, 4]"),
            std::string::npos);
}

TEST(Shape, RejectsNegativeDimsTooManyDimsAndOverflow) {
  EXPECT_EQ(error_of([] { Shape s{2, -3}; }), "negative dimension -3 (dim 1) in shape [2, -3]");
  EXPECT_NE(error_of([] { Shape s{1, 1, 1, 1, 1, 1, 1, 1, 1}; }).find("9 dims: at most 8"),
            std::string::npos);
  const Shape big{1 << 30, 1 << 30, 1 << 30};
  EXPECT_NE(error_of([&] { static_cast<void>(big.numel()); }).find("more than 2^63 elements"),
            std::string::npos);
}

TEST(Tensor, EmptyDescribesItself) {
  const Tensor t = Tensor::empty({2, 3, 4}, DType::bf16, Device::emu());
  EXPECT_TRUE(t.defined());
  EXPECT_TRUE(t.owns_storage());
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.nbytes(), 48u);
  EXPECT_EQ(t.rank(), 3);
  EXPECT_EQ(t.dim(2), 4);
  EXPECT_EQ(t.strides(), (Shape{12, 4, 1}));
  EXPECT_EQ(t.to_string(), "Tensor(bf16 [2, 3, 4], plain, emu)");
  EXPECT_EQ(Tensor().to_string(), "Tensor(undefined)");
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.data_raw()) % buffer_alignment, 0u);
}

TEST(Tensor, NbytesOverflowIsAnError) {
  // 2^62 elements fit in int64, their 2^65 bytes do not.
  const std::string message = error_of([] { Tensor::empty({std::int64_t{1} << 60, 4}, DType::f64); });
  EXPECT_EQ(message,
            "Tensor::empty: f64 [1152921504606846976, 4] has 4611686018427387904 elements, too many "
            "bytes to address");
  EXPECT_NE(error_of([] {
              Tensor::empty({std::int64_t{1} << 62, 4}, DType::u8);
            }).find("more than 2^63"),
            std::string::npos);
}

TEST(Tensor, NhwcNeedsFourDims) {
  EXPECT_EQ(Tensor::empty({2, 8, 8, 3}, DType::f32, Device::cpu(), Layout::nhwc).layout(), Layout::nhwc);
  EXPECT_EQ(error_of([] {
              Tensor::empty({8, 8, 3}, DType::f32, Device::cpu(), Layout::nhwc);
            }),
            "Tensor::empty: layout nhwc needs a 4-D shape [N, H, W, C], got [8, 8, 3]");
}

TEST(Tensor, DataChecksTheElementType) {
  Tensor t = Tensor::empty({4}, DType::i32);
  EXPECT_NE(t.data<std::int32_t>(), nullptr);
  EXPECT_EQ(error_of([&] { t.data<float>(); }),
            "Tensor::data: requested f32 elements from Tensor(i32 [4], plain, cpu)");
  EXPECT_NO_THROW(Tensor::empty({4}, DType::u16).data<std::uint16_t>());
  EXPECT_NO_THROW(Tensor::empty({4}, DType::u8).data<std::uint8_t>());
  EXPECT_NO_THROW(Tensor::empty({4}, DType::i64).data<std::int64_t>());
  EXPECT_NO_THROW(Tensor::empty({4}, DType::f64).data<double>());
  EXPECT_NE(Tensor::empty({4}, DType::f16).data_raw(), nullptr);
  EXPECT_NE(error_of([] { Tensor().data<float>(); }).find("undefined tensor"), std::string::npos);
}

TEST(Tensor, ViewOfExternalMemory) {
  std::array<double, 6> memory{1, 2, 3, 4, 5, 6};
  const Tensor t = Tensor::view(memory.data(), {2, 3}, DType::f64, Device::cpu());
  EXPECT_FALSE(t.owns_storage());
  EXPECT_EQ(t.data<double>()[4], 5.0);
  EXPECT_EQ(t.to_string(), "Tensor(f64 [2, 3], plain, cpu, view)");
  EXPECT_NE(error_of([] { Tensor::view(nullptr, {2}, DType::f32, Device::cpu()); }).find("null pointer"),
            std::string::npos);
  EXPECT_NO_THROW(Tensor::view(nullptr, {0, 3}, DType::f32, Device::cpu()));
  auto* misaligned = reinterpret_cast<std::byte*>(memory.data()) + 2;
  EXPECT_NE(error_of([&] { Tensor::view(misaligned, {2}, DType::f32, Device::cpu()); }).find("not aligned"),
            std::string::npos);
}

TEST(Tensor, ViewFromAnArena) {
  Arena arena(Device::emu(), 4096);
  const Tensor a = Tensor::view(arena, {10}, DType::f32, "a");
  const Tensor b = Tensor::view(arena, {2, 2, 2, 2}, DType::u8, "b", Layout::nhwc);
  EXPECT_EQ(a.data_raw(), arena.base());
  EXPECT_EQ(a.device(), Device::emu());
  EXPECT_EQ(b.layout(), Layout::nhwc);
  EXPECT_EQ(arena.used(), 512u);
  const std::string message = error_of([&] { Tensor::view(arena, {1024}, DType::f32, "too_big"); });
  EXPECT_NE(message.find("'too_big' (4 KiB, 4096 bytes)"), std::string::npos) << message;
}

TEST(Tensor, SliceSharesStorageAlongDimZero) {
  const Tensor t = iota_tensor({4, 3});
  const Tensor rows = t.slice(1, 3);
  EXPECT_EQ(rows.shape(), (Shape{2, 3}));
  EXPECT_EQ(rows.data<float>()[0], 3.0f);
  EXPECT_EQ(rows.data<float>()[5], 8.0f);
  rows.data<float>()[0] = -1.0f;
  EXPECT_EQ(t.data<float>()[3], -1.0f);
  EXPECT_EQ(t.slice(4, 4).numel(), 0);
  EXPECT_EQ(t.slice(1, 3).slice(1, 2).data<float>()[0], 6.0f);
  EXPECT_EQ(error_of([&] { t.slice(2, 5); }),
            "Tensor::slice: rows [2, 5) out of range for dim 0 of size 4 in Tensor(f32 [4, 3], plain, cpu)");
  EXPECT_THROW(t.slice(-1, 2), Error);
  EXPECT_THROW(t.slice(3, 2), Error);
  EXPECT_NE(error_of([] { Tensor::empty({}, DType::f32).slice(0, 1); }).find("scalar"), std::string::npos);
}

TEST(Tensor, ReshapeKeepsElementsAndChecksCount) {
  const Tensor t = Tensor::empty({2, 4, 4, 3}, DType::f32, Device::cpu(), Layout::nhwc);
  const Tensor flat = t.reshape({2, 48});
  EXPECT_EQ(flat.data_raw(), t.data_raw());
  EXPECT_EQ(flat.layout(), Layout::plain);
  EXPECT_EQ(t.reshape({2, 4, 2, 6}).layout(), Layout::nhwc);
  EXPECT_EQ(error_of([&] {
              t.reshape({5, 20});
            }),
            "Tensor::reshape: cannot view Tensor(f32 [2, 4, 4, 3], nhwc, cpu) (96 elements) as [5, 20] "
            "(100 elements)");
  EXPECT_EQ(flat.with_layout(Layout::plain).layout(), Layout::plain);
  EXPECT_THROW(flat.with_layout(Layout::nhwc), Error);
  EXPECT_EQ(flat.reshape({2, 4, 4, 3}).with_layout(Layout::nhwc).layout(), Layout::nhwc);
}

TEST(Tensor, CopyFromAndToBetweenHostBackends) {
  const Tensor src = iota_tensor({3, 5});
  Tensor dst = Tensor::empty({3, 5}, DType::f32, Device::emu());
  Stream stream(Device::emu());
  dst.copy_from(src, &stream);
  for (int i = 0; i < 15; ++i) ASSERT_EQ(dst.data<float>()[i], static_cast<float>(i));
  const Tensor back = dst.to(Device::cpu());
  EXPECT_EQ(back.device(), Device::cpu());
  EXPECT_NE(back.data_raw(), dst.data_raw());
  EXPECT_EQ(back.data<float>()[14], 14.0f);
  // Copying a slice into another tensor's slice.
  Tensor target = Tensor::empty({3, 5}, DType::f32);
  target.fill_zero();
  target.slice(2, 3).copy_from(src.slice(0, 1));
  EXPECT_EQ(target.data<float>()[10], 0.0f + 0.0f);
  EXPECT_EQ(target.data<float>()[14], 4.0f);
  EXPECT_EQ(target.data<float>()[9], 0.0f);
}

TEST(Tensor, CopyMismatchesAreClearErrors) {
  const Tensor src = iota_tensor({3, 5});
  Tensor wrong_shape = Tensor::empty({5, 3}, DType::f32);
  EXPECT_EQ(error_of([&] { wrong_shape.copy_from(src); }),
            "Tensor::copy_from: source Tensor(f32 [3, 5], plain, cpu) does not match destination "
            "Tensor(f32 [5, 3], plain, cpu) (shape, dtype and layout must be equal)");
  Tensor wrong_dtype = Tensor::empty({3, 5}, DType::f64);
  EXPECT_THROW(wrong_dtype.copy_from(src), Error);
  Tensor undefined;
  EXPECT_NE(error_of([&] { undefined.copy_from(src); }).find("undefined"), std::string::npos);
  EXPECT_NE(error_of([&] { wrong_dtype.copy_from(Tensor()); }).find("undefined"), std::string::npos);
}

TEST(Tensor, FillZero) {
  Tensor t = iota_tensor({7, 3}, Device::emu());
  t.slice(0, 6).fill_zero();
  for (int i = 0; i < 18; ++i) ASSERT_EQ(t.data<float>()[i], 0.0f);
  EXPECT_EQ(t.data<float>()[18], 18.0f);
}

TEST(Tensor, StorageOutlivesTheOriginalHandle) {
  Tensor view;
  {
    const Tensor owner = iota_tensor({100});
    view = owner.slice(90, 100);
  }
  EXPECT_EQ(view.data<float>()[9], 99.0f);  // the shared DeviceBuffer is still alive
}

TEST(Tensor, LayoutNames) {
  EXPECT_EQ(layout_name(Layout::plain), "plain");
  EXPECT_EQ(layout_name(Layout::nhwc), "nhwc");
}

}  // namespace
}  // namespace deeper
