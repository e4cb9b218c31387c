// The channel padding kernels (kernels/nn/channel_pad.h): the emulated kernels against the CPU
// reference, bit for bit, on odd shapes (C = 3 -> 8, C = 5 -> 8, C_pad == C, an odd C_pad, several
// 8-channel groups per row), with 16-byte aligned outputs (the vector kernels) and outputs one
// element off (the per-value kernels), poisoned first; the reference against the definition;
// special values (NaN, inf, -0, rounding ties); the pad of C_pad == C against to_bf16; unpad with
// set and accumulate; bad parameters on both backends.
#include <gtest/gtest.h>

#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/nn/channel_pad.h"
#include "kernels/nn/optimizer.h"
#include "kernels/render/compose.h"
#include "kernels/runtime/device.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace {

namespace dk = deeper::kernels;
using deeper::Device;

const Device kCpu = Device::cpu();
const Device kEmu = Device::emu();

constexpr std::uint16_t kPoison16 = 0xFFFF;  // a NaN no kernel writes
const float kPoison32 = -7.77e17f;

struct Shape {
  std::int64_t rows;
  int channels, padded;
};
const Shape kShapes[] = {{37, 3, 8}, {53, 5, 8}, {41, 8, 8}, {29, 3, 5}, {17, 13, 24}, {1, 1, 8}, {0, 3, 8}};

// Random values with the special cases mixed in: NaN, +-inf, -0, a bf16 rounding tie, a denormal.
std::vector<float> random_floats(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(-3.0f, 3.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(gen);
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), -0.0f, 1.00390625f /* tie: 1 + 2^-8 */,
                            1e-40f};
  for (std::size_t i = 0; i < std::size(specials) && i * 7 < n; ++i) v[i * 7] = specials[i];
  return v;
}

std::vector<std::uint16_t> random_bits(std::size_t n, unsigned seed) {
  std::mt19937 gen(seed);
  std::vector<std::uint16_t> v(n);
  for (auto& x : v) x = static_cast<std::uint16_t>(gen() & 0xFFFFu);
  return v;
}

// Storage with a 16-byte aligned start (offset 0) or one element past it (offset 1).
template <typename T>
struct Placed {
  std::vector<T> storage;
  T* data;
  std::size_t n;
  Placed(std::size_t count, T fill, int offset) : storage(count + 16, fill), n(count) {
    auto addr = reinterpret_cast<std::uintptr_t>(storage.data());
    const std::size_t skip = ((16 - addr % 16) % 16) / sizeof(T);
    data = storage.data() + skip + static_cast<std::size_t>(offset);
  }
  std::vector<T> values() const { return std::vector<T>(data, data + n); }
};

// The definitions of channel_pad.h, written independently of the kernels.
std::vector<std::uint16_t> expected_pad(const std::vector<float>& in, const Shape& s) {
  std::vector<std::uint16_t> out(static_cast<std::size_t>(s.rows * s.padded), 0);
  for (std::int64_t r = 0; r < s.rows; ++r) {
    for (int c = 0; c < s.channels; ++c) {
      out[static_cast<std::size_t>(r * s.padded + c)] = dk::float_to_bf16_bits(in[static_cast<std::size_t>(r * s.channels + c)]);
    }
  }
  return out;
}

std::uint64_t emu_blocks() { return deeper::emu::stats().blocks; }

TEST(PadChannelsToBf16, EmuMatchesCpuAndTheDefinitionOnEveryShapeAndAlignment) {
  for (const Shape& s : kShapes) {
    const auto in = random_floats(static_cast<std::size_t>(s.rows * s.channels), 3u + static_cast<unsigned>(s.rows));
    const auto want = expected_pad(in, s);
    for (int offset : {0, 1}) {
      const std::string what = "rows " + std::to_string(s.rows) + " C " + std::to_string(s.channels) + " -> " +
                               std::to_string(s.padded) + (offset ? " misaligned" : " aligned");
      for (const Device& d : {kCpu, kEmu}) {
        Placed<std::uint16_t> out(want.size(), kPoison16, offset);
        dk::PadChannelsToBf16Params p;
        p.in = in.data();
        p.out = out.data;
        p.rows = s.rows;
        p.channels = s.channels;
        p.padded_channels = s.padded;
        dk::pad_channels_to_bf16(d, p);
        EXPECT_EQ(out.values(), want) << what << " on " << d.name();
        // Nothing written past the output.
        EXPECT_EQ(out.data[want.size()], kPoison16) << what;
      }
    }
  }
}

TEST(PadChannelsToBf16, WithoutPaddingItIsToBf16BitForBit) {
  const auto in = random_floats(40 * 8, 7);
  std::vector<std::uint16_t> pad(in.size(), kPoison16), plain(in.size(), kPoison16);
  dk::PadChannelsToBf16Params p;
  p.in = in.data();
  p.out = pad.data();
  p.rows = 40;
  p.channels = p.padded_channels = 8;
  dk::pad_channels_to_bf16(kEmu, p);
  dk::ToBf16Params t;
  t.in = in.data();
  t.out = plain.data();
  t.count = static_cast<std::int64_t>(in.size());
  dk::to_bf16(kEmu, t);
  EXPECT_EQ(pad, plain);
  // A NaN stays a NaN, a tie rounds to even, -0 keeps its sign.
  EXPECT_EQ(pad[0] & 0x7F80u, 0x7F80u);
  EXPECT_NE(pad[0] & 0x007Fu, 0u);
  EXPECT_EQ(pad[28], 0x3F80u);  // 1 + 2^-8 -> 1.0
  EXPECT_EQ(pad[21], 0x8000u);
}

TEST(PadChannelsToBf16, AlignedOutputsTakeTheVectorKernelOthersThePerValueOne) {
  // 1,000 rows of 3 -> 8 channels: 1,000 threads (4 blocks of 256) with 16-byte stores, 8,000
  // threads (32 blocks) one value each; the same values either way (checked above).
  const Shape s{1000, 3, 8};
  const auto in = random_floats(3000, 9);
  dk::PadChannelsToBf16Params p;
  p.in = in.data();
  p.rows = s.rows;
  p.channels = s.channels;
  p.padded_channels = s.padded;
  Placed<std::uint16_t> aligned(8000, kPoison16, 0), off(8000, kPoison16, 1);
  p.out = aligned.data;
  auto before = emu_blocks();
  dk::pad_channels_to_bf16(kEmu, p);
  EXPECT_EQ(emu_blocks() - before, 4u);
  p.out = off.data;
  before = emu_blocks();
  dk::pad_channels_to_bf16(kEmu, p);
  EXPECT_EQ(emu_blocks() - before, 32u);
  EXPECT_EQ(aligned.values(), off.values());
  EXPECT_EQ(aligned.values(), expected_pad(in, s));
}

TEST(PadChannelsBf16, EmuMatchesCpuAndTheDefinitionOnEveryShapeAndAlignment) {
  for (const Shape& s : kShapes) {
    const auto in = random_bits(static_cast<std::size_t>(s.rows * s.channels), 5u + static_cast<unsigned>(s.rows));
    std::vector<std::uint16_t> want(static_cast<std::size_t>(s.rows * s.padded), 0);
    for (std::int64_t r = 0; r < s.rows; ++r) {
      for (int c = 0; c < s.channels; ++c) {
        want[static_cast<std::size_t>(r * s.padded + c)] = in[static_cast<std::size_t>(r * s.channels + c)];
      }
    }
    for (int offset : {0, 1}) {
      for (const Device& d : {kCpu, kEmu}) {
        Placed<std::uint16_t> out(want.size(), kPoison16, offset);
        dk::PadChannelsBf16Params p;
        p.in = in.data();
        p.out = out.data;
        p.rows = s.rows;
        p.channels = s.channels;
        p.padded_channels = s.padded;
        dk::pad_channels_bf16(d, p);
        EXPECT_EQ(out.values(), want) << "rows " << s.rows << " C " << s.channels << " -> " << s.padded
                                      << " offset " << offset << " on " << d.name();
        EXPECT_EQ(out.data[want.size()], kPoison16);
      }
    }
  }
}

TEST(UnpadChannels, EmuMatchesCpuAndTheDefinitionWithSetAndAccumulate) {
  for (const Shape& s : kShapes) {
    const auto in = random_floats(static_cast<std::size_t>(s.rows * s.padded), 11u + static_cast<unsigned>(s.rows));
    const auto base = random_floats(static_cast<std::size_t>(s.rows * s.channels), 13u);
    for (bool accumulate : {false, true}) {
      std::vector<float> want(static_cast<std::size_t>(s.rows * s.channels));
      for (std::int64_t r = 0; r < s.rows; ++r) {
        for (int c = 0; c < s.channels; ++c) {
          const auto o = static_cast<std::size_t>(r * s.channels + c);
          const float v = in[static_cast<std::size_t>(r * s.padded + c)];
          want[o] = accumulate ? base[o] + v : v;
        }
      }
      for (int offset : {0, 1}) {
        for (const Device& d : {kCpu, kEmu}) {
          Placed<float> out(want.size(), kPoison32, offset);
          if (accumulate) std::copy(base.begin(), base.end(), out.data);
          dk::UnpadChannelsParams p;
          p.in = in.data();
          p.out = out.data;
          p.rows = s.rows;
          p.channels = s.channels;
          p.padded_channels = s.padded;
          p.accumulate = accumulate;
          dk::unpad_channels(d, p);
          const auto got = out.values();
          ASSERT_EQ(got.size(), want.size());
          // Bitwise (NaN payloads included): a copy or one fp32 addition on every backend.
          EXPECT_TRUE(got.empty() || std::memcmp(got.data(), want.data(), got.size() * sizeof(float)) == 0)
              << "rows " << s.rows << " C " << s.channels << " <- " << s.padded << " accumulate " << accumulate
              << " on " << d.name();
          EXPECT_EQ(out.data[want.size()], kPoison32);
        }
      }
    }
  }
}

void expect_error(const std::function<void()>& f, const std::string& fragment) {
  try {
    f();
    ADD_FAILURE() << "expected an error containing '" << fragment << "'";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

TEST(ChannelPadErrors, BadParametersAreOneLineErrorsNamingTheOpAndTheProblem) {
  std::vector<float> f32(256, 1.0f), f32b(256, 0.0f);
  std::vector<std::uint16_t> b16(256, 1), b16b(256, 0);
  for (const Device& d : {kCpu, kEmu}) {
    auto pad = [&](auto edit) {
      dk::PadChannelsToBf16Params p;
      p.in = f32.data();
      p.out = b16.data();
      p.rows = 4;
      p.channels = 3;
      p.padded_channels = 8;
      edit(p);
      return [&d, p] { dk::pad_channels_to_bf16(d, p); };
    };
    expect_error(pad([](auto& p) { p.padded_channels = 2; }), "pad_channels_to_bf16: padded_channels 2 is outside [channels = 3");
    expect_error(pad([](auto& p) { p.padded_channels = dk::kChannelPadMax + 1; }), "padded_channels 65537");
    expect_error(pad([](auto& p) { p.channels = 0; }), "channels 0 must be at least 1");
    expect_error(pad([](auto& p) { p.rows = -1; }), "negative rows -1");
    expect_error(pad([](auto& p) { p.in = nullptr; }), "pad_channels_to_bf16: null input or output");
    expect_error(pad([](auto& p) { p.out = nullptr; }), "null input or output");
    expect_error(pad([&](auto& p) { p.out = reinterpret_cast<std::uint16_t*>(reinterpret_cast<char*>(b16.data()) + 1); }),
                 "not aligned to its element size");
    expect_error(pad([&](auto& p) { p.in = reinterpret_cast<const float*>(reinterpret_cast<const char*>(f32.data()) + 2); }),
                 "not aligned");
    expect_error(pad([&](auto& p) { p.out = reinterpret_cast<std::uint16_t*>(f32.data() + 4); }), "overlap");
    EXPECT_NO_THROW(pad([](auto& p) { p.rows = 0, p.in = nullptr, p.out = nullptr; })());

    auto padb = [&](auto edit) {
      dk::PadChannelsBf16Params p;
      p.in = b16.data();
      p.out = b16b.data();
      p.rows = 4;
      p.channels = 5;
      p.padded_channels = 8;
      edit(p);
      return [&d, p] { dk::pad_channels_bf16(d, p); };
    };
    expect_error(padb([](auto& p) { p.padded_channels = 4; }), "pad_channels_bf16: padded_channels 4 is outside");
    expect_error(padb([](auto& p) { p.in = nullptr; }), "pad_channels_bf16: null input or output");
    expect_error(padb([&](auto& p) { p.in = reinterpret_cast<const std::uint16_t*>(reinterpret_cast<const char*>(b16.data()) + 1); }),
                 "not aligned");
    expect_error(padb([&](auto& p) { p.out = b16.data() + 10; }), "pad_channels_bf16: input and output overlap");
    EXPECT_NO_THROW(padb([&](auto& p) { p.out = b16.data() + 20; })());  // just past the input

    auto unpad = [&](auto edit) {
      dk::UnpadChannelsParams p;
      p.in = f32.data();
      p.out = f32b.data();
      p.rows = 4;
      p.channels = 3;
      p.padded_channels = 8;
      edit(p);
      return [&d, p] { dk::unpad_channels(d, p); };
    };
    expect_error(unpad([](auto& p) { p.padded_channels = 1; }), "unpad_channels: padded_channels 1 is outside");
    expect_error(unpad([](auto& p) { p.out = nullptr; }), "unpad_channels: null input or output");
    expect_error(unpad([&](auto& p) { p.out = reinterpret_cast<float*>(reinterpret_cast<char*>(f32b.data()) + 2); }),
                 "not aligned");
    expect_error(unpad([&](auto& p) { p.out = f32.data() + 31; }), "unpad_channels: input and output overlap");
  }
#if !DEEPER_HAVE_CUDA_KERNELS
  dk::UnpadChannelsParams p;
  p.in = f32.data();
  p.out = f32b.data();
  p.rows = 1;
  p.channels = 3;
  p.padded_channels = 8;
  EXPECT_THROW(dk::unpad_channels(Device::cuda(0), p), deeper::Error);
#endif
}

}  // namespace
