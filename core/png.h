// PNG images: writing (stb_image_write, through an atomic file replace), reading (stb_image, for
// tests and tools), conversion from float images in [0, 1], and image grids for contact sheets.
//
// Images are 8-bit, interleaved HWC (row-major, channels last): 1 = gray, 2 = gray + alpha,
// 3 = RGB, 4 = RGBA. Float pixels are clamped to [0, 1] and rounded to 0..255; a NaN is an error.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string_view>
#include <vector>

namespace deeper::io {

struct Image8 {
  int width = 0;
  int height = 0;
  int channels = 0;
  std::vector<std::uint8_t> pixels;  // height * width * channels, HWC

  std::uint8_t at(int y, int x, int c) const {
    return pixels[(static_cast<std::size_t>(y) * width + x) * channels + c];
  }
};

// Throws unless width, height > 0, channels in 1..4 and width * height * channels fits the PNG
// writer (at most 2^31 bytes); `what` prefixes the message.
void check_image_size(int width, int height, int channels, std::string_view what);

// Converts a float HWC image with values in [0, 1] (clamped) to 8 bits; throws on NaN, naming the
// pixel.
Image8 image_from_float(std::span<const float> pixels, int width, int height, int channels);

// Encodes a PNG in memory / writes it atomically.
std::vector<std::byte> encode_png(const Image8& image);
void write_png(const std::filesystem::path& path, const Image8& image);
void write_png(const std::filesystem::path& path, std::span<const std::uint8_t> pixels, int width, int height,
               int channels);
void write_png(const std::filesystem::path& path, std::span<const float> pixels, int width, int height,
               int channels);

// Decodes a PNG (any bit depth; 16-bit is reduced to 8) keeping the file's channel count.
Image8 decode_png(std::span<const std::byte> bytes, std::string_view name = "<memory>");
Image8 read_png(const std::filesystem::path& path);

// Lays N equally sized images out in rows of `columns`, with `padding` pixels of `background`
// around and between them (the last row may be partly empty). `background` gives one value per
// channel (the first `channels` entries are used).
Image8 image_grid(std::span<const Image8> images, int columns, int padding,
                  std::array<std::uint8_t, 4> background = {0, 0, 0, 255});

}  // namespace deeper::io
