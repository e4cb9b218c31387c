// safetensors: round trips for every dtype with metadata, the layout the format requires (padded
// header, aligned data, no holes), a clear error for each kind of bad input, and failed writes that
// keep the old file.
#include "core/safetensors.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "tests/formats/format_test_util.h"

namespace deeper::io {
namespace {

using test::TempDir;

// Hand-made safetensors bytes: length (or `length_override`), header text, data.
std::string st_bytes(const std::string& header, const std::string& data, std::uint64_t length_override = 0) {
  const std::uint64_t n = length_override != 0 ? length_override : header.size();
  std::string out(8, '\0');
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xFF);
  return out + header + data;
}

SafetensorsFile parse(const std::string& bytes) {
  return parse_safetensors(test::to_bytes(bytes), "m.safetensors");
}

std::vector<std::byte> random_bytes(std::size_t n, unsigned seed, bool boolean = false) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(boolean ? rng() & 1 : rng() & 0xFF);
  return v;
}

const std::vector<DType> kAllDtypes = {DType::u8,  DType::f32, DType::bf16, DType::f64,    DType::f16,
                                       DType::i32, DType::i64, DType::u16,  DType::boolean};

// One tensor per dtype, with odd sizes so that a careless layout would misalign the next one.
SafetensorsFile sample_file() {
  SafetensorsFile f;
  unsigned seed = 10;
  for (DType d : kAllDtypes) {
    HostArray a;
    a.dtype = d;
    a.shape = {3, static_cast<std::int64_t>(seed % 4 + 1)};
    a.data = random_bytes(static_cast<std::size_t>(a.numel()) * dtype_size(d), seed, d == DType::boolean);
    f.add(fmt::format("layer{}.{}", seed++, dtype_name(d)), std::move(a));
  }
  HostArray scalar;
  scalar.dtype = DType::f32;
  scalar.data = random_bytes(4, 99);
  f.add("scalar", std::move(scalar));
  HostArray empty;
  empty.dtype = DType::i64;
  empty.shape = {0, 5};
  f.add("empty", std::move(empty));
  f.metadata = {{"format", "pt"}, {"deeper.step", "1200"}, {"note", "unicode: \xc3\xa9\xe2\x88\x9e"}};
  return f;
}

void expect_same(const SafetensorsFile& a, const SafetensorsFile& b) {
  ASSERT_EQ(a.tensors.size(), b.tensors.size());
  for (std::size_t i = 0; i < a.tensors.size(); ++i) {
    SCOPED_TRACE(a.tensors[i].name);
    EXPECT_EQ(a.tensors[i].name, b.tensors[i].name);
    EXPECT_EQ(a.tensors[i].array.dtype, b.tensors[i].array.dtype);
    EXPECT_EQ(a.tensors[i].array.shape, b.tensors[i].array.shape);
    EXPECT_EQ(a.tensors[i].array.data, b.tensors[i].array.data);
  }
  EXPECT_EQ(a.metadata, b.metadata);
}

TEST(Safetensors, RoundTripsEveryDtypeAndTheMetadata) {
  TempDir dir;
  const SafetensorsFile f = sample_file();
  write_safetensors(dir / "m.safetensors", f);
  expect_same(read_safetensors(dir / "m.safetensors"), f);
  const auto bytes = encode_safetensors(f);
  EXPECT_EQ(test::to_string(bytes), test::read_raw(dir / "m.safetensors"));
  expect_same(parse_safetensors(bytes), f);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

TEST(Safetensors, LayoutIsPaddedAlignedAndDense) {
  const auto raw = test::to_string(encode_safetensors(sample_file()));
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{static_cast<unsigned char>(raw[i])} << (8 * i);
  EXPECT_EQ(n % 8, 0u);  // so that the data buffer starts 8-aligned
  const std::string header = raw.substr(8, n);
  EXPECT_EQ(header.front(), '{');
  const auto json = nlohmann::json::parse(header);  // trailing padding is spaces
  std::uint64_t total = 0;
  for (const auto& [name, v] : json.items()) {
    if (name == "__metadata__") {
      EXPECT_EQ(v["format"], "pt");
      continue;
    }
    const auto dtype = safetensors_dtype_from_name(v["dtype"].get<std::string>(), "test");
    const auto begin = v["data_offsets"][0].get<std::uint64_t>();
    EXPECT_EQ(begin % dtype_size(dtype), 0u) << name << " is misaligned";
    total += v["data_offsets"][1].get<std::uint64_t>() - begin;
  }
  EXPECT_EQ(raw.size(), 8 + n + total);
}

TEST(Safetensors, ViewsWriteWithoutCopyingAndEmptyFilesWork) {
  TempDir dir;
  const float w[4] = {1, 2, 3, 4};
  const std::vector<std::int64_t> shape = {2, 2};
  const SafetensorsView views[] = {{"w", DType::f32, shape, w}};
  write_safetensors(dir / "v.safetensors", views, {{"k", "v"}});
  const auto f = read_safetensors(dir / "v.safetensors");
  EXPECT_EQ(f.at("w").to_vector<float>(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(f.metadata.at("k"), "v");
  EXPECT_EQ(f.find("nope"), nullptr);
  EXPECT_ERROR(f.at("nope"), "no tensor named 'nope'");

  write_safetensors(dir / "e.safetensors", SafetensorsFile{});
  const auto e = read_safetensors(dir / "e.safetensors");
  EXPECT_TRUE(e.tensors.empty());
  EXPECT_TRUE(e.metadata.empty());
}

TEST(Safetensors, AcceptsWhatOtherWritersProduce) {
  // Python-style: metadata first, spaces after the JSON, tensors listed out of data order.
  const std::string header =
      R"({"__metadata__":{"format":"np"},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]},)"
      R"("a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}      )";
  const auto f = parse(st_bytes(header, std::string("\0\0\x80\x3f\x05\x06", 6)));
  ASSERT_EQ(f.tensors.size(), 2u);
  EXPECT_EQ(f.tensors[0].name, "b");  // header order is kept
  EXPECT_EQ(f.at("a").to_vector<float>(), std::vector<float>{1.0f});
  EXPECT_EQ(f.at("b").to_vector<std::uint8_t>(), (std::vector<std::uint8_t>{5, 6}));
  EXPECT_EQ(f.metadata.at("format"), "np");
  // Zero-sized tensors take no bytes, anywhere.
  const auto z = parse(st_bytes(R"({"z":{"dtype":"F64","shape":[0],"data_offsets":[0,0]}})", ""));
  EXPECT_EQ(z.at("z").numel(), 0);
}

TEST(Safetensors, RejectsBadHeaderLengths) {
  const std::string h = R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})";
  EXPECT_ERROR(parse(""), "m.safetensors': truncated: 0 bytes is too short");
  EXPECT_ERROR(parse("1234567"), "7 bytes is too short for the 8-byte header length");
  EXPECT_ERROR(
      parse(st_bytes(h, "x", h.size() + 2)),
      fmt::format("header length {} is larger than the {} bytes that follow it", h.size() + 2, h.size() + 1));
  EXPECT_ERROR(parse(st_bytes(h, "x", 100'000'001)), "header length 100000001 exceeds the 100 MB limit");
  EXPECT_ERROR(parse(st_bytes(h, "x", ~std::uint64_t{0})), "exceeds the 100 MB limit");
  EXPECT_ERROR(parse(st_bytes("{", "")), "too small for a JSON object");
}

TEST(Safetensors, RejectsInvalidJson) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]})", "not valid JSON"},
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}} x)", "not valid JSON"},
      {"{\"a\xff\":1}", "not valid JSON"},
      {R"([{"dtype":"U8"}])", "does not start with '{'"},
      {R"( {"a":1})", "does not start with '{'"},
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
       "duplicate key 'a'"},
      {R"({"a":{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}})", "duplicate key 'dtype'"},
      {R"({"a":[1]})", "tensor 'a' is not a JSON object"},
      {R"({"a":{"shape":[1],"data_offsets":[0,1]}})", "tensor 'a' has no 'dtype'"},
      {R"({"a":{"dtype":"U8","data_offsets":[0,1]}})", "tensor 'a' has no 'shape'"},
      {R"({"a":{"dtype":"U8","shape":[1]}})", "tensor 'a' has no 'data_offsets'"},
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"extra":0}})", "unexpected key 'extra'"},
      {R"({"a":{"dtype":8,"shape":[1],"data_offsets":[0,1]}})", "dtype must be a string"},
      {R"({"a":{"dtype":"U8","shape":1,"data_offsets":[0,1]}})", "shape must be an array"},
      {R"({"a":{"dtype":"U8","shape":[1.0],"data_offsets":[0,1]}})", "shape must hold integers"},
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1,2]}})",
       "data_offsets must be an array [begin, end]"},
      {R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,"1"]}})", "data_offsets must hold integers"},
      {R"({"__metadata__":{"a":1},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
       "__metadata__ value for 'a' is not a string"},
      {R"({"__metadata__":"x","a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})",
       "__metadata__ must be an object"},
  };
  for (const auto& [header, expected] : cases) {
    SCOPED_TRACE(header);
    const auto bytes = st_bytes(header, "x");
    const std::string msg = test::error_message([&] { parse(bytes); });
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("safetensors file 'm.safetensors': ", 0), 0u) << msg;
  }
}

TEST(Safetensors, RejectsUnknownDtypes) {
  for (const char* dtype : {"I8", "U32", "F8_E4M3", "f32", "C64", ""}) {
    SCOPED_TRACE(dtype);
    const auto bytes =
        st_bytes(fmt::format(R"({{"a":{{"dtype":"{}","shape":[1],"data_offsets":[0,1]}}}})", dtype), "x");
    EXPECT_ERROR(parse(bytes), fmt::format("tensor 'a': unsupported dtype '{}'", dtype));
  }
}

TEST(Safetensors, RejectsShapesThatDisagreeWithOffsets) {
  EXPECT_ERROR(
      parse(st_bytes(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", std::string(8, '\0'))),
      "tensor 'a': data_offsets [0, 8] span 8 bytes but shape (3,) of F32 needs 12");
  EXPECT_ERROR(parse(st_bytes(R"({"a":{"dtype":"U8","shape":[2],"data_offsets":[2,0]}})", "xx")),
               "data_offsets [2, 0] end before they begin");
  EXPECT_ERROR(parse(st_bytes(R"({"a":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}})", "xx")),
               "shape holds a negative value -2");
  EXPECT_ERROR(
      parse(st_bytes(R"({"a":{"dtype":"U8","shape":[1048577,1048576],"data_offsets":[0,2]}})", "xx")),
      "is absurd: more than 2^40 elements");
  EXPECT_ERROR(
      parse(st_bytes(R"({"a":{"dtype":"U8","shape":[18446744073709551615],"data_offsets":[0,2]}})", "xx")),
      "shape dimension 18446744073709551615 is absurd");
  EXPECT_ERROR(
      parse(st_bytes(R"({"a":{"dtype":"U8","shape":[4294967296,4294967296,0],"data_offsets":[0,0]}})", "")),
      "is absurd");
}

TEST(Safetensors, RejectsOverlapsHolesAndOutOfRangeOffsets) {
  const auto two = [](int a0, int a1, int b0, int b1) {
    return fmt::format(R"({{"a":{{"dtype":"U8","shape":[{}],"data_offsets":[{},{}]}},)"
                       R"("b":{{"dtype":"U8","shape":[{}],"data_offsets":[{},{}]}}}})",
                       a1 - a0, a0, a1, b1 - b0, b0, b1);
  };
  EXPECT_ERROR(parse(st_bytes(two(0, 4, 2, 6), "abcdef")), "tensors 'a' and 'b' overlap");
  EXPECT_ERROR(parse(st_bytes(two(0, 4, 0, 4), "abcd")), "overlap");
  EXPECT_ERROR(parse(st_bytes(two(0, 2, 3, 5), "abcde")),
               "hole in the data buffer: bytes [2, 3) belong to no tensor");
  EXPECT_ERROR(parse(st_bytes(two(1, 3, 3, 5), "abcde")), "hole in the data buffer: bytes [0, 1)");
  EXPECT_ERROR(parse(st_bytes(two(0, 2, 2, 4), "abcdefg")), "bytes [4, 7) at the end belong to no tensor");
  EXPECT_ERROR(parse(st_bytes(two(0, 2, 2, 9), "abcde")),
               "tensor 'b': data_offsets [2, 9] run past the end of the 5-byte data buffer");
  EXPECT_ERROR(parse(st_bytes(R"({"a":{"dtype":"U8","shape":[0],"data_offsets":[9,9]}})", "")),
               "run past the end");
  EXPECT_ERROR(parse(st_bytes("{}", "abc")), "bytes [0, 3) at the end belong to no tensor");
}

TEST(Safetensors, FileErrorsNameTheFile) {
  TempDir dir;
  EXPECT_ERROR(read_safetensors(dir / "none.safetensors"), "none.safetensors': no such file");
  test::write_raw(
      dir / "cut.safetensors",
      st_bytes(R"({"a":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", std::string(9, '\0')));
  EXPECT_ERROR(read_safetensors(dir / "cut.safetensors"),
               fmt::format("safetensors file '{}': tensor 'a': data_offsets [0, 16] run past the end",
                           (dir / "cut.safetensors").string()));
  test::write_raw(dir / "short.safetensors", std::string("\x10\0\0\0", 4));
  EXPECT_ERROR(read_safetensors(dir / "short.safetensors"), "short.safetensors': truncated");
}

TEST(Safetensors, WriterRejectsBadInputAndFailedWritesKeepTheExistingFile) {
  TempDir dir;
  const auto path = dir / "m.safetensors";
  write_safetensors(path, sample_file());
  const std::string before = test::read_raw(path);

  const float w[2] = {1, 2};
  const std::vector<std::int64_t> shape = {2};
  const SafetensorsView dup[] = {{"w", DType::f32, shape, w}, {"w", DType::f32, shape, w}};
  EXPECT_ERROR(write_safetensors(path, dup), "two tensors are named 'w'");
  const SafetensorsView reserved[] = {{"__metadata__", DType::f32, shape, w}};
  EXPECT_ERROR(write_safetensors(path, reserved), "'__metadata__' is reserved");
  const SafetensorsView ok[] = {{"w", DType::f32, shape, w}};
  EXPECT_ERROR(write_safetensors(path, ok, {{"bad", "\xff\xfe"}}), "must be valid UTF-8");
  SafetensorsFile lying;
  HostArray a;
  a.dtype = DType::f32;
  a.shape = {3};
  a.data.resize(8);
  lying.add("a", std::move(a));
  EXPECT_ERROR(write_safetensors(path, lying), "8 data bytes do not match shape (3,) of f32 (12 bytes)");

  const std::vector<float> big(200000, 1.0f);
  const std::vector<std::int64_t> big_shape = {200000};
  const SafetensorsView large[] = {{"big", DType::f32, big_shape, big.data()}};
  {
    test::FileSizeLimit limit(16384);
    EXPECT_ERROR(write_safetensors(path, large), "m.safetensors': write failed");
  }
  EXPECT_EQ(test::read_raw(path), before);
  expect_same(read_safetensors(path), sample_file());
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"m.safetensors"});
}

}  // namespace
}  // namespace deeper::io
