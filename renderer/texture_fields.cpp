// The procedural model's texture map: skin, brows, lips, eyes (sclera, iris, pupil, lash line),
// nostrils and a soft shading term, composited as fixed-weight layers so that the texture is
// linear in the layer colours; the GLM texture fields of gender, ethnicity, age and interactions;
// and the raw identity texture components in 5 spatial-frequency bands.
#include <array>
#include <functional>

#include "kernels/common/random_streams.h"
#include "kernels/common/random.h"
#include "renderer/procedural.h"

namespace deeper::render::procedural {
namespace {

using Rgb = Vec3;
constexpr int kE = 3;
constexpr float kPi = 3.14159265358979f;
// Fixed Philox key and stream of the procedural texture basis ("FACE", "FMTB"); the model is the
// same on every machine and for every --seed.
constexpr std::uint64_t kModelSeed = 0x46414345u;
constexpr std::uint32_t kTextureBasisStream = rng::streams::face_texture_basis;

// Layers, bottom to top; each texel's colour is sum_l weight_l * colour_l.
enum Layer { skin, lip, mouth_line, nostril, brow, sclera, iris, pupil, lash, kLayers };

struct Texel {
  std::array<float, kLayers> weight{};
  float brow_halo = 0, cheek = 0, beard = 0, under_eye = 0, wrinkles = 0, tissue = 0;
};

struct Palette {
  std::array<Rgb, kLayers> colour;
};

Palette palette(int e) {
  static const std::array<Rgb, kE> skin_tone{Rgb{0.86f, 0.67f, 0.56f}, Rgb{0.87f, 0.71f, 0.55f},
                                            Rgb{0.47f, 0.31f, 0.22f}};
  static const std::array<Rgb, kE> lip_tone{Rgb{0.76f, 0.43f, 0.42f}, Rgb{0.76f, 0.46f, 0.42f},
                                           Rgb{0.40f, 0.21f, 0.19f}};
  static const std::array<Rgb, kE> brow_tone{Rgb{0.33f, 0.23f, 0.16f}, Rgb{0.12f, 0.09f, 0.08f},
                                            Rgb{0.10f, 0.07f, 0.06f}};
  static const std::array<Rgb, kE> iris_tone{Rgb{0.36f, 0.34f, 0.28f}, Rgb{0.24f, 0.15f, 0.08f},
                                            Rgb{0.18f, 0.11f, 0.06f}};
  Palette p;
  p.colour[skin] = skin_tone[e];
  p.colour[lip] = lip_tone[e];
  p.colour[mouth_line] = {0.22f, 0.07f, 0.07f};
  p.colour[nostril] = 0.35f * skin_tone[e];
  p.colour[brow] = brow_tone[e];
  p.colour[sclera] = {0.92f, 0.90f, 0.86f};
  p.colour[iris] = iris_tone[e];
  p.colour[pupil] = {0.03f, 0.03f, 0.03f};
  p.colour[lash] = {0.07f, 0.05f, 0.05f};
  return p;
}

float line_profile(float distance, float half_width) {
  return std::exp(-0.5f * distance * distance / (half_width * half_width));
}

Texel texel_at(float x, float y) {
  const float ax = std::abs(x);
  std::array<float, kLayers> alpha{};
  Texel t;
  // Eye opening (almond), iris, pupil, upper lash line, lid crease.
  const float ex = (ax - kEyeX) / kEyeHalfWidth;
  float shade = 1.0f;
  if (std::abs(ex) < 1.0f) {
    const float q = 1.0f - ex * ex;
    const float top = kEyeY + 4.6f * std::pow(q, 0.8f) + 0.8f * ex;
    const float bottom = kEyeY - 3.3f * std::pow(q, 0.9f) + 0.4f * ex;
    const float open = smoothstep(bottom - 0.3f, bottom + 0.3f, y) * smoothstep(top + 0.3f, top - 0.3f, y);
    const float r = std::hypot(ax - kEyeX, y - (kEyeY + 0.4f));
    alpha[sclera] = open;
    alpha[iris] = open * smoothstep(5.6f, 5.0f, r);
    alpha[pupil] = open * smoothstep(2.3f, 1.9f, r);
    alpha[lash] = smoothstep(top - 0.3f, top + 0.1f, y) * smoothstep(top + 1.4f, top + 0.6f, y) * std::pow(q, 0.3f);
    shade -= 0.10f * gauss(ax, y, kEyeX, kEyeY + 7.0f, 10, 1.6f);
  }
  // Brows: an arch from the inner end (|x| = 12) to the tail, thinning outward.
  const float s = (ax - 12.0f) / 40.0f;
  if (s > -0.1f && s < 1.1f) {
    const float yc = kBrowY - 1.5f + 9.0f * s * (1.1f - s);
    const float half = 3.0f * (1.0f - 0.5f * s);
    const float ends = smoothstep(-0.05f, 0.08f, s) * smoothstep(1.0f, 0.85f, s);
    const float hair = 0.85f + 0.15f * std::sin(3.0f * x + 1.7f * y);
    alpha[brow] = 0.92f * hair * ends * smoothstep(half + 0.7f, half - 0.3f, std::abs(y - yc));
    t.brow_halo = ends * smoothstep(half + 3.0f, half + 0.3f, std::abs(y - yc)) * (1.0f - alpha[brow]);
  }
  // Lips with a cupid's bow, the mouth line, nostrils.
  if (ax < 25.0f) {
    const float up = kMouthY + 5.5f * std::pow(std::max(0.0f, 1.0f - (x / kMouthHalfWidth) * (x / kMouthHalfWidth)), 0.7f) -
                     1.2f * line_profile(x, 2.5f);
    const float lo = kMouthY - 6.5f * std::pow(std::max(0.0f, 1.0f - (x / 21.5f) * (x / 21.5f)), 0.8f);
    alpha[lip] = 0.85f * smoothstep(lo - 0.6f, lo + 0.6f, y) * smoothstep(up + 0.6f, up - 0.6f, y);
    alpha[mouth_line] = smoothstep(1.1f, 0.6f, std::abs(y - kMouthY)) * smoothstep(23.0f, 19.0f, ax);
  }
  {
    const float nx = (ax - 6.5f) / 2.6f, ny = (y + 24.3f) / 1.4f;
    alpha[nostril] = 0.6f * smoothstep(1.1f, 0.6f, std::sqrt(nx * nx + ny * ny));
  }
  // Soft shading: darker toward the rim of the face, under the eyes and along the nasolabial folds.
  const float rx = x / kFaceHalfWidth, ry = (y + 2.0f) / 78.0f;
  shade -= 0.16f * smoothstep(0.45f, 1.0f, rx * rx + ry * ry);
  t.under_eye = gauss(ax, y, kEyeX - 2.0f, kEyeY - 7.0f, 9, 3.5f);
  shade -= 0.04f * t.under_eye;
  const float along = std::clamp((-20.0f - y) / 26.0f, 0.0f, 1.0f);
  const float fold = gauss(ax, y, 15.0f + 13.0f * along, -20.0f - 26.0f * along, 1.5f, 13.0f) * (y < -18 ? 1.0f : 0.0f);
  shade -= 0.04f * fold;
  shade += 0.03f * gauss(x, y, 0, -5, 6, 20);  // highlight down the nose
  // Weights: alpha compositing from the top layer down.
  alpha[skin] = 1.0f;
  float above = 1.0f;
  for (int l = kLayers - 1; l >= 0; --l) {
    t.weight[l] = alpha[l] * above;
    above *= 1.0f - alpha[l];
  }
  for (Layer l : {skin, lip, nostril, brow}) t.weight[l] *= shade;
  t.tissue = t.weight[skin] + t.weight[lip] + t.weight[nostril];
  t.cheek = gauss(ax, y, 40, -12, 10, 8) * t.weight[skin];
  t.beard = smoothstep(-22.0f, -32.0f, y) * smoothstep(64.0f, 50.0f, ax) * t.weight[skin];
  t.under_eye *= t.weight[skin];
  // Age lines: forehead, crow's feet, nasolabial folds.
  float lines = 0;
  for (int k = 0; k < 4; ++k)
    lines += line_profile(y - (42.0f + 6.5f * k) - 1.2f * std::sin(x / 14.0f + k), 0.45f) * smoothstep(38.0f, 18.0f, ax);
  for (float angle : {-0.45f, 0.0f, 0.45f}) {
    const float cx = ax - (kEyeX + kEyeHalfWidth + 1.0f), cy = y - kEyeY;
    const float along_line = cx * std::cos(angle) + cy * std::sin(angle);
    const float across = -cx * std::sin(angle) + cy * std::cos(angle);
    lines += line_profile(across, 0.4f) * smoothstep(1.0f, 3.0f, along_line) * smoothstep(11.0f, 6.0f, along_line);
  }
  lines += 1.5f * fold;
  t.wrinkles = lines * t.weight[skin];
  return t;
}

Rgb add(Rgb a, Rgb b) { return a + b; }

void put(std::vector<float>& out, std::size_t term, std::size_t n, std::size_t i, Rgb c) {
  float* o = &out[(term * n + i) * 3];
  o[0] += c.x;
  o[1] += c.y;
  o[2] += c.z;
}

Rgb layered(const Texel& t, const Palette& p) {
  Rgb c{};
  for (int l = 0; l < kLayers; ++l) c = add(c, t.weight[l] * p.colour[l]);
  return c;
}

}  // namespace

std::vector<float> texture_glm(const std::vector<FacePoint>& texels, int size) {
  constexpr int kTerms = 4 + 3 * kE;
  constexpr float kAgeGain = 1.6f;  // the age fields are drawn for 25 years; the age term spans 50
  const std::size_t n = static_cast<std::size_t>(size) * size;
  std::vector<float> out(kTerms * n * 3, 0.0f);
  std::array<Palette, kE> pal{palette(0), palette(1), palette(2)};
  Palette mean{};
  for (int l = 0; l < kLayers; ++l)
    mean.colour[l] = (1.0f / kE) * (pal[0].colour[l] + pal[1].colour[l] + pal[2].colour[l]);
  const std::array<float, kE> beard_scale{0.3f, 0.1f, -0.4f}, age_scale{0.3f, 0.0f, -0.3f};
  const float beard_mean = (beard_scale[0] + beard_scale[1] + beard_scale[2]) / kE;
  const float age_mean = (age_scale[0] + age_scale[1] + age_scale[2]) / kE;
  // Age spots: fixed positions on the cheeks and forehead.
  std::array<FacePoint, 24> spots{};
  for (std::size_t k = 0; k < spots.size(); ++k) {
    const rng::Float4 u = rng::uniform_float4(rng::random_block(kModelSeed, kTextureBasisStream, 1000 + k));
    spots[k] = {(u.v[0] * 2.0f - 1.0f) * 50.0f, -30.0f + u.v[1] * 95.0f};
  }
  for (std::size_t i = 0; i < n; ++i) {
    const float x = texels[i].x, y = texels[i].y;
    const Texel t = texel_at(x, y);
    put(out, 0, n, i, layered(t, mean));
    // Gender (half the male - female difference).
    Rgb g = t.weight[skin] * Rgb{-0.015f, -0.02f, -0.02f};
    g = g + t.beard * Rgb{-0.10f, -0.085f, -0.05f} + t.brow_halo * Rgb{-0.10f, -0.09f, -0.07f};
    g = g + t.weight[lip] * Rgb{-0.08f, 0.015f, 0.015f} + t.cheek * Rgb{-0.035f, 0.005f, 0.0f};
    g = g + t.weight[lash] * Rgb{0.04f, 0.04f, 0.04f};
    put(out, 1, n, i, g);
    // Age (+1 = 25 years older, before kAgeGain).
    float spot = 0;
    for (const FacePoint& p : spots) spot += std::exp(-0.5f * ((x - p.x) * (x - p.x) + (y - p.y) * (y - p.y)) / 2.2f);
    const Rgb age_marks = t.wrinkles * Rgb{-0.07f, -0.075f, -0.065f} + spot * t.weight[skin] * Rgb{-0.03f, -0.04f, -0.05f};
    Rgb a = t.weight[skin] * Rgb{0.0f, -0.012f, -0.03f} + age_marks;
    a = a + t.under_eye * Rgb{-0.04f, -0.05f, -0.03f} + t.weight[brow] * Rgb{0.07f, 0.07f, 0.07f};
    a = a + t.weight[lip] * Rgb{0.02f, 0.05f, 0.05f};
    put(out, 2, n, i, kAgeGain * a);
    put(out, 3, n, i, t.beard * Rgb{0.035f, 0.035f, 0.035f});  // gender:age, beards grey
    for (int e = 0; e < kE; ++e) {
      Rgb d{};
      for (int l = 0; l < kLayers; ++l) d = d + t.weight[l] * (pal[e].colour[l] - mean.colour[l]);
      put(out, 4 + e, n, i, d);
      put(out, 4 + kE + e, n, i, (beard_scale[e] - beard_mean) * t.beard * Rgb{-0.07f, -0.06f, -0.035f});
      put(out, 4 + 2 * kE + e, n, i, kAgeGain * (age_scale[e] - age_mean) * age_marks);
    }
  }
  return out;
}

std::vector<RawComponent> texture_raw_components(const std::vector<FacePoint>& texels, int per_band) {
  const std::size_t n = texels.size();
  std::vector<Texel> tx(n);
  for (std::size_t i = 0; i < n; ++i) tx[i] = texel_at(texels[i].x, texels[i].y);
  std::vector<RawComponent> raw;
  auto component = [&](int band, auto&& colour_of) {
    RawComponent c;
    c.band = band;
    c.field.resize(n * 3);
    for (std::size_t i = 0; i < n; ++i) {
      const Rgb v = colour_of(i);
      c.field[3 * i] = v.x;
      c.field[3 * i + 1] = v.y;
      c.field[3 * i + 2] = v.z;
    }
    raw.push_back(std::move(c));
  };
  // Band 0: designed, region-wide variations (skin lightness, redness, yellowness, lips, brows,
  // iris lightness and hue, blush, under-eye darkness, beard shadow).
  const std::vector<std::function<Rgb(std::size_t)>> designed{
      [&](std::size_t i) { return tx[i].tissue * Rgb{0.05f, 0.045f, 0.04f}; },
      [&](std::size_t i) { return tx[i].tissue * Rgb{0.03f, -0.008f, -0.01f}; },
      [&](std::size_t i) { return tx[i].tissue * Rgb{0.01f, 0.008f, -0.02f}; },
      [&](std::size_t i) { return tx[i].weight[lip] * Rgb{0.06f, 0.015f, 0.015f}; },
      [&](std::size_t i) { return (tx[i].weight[brow] + 0.5f * tx[i].brow_halo) * Rgb{-0.09f, -0.08f, -0.07f}; },
      [&](std::size_t i) { return tx[i].weight[iris] * Rgb{-0.06f, 0.03f, 0.13f}; },
      [&](std::size_t i) { return tx[i].weight[iris] * Rgb{0.10f, 0.08f, 0.04f}; },
      [&](std::size_t i) { return tx[i].cheek * Rgb{0.06f, -0.01f, -0.005f}; },
      [&](std::size_t i) { return tx[i].under_eye * Rgb{-0.05f, -0.05f, -0.03f}; },
      [&](std::size_t i) { return tx[i].beard * Rgb{-0.045f, -0.04f, -0.025f}; },
  };
  for (int k = 0; k < per_band && k < static_cast<int>(designed.size()); ++k) component(0, designed[k]);
  // Bands 0 (beyond the designed ones) to 3: sums of six plane waves at the band's frequency
  // (cycles per 130 mm) in random directions and phases, on the skin, in a random luminance-leaning
  // colour. Band 4: 40 small dots (freckles, moles) at random places.
  const std::array<float, 4> cycles{0.8f, 1.8f, 4.5f, 11.0f}, amplitude{0.025f, 0.02f, 0.011f, 0.006f};
  for (int band = 0; band < 5; ++band) {
    const int first = band == 0 ? static_cast<int>(designed.size()) : 0;
    for (int k = first; k < per_band; ++k) {
      rng::RandomSequence r(kModelSeed, kTextureBasisStream, static_cast<std::uint64_t>(band) * 1000 + k);
      const float hue = r.uniform_float() * 2.0f * kPi;
      const Rgb colour = normalized(Rgb{1.0f, 0.8f, 0.65f} + 0.3f * std::cos(hue) * Rgb{1.0f, -0.3f, -0.3f} +
                                     0.3f * std::sin(hue) * Rgb{0.3f, 0.3f, -0.6f});
      const float decay = 1.0f - 0.03f * static_cast<float>(k);
      if (band < 4) {
        std::array<float, 6> fx{}, fy{}, phase{};
        for (int j = 0; j < 6; ++j) {
          const float theta = r.uniform_float() * kPi;
          const float f = cycles[band] * (0.8f + 0.45f * r.uniform_float()) * 2.0f * kPi / 130.0f;
          fx[j] = f * std::cos(theta);
          fy[j] = f * std::sin(theta);
          phase[j] = r.uniform_float() * 2.0f * kPi;
        }
        const float amp = amplitude[band] * decay / std::sqrt(3.0f);
        component(band, [&](std::size_t i) {
          float v = 0;
          for (int j = 0; j < 6; ++j) v += std::cos(fx[j] * texels[i].x + fy[j] * texels[i].y + phase[j]);
          return (amp * v * tx[i].tissue) * colour;
        });
      } else {
        std::array<FacePoint, 40> dots{};
        std::array<float, 40> radius{};
        for (std::size_t j = 0; j < dots.size(); ++j) {
          dots[j] = {(r.uniform_float() * 2.0f - 1.0f) * 55.0f, -70.0f + r.uniform_float() * 140.0f};
          radius[j] = 0.7f + 0.9f * r.uniform_float();
        }
        const Rgb brown = 0.06f * decay * Rgb{-0.6f, -0.8f, -0.9f};
        component(band, [&](std::size_t i) {
          float v = 0;
          for (std::size_t j = 0; j < dots.size(); ++j) {
            const float dx = texels[i].x - dots[j].x, dy = texels[i].y - dots[j].y;
            v += std::exp(-0.5f * (dx * dx + dy * dy) / (radius[j] * radius[j]));
          }
          return (v * tx[i].tissue) * brown;
        });
      }
    }
  }
  return raw;
}

}  // namespace deeper::render::procedural
