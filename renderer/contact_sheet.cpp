// Contact sheets (contact_sheet.h).
#include "renderer/contact_sheet.h"

#include <algorithm>
#include <functional>

#include "core/error.h"
#include "renderer/evaluate.h"
#include "renderer/identities.h"
#include "renderer/preview.h"

namespace deeper::render {
namespace {

constexpr std::array<std::uint8_t, 4> kSheetBackground{40, 40, 44, 255};

io::Image8 render(const FaceModel& model, const Identity& id, Expression expression, float intensity,
                  const PreviewView& view) {
  const std::vector<float> v = vertices(model, id, expression, intensity);
  const std::vector<float> t = texture(model, id);
  const std::vector<float> image = render_preview(model.mesh, v, t, model.texture_height, model.texture_width, view);
  return io::image_from_float(image, view.width, view.height, 3);
}

io::Image8 blank(int size) {
  io::Image8 b{size, size, 3, {}};
  b.pixels.assign(static_cast<std::size_t>(size) * size * 3, kSheetBackground[0]);
  return b;
}

Identity mean_identity(const FaceModel& model, Factors factors) {
  Identity id;
  id.factors = factors;
  id.shape.assign(model.shape_sd.size(), 0.0f);
  id.texture.assign(model.texture_sd.size(), 0.0f);
  return id;
}

}  // namespace

io::Image8 identity_sheet(const FaceModel& model, std::uint64_t seed, int count, int columns, int size) {
  if (count < 1 || columns < 1 || size < 8) fail("identity_sheet: bad layout ({} identities, {} columns, {} px)", count, columns, size);
  const IdentitySet set = make_identities(model, seed, count);
  std::vector<io::Image8> tiles;
  for (int i = 0; i < count; ++i) {
    PreviewView view;
    view.width = view.height = size;
    view.yaw_deg = static_cast<float>((i * 7) % 9 - 4) * 5.0f;
    view.pitch_deg = static_cast<float>((i * 5) % 5 - 2) * 3.0f;
    tiles.push_back(render(model, set.identities[static_cast<std::size_t>(i)], Expression::neutral, 0.0f, view));
  }
  return io::image_grid(tiles, columns, 2, kSheetBackground);
}

io::Image8 factor_sweep_sheet(const FaceModel& model, std::uint64_t seed, int size) {
  constexpr int kColumns = 7;
  PreviewView view;
  view.width = view.height = size;
  view.yaw_deg = 12.0f;
  std::vector<io::Image8> tiles;
  auto row = [&](const std::function<io::Image8(int)>& tile, int n) {
    for (int c = 0; c < kColumns; ++c) tiles.push_back(c < n ? tile(c) : blank(size));
  };
  const Factors base{Gender::female, 0, 35.0f};
  // Gender x ethnicity (female, male for each ethnicity), at the category means.
  row([&](int c) {
    return render(model, mean_identity(model, {static_cast<Gender>(c % 2), c / 2, 35.0f}), Expression::neutral, 0, view);
  }, 2 * model.ethnicity_count());
  // Age from age_min to age_max.
  row([&](int c) {
    const float age = model.age_min + (model.age_max - model.age_min) * static_cast<float>(c) / (kColumns - 1);
    return render(model, mean_identity(model, {Gender::male, 0, age}), Expression::neutral, 0, view);
  }, kColumns);
  // Shape and texture components at z = -3 .. 3.
  const int ks = static_cast<int>(model.shape_components()), kt = static_cast<int>(model.texture_components());
  for (int k : {0, 1, 2, 12}) {
    if (k >= ks) continue;
    row([&](int c) {
      Identity id = mean_identity(model, base);
      id.shape[static_cast<std::size_t>(k)] = static_cast<float>(c - 3) * model.shape_sd[static_cast<std::size_t>(k)];
      return render(model, id, Expression::neutral, 0, view);
    }, kColumns);
  }
  std::vector<int> texture_rows;
  for (int band = 0; band < 5 && static_cast<int>(texture_rows.size()) < 4; band += band == 0 ? 2 : 1) {
    for (int k = 0; k < kt; ++k)
      if (model.texture_band[static_cast<std::size_t>(k)] == band) {
        texture_rows.push_back(k);
        break;
      }
  }
  for (int k : texture_rows) {
    row([&](int c) {
      Identity id = mean_identity(model, base);
      id.texture[static_cast<std::size_t>(k)] = static_cast<float>(c - 3) * model.texture_sd[static_cast<std::size_t>(k)];
      return render(model, id, Expression::neutral, 0, view);
    }, kColumns);
  }
  // The seven expressions at full intensity, and yaw from -45 to 45 degrees, on one identity.
  const Identity person = make_identity(model, seed, 3);
  row([&](int c) { return render(model, person, static_cast<Expression>(c), 1.0f, view); }, kExpressions);
  row([&](int c) {
    PreviewView turned = view;
    turned.yaw_deg = -45.0f + 15.0f * static_cast<float>(c);
    return render(model, person, Expression::neutral, 0, turned);
  }, kColumns);
  return io::image_grid(tiles, kColumns, 2, kSheetBackground);
}

namespace {

// Rounds every channel to a multiple of `step` (centred), so that the committed PNGs stay small.
io::Image8 posterize(io::Image8 image, int step) {
  for (std::uint8_t& p : image.pixels) p = static_cast<std::uint8_t>(std::min(255, p / step * step + step / 2));
  return image;
}

}  // namespace

void write_contact_sheets(const FaceModel& model, const std::filesystem::path& directory, std::uint64_t seed) {
  std::filesystem::create_directories(directory);
  io::write_png(directory / "identities.png", posterize(identity_sheet(model, seed), 12));
  io::write_png(directory / "factor_sweeps.png", posterize(factor_sweep_sheet(model, seed, 112), 8));
}

}  // namespace deeper::render
