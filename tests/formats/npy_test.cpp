// .npy: round trips for every dtype and format version (file and memory), the header layout numpy
// expects, and a clear error for each kind of bad input; failed writes keep the old file.
#include "core/npy.h"

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>
#include <random>

#include "tests/formats/format_test_util.h"

namespace deeper::io {
namespace {

using test::TempDir;

// Hand-made .npy bytes: magic, version, header length, `dict` padded (or not) to 64, then `data`.
std::string npy_bytes(int version, const std::string& dict, const std::string& data, bool pad = true) {
  const std::size_t prelude = version == 1 ? 10 : 12;
  std::string header = dict;
  if (pad) {
    while ((prelude + header.size() + 1) % 64 != 0) header.push_back(' ');
    header.push_back('\n');
  }
  std::string out = "\x93NUMPY";
  out.push_back(static_cast<char>(version));
  out.push_back('\0');
  for (std::size_t i = 0; i < prelude - 8; ++i)
    out.push_back(static_cast<char>((header.size() >> (8 * i)) & 0xFF));
  return out + header + data;
}

std::string f32_data(std::initializer_list<float> values) {
  std::string s(values.size() * 4, '\0');
  std::memcpy(s.data(), std::data(values), s.size());
  return s;
}

HostArray parse(const std::string& bytes) { return parse_npy(test::to_bytes(bytes), "test.npy"); }

// Random bytes that are valid values of `dtype` (bool: 0 or 1).
std::vector<std::byte> random_data(DType dtype, std::int64_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> data(static_cast<std::size_t>(n) * dtype_size(dtype));
  for (auto& b : data) b = static_cast<std::byte>(dtype == DType::boolean ? rng() & 1 : rng() & 0xFF);
  return data;
}

const std::vector<DType> kNpyDtypes = {DType::f32, DType::f64, DType::f16, DType::i32,
                                       DType::i64, DType::u8,  DType::u16, DType::boolean};
const std::vector<std::vector<std::int64_t>> kShapes = {{}, {7}, {2, 3, 5}, {0, 3}, {1, 1, 4, 1}};

TEST(Npy, RoundTripsEveryDtypeVersionAndShapeThroughFiles) {
  TempDir dir;
  unsigned seed = 1;
  for (DType dtype : kNpyDtypes) {
    for (int version : {0, 1, 2, 3}) {
      for (const auto& shape : kShapes) {
        SCOPED_TRACE(fmt::format("{} v{} {}", dtype_name(dtype), version, shape_string(shape)));
        const auto n = checked_element_count(shape, "test");
        const auto data = random_data(dtype, n, seed++);
        write_npy(dir / "a.npy", data.data(), dtype, shape, version);
        const HostArray a = read_npy(dir / "a.npy");
        EXPECT_EQ(a.dtype, dtype);
        EXPECT_EQ(a.shape, shape);
        EXPECT_EQ(a.data, data);
        EXPECT_EQ(a.numel(), n);
        // The memory path reads the same bytes to the same array.
        const auto bytes = encode_npy(data.data(), dtype, shape, version);
        EXPECT_EQ(test::to_string(bytes), test::read_raw(dir / "a.npy"));
        const HostArray b = parse_npy(bytes);
        EXPECT_EQ(b.shape, shape);
        EXPECT_EQ(b.data, data);
      }
    }
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});
}

TEST(Npy, HeaderIsWhatNumpyWrites) {
  const float v[6] = {1, 2, 3, 4, 5, 6};
  const std::vector<std::int64_t> shape = {2, 3};
  const std::string bytes = test::to_string(encode_npy(v, DType::f32, shape));
  ASSERT_GE(bytes.size(), 64u + 24u);
  EXPECT_EQ(bytes.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));  // version 1.0 by default
  const std::size_t header_len =
      static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
  const std::size_t data_offset = 10 + header_len;
  EXPECT_EQ(data_offset % 64, 0u);  // numpy aligns the data to 64 bytes
  const std::string header = bytes.substr(10, header_len);
  EXPECT_EQ(header.rfind("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0), 0u) << header;
  EXPECT_EQ(header.back(), '\n');
  EXPECT_EQ(bytes.size(), data_offset + sizeof v);
  EXPECT_EQ(std::memcmp(bytes.data() + data_offset, v, sizeof v), 0);

  // 1-d shapes use Python's one-element tuple; u8 and bool have no byte order.
  const std::uint8_t u[3] = {1, 2, 3};
  const std::vector<std::int64_t> one = {3};
  EXPECT_NE(test::to_string(encode_npy(u, DType::u8, one))
                .find("'descr': '|u1', 'fortran_order': False, 'shape': (3,)"),
            std::string::npos);
  EXPECT_NE(test::to_string(encode_npy(u, DType::boolean, one)).find("'|b1'"), std::string::npos);
}

TEST(Npy, WriterChoosesVersion2OnlyWhenTheHeaderNeedsIt) {
  TempDir dir;
  const std::vector<std::int64_t> many(30000, 1);  // a 90 kB header: too long for 1.0's 16-bit length
  const double value = 2.5;
  write_npy(dir / "v2.npy", &value, DType::f64, many);
  const std::string raw = test::read_raw(dir / "v2.npy");
  EXPECT_EQ(raw[6], '\x02');
  EXPECT_EQ((12 + (static_cast<unsigned char>(raw[8]) | static_cast<unsigned char>(raw[9]) << 8 |
                   static_cast<unsigned char>(raw[10]) << 16)) %
                64,
            0u);
  const HostArray a = read_npy(dir / "v2.npy");
  EXPECT_EQ(a.shape, many);
  EXPECT_EQ(a.to_vector<double>(), std::vector<double>{2.5});
  EXPECT_ERROR(encode_npy(&value, DType::f64, many, 1), "too long for format version 1.0");
}

TEST(Npy, ReadsHeadersInEveryFormNumpyHasWritten) {
  const std::string d = f32_data({1.5f, -2.0f});
  // Double quotes, no trailing comma, other key order, no padding, Python 2 long suffix.
  for (const std::string& dict :
       {std::string("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}"),
        std::string("{'shape': (2L,), 'fortran_order': False, 'descr': '<f4', }"),
        std::string("{'descr':'<f4','fortran_order':False,'shape':(1, 2)}\n")}) {
    SCOPED_TRACE(dict);
    const HostArray a = parse(npy_bytes(1, dict, d, /*pad=*/false));
    EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  }
  for (int version : {1, 2, 3}) {
    const HostArray a =
        parse(npy_bytes(version, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", d));
    EXPECT_EQ(a.to_vector<float>(), (std::vector<float>{1.5f, -2.0f}));
  }
  // Single-byte types may carry any byte-order mark.
  for (const char* descr : {"|u1", "<u1", "=u1", "|b1", "<b1"}) {
    const HostArray a =
        parse(npy_bytes(1, fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (1,), }}", descr),
                        std::string(1, '\1')));
    EXPECT_EQ(a.data.size(), 1u);
  }
}

TEST(Npy, RejectsFortranOrderBigEndianAndUnsupportedDtypes) {
  const std::string d = f32_data({1, 2, 3, 4});
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", d)),
               "npy file 'test.npy': Fortran-order (column-major) arrays are not supported");
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (4,), }", d)),
               "big-endian data ('>f4') is not supported");
  for (const char* descr : {"<c8", "<u4", "|i1", "|O", "<U3", "<M8[ns]", "", "f4", "|f4"}) {
    SCOPED_TRACE(descr);
    const auto bytes =
        npy_bytes(1, fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': (4,), }}", descr), d);
    const std::string msg = test::error_message([&] { parse(bytes); });
    EXPECT_TRUE(msg.find("unsupported dtype") != std::string::npos ||
                msg.find("no little-endian") != std::string::npos)
        << msg;
  }
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (4,), }", d)),
               "structured dtypes");
}

TEST(Npy, RejectsTruncatedFiles) {
  const std::string good =
      npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }", f32_data({1, 2, 3, 4}));
  EXPECT_ERROR(parse(""), "the file is empty");
  EXPECT_ERROR(parse(good.substr(0, 4)), "not an .npy file");
  EXPECT_ERROR(parse(good.substr(0, 7)), "truncated");
  EXPECT_ERROR(parse(good.substr(0, 9)), "truncated: the file ends inside the header length");
  EXPECT_ERROR(parse(good.substr(0, 40)), "truncated: the header declares 118 bytes");
  EXPECT_ERROR(parse(good.substr(0, good.size() - 1)),
               "truncated: shape (4,) of f32 needs 16 data bytes but only 15 follow the header");
}

TEST(Npy, RejectsAHeaderThatDisagreesWithTheData) {
  const std::string d = f32_data({1, 2, 3, 4});
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", d)),
               "the header does not match the data: shape (3,) of f32 needs 12 data bytes but 16 follow");
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4,), }", d)),
               "needs 32 data bytes but only 16");
}

TEST(Npy, RejectsBadDictSyntax) {
  const std::string d = f32_data({1, 2});
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"'descr': '<f4', 'fortran_order': False, 'shape': (2,)", "expected the header to start with '{'"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (2,), }", "expected ':' after key 'descr'"},
      {"{'descr': '<f4, 'fortran_order': False, 'shape': (2,), }", "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), ", "expected a quoted key or '}'"},
      {"{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", "expected ',' or '}' after a value"},
      {"{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}",
       "expected a string, True, False or a tuple"},
      {"{'descr': '<f4', 'fortran_order': Falsey, 'shape': (2,)}",
       "expected a string, True, False or a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", "'(2)' is an integer, not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [2]}", "lists are not supported"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2 2)}", "expected ',' or ')' in shape tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,, )}", "expected an integer in shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,}", "expected an integer in shape"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x", "unexpected text after the closing '}'"},
      {"{'descr': 'a\\'b', 'fortran_order': False, 'shape': (2,)}", "escape sequences"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}", "expected a string, True"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': True}", "unexpected key 'extra'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", "duplicate key 'descr'"},
      {std::string("{'descr': '<f4',") + '\0' + " 'fortran_order': False, 'shape': (2,)}", "NUL byte"},
      {"{'descr': '<f4', 'fortran_order': 'False', 'shape': (2,)}", "'fortran_order' must be True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': 'x'}", "'shape' must be a tuple"},
      {"{'descr': True, 'fortran_order': False, 'shape': (2,)}", "'descr' must be a dtype string"},
  };
  for (const auto& [dict, expected] : cases) {
    SCOPED_TRACE(dict);
    const auto bytes = npy_bytes(1, dict, d);
    const std::string msg = test::error_message([&] { parse(bytes); });
    EXPECT_NE(msg.find(expected), std::string::npos) << msg;
    EXPECT_EQ(msg.rfind("npy file 'test.npy': ", 0), 0u) << msg;
  }
}

TEST(Npy, RejectsMissingKeys) {
  const std::string d = f32_data({1, 2});
  EXPECT_ERROR(parse(npy_bytes(1, "{'fortran_order': False, 'shape': (2,), }", d)),
               "header has no 'descr' key");
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '<f4', 'shape': (2,), }", d)),
               "header has no 'fortran_order' key");
  EXPECT_ERROR(parse(npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, }", d)),
               "header has no 'shape' key");
  EXPECT_ERROR(parse(npy_bytes(1, "{}", d)), "header has no 'descr' key");
}

TEST(Npy, RejectsAbsurdShapes) {
  const auto with_shape = [](const std::string& shape) {
    return npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': " + shape + ", }", f32_data({1}));
  };
  EXPECT_ERROR(parse(with_shape("(4294967296, 4294967296)")),
               "is absurd: more than 2^40 elements");                                          // overflows
  EXPECT_ERROR(parse(with_shape("(2097152, 524289)")), "is absurd: more than 2^40 elements");  // 2^40 + 2^21
  EXPECT_ERROR(parse(with_shape("(1099511627777,)")), "is absurd");
  EXPECT_ERROR(parse(with_shape("(0, 2199023255552)")), "is absurd");  // empty, but a nonsense dimension
  EXPECT_ERROR(parse(with_shape("(99999999999999999999,)")), "dimension does not fit in 64 bits");
  EXPECT_ERROR(parse(with_shape("(3, -1)")), "negative dimension");
  // 2^40 elements is allowed by the shape check and then fails on the data size, not on memory.
  EXPECT_ERROR(parse(with_shape("(1048576, 1048576)")), "needs 4398046511104 data bytes but only 4");
}

TEST(Npy, RejectsBadMagicAndVersions) {
  const std::string good =
      npy_bytes(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", f32_data({1}));
  std::string bad = good;
  bad[1] = 'n';
  EXPECT_ERROR(parse(bad), "not an .npy file");
  bad = good;
  bad[6] = 4;
  EXPECT_ERROR(parse(bad), "unsupported .npy format version 4.0");
  bad = good;
  bad[7] = 1;
  EXPECT_ERROR(parse(bad), "unsupported .npy format version 1.1");
  bad = good;
  bad[8] = 0;
  bad[9] = 0;
  EXPECT_ERROR(parse(bad), "the header is empty");
  EXPECT_ERROR(parse(std::string(100, 'x')), "not an .npy file");
}

TEST(Npy, FileErrorsNameTheFile) {
  TempDir dir;
  EXPECT_ERROR(read_npy(dir / "missing.npy"), "missing.npy': no such file");
  EXPECT_ERROR(read_npy(dir.path()), "not a regular file");
  test::write_raw(dir / "short.npy",
                  npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", "12345678"));
  EXPECT_ERROR(read_npy(dir / "short.npy"),
               fmt::format("npy file '{}': truncated", (dir / "short.npy").string()));
  test::write_raw(dir / "lies.npy",
                  npy_bytes(2, "{'descr': '<i4', 'fortran_order': False, 'shape': (1,), }", "12345678"));
  EXPECT_ERROR(read_npy(dir / "lies.npy"), "lies.npy': the header does not match the data");
  test::write_raw(dir / "f.npy",
                  npy_bytes(3, "{'descr': '<i4', 'fortran_order': True, 'shape': (2,), }", "12345678"));
  EXPECT_ERROR(read_npy(dir / "f.npy"), "f.npy': Fortran-order");
  test::write_raw(
      dir / "huge.npy",
      npy_bytes(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (1099511627776, 2), }", ""));
  EXPECT_ERROR(read_npy(dir / "huge.npy"), "huge.npy': shape (1099511627776, 2) is absurd");
}

TEST(Npy, FailedWritesKeepTheExistingFile) {
  TempDir dir;
  const std::vector<float> old = {1, 2, 3};
  const std::vector<std::int64_t> shape3 = {3};
  write_npy<float>(dir / "a.npy", old, shape3);
  const std::string before = test::read_raw(dir / "a.npy");

  // Rejected before writing: a dtype numpy lacks, a shape that does not match the data.
  const std::uint16_t bf16[3] = {0, 0, 0};
  EXPECT_ERROR(write_npy(dir / "a.npy", bf16, DType::bf16, shape3),
               "dtype bf16 cannot be stored in an .npy file");
  const std::vector<std::int64_t> shape4 = {4};
  EXPECT_ERROR(write_npy<float>(dir / "a.npy", old, shape4), "shape (4,) needs 4 elements but 3 were given");
  const std::vector<std::int64_t> bad = {-2};
  EXPECT_ERROR(write_npy(dir / "a.npy", old.data(), DType::f32, bad), "negative dimension");

  // Failing half-way through the data (the file size limit plays a full disk).
  const std::vector<double> big(100000, 1.0);
  const std::vector<std::int64_t> big_shape = {100000};
  {
    test::FileSizeLimit limit(8192);
    EXPECT_ERROR(write_npy<double>(dir / "a.npy", big, big_shape), "a.npy': write failed");
  }
  EXPECT_EQ(test::read_raw(dir / "a.npy"), before);
  EXPECT_EQ(read_npy(dir / "a.npy").to_vector<float>(), old);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.npy"});
}

TEST(Npy, ToVectorChecksTheElementType) {
  const std::int32_t v[2] = {7, -8};
  const std::vector<std::int64_t> shape = {2};
  const HostArray a = parse_npy(encode_npy(v, DType::i32, shape));
  EXPECT_EQ(a.to_vector<std::int32_t>(), (std::vector<std::int32_t>{7, -8}));
  EXPECT_ERROR(a.to_vector<float>(), "array holds i32, not f32");
}

}  // namespace
}  // namespace deeper::io
