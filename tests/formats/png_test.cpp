// PNG: lossless round trips for 1-4 channels, float conversion (clamping, rounding, NaN rejected),
// image grids, and errors for bad sizes and undecodable files; failed writes keep the old file.
#include "core/png.h"

#include <gtest/gtest.h>

#include <climits>
#include <cmath>
#include <limits>
#include <random>

#include "core/atomic_file.h"
#include "tests/formats/format_test_util.h"

namespace deeper::io {
namespace {

using test::TempDir;

Image8 random_image(int w, int h, int c, unsigned seed) {
  std::mt19937 rng(seed);
  Image8 img{w, h, c, std::vector<std::uint8_t>(static_cast<std::size_t>(w * h * c))};
  for (auto& p : img.pixels) p = static_cast<std::uint8_t>(rng() & 0xFF);
  return img;
}

Image8 solid(int w, int h, std::array<std::uint8_t, 3> rgb) {
  Image8 img{w, h, 3, {}};
  for (int i = 0; i < w * h; ++i) img.pixels.insert(img.pixels.end(), rgb.begin(), rgb.end());
  return img;
}

TEST(Png, RoundTripsEveryChannelCountLosslessly) {
  TempDir dir;
  for (int c = 1; c <= 4; ++c) {
    SCOPED_TRACE(c);
    const Image8 img = random_image(37, 23, c, static_cast<unsigned>(c));
    write_png(dir / "a.png", img);
    const Image8 back = read_png(dir / "a.png");
    EXPECT_EQ(back.width, 37);
    EXPECT_EQ(back.height, 23);
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.pixels, img.pixels);
    const auto bytes = read_file_bytes(dir / "a.png");
    EXPECT_EQ(test::to_string(bytes).substr(0, 8), "\x89PNG\r\n\x1a\n");
    EXPECT_EQ(decode_png(bytes).pixels, img.pixels);
  }
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.png"});
}

TEST(Png, WritesRawU8Buffers) {
  TempDir dir;
  const std::vector<std::uint8_t> px = {0, 64, 128, 255, 1, 2};
  write_png(dir / "g.png", px, 3, 2, 1);
  EXPECT_EQ(read_png(dir / "g.png").pixels, px);
  EXPECT_ERROR(write_png(dir / "g.png", px, 4, 2, 1), "needs 8 bytes but 6 were given");
}

TEST(Png, FloatImagesAreClampedAndRounded) {
  TempDir dir;
  const std::vector<float> px = {-0.5f,
                                 0.0f,
                                 0.5f,
                                 1.0f,
                                 1.5f,
                                 0.2f,
                                 std::numeric_limits<float>::infinity(),
                                 -std::numeric_limits<float>::infinity(),
                                 0.999f};
  write_png(dir / "f.png", px, 3, 1, 3);
  const Image8 img = read_png(dir / "f.png");
  EXPECT_EQ(img.pixels, (std::vector<std::uint8_t>{0, 0, 128, 255, 255, 51, 255, 0, 255}));
}

TEST(Png, NaNIsAnErrorAndKeepsTheExistingFile) {
  TempDir dir;
  write_png(dir / "f.png", solid(2, 2, {1, 2, 3}));
  const std::string before = test::read_raw(dir / "f.png");
  std::vector<float> px(2 * 2 * 3, 0.5f);
  px[3 * 3 + 1] = std::nanf("");
  EXPECT_ERROR(write_png(dir / "f.png", px, 2, 2, 3),
               "f.png': float image: NaN at pixel (y=1, x=1), channel 1");
  EXPECT_EQ(test::read_raw(dir / "f.png"), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"f.png"});
}

TEST(Png, FailedWriteHalfWayKeepsTheExistingFile) {
  TempDir dir;
  write_png(dir / "a.png", solid(4, 4, {9, 9, 9}));
  const std::string before = test::read_raw(dir / "a.png");
  const Image8 noise = random_image(256, 256, 3, 5);  // ~200 kB, incompressible
  {
    test::FileSizeLimit limit(4096);
    EXPECT_ERROR(write_png(dir / "a.png", noise), "a.png': write failed");
  }
  EXPECT_EQ(test::read_raw(dir / "a.png"), before);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.png"});
}

TEST(Png, RejectsBadSizes) {
  TempDir dir;
  EXPECT_ERROR(write_png(dir / "x.png", Image8{0, 3, 3, {}}), "image size 0x3 is not positive");
  EXPECT_ERROR(write_png(dir / "x.png", Image8{2, 2, 5, std::vector<std::uint8_t>(20)}), "5 channels");
  EXPECT_ERROR(write_png(dir / "x.png", Image8{2, 2, 3, std::vector<std::uint8_t>(11)}),
               "needs 12 bytes but holds 11");
  EXPECT_ERROR(write_png(dir / "x.png", Image8{100000, 100000, 4, {}}), "too large for the PNG writer");
  EXPECT_ERROR(write_png(dir / "x.png", Image8{INT_MAX, INT_MAX, 4, {}}), "too large for the PNG writer");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(Png, RejectsUndecodableFiles) {
  TempDir dir;
  test::write_raw(dir / "bad.png", "this is not a png");
  EXPECT_ERROR(read_png(dir / "bad.png"), "png file '" + (dir / "bad.png").string() + "': cannot decode");
  write_png(dir / "ok.png", solid(8, 8, {1, 2, 3}));
  const std::string good = test::read_raw(dir / "ok.png");
  test::write_raw(dir / "cut.png", good.substr(0, good.size() / 2));
  EXPECT_ERROR(read_png(dir / "cut.png"), "cut.png': cannot decode");
  EXPECT_ERROR(read_png(dir / "missing.png"), "missing.png");
}

TEST(Png, GridPlacesImagesInRowsWithPaddingAndBackground) {
  std::vector<Image8> images;
  for (int i = 0; i < 5; ++i) images.push_back(solid(3, 2, {static_cast<std::uint8_t>(10 * (i + 1)), 0, 0}));
  const Image8 grid = image_grid(images, 2, 1, {200, 201, 202, 255});
  // 2 columns x 3 rows of 3x2 images, 1 pixel of padding around and between.
  EXPECT_EQ(grid.width, 2 * 3 + 3 * 1);
  EXPECT_EQ(grid.height, 3 * 2 + 4 * 1);
  EXPECT_EQ(grid.channels, 3);
  for (int i = 0; i < 5; ++i) {
    const int x0 = 1 + (i % 2) * 4;
    const int y0 = 1 + (i / 2) * 3;
    for (int y = 0; y < 2; ++y) {
      for (int x = 0; x < 3; ++x)
        EXPECT_EQ(grid.at(y0 + y, x0 + x, 0), 10 * (i + 1)) << i << " " << y << " " << x;
    }
  }
  // Padding and the empty sixth cell show the background.
  for (const auto& [y, x] :
       std::vector<std::pair<int, int>>{{0, 0}, {1, 4}, {3, 2}, {8, 6}, {7, 8}, {9, 8}}) {
    EXPECT_EQ(grid.at(y, x, 0), 200) << y << "," << x;
    EXPECT_EQ(grid.at(y, x, 2), 202) << y << "," << x;
  }
  // One column, no padding: a plain vertical stack.
  const Image8 stack = image_grid(images, 1, 0);
  EXPECT_EQ(stack.width, 3);
  EXPECT_EQ(stack.height, 10);
  EXPECT_EQ(stack.at(9, 2, 0), 50);
  // More columns than images keeps the requested width.
  EXPECT_EQ(image_grid(std::span(images).first(1), 4, 0).width, 12);

  TempDir dir;
  write_png(dir / "grid.png", grid);
  EXPECT_EQ(read_png(dir / "grid.png").pixels, grid.pixels);
}

TEST(Png, GridRejectsBadInput) {
  std::vector<Image8> images = {solid(3, 2, {1, 1, 1}), solid(3, 2, {2, 2, 2}), solid(2, 3, {3, 3, 3})};
  EXPECT_ERROR(image_grid(images, 2, 1), "image grid: image 2 is 2x3x3 but image 0 is 3x2x3");
  EXPECT_ERROR(image_grid({}, 2, 1), "image grid: no images");
  EXPECT_ERROR(image_grid(std::span(images).first(2), 0, 1), "0 columns");
  EXPECT_ERROR(image_grid(std::span(images).first(2), 1, -1), "negative padding");
}

}  // namespace
}  // namespace deeper::io
