// error_of(fn): the message of the deeper::Error that fn throws; a test failure when it throws
// nothing. Shared by the test suites.
#pragma once

#include <gtest/gtest.h>

#include "core/error.h"

#include <string>

namespace deeper::test_util {

template <typename Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected deeper::Error";
  return {};
}

}  // namespace deeper::test_util
