// deeper-info: which device deeper would use, and why; what this build contains.
//
//   deeper-info [--device auto|cpu|cuda[:N]|emu] [--json]
//
// Prints the selected device and the reason for the choice (e.g. "no CUDA driver"), a description
// of it, the number of CUDA devices seen, whether CUDA kernels were compiled in, and the emulator's
// seed. Exit 1 when an explicitly requested device is unusable.
#include "core/cli.h"
#include "kernels/emu/emulator.h"
#include "kernels/runtime/device.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
  bool json = false;
  return deeper::run_main(
      argc, argv, "info", [&](CLI::App& app) { app.add_flag("--json", json, "print one JSON object instead of text"); },
      [&](const deeper::CommonOptions& common) {
        const deeper::DeviceChoice choice = deeper::select_device(common.device);
        const deeper::CudaProbe probe = deeper::probe_cuda();
        const std::string description = deeper::describe_device(choice.device);
        if (json) {
          const nlohmann::json out = {{"device", choice.device.name()},
                                      {"why", choice.why},
                                      {"description", description},
                                      {"cuda_devices", probe.device_count},
                                      {"cuda_unusable_reason", probe.reason},
                                      {"cuda_kernels_built", deeper::cuda_kernels_built()},
                                      {"emulator_seed", deeper::emu::seed()},
                                      {"version", DEEPER_VERSION}};
          std::cout << out.dump(2) << '\n';
          return;
        }
        std::cout << "device:        " << choice.device.name() << '\n'
                  << "why:           " << choice.why << '\n'
                  << "description:   " << description << '\n'
                  << "CUDA devices:  " << probe.device_count
                  << (probe.device_count == 0 ? " (" + probe.reason + ")" : std::string()) << '\n'
                  << "CUDA kernels:  " << (deeper::cuda_kernels_built() ? "built (sm_90)" : "not built") << '\n'
                  << "emulator seed: " << deeper::emu::seed() << " (DEEPER_EMU_SEED)\n";
      });
}
