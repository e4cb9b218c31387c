// Helpers for the format tests: a scratch directory, raw file access, a file-size limit that makes
// writes fail half-way, and EXPECT_ERROR (the statement throws deeper::Error whose message
// contains a given text).
#pragma once

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"

namespace deeper::test {

// A fresh directory under the system temp directory, removed with its contents at scope exit.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = std::filesystem::temp_directory_path() /
            ("deeper-formats-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" +
             (info != nullptr ? info->name() : "x"));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }

  // Names of the entries in the directory (to show that no temporary file was left behind).
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_))
      names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline std::vector<std::byte> to_bytes(const std::string& s) {
  std::vector<std::byte> out(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) out[i] = static_cast<std::byte>(s[i]);
  return out;
}

inline std::string to_string(const std::vector<std::byte>& b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

inline void write_raw(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

inline std::string read_raw(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// While alive, files this process writes cannot grow past `bytes` (write() fails with EFBIG):
// a stand-in for a full disk, to show that a failed write leaves the old file intact.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    old_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limit = saved_;
    limit.rlim_cur = bytes;
    ::setrlimit(RLIMIT_FSIZE, &limit);
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, old_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t old_handler_ = SIG_DFL;
};

// The message of the deeper::Error that `f` throws, or "" (and a test failure) if it does not.
template <typename F>
std::string error_message(F&& f) {
  try {
    f();
  } catch (const deeper::Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected deeper::Error, got another exception: " << e.what();
    return {};
  }
  ADD_FAILURE() << "expected deeper::Error, nothing was thrown";
  return {};
}

}  // namespace deeper::test

// EXPECT_ERROR(statement, "text"): the statement throws deeper::Error and its message contains text.
#define EXPECT_ERROR(statement, text)                                                      \
  do {                                                                                     \
    const std::string deeper_msg_ = ::deeper::test::error_message([&] { statement; });     \
    EXPECT_NE(deeper_msg_.find(text), std::string::npos)                                   \
        << "message: '" << deeper_msg_ << "'\nexpected it to contain: '" << (text) << "'"; \
  } while (0)
