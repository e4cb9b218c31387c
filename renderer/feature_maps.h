// Drawing analysis maps on the face, and the per-trial features and feature gradients of a reverse
// correlation analysis (issue 6: deeper-analyze). Every image is host floats, H x W x 3 in [0, 1],
// row-major (what core/png.h's write_png takes).
//
// Maps on the face: the category-average face (the model's GLM mean averaged over genders and
// ethnicities at the middle of the age range; neutral, no translation, scale 1), rendered on the
// given device with the values as colours (colour_map.h): per vertex through
// Renderer::set_vertex_colors, per texel (an h x w grid dividing the model's texture, nearest
// upsampling) through Renderer::set_texture_override. Lit from the camera with ambient
// 1 - style.shading and diffuse style.shading, so colours read nearly as mapped.
//
// Features (what the analysis correlates with the network's responses), per identity, in face
// coordinates before pose: the neutral vertex positions (V x 3, model space, mm; evaluate.h
// vertices()) and the texture map box-averaged over f x f blocks ((Ht/f) x (Wt/f) x 3).
// Feature gradients, per image of the last backward (pipeline_grad.h): d loss / d model-space
// vertex positions (B x V x 3) and d loss / d the block features: the texture gradient summed over
// each f x f block (moving all texels of a block by the same amount changes the loss by that sum
// times the amount). The texel sums run on the host (B x Ht x Wt x 3 floats are copied back).
#pragma once

#include "kernels/runtime/device.h"
#include "renderer/face_model.h"
#include "renderer/identities.h"

#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace deeper::render {

class RenderBackward;

struct MapStyle {
  int size = 256;         // image side (square), pixels, 1 .. 8192
  double yaw_deg = 0;     // head turn, [-90, 90] (+ toward the viewer's right, as the factor yaw)
  double lo = 0, hi = 1;  // values mapped to the ends of the scale, lo < hi. Diverging: the
                          // symmetric range [-m, m], m = max(|lo|, |hi|), white at 0
  bool diverging = false;
  std::vector<std::uint8_t> mask;  // empty, or one byte per value: 0 draws kMaskedColour (not significant)
  std::array<float, 3> background{1.0f, 1.0f, 1.0f};
  float shading = 0.3f;  // diffuse share of the light, [0, 1]
};

// The yaws of the three-view panels.
inline constexpr std::array<double, 3> kPanelYaws{-40.0, 0.0, 40.0};

// The colours of `values` under a style (colour_map_rgb or diverging_colour_map_rgb with the mask):
// N x 3. Throws deeper::Error as those do (lo >= hi, NaN, a mask of the wrong length).
std::vector<float> style_colours(std::span<const double> values, const MapStyle& style);

// V values (one per vertex) on the average face: size x size x 3. Throws deeper::Error for a wrong
// count, a non-finite unmasked value, or a bad style.
std::vector<float> draw_vertex_map(const Device& device, const FaceModel& model, std::span<const double> values,
                                   const MapStyle& style);
// The same at yaws kPanelYaws, side by side: size x 3 size x 3 (style.yaw_deg ignored).
std::vector<float> draw_vertex_map_panel(const Device& device, const FaceModel& model, std::span<const double> values,
                                         const MapStyle& style);

// h x w values (row-major, row 0 at the top of the texture: the forehead) on the average face.
// h and w must divide the model's texture height and width. size x size x 3.
std::vector<float> draw_texel_map_on_face(const Device& device, const FaceModel& model, std::span<const double> values,
                                          int h, int w, const MapStyle& style);
std::vector<float> draw_texel_map_panel(const Device& device, const FaceModel& model, std::span<const double> values,
                                        int h, int w, const MapStyle& style);

// The h x w map in UV space, each value a scale x scale block: (h scale) x (w scale) x 3 (style's
// size, yaw, background and shading are not used). Throws for sizes < 1, an image over 2^28 pixels,
// a wrong count, or as style_colours.
std::vector<float> texel_map_image(std::span<const double> values, int h, int w, const MapStyle& style, int scale);

// Box average of an ht x wt x 3 texture over factor x factor blocks: (ht/factor) x (wt/factor) x 3.
// Throws for a null texture, sizes < 1, or a factor < 1 that does not divide both sides.
std::vector<float> downsample_texture(const float* texture, int ht, int wt, int factor);

// The identity's features: vertices_out (V x 3) = vertices(model, identity) (neutral), texels_out
// ((Ht/f) x (Wt/f) x 3) = downsample_texture(texture(model, identity), f). Either output may be null
// (not wanted). Throws for a factor that does not divide the texture or a coefficient count mismatch.
void identity_features(const FaceModel& model, const Identity& identity, int texel_factor, float* vertices_out,
                       float* texels_out);

// The feature gradients of the last backward of `backward` (batch must equal its last_batch()):
// vertex_grads = grad_vertices() (B x V x 3), texel_grads (B x (Ht/f) x (Wt/f) x 3) = grad_textures()
// summed over f x f blocks. Throws for a batch mismatch or a factor that does not divide the texture.
void feature_gradients(const RenderBackward& backward, std::int64_t batch, int texel_factor,
                       std::vector<float>& vertex_grads, std::vector<float>& texel_grads);

}  // namespace deeper::render
