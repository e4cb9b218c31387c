// .npy reader (file and memory) and writer: prelude, a strict parser for the Python-literal header
// dict, dtype mapping, size checks, and the encoder with 64-byte header alignment.
#include "core/npy.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <limits>
#include <optional>

#include "core/atomic_file.h"

namespace deeper::io {
namespace {

constexpr std::array<unsigned char, 6> kMagic = {0x93, 'N', 'U', 'M', 'P', 'Y'};
constexpr std::size_t kMaxHeaderBytes = std::size_t{16} << 20;  // far above any real header
constexpr std::size_t kAlign = 64;                              // numpy aligns the data to 64 bytes

std::string npy_what(std::string_view name) { return fmt::format("npy file '{}'", name); }

// --- dtype descriptors ---------------------------------------------------------------------------

struct Descr {
  DType dtype;
  std::string_view code;  // type character and size, without the byte-order character
};
constexpr std::array<Descr, 8> kDescrs = {{{DType::f32, "f4"},
                                           {DType::f64, "f8"},
                                           {DType::f16, "f2"},
                                           {DType::i32, "i4"},
                                           {DType::i64, "i8"},
                                           {DType::u8, "u1"},
                                           {DType::u16, "u2"},
                                           {DType::boolean, "b1"}}};

std::string descr_of(DType dtype, const std::string& what) {
  for (const auto& d : kDescrs) {
    if (d.dtype == dtype) return fmt::format("{}{}", dtype_size(dtype) == 1 ? '|' : '<', d.code);
  }
  fail("{}: dtype {} cannot be stored in an .npy file (numpy has no such type)", what, dtype_name(dtype));
}

DType dtype_from_descr(const std::string& descr, const std::string& what) {
  if (descr.size() >= 2) {
    const char order = descr[0];
    const std::string_view code = std::string_view(descr).substr(1);
    for (const auto& d : kDescrs) {
      if (d.code != code) continue;
      const bool single_byte = dtype_size(d.dtype) == 1;
      if (order == '<' || (single_byte && (order == '|' || order == '>' || order == '='))) {
        return d.dtype;
      }
      if (order == '>') {
        fail(
            "{}: big-endian data ('{}') is not supported; save it little-endian "
            "(arr.astype('<{}'))",
            what, descr, code);
      }
      fail("{}: dtype '{}' has no little-endian byte order mark", what, descr);
    }
  }
  fail("{}: unsupported dtype '{}' (supported: <f4 <f8 <f2 <i4 <i8 |u1 <u2 |b1)", what, descr);
}

// --- header dict parser --------------------------------------------------------------------------
// The header is a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
// This parser accepts exactly the literal forms numpy writes: quoted strings, True/False and tuples
// of non-negative integers (with the optional Python 2 'L' suffix).

struct Value {
  enum class Kind { string, boolean, tuple } kind = Kind::string;
  std::string text;
  bool flag = false;
  std::vector<std::int64_t> items;
};

class HeaderParser {
 public:
  HeaderParser(std::string_view text, const std::string& what) : s_(text), what_(what) {}

  struct Result {
    std::optional<Value> descr, fortran_order, shape;
  };

  Result parse() {
    Result r;
    skip_ws();
    expect('{', "the header to start with '{'");
    skip_ws();
    while (peek() != '}') {
      const std::size_t key_pos = pos_;
      if (peek() != '\'' && peek() != '"') error(key_pos, "expected a quoted key or '}'");
      const std::string key = parse_string();
      skip_ws();
      expect(':', fmt::format("':' after key '{}'", key));
      skip_ws();
      Value v = parse_value();
      std::optional<Value>* slot = key == "descr"           ? &r.descr
                                   : key == "fortran_order" ? &r.fortran_order
                                   : key == "shape"         ? &r.shape
                                                            : nullptr;
      if (slot == nullptr) error(key_pos, fmt::format("unexpected key '{}'", key));
      if (slot->has_value()) error(key_pos, fmt::format("duplicate key '{}'", key));
      *slot = std::move(v);
      skip_ws();
      if (peek() == ',') {
        ++pos_;
        skip_ws();
      } else if (peek() != '}') {
        error(pos_, "expected ',' or '}' after a value");
      }
    }
    ++pos_;  // '}'
    skip_ws();
    if (pos_ != s_.size()) error(pos_, "unexpected text after the closing '}'");
    return r;
  }

 private:
  char peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  void skip_ws() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }
  [[noreturn]] void error(std::size_t at, const std::string& message) const {
    fail("{}: malformed header at byte {}: {}", what_, at, message);
  }
  void expect(char c, const std::string& what) {
    if (peek() != c) error(pos_, fmt::format("expected {}", what));
    ++pos_;
  }

  std::string parse_string() {
    const char quote = s_[pos_++];
    const std::size_t start = pos_;
    while (pos_ < s_.size() && s_[pos_] != quote) {
      if (s_[pos_] == '\\') error(pos_, "escape sequences in strings are not supported");
      if (s_[pos_] == '\n') error(pos_, "unterminated string");
      ++pos_;
    }
    if (pos_ >= s_.size()) error(start - 1, "unterminated string");
    return std::string(s_.substr(start, pos_++ - start));
  }

  bool match_word(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    const std::size_t end = pos_ + word.size();
    if (end < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[end])) || s_[end] == '_'))
      return false;
    pos_ = end;
    return true;
  }

  std::int64_t parse_int() {
    const std::size_t start = pos_;
    if (peek() == '-') error(start, "negative dimension in shape");
    if (!std::isdigit(static_cast<unsigned char>(peek()))) error(start, "expected an integer in shape");
    std::int64_t v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) {
      const int digit = peek() - '0';
      if (v > (std::numeric_limits<std::int64_t>::max() - digit) / 10) {
        error(start, "dimension does not fit in 64 bits");
      }
      v = v * 10 + digit;
      ++pos_;
    }
    if (peek() == 'L' || peek() == 'l') ++pos_;  // Python 2 long suffix
    return v;
  }

  Value parse_tuple() {
    const std::size_t start = pos_++;  // '('
    Value v;
    v.kind = Value::Kind::tuple;
    bool saw_comma = false;
    skip_ws();
    while (peek() != ')') {
      if (pos_ >= s_.size()) error(start, "unterminated tuple");
      v.items.push_back(parse_int());
      skip_ws();
      if (peek() == ',') {
        saw_comma = true;
        ++pos_;
        skip_ws();
      } else if (peek() != ')') {
        error(pos_, "expected ',' or ')' in shape tuple");
      }
    }
    ++pos_;
    if (v.items.size() == 1 && !saw_comma) {
      error(start, fmt::format("'({})' is an integer, not a tuple (a 1-d shape is written ({},))", v.items[0],
                               v.items[0]));
    }
    return v;
  }

  Value parse_value() {
    Value v;
    const char c = peek();
    if (c == '\'' || c == '"') {
      v.kind = Value::Kind::string;
      v.text = parse_string();
    } else if (match_word("True")) {
      v.kind = Value::Kind::boolean;
      v.flag = true;
    } else if (match_word("False")) {
      v.kind = Value::Kind::boolean;
      v.flag = false;
    } else if (c == '(') {
      v = parse_tuple();
    } else if (c == '[') {
      error(pos_, "lists are not supported here (structured dtypes and list shapes are rejected)");
    } else {
      error(pos_, "expected a string, True, False or a tuple");
    }
    return v;
  }

  std::string_view s_;
  const std::string& what_;
  std::size_t pos_ = 0;
};

// --- prelude and header --------------------------------------------------------------------------

struct Layout {
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::size_t data_offset = 0;  // where the array data starts
  std::size_t data_bytes = 0;   // numel * itemsize
};

// Parses the magic, version and header length from `prefix` (the first bytes of a file of
// `total_size` bytes); returns the header length and sets `header_start`.
std::size_t parse_prelude(std::span<const std::byte> prefix, std::uint64_t total_size,
                          const std::string& what, std::size_t& header_start) {
  if (total_size == 0) fail("{}: the file is empty", what);
  const auto* b = reinterpret_cast<const unsigned char*>(prefix.data());
  if (prefix.size() < kMagic.size() + 2 || !std::equal(kMagic.begin(), kMagic.end(), b)) {
    if (prefix.size() >= kMagic.size() && std::equal(kMagic.begin(), kMagic.end(), b)) {
      fail("{}: truncated: the file ends inside the version field", what);
    }
    fail("{}: not an .npy file (missing the \\x93NUMPY magic bytes)", what);
  }
  const int major = b[6];
  const int minor = b[7];
  if (major < 1 || major > 3 || minor != 0) {
    fail("{}: unsupported .npy format version {}.{} (supported: 1.0, 2.0, 3.0)", what, major, minor);
  }
  const std::size_t len_bytes = major == 1 ? 2 : 4;
  header_start = 8 + len_bytes;
  if (prefix.size() < header_start) fail("{}: truncated: the file ends inside the header length", what);
  std::size_t header_len = 0;
  for (std::size_t i = 0; i < len_bytes; ++i) header_len |= std::size_t{b[8 + i]} << (8 * i);
  if (header_len == 0) fail("{}: malformed header: the header is empty", what);
  if (header_len > kMaxHeaderBytes) {
    fail("{}: header length {} exceeds the limit of {} bytes", what, header_len, kMaxHeaderBytes);
  }
  if (header_start + header_len > total_size) {
    fail("{}: truncated: the header declares {} bytes but the file has only {} after the prelude", what,
         header_len, total_size - header_start);
  }
  return header_len;
}

Layout parse_header(std::string_view header, std::size_t data_offset, const std::string& what) {
  for (const char c : header) {
    if (c == '\0') fail("{}: malformed header: it contains a NUL byte", what);
  }
  auto r = HeaderParser(header, what).parse();
  if (!r.descr) fail("{}: header has no 'descr' key", what);
  if (!r.fortran_order) fail("{}: header has no 'fortran_order' key", what);
  if (!r.shape) fail("{}: header has no 'shape' key", what);
  if (r.descr->kind != Value::Kind::string) {
    fail("{}: 'descr' must be a dtype string such as '<f4' (structured dtypes are not supported)", what);
  }
  if (r.fortran_order->kind != Value::Kind::boolean) fail("{}: 'fortran_order' must be True or False", what);
  if (r.shape->kind != Value::Kind::tuple) fail("{}: 'shape' must be a tuple of integers", what);

  Layout layout;
  layout.dtype = dtype_from_descr(r.descr->text, what);
  if (r.fortran_order->flag) {
    fail(
        "{}: Fortran-order (column-major) arrays are not supported; save a C-order array "
        "(np.ascontiguousarray)",
        what);
  }
  layout.shape = std::move(r.shape->items);
  const std::int64_t n = checked_element_count(layout.shape, what);
  layout.data_offset = data_offset;
  layout.data_bytes = static_cast<std::size_t>(n) * dtype_size(layout.dtype);
  return layout;
}

void check_data_size(const Layout& layout, std::uint64_t total_size, const std::string& what) {
  const std::uint64_t have = total_size - layout.data_offset;
  if (have == layout.data_bytes) return;
  const auto shape = shape_string(layout.shape);
  if (have < layout.data_bytes) {
    fail("{}: truncated: shape {} of {} needs {} data bytes but only {} follow the header", what, shape,
         dtype_name(layout.dtype), layout.data_bytes, have);
  }
  fail("{}: the header does not match the data: shape {} of {} needs {} data bytes but {} follow the header",
       what, shape, dtype_name(layout.dtype), layout.data_bytes, have);
}

Layout parse_layout(std::span<const std::byte> bytes, std::uint64_t total_size, const std::string& what) {
  std::size_t header_start = 0;
  const std::size_t header_len = parse_prelude(bytes, total_size, what, header_start);
  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + header_start, header_len);
  return parse_header(header, header_start + header_len, what);
}

}  // namespace

std::int64_t checked_element_count(std::span<const std::int64_t> shape, std::string_view what) {
  std::int64_t nonzero = 1;
  bool any_zero = false;
  for (std::size_t i = 0; i < shape.size(); ++i) {
    const std::int64_t d = shape[i];
    if (d < 0) fail("{}: shape {} has a negative dimension", what, shape_string(shape));
    if (d == 0) {
      any_zero = true;
      continue;
    }
    if (d > kMaxFileElements || nonzero > kMaxFileElements / d) {
      fail("{}: shape {} is absurd: more than 2^40 elements", what, shape_string(shape));
    }
    nonzero *= d;
  }
  return any_zero ? 0 : nonzero;
}

std::string shape_string(std::span<const std::int64_t> shape) {
  if (shape.size() > 16) {
    return fmt::format("({}, ... {} dimensions)", fmt::join(shape.subspan(0, 8), ", "), shape.size());
  }
  if (shape.size() == 1) return fmt::format("({},)", shape[0]);
  return fmt::format("({})", fmt::join(shape, ", "));
}

HostArray parse_npy(std::span<const std::byte> bytes, std::string_view name) {
  const std::string what = npy_what(name);
  const Layout layout = parse_layout(bytes, bytes.size(), what);
  check_data_size(layout, bytes.size(), what);
  HostArray out;
  out.dtype = layout.dtype;
  out.shape = layout.shape;
  const auto data = bytes.subspan(layout.data_offset);
  out.data.assign(data.begin(), data.end());
  return out;
}

HostArray read_npy(const std::filesystem::path& path) {
  const std::string what = npy_what(path.string());
  InputFile file = open_input_file(path, what);
  std::ifstream& in = file.stream;
  const std::uint64_t total = file.size;

  // Prelude (at most 12 bytes), then the header it announces, then the data.
  std::vector<std::byte> head(static_cast<std::size_t>(std::min<std::uint64_t>(total, 12)));
  in.read(reinterpret_cast<char*>(head.data()), static_cast<std::streamsize>(head.size()));
  std::size_t header_start = 0;
  const std::size_t header_len = parse_prelude(head, total, what, header_start);
  std::string header(header_len, '\0');
  in.seekg(static_cast<std::streamoff>(header_start));
  if (!in.read(header.data(), static_cast<std::streamsize>(header_len)))
    fail("{}: read error in the header", what);
  const Layout layout = parse_header(header, header_start + header_len, what);
  check_data_size(layout, total, what);

  HostArray out;
  out.dtype = layout.dtype;
  out.shape = layout.shape;
  out.data.resize(layout.data_bytes);
  if (!out.data.empty() &&
      !in.read(reinterpret_cast<char*>(out.data.data()), static_cast<std::streamsize>(out.data.size()))) {
    fail("{}: read error after {} of {} data bytes", what, in.gcount(), out.data.size());
  }
  return out;
}

namespace {

// The prelude + padded header for an array, as numpy writes it.
std::vector<std::byte> encode_header(DType dtype, std::span<const std::int64_t> shape, int version,
                                     const std::string& what) {
  if (version < 0 || version > 3)
    fail("{}: cannot write format version {} (use 0 for automatic, 1, 2 or 3)", what, version);
  std::string dict = fmt::format(
      "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}", descr_of(dtype, what),
      shape.size() == 1 ? fmt::format("({},)", shape[0]) : fmt::format("({})", fmt::join(shape, ", ")));
  // Pad with spaces so that prelude + header + '\n' is a multiple of 64.
  const auto padded_len = [&](std::size_t prelude) {
    const std::size_t unpadded = prelude + dict.size() + 1;
    return (unpadded + kAlign - 1) / kAlign * kAlign - prelude;
  };
  if (version == 0) version = padded_len(10) <= 0xFFFF ? 1 : 2;
  const std::size_t prelude = version == 1 ? 10 : 12;
  const std::size_t header_len = padded_len(prelude);
  if (version == 1 && header_len > 0xFFFF) {
    fail("{}: the header ({} bytes) is too long for format version 1.0; use version 2.0", what, header_len);
  }
  dict.append(header_len - dict.size() - 1, ' ');
  dict.push_back('\n');

  std::vector<std::byte> out;
  out.reserve(prelude + header_len);
  for (auto c : kMagic) out.push_back(static_cast<std::byte>(c));
  out.push_back(static_cast<std::byte>(version));
  out.push_back(std::byte{0});
  for (std::size_t i = 0; i < prelude - 8; ++i)
    out.push_back(static_cast<std::byte>((header_len >> (8 * i)) & 0xFF));
  for (char c : dict) out.push_back(static_cast<std::byte>(c));
  return out;
}

}  // namespace

std::vector<std::byte> encode_npy(const void* data, DType dtype, std::span<const std::int64_t> shape,
                                  int version) {
  const std::string what = npy_what("<memory>");
  const std::int64_t n = checked_element_count(shape, what);
  auto out = encode_header(dtype, shape, version, what);
  const std::size_t nbytes = static_cast<std::size_t>(n) * dtype_size(dtype);
  if (nbytes > 0 && data == nullptr) fail("{}: no data pointer for {} bytes", what, nbytes);
  const auto* p = static_cast<const std::byte*>(data);
  out.insert(out.end(), p, p + nbytes);
  return out;
}

void write_npy(const std::filesystem::path& path, const void* data, DType dtype,
               std::span<const std::int64_t> shape, int version) {
  const std::string what = npy_what(path.string());
  const std::int64_t n = checked_element_count(shape, what);
  const auto header = encode_header(dtype, shape, version, what);
  const std::size_t nbytes = static_cast<std::size_t>(n) * dtype_size(dtype);
  if (nbytes > 0 && data == nullptr) fail("{}: no data pointer for {} bytes", what, nbytes);
  AtomicFile file(path);
  file.write(header);
  file.write(data, nbytes);
  file.commit();
}

}  // namespace deeper::io
