// ProgramTest: a GoogleTest fixture for end-to-end tests of one command-line program. Each test gets
// a fresh temporary folder (dir_, removed afterwards); run(args) runs the program through the shell
// with stdout and stderr captured; expect_error checks the one-line error convention
// ("<program>: error: ...", exit status 1 or 2).
//
//   class TrainApp : public deeper::test::ProgramTest {
//    protected:
//     TrainApp() : ProgramTest(DEEPER_TRAIN_BINARY, "deeper-train") {}
//   };
#pragma once

#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>

namespace deeper::test {

struct Outcome {
  int status = -1;  // exit status; -1 when the program did not exit normally
  std::string out, err;
};

// A whole file as a string ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class ProgramTest : public ::testing::Test {
 protected:
  // `binary`: the program's path; `name`: what it calls itself in errors ("deeper-train");
  // `run_in_dir`: run it with dir_ as the working folder.
  ProgramTest(std::string binary, std::string name, bool run_in_dir = false)
      : binary_(std::move(binary)), name_(std::move(name)), run_in_dir_(run_in_dir) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           (name_ + "-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Outcome run(const std::string& args) const {
    const std::filesystem::path out = dir_ / "stdout.txt", err = dir_ / "stderr.txt";
    const std::string prefix = run_in_dir_ ? "cd '" + dir_.string() + "' && " : std::string();
    const std::string cmd = prefix + "'" + binary_ + "' " + args + " >'" + out.string() + "' 2>'" + err.string() + "'";
    const int raw = std::system(cmd.c_str());
    Outcome o;
    o.status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
    o.out = slurp(out);
    o.err = slurp(err);
    return o;
  }

  // Expects exit `status` and exactly one stderr line "<name>: error: ..." containing `text`.
  void expect_error(const std::string& args, int status, const std::string& text) const {
    const Outcome o = run(args);
    EXPECT_EQ(o.status, status) << args << "\n" << o.err;
    EXPECT_EQ(o.err.rfind(name_ + ": error: ", 0), 0u) << args << "\n" << o.err;
    EXPECT_EQ(std::count(o.err.begin(), o.err.end(), '\n'), 1) << args << "\n" << o.err;
    EXPECT_NE(o.err.find(text), std::string::npos) << args << "\n" << o.err;
  }

  std::filesystem::path dir_;

 private:
  std::string binary_, name_;
  bool run_in_dir_;
};

}  // namespace deeper::test
