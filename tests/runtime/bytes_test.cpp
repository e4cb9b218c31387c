// format_bytes: the sizes that error messages and device descriptions show.
#include <gtest/gtest.h>

#include "kernels/runtime/bytes.h"

#include <cstdint>

namespace deeper {
namespace {

TEST(FormatBytes, PicksBinaryUnitsWithOneDecimal) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
  EXPECT_EQ(format_bytes(1024), "1 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(1572864), "1.5 MiB");
  EXPECT_EQ(format_bytes(std::uint64_t{80} << 30), "80 GiB");
  EXPECT_EQ(format_bytes(1048575), "1 MiB");  // 1023.999 KiB does not print as "1024 KiB"
  EXPECT_EQ(format_bytes(UINT64_MAX), "16 EiB");
}

}  // namespace
}  // namespace deeper
