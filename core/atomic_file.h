// Atomic file replacement: a file that a long run writes is either the old one or the complete new
// one, never a torn mix, even if the process dies or the disk fills up half-way.
//
// AtomicFile writes into a fresh temporary file in the target's directory (so that rename stays on
// one filesystem), and commit() fsyncs it, renames it over the target and fsyncs the directory.
// If anything fails, or the AtomicFile is destroyed without commit(), the temporary file is removed
// and the old target is untouched. Errors are deeper::Error naming the target and the OS message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <span>
#include <vector>

namespace deeper::io {

class AtomicFile {
 public:
  // Creates the temporary file next to `target`; throws if the directory is missing or unwritable.
  explicit AtomicFile(std::filesystem::path target);
  ~AtomicFile();  // removes the temporary file unless commit() succeeded
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes to the temporary file (retries short writes and EINTR).
  void write(const void* data, std::size_t size);
  void write(std::span<const std::byte> bytes) { write(bytes.data(), bytes.size()); }

  // fsync, close, rename over the target, fsync the directory. After a successful commit the
  // object is inert; calling write() or commit() again throws.
  void commit();

  const std::filesystem::path& target() const { return target_; }
  const std::filesystem::path& temporary_path() const { return temp_; }

 private:
  void discard() noexcept;  // close and unlink the temporary file, if any
  [[noreturn]] void fail_with_errno(const char* what, int err);

  std::filesystem::path target_;
  std::filesystem::path temp_;
  int fd_ = -1;
  bool committed_ = false;
};

// Writes `bytes` to `target` atomically (AtomicFile + commit).
void write_file_atomic(const std::filesystem::path& target, std::span<const std::byte> bytes);

// A regular file opened for binary reading, with its size in bytes.
struct InputFile {
  std::ifstream stream;
  std::uint64_t size = 0;
};
// Opens `path` for reading; throws deeper::Error "<what>: no such file" (or not a regular file,
// size unknown, cannot open) so that readers name the file the same way.
InputFile open_input_file(const std::filesystem::path& path, std::string_view what);

// Reads a whole file; throws deeper::Error naming the file if it cannot be opened or read.
std::vector<std::byte> read_file_bytes(const std::filesystem::path& path);

}  // namespace deeper::io
