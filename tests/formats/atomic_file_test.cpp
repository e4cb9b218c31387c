// AtomicFile: new and replaced files, permissions kept, and every failure path (abandoned write,
// write error half-way, rename error, missing directory) leaves the old file and no temporary.
#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "tests/formats/format_test_util.h"

namespace deeper::io {
namespace {

using test::TempDir;

TEST(AtomicFile, WritesANewFileAndLeavesNoTemporary) {
  TempDir dir;
  write_file_atomic(dir / "a.bin", test::to_bytes("hello"));
  EXPECT_EQ(test::read_raw(dir / "a.bin"), "hello");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, WritesInTheCurrentDirectoryForABareName) {
  TempDir dir;
  const auto cwd = std::filesystem::current_path();
  std::filesystem::current_path(dir.path());
  write_file_atomic("bare.bin", test::to_bytes("x"));
  std::filesystem::current_path(cwd);
  EXPECT_EQ(test::read_raw(dir / "bare.bin"), "x");
}

TEST(AtomicFile, ReplacesAnExistingFileAndKeepsItsPermissions) {
  TempDir dir;
  test::write_raw(dir / "a.bin", "old contents");
  ASSERT_EQ(::chmod((dir / "a.bin").c_str(), 0640), 0);
  {
    AtomicFile f(dir / "a.bin");
    f.write(test::to_bytes("new "));
    f.write("contents", 8);
    EXPECT_EQ(test::read_raw(dir / "a.bin"), "old contents");  // untouched until commit
    f.commit();
  }
  EXPECT_EQ(test::read_raw(dir / "a.bin"), "new contents");
  struct stat st {};
  ASSERT_EQ(::stat((dir / "a.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
  TempDir dir;
  test::write_raw(dir / "a.bin", "old");
  {
    AtomicFile f(dir / "a.bin");
    f.write(test::to_bytes("half of the new"));
    EXPECT_TRUE(std::filesystem::exists(f.temporary_path()));
    EXPECT_EQ(f.temporary_path().parent_path(), dir.path());  // same directory: rename is atomic
  }  // destroyed without commit, e.g. by an exception
  EXPECT_EQ(test::read_raw(dir / "a.bin"), "old");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, WriteErrorHalfWayKeepsTheOldFileAndRemovesTheTemporary) {
  TempDir dir;
  test::write_raw(dir / "a.bin", "old");
  const std::vector<std::byte> big(100000, std::byte{7});
  {
    test::FileSizeLimit limit(4096);  // write() fails with EFBIG after 4 KiB, like a full disk
    EXPECT_ERROR(write_file_atomic(dir / "a.bin", big), "write failed");
  }
  EXPECT_EQ(test::read_raw(dir / "a.bin"), "old");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"a.bin"});
}

TEST(AtomicFile, RenameErrorKeepsTheTargetAndRemovesTheTemporary) {
  TempDir dir;
  std::filesystem::create_directories(dir / "target" / "inside");
  EXPECT_ERROR(write_file_atomic(dir / "target", test::to_bytes("x")), "rename failed");
  EXPECT_TRUE(std::filesystem::is_directory(dir / "target" / "inside"));
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"target"});
}

TEST(AtomicFile, MissingDirectoryIsAClearError) {
  TempDir dir;
  const std::string msg = test::error_message([&] { AtomicFile f(dir / "no" / "such" / "a.bin"); });
  EXPECT_NE(msg.find("cannot create a temporary file"), std::string::npos) << msg;
  EXPECT_NE(msg.find("a.bin"), std::string::npos) << msg;
}

TEST(AtomicFile, UseAfterCommitIsAnError) {
  TempDir dir;
  AtomicFile f(dir / "a.bin");
  f.commit();
  EXPECT_ERROR(f.write("x", 1), "already committed");
  EXPECT_ERROR(f.commit(), "already committed");
  EXPECT_EQ(test::read_raw(dir / "a.bin"), "");
}

TEST(AtomicFile, ReadFileBytesNamesAMissingFile) {
  TempDir dir;
  EXPECT_ERROR(read_file_bytes(dir / "missing.bin"), "missing.bin");
  test::write_raw(dir / "b.bin", std::string("a\0b", 3));
  EXPECT_EQ(test::to_string(read_file_bytes(dir / "b.bin")), std::string("a\0b", 3));
}

}  // namespace
}  // namespace deeper::io
