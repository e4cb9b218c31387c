// Byte counts for people: format_bytes(1572864) == "1.5 MiB". Used in error messages and device
// descriptions, always next to the exact count where exactness matters.
#pragma once

#include <cstdint>
#include <string>

namespace deeper {

// "0 B", "512 B", "1.5 KiB", "80 GiB", "16 EiB": binary units, at most one decimal, trailing ".0"
// dropped.
std::string format_bytes(std::uint64_t bytes);

}  // namespace deeper
