// The --device string: which forms are accepted, and the CLI11 validator that enforces them.
#include <gtest/gtest.h>

#include <string>

#include "core/cli.h"

namespace deeper {
namespace {

TEST(DeviceString, Accepted) {
  for (const char* text : {"auto", "cpu", "emu", "cuda", "cuda:0", "cuda:7", "cuda:15", "cuda:1023"}) {
    EXPECT_TRUE(is_device_string(text)) << text;
  }
}

TEST(DeviceString, Rejected) {
  for (const char* text :
       {"", "gpu", "CUDA", "Cpu", "cuda:", "cuda:-1", "cuda:+1", "cuda:1024", "cuda:x", "cuda0", "cuda:1:2",
        " cpu", "cpu ", "cuda:00001", "cuda: 1", "emu:0", "cpu:0", "auto,cpu"}) {
    EXPECT_FALSE(is_device_string(text)) << "'" << text << "'";
  }
}

TEST(DeviceString, ValidatorAgrees) {
  const CLI::Validator validator = device_validator();
  std::string good = "cuda:3";
  EXPECT_EQ(validator(good), "");
  std::string bad = "tpu";
  EXPECT_EQ(validator(bad), "'tpu' is not a device; use auto, cpu, cuda, cuda:N or emu");
}

TEST(CommonOptions, PresetDefaultsAreKept) {
  CLI::App app("test", "deeper-x");
  CommonOptions options;
  options.device = "cpu";
  options.seed = 7;
  options.threads = 2;
  add_common_options(app, options);
  app.parse(std::vector<std::string>{});
  EXPECT_EQ(options.device, "cpu");
  EXPECT_EQ(options.seed, 7u);
  EXPECT_EQ(options.threads, 2);
  app.parse(std::vector<std::string>{"5", "--threads"});  // CLI11 takes a reversed vector
  EXPECT_EQ(options.threads, 5);
}

}  // namespace
}  // namespace deeper
