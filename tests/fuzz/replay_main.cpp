// Replays a fuzz target's seed corpus without libFuzzer (the normal gcc build): every file under
// the folders or files given on the command line goes through LLVMFuzzerTestOneInput once.
// Fails if nothing was replayed, so a missing corpus cannot pass silently.
#include <cstddef>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

void replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t count = 0;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::filesystem::path arg = argv[i];
      if (std::filesystem::is_directory(arg)) {
        for (const auto& e : std::filesystem::recursive_directory_iterator(arg)) {
          if (!e.is_regular_file()) continue;
          replay(e.path());
          ++count;
        }
      } else {
        replay(arg);
        ++count;
      }
    }
  } catch (const std::exception& e) {
    std::cerr << "replay: unexpected exception escaped the target: " << e.what() << "\n";
    return 1;
  }
  if (count == 0) {
    std::cerr << "replay: no inputs found\n";
    return 1;
  }
  std::cout << "replayed " << count << " inputs\n";
  return 0;
}
