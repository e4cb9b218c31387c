// AtomicFile: temporary file in the target's directory, fsync, rename, fsync the directory (POSIX).
#include "core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <utility>

#include "core/error.h"

namespace deeper::io {
namespace {

std::atomic<unsigned> g_temp_counter{0};

// The directory that holds `target` ("." for a bare file name).
std::filesystem::path parent_dir(const std::filesystem::path& target) {
  auto dir = target.parent_path();
  return dir.empty() ? std::filesystem::path(".") : dir;
}

void close_quietly(int fd) noexcept {
  if (fd >= 0) ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path target) : target_(std::move(target)) {
  if (target_.filename().empty()) fail("cannot write '{}': not a file name", target_.string());
  const auto dir = parent_dir(target_);
  const std::string base = target_.filename().string();
  // A hidden name next to the target; O_EXCL makes the choice race-free, the counter and the pid
  // keep concurrent writers (threads or processes) apart.
  for (int attempt = 0; attempt < 100; ++attempt) {
    const unsigned n = g_temp_counter.fetch_add(1, std::memory_order_relaxed);
    temp_ = dir / fmt::format(".{}.tmp-{}-{}", base, static_cast<long>(::getpid()), n);
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    if (errno != EEXIST) {
      const int err = errno;
      temp_.clear();
      fail("cannot write '{}': cannot create a temporary file in '{}': {}", target_.string(), dir.string(),
           std::strerror(err));
    }
  }
  if (fd_ < 0) {
    temp_.clear();
    fail("cannot write '{}': no free temporary file name in '{}'", target_.string(), dir.string());
  }
  // Replacing a file keeps its permission bits (new files get 0666 minus the umask, like open()).
  struct stat st {};
  if (::stat(target_.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
    if (::fchmod(fd_, st.st_mode & 07777) != 0) fail_with_errno("fchmod", errno);
  }
}

AtomicFile::~AtomicFile() {
  if (!committed_) discard();
}

void AtomicFile::discard() noexcept {
  close_quietly(fd_);
  fd_ = -1;
  if (!temp_.empty()) ::unlink(temp_.c_str());
  temp_.clear();
}

void AtomicFile::fail_with_errno(const char* what, int err) {
  discard();
  fail("cannot write '{}': {} failed: {}", target_.string(), what, std::strerror(err));
}

void AtomicFile::write(const void* data, std::size_t size) {
  if (fd_ < 0) fail("cannot write '{}': the file is already committed or discarded", target_.string());
  const auto* p = static_cast<const char*>(data);
  while (size > 0) {
    // Linux writes at most ~2 GiB per call; loop over short writes.
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_with_errno("write", errno);
    }
    if (n == 0) fail_with_errno("write", EIO);
    p += n;
    size -= static_cast<std::size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) fail("cannot write '{}': the file is already committed or discarded", target_.string());
  if (::fsync(fd_) != 0) fail_with_errno("fsync", errno);
  const int fd = std::exchange(fd_, -1);
  if (::close(fd) != 0) fail_with_errno("close", errno);
  if (::rename(temp_.c_str(), target_.c_str()) != 0) fail_with_errno("rename", errno);
  temp_.clear();
  committed_ = true;
  // Make the rename itself durable. Some filesystems cannot fsync a directory (EINVAL); the data
  // is in place either way, so only real I/O errors are reported.
  const auto dir = parent_dir(target_);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return;
  const int rc = ::fsync(dfd);
  const int err = errno;
  ::close(dfd);
  if (rc != 0 && err != EINVAL && err != EROFS && err != EBADF) {
    fail("wrote '{}' but fsync of directory '{}' failed: {}", target_.string(), dir.string(),
         std::strerror(err));
  }
}

void write_file_atomic(const std::filesystem::path& target, std::span<const std::byte> bytes) {
  AtomicFile file(target);
  file.write(bytes);
  file.commit();
}

InputFile open_input_file(const std::filesystem::path& path, std::string_view what) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    fail("{}: {}", what, std::filesystem::exists(path, ec) ? "not a regular file" : "no such file");
  }
  InputFile file;
  file.size = std::filesystem::file_size(path, ec);
  if (ec) fail("{}: cannot determine its size: {}", what, ec.message());
  file.stream.open(path, std::ios::binary);
  if (!file.stream) fail("{}: cannot open it: {}", what, std::strerror(errno));
  return file;
}

std::vector<std::byte> read_file_bytes(const std::filesystem::path& path) {
  InputFile file = open_input_file(path, path.string());
  std::vector<std::byte> bytes(static_cast<std::size_t>(file.size));
  if (!bytes.empty() && !file.stream.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()))) {
    fail("{}: read failed after {} of {} bytes", path.string(), file.stream.gcount(), file.size);
  }
  return bytes;
}

}  // namespace deeper::io
