// deeper::Error, the one exception type that library code throws, and helpers to raise it.
//
// Library code never exits the process and never swallows an error: it throws deeper::Error with a
// message that says what failed and where. Programs catch it at main() and print one line.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>
#include <utility>

namespace deeper {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Throws deeper::Error with a fmt-formatted message.
template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace deeper

// DEEPER_CHECK(cond, "message {}", value): throws deeper::Error naming the condition and the place.
#define DEEPER_CHECK(cond, ...)                                                                    \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      throw ::deeper::Error(::fmt::format("{} (check '{}' failed at {}:{})",                       \
                                          ::fmt::format(__VA_ARGS__), #cond, __FILE__, __LINE__)); \
    }                                                                                              \
  } while (0)
