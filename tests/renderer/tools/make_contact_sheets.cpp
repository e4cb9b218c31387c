// make_contact_sheets OUTDIR [SEED]: renders the face model's contact sheets (identities.png and
// factor_sweeps.png) into OUTDIR. The images in docs/images/ come from
//   build/<preset>/tests/renderer_contact_sheets docs/images
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "renderer/contact_sheet.h"

int main(int argc, char** argv) {
  if (argc < 2 || argc > 3) {
    std::fprintf(stderr, "usage: %s OUTDIR [SEED]\n", argv[0]);
    return 2;
  }
  try {
    const std::uint64_t seed = argc == 3 ? std::strtoull(argv[2], nullptr, 10) : 1;
    const deeper::render::FaceModel model = deeper::render::make_procedural_model();
    deeper::render::write_contact_sheets(model, argv[1], seed);
    std::printf("wrote %s/identities.png and %s/factor_sweeps.png\n", argv[1], argv[1]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_contact_sheets: error: %s\n", e.what());
    return 1;
  }
}
