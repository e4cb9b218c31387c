// formats_interop_tool: deeper's npy/safetensors code behind a tiny command line, so that
// scripts/check-interop.py can compare it with numpy, the safetensors package and PyTorch.
//
//   formats_interop_tool generate <dir>   write gen_*.npy and gen.safetensors with known values
//   formats_interop_tool dump <file>      print what deeper reads (dtype, shape, data as hex) as JSON
//   formats_interop_tool copy <in> <out>  read with deeper's reader, write with deeper's writer
//
// Known values: element i of every generated array is value(i) below, cast to the dtype; the
// Python script computes the same numbers. Exit code 1 and one line on stderr on any error.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/npy.h"
#include "core/safetensors.h"

namespace {

using namespace deeper;
using namespace deeper::io;

// The value of element i: small integers and halves, exact in every floating type (bf16 included).
double value(std::int64_t i, DType dtype) {
  switch (dtype) {
    case DType::boolean:
      return i % 3 == 0 ? 1 : 0;
    case DType::u8:
      return static_cast<double>((i * 7) % 23);
    case DType::u16:
      return static_cast<double>((i * 1000) % 65536);
    case DType::i32:
    case DType::i64:
      return static_cast<double>((i * 7) % 23 - 11);
    default:
      return static_cast<double>((i * 7) % 23 - 11) + 0.5 * static_cast<double>(i % 2);
  }
}

// Float to IEEE half / bfloat16 bits, for the exactly representable values value() produces.
std::uint16_t to_half(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  const std::uint32_t sign = (x >> 16) & 0x8000;
  if ((x & 0x7FFFFFFF) == 0) return static_cast<std::uint16_t>(sign);
  const int exponent = static_cast<int>((x >> 23) & 0xFF) - 127 + 15;
  return static_cast<std::uint16_t>(sign | (static_cast<std::uint32_t>(exponent) << 10) |
                                    ((x >> 13) & 0x3FF));
}
std::uint16_t to_bf16(float f) {
  std::uint32_t x = 0;
  std::memcpy(&x, &f, 4);
  return static_cast<std::uint16_t>(x >> 16);
}

HostArray make(DType dtype, std::vector<std::int64_t> shape) {
  HostArray a;
  a.dtype = dtype;
  a.shape = std::move(shape);
  const std::int64_t n = a.numel();
  a.data.resize(static_cast<std::size_t>(n) * dtype_size(dtype));
  for (std::int64_t i = 0; i < n; ++i) {
    const double v = value(i, dtype);
    std::byte* p = a.data.data() + static_cast<std::size_t>(i) * dtype_size(dtype);
    const auto put = [p](auto x) { std::memcpy(p, &x, sizeof x); };
    switch (dtype) {
      case DType::f32:
        put(static_cast<float>(v));
        break;
      case DType::f64:
        put(v);
        break;
      case DType::f16:
        put(to_half(static_cast<float>(v)));
        break;
      case DType::bf16:
        put(to_bf16(static_cast<float>(v)));
        break;
      case DType::i32:
        put(static_cast<std::int32_t>(v));
        break;
      case DType::i64:
        put(static_cast<std::int64_t>(v));
        break;
      case DType::u8:
        put(static_cast<std::uint8_t>(v));
        break;
      case DType::u16:
        put(static_cast<std::uint16_t>(v));
        break;
      case DType::boolean:
        put(static_cast<std::uint8_t>(v));
        break;
    }
  }
  return a;
}

void generate(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (DType d :
       {DType::f32, DType::f64, DType::f16, DType::i32, DType::i64, DType::u8, DType::u16, DType::boolean}) {
    write_npy(dir / fmt::format("gen_{}_3x5.npy", dtype_name(d)), make(d, {3, 5}));
  }
  write_npy(dir / "gen_f32_scalar.npy", make(DType::f32, {}));
  write_npy(dir / "gen_f64_0x4.npy", make(DType::f64, {0, 4}));
  write_npy(dir / "gen_i64_2x3x4.npy", make(DType::i64, {2, 3, 4}));
  write_npy(dir / "gen_f32_7_v2.npy", make(DType::f32, {7}), 2);
  write_npy(dir / "gen_f32_7_v3.npy", make(DType::f32, {7}), 3);

  SafetensorsFile f;
  for (DType d : {DType::u8, DType::f32, DType::bf16, DType::f64, DType::f16, DType::i32, DType::i64,
                  DType::u16, DType::boolean}) {
    f.add(fmt::format("t_{}", dtype_name(d)), make(d, {3, 5}));
  }
  f.add("t_scalar", make(DType::f32, {}));
  f.add("t_empty", make(DType::f32, {0, 2}));
  f.metadata = {{"format", "pt"}, {"written_by", "deeper"}};
  write_safetensors(dir / "gen.safetensors", f);
}

std::string hex(const std::vector<std::byte>& data) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(data.size() * 2);
  for (std::byte b : data) {
    const auto v = std::to_integer<unsigned>(b);
    s.push_back(digits[v >> 4]);
    s.push_back(digits[v & 15]);
  }
  return s;
}

nlohmann::ordered_json describe(const HostArray& a) {
  return {{"dtype", std::string(dtype_name(a.dtype))}, {"shape", a.shape}, {"hex", hex(a.data)}};
}

bool is_npy(const std::filesystem::path& p) { return p.extension() == ".npy"; }

void dump(const std::filesystem::path& path) {
  nlohmann::ordered_json out;
  if (is_npy(path)) {
    out = describe(read_npy(path));
  } else {
    const auto f = read_safetensors(path);
    out["metadata"] = f.metadata;
    out["tensors"] = nlohmann::ordered_json::array();
    for (const auto& t : f.tensors) {
      auto d = describe(t.array);
      d["name"] = t.name;
      out["tensors"].push_back(d);
    }
  }
  std::cout << out.dump() << "\n";
}

void copy(const std::filesystem::path& in, const std::filesystem::path& out) {
  if (is_npy(in)) {
    write_npy(out, read_npy(in));
  } else {
    write_safetensors(out, read_safetensors(in));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() == 2 && args[0] == "generate") {
      generate(args[1]);
    } else if (args.size() == 2 && args[0] == "dump") {
      dump(args[1]);
    } else if (args.size() == 3 && args[0] == "copy") {
      copy(args[1], args[2]);
    } else {
      std::cerr << "usage: formats_interop_tool generate <dir> | dump <file> | copy <in> <out>\n";
      return 2;
    }
  } catch (const std::exception& e) {
    std::cerr << "formats_interop_tool: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
