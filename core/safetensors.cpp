// safetensors reader (file and memory) and writer: header-length bounds, strict JSON validation
// (duplicate keys, types, dtypes, shapes), offset coverage checks, aligned data placement.
#include "core/safetensors.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>

#include "core/atomic_file.h"

namespace deeper::io {
namespace {

using Json = nlohmann::ordered_json;

std::string st_what(std::string_view name) { return fmt::format("safetensors file '{}'", name); }

struct DtypeName {
  DType dtype;
  std::string_view name;
};
constexpr std::array<DtypeName, 9> kDtypeNames = {{{DType::f32, "F32"},
                                                   {DType::f64, "F64"},
                                                   {DType::bf16, "BF16"},
                                                   {DType::f16, "F16"},
                                                   {DType::i32, "I32"},
                                                   {DType::i64, "I64"},
                                                   {DType::u8, "U8"},
                                                   {DType::u16, "U16"},
                                                   {DType::boolean, "BOOL"}}};

// One tensor as the header describes it.
struct Entry {
  std::string name;
  DType dtype = DType::f32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0, end = 0;  // relative to the data buffer
};

struct Header {
  std::vector<Entry> entries;  // header order
  SafetensorsMetadata metadata;
  std::uint64_t data_start = 0;  // 8 + N
};

// The 8-byte header length, checked against the file size and the 100 MB limit.
std::uint64_t header_length(std::span<const std::byte> first8, std::uint64_t total, const std::string& what) {
  if (total < 8) fail("{}: truncated: {} bytes is too short for the 8-byte header length", what, total);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t{std::to_integer<unsigned char>(first8[i])} << (8 * i);
  if (n > kMaxSafetensorsHeader) {
    fail("{}: header length {} exceeds the 100 MB limit (corrupt file or not safetensors)", what, n);
  }
  if (n > total - 8) {
    fail("{}: header length {} is larger than the {} bytes that follow it (truncated or not safetensors)",
         what, n, total - 8);
  }
  if (n < 2) fail("{}: header length {} is too small for a JSON object", what, n);
  return n;
}

// Parses JSON, rejecting duplicate keys at any level (the JSON library would keep the last one).
Json parse_json(std::string_view text, const std::string& what) {
  std::vector<std::set<std::string>> keys;
  std::optional<std::string> duplicate;
  Json::parser_callback_t callback = [&](int, Json::parse_event_t event, Json& parsed) {
    if (event == Json::parse_event_t::object_start) {
      keys.emplace_back();
    } else if (event == Json::parse_event_t::object_end) {
      if (!keys.empty()) keys.pop_back();
    } else if (event == Json::parse_event_t::key && !keys.empty()) {
      const auto& key = parsed.get_ref<const std::string&>();
      if (!keys.back().insert(key).second && !duplicate) duplicate = key;
    }
    return true;
  };
  Json json;
  try {
    json = Json::parse(text.begin(), text.end(), callback);
  } catch (const Json::exception& e) {
    fail("{}: the header is not valid JSON: {}", what, e.what());
  }
  if (duplicate) fail("{}: the header has a duplicate key '{}'", what, *duplicate);
  return json;
}

std::uint64_t get_unsigned(const Json& v, const std::string& what, std::string_view field,
                           const std::string& tensor) {
  if (!v.is_number_integer()) fail("{}: tensor '{}': {} must hold integers", what, tensor, field);
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  const auto s = v.get<std::int64_t>();
  if (s < 0) fail("{}: tensor '{}': {} holds a negative value {}", what, tensor, field, s);
  return static_cast<std::uint64_t>(s);
}

Entry parse_entry(const std::string& name, const Json& v, const std::string& what) {
  if (!v.is_object()) fail("{}: tensor '{}' is not a JSON object", what, name);
  for (const auto& [key, unused] : v.items()) {
    if (key != "dtype" && key != "shape" && key != "data_offsets") {
      fail("{}: tensor '{}' has an unexpected key '{}'", what, name, key);
    }
  }
  for (const char* key : {"dtype", "shape", "data_offsets"}) {
    if (!v.contains(key)) fail("{}: tensor '{}' has no '{}'", what, name, key);
  }
  Entry e;
  e.name = name;
  const auto& dtype = v["dtype"];
  if (!dtype.is_string()) fail("{}: tensor '{}': dtype must be a string", what, name);
  e.dtype = safetensors_dtype_from_name(dtype.get_ref<const std::string&>(),
                                        fmt::format("{}: tensor '{}'", what, name));

  const auto& shape = v["shape"];
  if (!shape.is_array()) fail("{}: tensor '{}': shape must be an array", what, name);
  for (const auto& d : shape) {
    const std::uint64_t u = get_unsigned(d, what, "shape", name);
    if (u > static_cast<std::uint64_t>(kMaxFileElements)) {
      fail("{}: tensor '{}': shape dimension {} is absurd (more than 2^40)", what, name, u);
    }
    e.shape.push_back(static_cast<std::int64_t>(u));
  }
  const std::int64_t n = checked_element_count(e.shape, fmt::format("{}: tensor '{}'", what, name));

  const auto& offsets = v["data_offsets"];
  if (!offsets.is_array() || offsets.size() != 2) {
    fail("{}: tensor '{}': data_offsets must be an array [begin, end]", what, name);
  }
  e.begin = get_unsigned(offsets[0], what, "data_offsets", name);
  e.end = get_unsigned(offsets[1], what, "data_offsets", name);
  if (e.end < e.begin)
    fail("{}: tensor '{}': data_offsets [{}, {}] end before they begin", what, name, e.begin, e.end);
  const std::uint64_t nbytes = static_cast<std::uint64_t>(n) * dtype_size(e.dtype);
  if (e.end - e.begin != nbytes) {
    fail("{}: tensor '{}': data_offsets [{}, {}] span {} bytes but shape {} of {} needs {}", what, name,
         e.begin, e.end, e.end - e.begin, shape_string(e.shape), safetensors_dtype_name(e.dtype), nbytes);
  }
  return e;
}

// Every byte of the data buffer belongs to exactly one tensor: no overlap, no hole, no tail.
void check_coverage(const std::vector<Entry>& entries, std::uint64_t buffer_size, const std::string& what) {
  std::vector<const Entry*> order;
  for (const auto& e : entries) {
    if (e.end > buffer_size) {
      fail("{}: tensor '{}': data_offsets [{}, {}] run past the end of the {}-byte data buffer", what, e.name,
           e.begin, e.end, buffer_size);
    }
    order.push_back(&e);
  }
  std::stable_sort(order.begin(), order.end(), [](const Entry* a, const Entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::uint64_t covered = 0;
  const Entry* previous = nullptr;
  for (const Entry* e : order) {
    if (e->begin < covered) {
      fail("{}: tensors '{}' and '{}' overlap (data_offsets [{}, {}] and [{}, {}])", what, previous->name,
           e->name, previous->begin, previous->end, e->begin, e->end);
    }
    if (e->begin > covered) {
      fail("{}: hole in the data buffer: bytes [{}, {}) belong to no tensor (before tensor '{}')", what,
           covered, e->begin, e->name);
    }
    covered = e->end;
    if (e->end > e->begin || previous == nullptr) previous = e;
  }
  if (covered != buffer_size) {
    fail("{}: hole in the data buffer: bytes [{}, {}) at the end belong to no tensor", what, covered,
         buffer_size);
  }
}

// Parses and validates the JSON header `text`; `total` is the file size.
Header parse_header(std::string_view text, std::uint64_t total, const std::string& what) {
  if (text.empty() || text.front() != '{') fail("{}: the header does not start with '{{'", what);
  const Json json = parse_json(text, what);
  if (!json.is_object()) fail("{}: the header is not a JSON object", what);
  Header h;
  h.data_start = 8 + text.size();
  for (const auto& [key, value] : json.items()) {
    if (key == "__metadata__") {
      if (!value.is_object()) fail("{}: __metadata__ must be an object of strings", what);
      for (const auto& [mk, mv] : value.items()) {
        if (!mv.is_string()) fail("{}: __metadata__ value for '{}' is not a string", what, mk);
        h.metadata.emplace(mk, mv.get<std::string>());
      }
      continue;
    }
    h.entries.push_back(parse_entry(key, value, what));
  }
  check_coverage(h.entries, total - h.data_start, what);
  return h;
}

HostArray make_array(const Entry& e) {
  HostArray a;
  a.dtype = e.dtype;
  a.shape = e.shape;
  a.data.resize(static_cast<std::size_t>(e.end - e.begin));
  return a;
}

std::string header_text(std::span<const std::byte> bytes, std::size_t n) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), n);
}

}  // namespace

std::string_view safetensors_dtype_name(DType dtype) {
  for (const auto& d : kDtypeNames) {
    if (d.dtype == dtype) return d.name;
  }
  fail("safetensors: no dtype name for {}", dtype_name(dtype));
}

DType safetensors_dtype_from_name(std::string_view name, std::string_view what) {
  for (const auto& d : kDtypeNames) {
    if (d.name == name) return d.dtype;
  }
  fail("{}: unsupported dtype '{}' (supported: F32 F64 BF16 F16 I32 I64 U8 U16 BOOL)", what, name);
}

const SafetensorsTensor* SafetensorsFile::find(std::string_view name) const {
  for (const auto& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

const HostArray& SafetensorsFile::at(std::string_view name) const {
  const auto* t = find(name);
  if (t == nullptr) fail("safetensors: no tensor named '{}'", name);
  return t->array;
}

void SafetensorsFile::add(std::string name, const void* data, DType dtype,
                          std::span<const std::int64_t> shape) {
  HostArray a;
  a.dtype = dtype;
  a.shape.assign(shape.begin(), shape.end());
  const auto n = checked_element_count(shape, fmt::format("safetensors tensor '{}'", name));
  a.data.resize(static_cast<std::size_t>(n) * dtype_size(dtype));
  if (!a.data.empty() && data == nullptr)
    fail("safetensors tensor '{}': no data pointer for {} bytes", name, a.data.size());
  if (!a.data.empty()) std::memcpy(a.data.data(), data, a.data.size());
  add(std::move(name), std::move(a));
}

void SafetensorsFile::add(std::string name, HostArray array) {
  tensors.push_back({std::move(name), std::move(array)});
}

SafetensorsFile parse_safetensors(std::span<const std::byte> bytes, std::string_view name) {
  const std::string what = st_what(name);
  const std::uint64_t n = header_length(bytes, bytes.size(), what);
  const Header h =
      parse_header(header_text(bytes.subspan(8), static_cast<std::size_t>(n)), bytes.size(), what);
  SafetensorsFile out;
  out.metadata = h.metadata;
  for (const auto& e : h.entries) {
    HostArray a = make_array(e);
    if (!a.data.empty()) std::memcpy(a.data.data(), bytes.data() + h.data_start + e.begin, a.data.size());
    out.tensors.push_back({e.name, std::move(a)});
  }
  return out;
}

SafetensorsFile read_safetensors(const std::filesystem::path& path) {
  const std::string what = st_what(path.string());
  InputFile file = open_input_file(path, what);
  std::ifstream& in = file.stream;
  const std::uint64_t total = file.size;
  std::array<std::byte, 8> first{};
  in.read(reinterpret_cast<char*>(first.data()),
          static_cast<std::streamsize>(std::min<std::uint64_t>(total, 8)));
  const std::uint64_t n = header_length(first, total, what);
  std::string text(static_cast<std::size_t>(n), '\0');
  if (!in.read(text.data(), static_cast<std::streamsize>(n))) fail("{}: read error in the header", what);
  const Header h = parse_header(text, total, what);

  SafetensorsFile out;
  out.metadata = h.metadata;
  for (const auto& e : h.entries) {
    HostArray a = make_array(e);
    in.seekg(static_cast<std::streamoff>(h.data_start + e.begin));
    if (!a.data.empty() &&
        !in.read(reinterpret_cast<char*>(a.data.data()), static_cast<std::streamsize>(a.data.size()))) {
      fail("{}: read error in the data of tensor '{}'", what, e.name);
    }
    out.tensors.push_back({e.name, std::move(a)});
  }
  return out;
}

// --- writer --------------------------------------------------------------------------------------

namespace {

struct Plan {
  std::string header;                // JSON padded with spaces to a multiple of 8
  std::vector<std::size_t> order;    // tensor indices in data order
  std::vector<std::uint64_t> sizes;  // bytes per tensor (by index)
};

Plan plan_file(std::span<const SafetensorsView> tensors, const SafetensorsMetadata& metadata,
               const std::string& what) {
  Plan p;
  std::set<std::string_view> names;
  for (const auto& t : tensors) {
    if (t.name == "__metadata__") fail("{}: '__metadata__' is reserved and cannot name a tensor", what);
    if (!names.insert(t.name).second) fail("{}: two tensors are named '{}'", what, t.name);
    const auto n = checked_element_count(t.shape, fmt::format("{}: tensor '{}'", what, t.name));
    p.sizes.push_back(static_cast<std::uint64_t>(n) * dtype_size(t.dtype));
    if (p.sizes.back() > 0 && t.data == nullptr) fail("{}: tensor '{}' has no data pointer", what, t.name);
    (void)safetensors_dtype_name(t.dtype);
  }
  // Largest elements first keeps every tensor aligned to its element size (the header is padded to
  // 8 bytes, so the buffer itself starts 8-aligned); ties keep the caller's order.
  p.order.resize(tensors.size());
  std::iota(p.order.begin(), p.order.end(), std::size_t{0});
  std::stable_sort(p.order.begin(), p.order.end(), [&](std::size_t a, std::size_t b) {
    return dtype_size(tensors[a].dtype) > dtype_size(tensors[b].dtype);
  });
  std::vector<std::uint64_t> begin(tensors.size());
  std::uint64_t offset = 0;
  for (auto i : p.order) {
    begin[i] = offset;
    offset += p.sizes[i];
  }

  Json json = Json::object();
  if (!metadata.empty()) {
    Json m = Json::object();
    for (const auto& [k, v] : metadata) m[k] = v;
    json["__metadata__"] = std::move(m);
  }
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    json[std::string(t.name)] = Json{{"dtype", safetensors_dtype_name(t.dtype)},
                                     {"shape", std::vector<std::int64_t>(t.shape.begin(), t.shape.end())},
                                     {"data_offsets", {begin[i], begin[i] + p.sizes[i]}}};
  }
  try {
    p.header = json.dump();
  } catch (const Json::exception& e) {
    fail("{}: cannot encode the header (names and metadata must be valid UTF-8): {}", what, e.what());
  }
  p.header.append((8 - p.header.size() % 8) % 8, ' ');
  if (p.header.size() > kMaxSafetensorsHeader) {
    fail("{}: the header would be {} bytes, over the 100 MB limit", what, p.header.size());
  }
  return p;
}

std::array<std::byte, 8> length_bytes(std::uint64_t n) {
  std::array<std::byte, 8> b{};
  for (int i = 0; i < 8; ++i) b[i] = static_cast<std::byte>((n >> (8 * i)) & 0xFF);
  return b;
}

std::vector<SafetensorsView> views_of(const SafetensorsFile& file) {
  std::vector<SafetensorsView> views;
  for (const auto& t : file.tensors) {
    const std::size_t expected = static_cast<std::size_t>(checked_element_count(
                                     t.array.shape, fmt::format("safetensors tensor '{}'", t.name))) *
                                 dtype_size(t.array.dtype);
    if (t.array.data.size() != expected) {
      fail("safetensors tensor '{}': {} data bytes do not match shape {} of {} ({} bytes)", t.name,
           t.array.data.size(), shape_string(t.array.shape), dtype_name(t.array.dtype), expected);
    }
    views.push_back({t.name, t.array.dtype, t.array.shape, t.array.data.data()});
  }
  return views;
}

}  // namespace

std::vector<std::byte> encode_safetensors(std::span<const SafetensorsView> tensors,
                                          const SafetensorsMetadata& metadata) {
  const Plan p = plan_file(tensors, metadata, st_what("<memory>"));
  std::vector<std::byte> out;
  const auto len = length_bytes(p.header.size());
  out.insert(out.end(), len.begin(), len.end());
  const auto* h = reinterpret_cast<const std::byte*>(p.header.data());
  out.insert(out.end(), h, h + p.header.size());
  for (auto i : p.order) {
    const auto* d = static_cast<const std::byte*>(tensors[i].data);
    if (p.sizes[i] > 0) out.insert(out.end(), d, d + p.sizes[i]);
  }
  return out;
}

std::vector<std::byte> encode_safetensors(const SafetensorsFile& file) {
  const auto views = views_of(file);
  return encode_safetensors(views, file.metadata);
}

void write_safetensors(const std::filesystem::path& path, std::span<const SafetensorsView> tensors,
                       const SafetensorsMetadata& metadata) {
  const Plan p = plan_file(tensors, metadata, st_what(path.string()));
  AtomicFile file(path);
  const auto len = length_bytes(p.header.size());
  file.write(len);
  file.write(p.header.data(), p.header.size());
  for (auto i : p.order) file.write(tensors[i].data, p.sizes[i]);
  file.commit();
}

void write_safetensors(const std::filesystem::path& path, const SafetensorsFile& file) {
  const auto views = views_of(file);
  write_safetensors(path, views, file.metadata);
}

}  // namespace deeper::io
