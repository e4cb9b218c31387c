#include "kernels/runtime/bytes.h"

#include <fmt/format.h>

#include <array>
#include <string_view>

namespace deeper {

std::string format_bytes(std::uint64_t bytes) {
  static constexpr std::array<std::string_view, 7> units = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return fmt::format("{} B", bytes);
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < units.size()) {
    value /= 1024.0;
    ++unit;
  }
  if (value >= 1023.95 && unit + 1 < units.size()) {  // would print as "1024.0"
    value /= 1024.0;
    ++unit;
  }
  std::string text = fmt::format("{:.1f}", value);
  if (text.ends_with(".0")) text.resize(text.size() - 2);
  return fmt::format("{} {}", text, units[unit]);
}

}  // namespace deeper
