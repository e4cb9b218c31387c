// The procedural model's geometry: the mean face's height field on an ellipsoidal base (forehead,
// brow ridge, eye sockets, nose, cheeks, lips, chin, jaw as smooth bumps and ridges), the GLM
// displacement fields of gender, ethnicity, age and their interactions, and the raw identity
// shape components (global and local) before orthonormalization.
#include <array>
#include <functional>

#include "renderer/procedural.h"

namespace deeper::render::procedural {

std::vector<FacePoint> vertex_points(const Mesh& mesh) {
  std::vector<FacePoint> points(static_cast<std::size_t>(mesh.vertex_count()));
  for (std::size_t i = 0; i < points.size(); ++i) points[i] = face_plane(mesh.uv[2 * i], mesh.uv[2 * i + 1]);
  return points;
}

std::vector<FacePoint> texel_points(int size) {
  std::vector<FacePoint> points(static_cast<std::size_t>(size) * size);
  for (int r = 0; r < size; ++r)
    for (int c = 0; c < size; ++c)
      points[static_cast<std::size_t>(r) * size + c] =
          face_plane((static_cast<float>(c) + 0.5f) / static_cast<float>(size),
                     (static_cast<float>(r) + 0.5f) / static_cast<float>(size));
  return points;
}

namespace {

float ellipsoid(float x, float y) {
  const float ex = x / 70.0f, ey = (y + 4.0f) / 118.0f;
  return 92.0f * (std::sqrt(std::max(0.03f, 1.0f - ex * ex - ey * ey)) - 1.0f);
}

// The nose: a ridge from the root (y = 20) to the tip, widening and rising, ending at the
// subnasale; the tip ball, the alae and the nostrils.
float nose(float x, float y) {
  const float ax = std::abs(x);
  const float t = std::clamp((20.0f - y) / 36.0f, 0.0f, 1.0f);
  const float height = 2.5f + 14.0f * std::pow(t, 1.5f);
  const float width = 4.2f + 3.5f * t;
  float fade = 1.0f;
  if (y < kNoseTipY) fade = std::exp(-0.5f * (y - kNoseTipY) * (y - kNoseTipY) / (4.5f * 4.5f));
  if (y > 20.0f) fade = std::exp(-0.5f * (y - 20.0f) * (y - 20.0f) / 36.0f);
  float z = height * std::exp(-0.5f * x * x / (width * width)) * fade;
  z += 5.0f * gauss(x, y, 0, kNoseTipY, 6.0f, 5.5f);
  z += 5.0f * gauss(ax, y, 11.5f, -20.0f, 4.5f, 4.0f);
  z -= 2.5f * gauss(ax, y, 6.5f, -24.0f, 2.5f, 1.6f);
  return z;
}

using Field = std::function<Vec3(float x, float y, float z)>;

void add_field(std::vector<float>& out, std::size_t term, const std::vector<FacePoint>& points, const Field& f,
               float scale = 1.0f) {
  const std::size_t n = points.size();
  for (std::size_t i = 0; i < n; ++i) {
    const Vec3 d = f(points[i].x, points[i].y, base_height(points[i].x, points[i].y));
    float* o = &out[(term * n + i) * 3];
    o[0] += scale * d.x;
    o[1] += scale * d.y;
    o[2] += scale * d.z;
  }
}

Vec3 z_only(float z) { return {0, 0, z}; }

// Region weights shared by several fields.
float brows(float ax, float y) { return gauss(ax, y, 28, kBrowY + 1, 16, 6); }
float sockets(float ax, float y) { return gauss(ax, y, kEyeX, kEyeY + 1, 12, 8); }
float lips(float x, float y) { return gauss(x, y, 0, -38, 15, 3.5f) + gauss(x, y, 0, -47, 13, 4); }
float cheeks(float ax, float y) { return gauss(ax, y, 42, -2, 15, 13); }
float alae(float ax, float y) { return gauss(ax, y, 12, -20, 6, 6); }

// Half the male-female difference (g = +1 male, -1 female).
Vec3 gender_field(float x, float y, float z) {
  const float ax = std::abs(x);
  Vec3 d{0.035f * x, 0.03f * (y + 4.0f), 0};
  d.z += 2.0f * brows(ax, y) + 1.5f * gauss(x, y, 0, 24, 9, 6);
  d.z += 1.8f * gauss(x, y, 0, -5, 7, 15);
  d.x += sign(x) * 3.0f * gauss(ax, y, 50, -58, 16, 16);
  d.z += 2.0f * gauss(x, y, 0, kChinY, 13, 9);
  d.y -= 1.5f * gauss(x, y, 0, -72, 15, 10);
  d.z -= 0.8f * lips(x, y) + 1.0f * cheeks(ax, y);
  d.z -= 2.5f * smoothstep(30, 76, y);
  (void)z;
  return d;
}

// Age: +1 = 25 years older (scaled by kAgeGain for the model's age term).
Vec3 age_field(float x, float y, float z) {
  const float ax = std::abs(x);
  Vec3 d{};
  // Nasolabial fold: a groove from beside the alae to beyond the mouth corners.
  const float along = std::clamp((-20.0f - y) / 26.0f, 0.0f, 1.0f);
  const float fold_x = 15.0f + 13.0f * along;
  d.z -= 2.2f * gauss(ax, y, fold_x, -20.0f - 26.0f * along, 2.5f, 14.0f) * (y < -18 ? 1.0f : 0.3f);
  d.y -= 2.0f * gauss(ax, y, 45, -55, 12, 12);
  d.x += sign(x) * 1.0f * gauss(ax, y, 45, -55, 12, 12);
  d.z -= 0.8f * lips(x, y) + 1.2f * sockets(ax, y);
  d.y -= 1.5f * cheeks(ax, y);
  d.z -= 1.0f * cheeks(ax, y);
  d.y -= 1.2f * gauss(x, y, 0, kNoseTipY, 8, 8);
  d.y -= 1.2f * brows(ax, y);
  (void)z;
  return d;
}

Vec3 gender_age_field(float x, float y, float z) {
  const float ax = std::abs(x);
  (void)z;
  return {0, -0.8f * gauss(ax, y, 45, -55, 12, 12), 0.8f * gauss(x, y, 0, -10, 7, 10)};
}

Vec3 ethnicity_field(int e, float x, float y, float z) {
  const float ax = std::abs(x);
  const float bridge = gauss(x, y, 0, 8, 6, 12);
  Vec3 d{};
  switch (e) {
    case 0:  // WC: higher, narrower nose, deeper eye sockets, thinner lips, narrower face
      d.z += 2.5f * bridge - 1.5f * sockets(ax, y) - 0.8f * lips(x, y);
      d.x -= sign(x) * 1.0f * alae(ax, y) + 0.02f * x;
      break;
    case 1:  // EA: lower bridge, shallower sockets, wider and flatter face, fuller cheekbones
      d.z += -2.5f * bridge + 2.5f * sockets(ax, y) + 1.5f * cheeks(ax, y) - 0.08f * z;
      d.z -= 1.0f * gauss(x, y, 0, kNoseTipY, 6, 6);
      d.x += 0.03f * x + sign(x) * 2.0f * gauss(ax, y, 45, 0, 14, 14);
      break;
    default:  // BA: wider alae, lower bridge, fuller lips, forward mouth, rounder forehead
      d.x += sign(x) * 2.5f * alae(ax, y);
      d.z += -1.5f * bridge + 1.5f * lips(x, y) + 2.5f * gauss(x, y, 0, kMouthY, 22, 13);
      d.y += 1.0f * gauss(x, y, 0, -38, 15, 3.5f) - 1.0f * gauss(x, y, 0, -47, 13, 4);
      d.z += 1.0f * gauss(x, y, 0, 50, 30, 18);
      break;
  }
  return d;
}

}  // namespace

float base_height(float x, float y) {
  const float ax = std::abs(x);
  float z = ellipsoid(x, y);
  z += 4.5f * gauss(ax, y, 28, kBrowY + 1, 16, 6) + 2.5f * gauss(x, y, 0, 24, 9, 6);  // brow ridge
  z -= 10.0f * gauss(ax, y, kEyeX, kEyeY + 1, 12, 8);                                 // eye sockets
  z += 5.0f * gauss(ax, y, kEyeX, kEyeY, 8, 5.5f);                                    // eyeballs
  z += nose(x, y);
  z += 7.0f * gauss(ax, y, 42, -2, 15, 13);                                            // cheekbones
  z += 6.0f * gauss(x, y, 0, kMouthY, 22, 13);                                         // mouth
  z += 2.5f * gauss(x, y, 0, -38, 15, 3.5f) + 3.0f * gauss(x, y, 0, -47, 13, 4);       // lips
  z -= 2.0f * gauss(x, y, 0, kMouthY - 0.5f, 20, 1.3f);                                // mouth line
  z -= 1.0f * gauss(x, y, 0, -32, 2.2f, 4);                                            // philtrum
  z -= 3.0f * gauss(x, y, 0, -55, 13, 3.5f);                                           // mentolabial sulcus
  z += 8.0f * gauss(x, y, 0, kChinY, 13, 9);                                           // chin
  z -= 6.0f * gauss(ax, y, 55, -62, 14, 18);                                           // jaw sides
  z -= 4.0f * gauss(ax, y, 60, 35, 10, 18);                                            // temples
  return z;
}

std::vector<float> shape_glm(const std::vector<FacePoint>& vertices) {
  constexpr int kE = 3;
  constexpr int kTerms = 4 + 3 * kE;
  constexpr float kAgeGain = 1.6f;  // the age fields are drawn for 25 years; the age term spans 50
  const std::size_t n = vertices.size();
  std::vector<float> out(static_cast<std::size_t>(kTerms) * n * 3, 0.0f);
  add_field(out, 0, vertices, [](float x, float y, float z) { return Vec3{x, y, z}; });
  add_field(out, 1, vertices, gender_field);
  add_field(out, 2, vertices, age_field, kAgeGain);
  add_field(out, 3, vertices, gender_age_field);
  // Ethnicity terms are centred (their mean over ethnicities is zero), so the intercept is the
  // average face; the interactions scale the gender and age fields per ethnicity.
  const std::array<float, kE> gender_scale{0.15f, -0.2f, 0.05f}, age_scale{0.2f, -0.25f, -0.1f};
  for (int e = 0; e < kE; ++e) {
    for (int f = 0; f < kE; ++f) {
      const float w = (e == f ? 1.0f : 0.0f) - 1.0f / kE;
      add_field(out, 4 + e, vertices, [f](float x, float y, float z) { return ethnicity_field(f, x, y, z); }, w);
      add_field(out, 4 + kE + e, vertices, gender_field, w * gender_scale[f]);
      add_field(out, 4 + 2 * kE + e, vertices, age_field, kAgeGain * w * age_scale[f]);
    }
  }
  return out;
}

std::vector<RawComponent> shape_raw_components(const std::vector<FacePoint>& vertices) {
  constexpr float kIdentityScale = 0.65f;  // one SD of every field below
  std::vector<Field> fields{
      // Global: width, length, depth, taper, forehead slope, midface height, lower face length,
      // profile convexity, roll-like asymmetry, lateral fullness.
      [](float x, float, float) { return Vec3{0.05f * x, 0, 0}; },
      [](float, float y, float) { return Vec3{0, 0.045f * (y + 2.0f), 0}; },
      [](float, float, float z) { return Vec3{0, 0, 0.09f * z}; },
      [](float x, float y, float) { return Vec3{0.05f * x * (y / 78.0f), 0, 0}; },
      [](float, float y, float) { return z_only(-4.0f * smoothstep(20, 76, y)); },
      [](float x, float y, float) { return Vec3{0, 2.5f * gauss(x, y, 0, -10, 40, 28), 0}; },
      [](float, float y, float) { return Vec3{0, -3.0f * smoothstep(-30, -80, y), 0}; },
      [](float x, float y, float) { return z_only(3.0f * gauss(x, y, 0, -15, 25, 35)); },
      [](float x, float y, float) { return Vec3{0, 1.5f * (x / 66.0f) * gauss(x, y, 0, 0, 60, 60), 0}; },
      [](float x, float y, float) { return z_only(3.0f * gauss(std::abs(x), y, 45, -20, 15, 30)); },
      // Nose: bridge height, width, length, tip, nostril flare, root depth, hump, deviation.
      [](float x, float y, float) { return z_only(3.0f * gauss(x, y, 0, 8, 5, 10)); },
      [](float x, float y, float) { return Vec3{sign(x) * 2.5f * gauss(std::abs(x), y, 11, -18, 6, 7), 0, 0}; },
      [](float x, float y, float) { return Vec3{0, -2.5f * gauss(x, y, 0, -17, 10, 8), 0}; },
      [](float x, float y, float) { return z_only(3.0f * gauss(x, y, 0, kNoseTipY, 6, 6)); },
      [](float x, float y, float) { return z_only(1.8f * alae(std::abs(x), y)); },
      [](float x, float y, float) { return z_only(2.0f * gauss(x, y, 0, 18, 6, 5)); },
      [](float x, float y, float) { return z_only(2.0f * gauss(x, y, 0, 0, 4, 5)); },
      [](float x, float y, float) { return Vec3{1.5f * gauss(x, y, 0, -5, 8, 15), 0, 0}; },
      // Eyes: spacing, height, socket depth, size, tilt, protrusion.
      [](float x, float y, float) { return Vec3{sign(x) * 2.0f * gauss(std::abs(x), y, kEyeX, kEyeY, 10, 8), 0, 0}; },
      [](float x, float y, float) { return Vec3{0, 2.0f * gauss(std::abs(x), y, kEyeX, kEyeY, 12, 8), 0}; },
      [](float x, float y, float) { return z_only(-3.0f * sockets(std::abs(x), y)); },
      [](float x, float y, float) {
        const float w = 0.15f * gauss(std::abs(x), y, kEyeX, kEyeY, 11, 7);
        return Vec3{w * (x - sign(x) * kEyeX), w * (y - kEyeY), 0};
      },
      [](float x, float y, float) { return Vec3{0, 0.12f * (std::abs(x) - kEyeX) * gauss(std::abs(x), y, kEyeX, kEyeY, 12, 8), 0}; },
      [](float x, float y, float) { return z_only(2.0f * gauss(std::abs(x), y, kEyeX, kEyeY, 7, 5)); },
      // Brows: height, ridge, tilt, glabella, inner brow.
      [](float x, float y, float) { return Vec3{0, 2.5f * gauss(std::abs(x), y, 30, 27, 15, 6), 0}; },
      [](float x, float y, float) { return z_only(2.5f * brows(std::abs(x), y)); },
      [](float x, float y, float) { return Vec3{0, 0.1f * (std::abs(x) - 30) * gauss(std::abs(x), y, 30, 27, 15, 6), 0}; },
      [](float x, float y, float) { return z_only(2.0f * gauss(x, y, 0, 24, 8, 6)); },
      [](float x, float y, float) { return Vec3{0, 2.0f * gauss(std::abs(x), y, 18, 26, 7, 5), 0}; },
      // Mouth: width, upper and lower lip thickness, height, lip height, protrusion, philtrum, corners.
      [](float x, float y, float) { return Vec3{0.1f * x * gauss(x, y, 0, kMouthY, 20, 8), 0, 0}; },
      [](float x, float y, float) { return z_only(1.8f * gauss(x, y, 0, -38, 14, 3.5f)); },
      [](float x, float y, float) { return z_only(2.0f * gauss(x, y, 0, -47, 12, 4)); },
      [](float x, float y, float) { return Vec3{0, 2.0f * gauss(x, y, 0, kMouthY, 24, 12), 0}; },
      [](float x, float y, float) { return Vec3{0, 0.15f * (y - kMouthY) * gauss(x, y, 0, kMouthY, 20, 7), 0}; },
      [](float x, float y, float) { return z_only(2.5f * gauss(x, y, 0, kMouthY, 22, 13)); },
      [](float x, float y, float) { return Vec3{0, 1.5f * gauss(x, y, 0, -32, 10, 5), 0}; },
      [](float x, float y, float) { return Vec3{0, 1.0f * (x / kMouthHalfWidth) * gauss(x, y, 0, kMouthY, 25, 6), 0}; },
      // Chin: protrusion, length, width, cleft, point.
      [](float x, float y, float) { return z_only(3.0f * gauss(x, y, 0, kChinY, 12, 9)); },
      [](float x, float y, float) { return Vec3{0, -3.0f * gauss(x, y, 0, -72, 15, 10), 0}; },
      [](float x, float y, float) { return Vec3{0.12f * x * gauss(x, y, 0, kChinY, 15, 10), 0, 0}; },
      [](float x, float y, float) { return z_only(-1.0f * gauss(x, y, 0, -68, 2.5f, 5)); },
      [](float x, float y, float) { return z_only(2.0f * gauss(x, y, 0, -74, 8, 5)); },
      // Cheeks: cheekbone prominence, width, fullness, height, hollows.
      [](float x, float y, float) { return z_only(3.0f * gauss(std::abs(x), y, 44, 0, 12, 10)); },
      [](float x, float y, float) { return Vec3{sign(x) * 1.5f * gauss(std::abs(x), y, 48, 0, 12, 12), 0, 0}; },
      [](float x, float y, float) { return z_only(3.0f * gauss(std::abs(x), y, 35, -25, 13, 13)); },
      [](float x, float y, float) { return Vec3{0, 2.0f * cheeks(std::abs(x), y), 0}; },
      [](float x, float y, float) { return z_only(-2.0f * gauss(std::abs(x), y, 45, -30, 10, 10)); },
      // Jaw: width, angle height, depth, lower-jaw line.
      [](float x, float y, float) { return Vec3{sign(x) * 2.0f * gauss(std::abs(x), y, 52, -55, 14, 15), 0, 0}; },
      [](float x, float y, float) { return Vec3{0, 2.0f * gauss(std::abs(x), y, 55, -58, 12, 12), 0}; },
      [](float x, float y, float) { return z_only(2.5f * gauss(std::abs(x), y, 52, -60, 12, 15)); },
      [](float x, float y, float) { return Vec3{sign(x) * 1.5f * gauss(std::abs(x), y, 35, -70, 12, 8), 0, 0}; },
      // Forehead: height, bulge, temples, width.
      [](float, float y, float) { return Vec3{0, 3.0f * smoothstep(40, 76, y), 0}; },
      [](float x, float y, float) { return z_only(3.0f * gauss(x, y, 0, 50, 25, 15)); },
      [](float x, float y, float) { return z_only(-2.0f * gauss(std::abs(x), y, 58, 38, 10, 15)); },
      [](float x, float y, float) { return Vec3{0.05f * x * smoothstep(20, 76, y), 0, 0}; },
  };
  std::vector<RawComponent> raw(fields.size());
  for (std::size_t k = 0; k < fields.size(); ++k) {
    raw[k].field.assign(vertices.size() * 3, 0.0f);
    add_field(raw[k].field, 0, vertices, fields[k], kIdentityScale);
  }
  return raw;
}

}  // namespace deeper::render::procedural
