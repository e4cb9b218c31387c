// PNG encode/decode through stb (the one translation unit that holds the stb implementations, made
// static so they cannot clash with another copy, e.g. Debian's libstb), float conversion and grids.
#include "core/png.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>

#include "core/atomic_file.h"
#include "core/error.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include <stb/stb_image_write.h>

#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_ONLY_PNG
#define STBI_NO_STDIO
#include <stb/stb_image.h>

namespace deeper::io {
namespace {

// stb works with int sizes; keep the filtered image ((width * channels + 1) * height) well inside.
constexpr std::int64_t kMaxPngBytes = std::int64_t{1} << 30;

void append_bytes(void* context, void* data, int size) {
  auto* out = static_cast<std::vector<std::byte>*>(context);
  const auto* p = static_cast<const std::byte*>(data);
  out->insert(out->end(), p, p + size);
}

std::size_t pixel_count(int width, int height, int channels) {
  return static_cast<std::size_t>(width) * static_cast<std::size_t>(height) *
         static_cast<std::size_t>(channels);
}

}  // namespace

void check_image_size(int width, int height, int channels, std::string_view what) {
  if (width <= 0 || height <= 0) fail("{}: image size {}x{} is not positive", what, width, height);
  if (channels < 1 || channels > 4) {
    fail("{}: {} channels; PNG images have 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)", what, channels);
  }
  if (std::int64_t{width} * channels + 1 > kMaxPngBytes / height) {
    fail("{}: image {}x{}x{} is too large for the PNG writer (over 1 GiB)", what, width, height, channels);
  }
}

Image8 image_from_float(std::span<const float> pixels, int width, int height, int channels) {
  check_image_size(width, height, channels, "float image");
  const std::size_t n = pixel_count(width, height, channels);
  if (pixels.size() != n) {
    fail("float image: {}x{}x{} needs {} values but {} were given", width, height, channels, n,
         pixels.size());
  }
  Image8 img{width, height, channels, std::vector<std::uint8_t>(n)};
  for (std::size_t i = 0; i < n; ++i) {
    const float v = pixels[i];
    if (std::isnan(v)) {
      const std::size_t px = i / static_cast<std::size_t>(channels);
      fail("float image: NaN at pixel (y={}, x={}), channel {}", px / static_cast<std::size_t>(width),
           px % static_cast<std::size_t>(width), i % static_cast<std::size_t>(channels));
    }
    const float c = v < 0.0f ? 0.0f : (v > 1.0f ? 1.0f : v);
    img.pixels[i] = static_cast<std::uint8_t>(std::lround(c * 255.0f));
  }
  return img;
}

std::vector<std::byte> encode_png(const Image8& image) {
  check_image_size(image.width, image.height, image.channels, "png");
  const std::size_t n = pixel_count(image.width, image.height, image.channels);
  if (image.pixels.size() != n) {
    fail("png: image {}x{}x{} needs {} bytes but holds {}", image.width, image.height, image.channels, n,
         image.pixels.size());
  }
  std::vector<std::byte> out;
  const int ok = stbi_write_png_to_func(append_bytes, &out, image.width, image.height, image.channels,
                                        image.pixels.data(), image.width * image.channels);
  if (ok == 0) fail("png: encoding a {}x{}x{} image failed", image.width, image.height, image.channels);
  return out;
}

void write_png(const std::filesystem::path& path, const Image8& image) {
  std::vector<std::byte> bytes;
  try {
    bytes = encode_png(image);
  } catch (const Error& e) {
    fail("cannot write '{}': {}", path.string(), e.what());
  }
  write_file_atomic(path, bytes);
}

void write_png(const std::filesystem::path& path, std::span<const std::uint8_t> pixels, int width, int height,
               int channels) {
  check_image_size(width, height, channels, fmt::format("cannot write '{}'", path.string()));
  if (pixels.size() != pixel_count(width, height, channels)) {
    fail("cannot write '{}': image {}x{}x{} needs {} bytes but {} were given", path.string(), width, height,
         channels, pixel_count(width, height, channels), pixels.size());
  }
  write_png(path, Image8{width, height, channels, std::vector<std::uint8_t>(pixels.begin(), pixels.end())});
}

void write_png(const std::filesystem::path& path, std::span<const float> pixels, int width, int height,
               int channels) {
  Image8 img;
  try {
    img = image_from_float(pixels, width, height, channels);
  } catch (const Error& e) {
    fail("cannot write '{}': {}", path.string(), e.what());
  }
  write_png(path, img);
}

Image8 decode_png(std::span<const std::byte> bytes, std::string_view name) {
  if (bytes.size() > static_cast<std::size_t>(INT_MAX)) fail("png file '{}': too large to decode", name);
  int w = 0, h = 0, c = 0;
  stbi_uc* data = stbi_load_from_memory(reinterpret_cast<const stbi_uc*>(bytes.data()),
                                        static_cast<int>(bytes.size()), &w, &h, &c, 0);
  if (data == nullptr) fail("png file '{}': cannot decode: {}", name, stbi_failure_reason());
  Image8 img{w, h, c, {}};
  img.pixels.assign(data, data + pixel_count(w, h, c));
  stbi_image_free(data);
  return img;
}

Image8 read_png(const std::filesystem::path& path) {
  const auto bytes = read_file_bytes(path);
  return decode_png(bytes, path.string());
}

Image8 image_grid(std::span<const Image8> images, int columns, int padding,
                  std::array<std::uint8_t, 4> background) {
  if (images.empty()) fail("image grid: no images");
  if (columns <= 0) fail("image grid: {} columns; need at least 1", columns);
  if (padding < 0) fail("image grid: negative padding {}", padding);
  const Image8& first = images.front();
  check_image_size(first.width, first.height, first.channels, "image grid");
  for (std::size_t i = 0; i < images.size(); ++i) {
    const Image8& im = images[i];
    if (im.width != first.width || im.height != first.height || im.channels != first.channels) {
      fail("image grid: image {} is {}x{}x{} but image 0 is {}x{}x{}", i, im.width, im.height, im.channels,
           first.width, first.height, first.channels);
    }
    if (im.pixels.size() != pixel_count(im.width, im.height, im.channels)) {
      fail("image grid: image {} holds {} bytes, not {}", i, im.pixels.size(),
           pixel_count(im.width, im.height, im.channels));
    }
  }
  const std::int64_t cols = columns;
  const std::int64_t rows = (static_cast<std::int64_t>(images.size()) + cols - 1) / cols;
  const std::int64_t gw = cols * first.width + (cols + 1) * padding;
  const std::int64_t gh = rows * first.height + (rows + 1) * padding;
  if (gw > INT_MAX || gh > INT_MAX) fail("image grid: {}x{} pixels is too large", gw, gh);
  const int c = first.channels;
  check_image_size(static_cast<int>(gw), static_cast<int>(gh), c, "image grid");

  Image8 grid{static_cast<int>(gw), static_cast<int>(gh), c, {}};
  grid.pixels.resize(pixel_count(grid.width, grid.height, c));
  for (std::size_t p = 0; p < grid.pixels.size(); p += static_cast<std::size_t>(c)) {
    std::memcpy(&grid.pixels[p], background.data(), static_cast<std::size_t>(c));
  }
  const std::size_t row_bytes = static_cast<std::size_t>(first.width) * static_cast<std::size_t>(c);
  for (std::size_t i = 0; i < images.size(); ++i) {
    const std::int64_t gx =
        padding + static_cast<std::int64_t>(i % static_cast<std::size_t>(cols)) * (first.width + padding);
    const std::int64_t gy =
        padding + static_cast<std::int64_t>(i / static_cast<std::size_t>(cols)) * (first.height + padding);
    for (int y = 0; y < first.height; ++y) {
      const std::size_t dst = (static_cast<std::size_t>(gy + y) * static_cast<std::size_t>(grid.width) +
                               static_cast<std::size_t>(gx)) *
                              static_cast<std::size_t>(c);
      std::memcpy(&grid.pixels[dst], &images[i].pixels[static_cast<std::size_t>(y) * row_bytes], row_bytes);
    }
  }
  return grid;
}

}  // namespace deeper::io
