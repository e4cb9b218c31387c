// Feature gradients (renderer/feature_maps.h feature_gradients, RenderBackward::grad_textures): for
// a batch of two 32 x 32 images rendered on the cpu with loss <d_images, image> (d_images random),
//   - the vertex gradient projected on the shape basis is the backward's shape-coefficient gradient,
//     the texel gradient projected on the texture basis its texture-coefficient gradient, and the
//     factor-2 texel gradient the 2 x 2 block sums of the factor-1 one;
//   - the vertex gradient dotted with a perturbation of the vertices (along a direction of an
//     identity's shape coefficients, and along a per-vertex field added to the model's mean) equals
//     the finite difference of the loss of the float pipeline; the same for texels (a random
//     direction of texture coefficients at factor 1, a random field constant on 2 x 2 blocks at
//     factor 2). The vertex directions are the steepest ones (random ones move the loss too little
//     for float differences at steps small enough to keep every pixel's triangle);
//   - deterministic mode under the emulator gives the same feature gradients as float atomics on the
//     cpu (the texture gradient is plain fp32 there too);
//   - errors: a batch that is not the last backward's, a factor that does not divide the texture.
#include "kernels/raster/rasterize.h"
#include "kernels/runtime/memory.h"
#include "kernels/runtime/tensor.h"
#include "renderer/feature_maps.h"
#include "renderer/identities.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"
#include "render_maps_util.h"
#include "../render_grad/render_grad_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

namespace {

namespace dk = deeper::kernels;
namespace dr = deeper::render;
using deeper::Device;
using deeper::DType;
using deeper::Tensor;
using render_grad_test::random_vector;
using render_maps_test::error_of;
using render_maps_test::small_model;

constexpr int kSize = 32;
constexpr std::int64_t kBatch = 2;

struct Scene {
  dr::FaceModel model = small_model();
  dr::IdentitySet ids = dr::make_identities(small_model(), 7, 2);
  dr::RenderOptions options;
  std::vector<dk::ImageFactors> factors;
  std::vector<float> weights;  // d loss / d images
  Scene() {
    options.width = options.height = kSize;
    dk::ImageFactors a, b;
    a.identity = 0;
    a.expression = 1;
    a.intensity = 0.6f;
    a.yaw = 17;
    a.pitch = -6;
    a.roll = 5;
    a.light_azimuth = 35;
    a.light_elevation = 25;
    b.identity = 1;
    b.yaw = -24;
    b.pitch = 9;
    b.scale = 0.95f;
    b.tx = -0.04f;
    b.light_azimuth = -50;
    b.ambient = 0.5f;
    b.diffuse = 0.5f;
    factors = {a, b};
    weights = render_grad_test::to_float(random_vector(kBatch * kSize * kSize * 3, 99));
  }
};

struct Rendered {
  double loss = 0;
  std::vector<std::int32_t> ids;  // per pixel triangle id
};

Rendered render_loss(const dr::FaceModel& model, const dr::IdentitySet& ids, const Scene& scene) {
  const dr::RenderModel rm(Device::cpu(), model, ids);
  dr::Renderer renderer(rm, scene.options);
  Tensor images = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  renderer.render(scene.factors, images);
  const std::vector<float> host = dr::tensor_to_host(images);
  Rendered r;
  for (std::size_t i = 0; i < host.size(); ++i) r.loss += static_cast<double>(scene.weights[i]) * host[i];
  std::vector<float> rast(static_cast<std::size_t>(kBatch * kSize * kSize * 4));
  deeper::copy_bytes(rast.data(), Device::cpu(), renderer.rast(), Device::cpu(), rast.size() * sizeof(float));
  for (std::size_t p = 0; p < rast.size() / 4; ++p) r.ids.push_back(dk::raster_pixel_id(&rast[4 * p]));
  return r;
}

struct Analytic {
  dr::RenderGradients grads;
  std::vector<float> vertex, texel1, texel2;  // factor 1 and 2
};

Analytic backward(const Device& device, const Scene& scene, bool deterministic) {
  const dr::RenderModel rm(device, scene.model, scene.ids);
  dr::Renderer renderer(rm, scene.options);
  Tensor images = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, device);
  renderer.render(scene.factors, images);
  Tensor g = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, device);
  deeper::copy_bytes(g.data_raw(), device, scene.weights.data(), Device::cpu(), scene.weights.size() * sizeof(float));
  dr::RenderBackward bw(rm, scene.model);
  Analytic a;
  dr::RenderBackwardOptions options;
  options.deterministic = deterministic;
  bw.backward(renderer, g, a.grads, options);
  std::vector<float> unused;
  dr::feature_gradients(bw, kBatch, 1, a.vertex, a.texel1);
  dr::feature_gradients(bw, kBatch, 2, unused, a.texel2);
  EXPECT_EQ(unused, a.vertex);
  return a;
}

// Checks `analytic` against the loss change along a perturbation (loss_at(eps) renders with eps times
// the direction): the step shrinks until no pixel changes its triangle; at a kink the analytic value
// must lie between the one-sided slopes, up to the tolerance.
void expect_directional(const char* what, double analytic, double eps, const std::function<Rendered(double)>& loss_at) {
  const Rendered base = loss_at(0.0);
  double left = 0, right = 0, fd = 0;
  bool stable = false;
  for (int tries = 0; tries < 5 && !stable; ++tries, eps /= 4) {
    const Rendered up = loss_at(eps), down = loss_at(-eps);
    fd = (up.loss - down.loss) / (2 * eps);
    right = (up.loss - base.loss) / eps;
    left = (base.loss - down.loss) / eps;
    stable = up.ids == base.ids && down.ids == base.ids;
  }
  EXPECT_TRUE(stable) << what << ": every step changes a pixel's triangle";
  const double lo = std::min(left, right), hi = std::max(left, right);
  const double off = analytic < lo ? lo - analytic : (analytic > hi ? analytic - hi : 0.0);
  EXPECT_LE(off, 2e-2 * std::fabs(fd) + 1e-5) << what << ": analytic " << analytic << ", central difference " << fd
                                              << ", one-sided " << left << ", " << right;
  EXPECT_GT(std::fabs(analytic), 5e-3) << what << ": too small a gradient to test anything";
}

double dot(const float* a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < b.size(); ++i) s += static_cast<double>(a[i]) * b[i];
  return s;
}

std::vector<double> unit(std::vector<double> v) {
  double n = 0;
  for (double x : v) n += x * x;
  for (double& x : v) x /= std::sqrt(n);
  return v;
}

// basis^T dir: the field (cols values) a direction of coefficients gives.
std::vector<double> field(const std::vector<float>& basis, const std::vector<double>& dir, std::size_t cols) {
  std::vector<double> f(cols, 0.0);
  for (std::size_t k = 0; k < dir.size(); ++k) {
    for (std::size_t j = 0; j < cols; ++j) f[j] += dir[k] * basis[k * cols + j];
  }
  return f;
}

TEST(FeatureGradients, ProjectOntoTheCoefficientGradients) {
  const Scene scene;
  const Analytic a = backward(Device::cpu(), scene, false);
  const auto& m = scene.model;
  const auto v3 = static_cast<std::size_t>(3 * m.vertex_count());
  const auto texels = static_cast<std::size_t>(m.texel_values());
  ASSERT_EQ(a.vertex.size(), kBatch * v3);
  ASSERT_EQ(a.texel1.size(), kBatch * texels);
  ASSERT_EQ(a.texel2.size(), kBatch * texels / 4);
  const auto ks = static_cast<std::size_t>(m.shape_components()), kt = static_cast<std::size_t>(m.texture_components());
  for (std::size_t b = 0; b < kBatch; ++b) {
    for (std::size_t k = 0; k < ks; ++k) {
      const std::vector<double> row(m.shape_basis.begin() + k * v3, m.shape_basis.begin() + (k + 1) * v3);
      const double want = a.grads.shape[b * ks + k];
      EXPECT_NEAR(dot(a.vertex.data() + b * v3, row), want, 1e-4 * std::fabs(want) + 1e-5) << b << ", " << k;
    }
    for (std::size_t k = 0; k < kt; ++k) {
      const std::vector<double> row(m.texture_basis.begin() + k * texels, m.texture_basis.begin() + (k + 1) * texels);
      const double want = a.grads.texture[b * kt + k];
      EXPECT_NEAR(dot(a.texel1.data() + b * texels, row), want, 1e-4 * std::fabs(want) + 1e-5) << b << ", " << k;
    }
    // Block sums.
    for (int y = 0; y < 16; ++y) {
      for (int x = 0; x < 16; ++x) {
        for (int c = 0; c < 3; ++c) {
          double s = 0;
          for (int dy = 0; dy < 2; ++dy) {
            for (int dx = 0; dx < 2; ++dx) s += a.texel1[b * texels + ((2 * y + dy) * 32 + 2 * x + dx) * 3 + c];
          }
          EXPECT_NEAR(a.texel2[b * texels / 4 + (y * 16 + x) * 3 + c], s, 1e-6 + 1e-5 * std::fabs(s));
        }
      }
    }
  }
}

TEST(FeatureGradients, MatchFiniteDifferences) {
  const Scene scene;
  const Analytic a = backward(Device::cpu(), scene, false);
  const auto& m = scene.model;
  const auto v3 = static_cast<std::size_t>(3 * m.vertex_count());
  const auto texels = static_cast<std::size_t>(m.texel_values());
  for (std::size_t b = 0; b < kBatch; ++b) {
    // Shape coefficients of identity b (only image b uses it).
    // Along the coefficient gradient (the steepest shape direction: a random one changes the loss
    // too little for float finite differences at steps that keep every pixel's triangle).
    const std::size_t ks = m.shape_basis.size() / v3;
    const std::vector<double> sdir =
        unit(std::vector<double>(a.grads.shape.begin() + b * ks, a.grads.shape.begin() + (b + 1) * ks));
    const std::vector<double> sfield = field(m.shape_basis, sdir, v3);
    expect_directional(("shape direction, image " + std::to_string(b)).c_str(), dot(a.vertex.data() + b * v3, sfield),
                       2.0, [&](double eps) {
                         dr::IdentitySet ids = scene.ids;
                         for (std::size_t k = 0; k < sdir.size(); ++k) {
                           ids.identities[b].shape[k] += static_cast<float>(eps * sdir[k]);
                         }
                         return render_loss(m, ids, scene);
                       });
    const std::vector<double> tdir = unit(random_vector(m.texture_basis.size() / texels, 20 + b));
    const std::vector<double> tfield = field(m.texture_basis, tdir, texels);
    expect_directional(("texture direction, image " + std::to_string(b)).c_str(),
                       dot(a.texel1.data() + b * texels, tfield), 0.02, [&](double eps) {
                         dr::IdentitySet ids = scene.ids;
                         for (std::size_t k = 0; k < tdir.size(); ++k) {
                           ids.identities[b].texture[k] += static_cast<float>(eps * tdir[k]);
                         }
                         return render_loss(m, ids, scene);
                       });
  }
  // A per-vertex field added to the GLM intercept (every identity, so both images): the direction of
  // the summed vertex gradient (random fields again change the loss too little).
  std::vector<double> vfield(v3);
  for (std::size_t j = 0; j < v3; ++j) vfield[j] = a.vertex[j] + a.vertex[v3 + j];
  vfield = unit(vfield);
  expect_directional("per-vertex field", dot(a.vertex.data(), vfield) + dot(a.vertex.data() + v3, vfield), 2.0,
                     [&](double eps) {
                       dr::FaceModel model = m;
                       for (std::size_t j = 0; j < v3; ++j) model.shape_glm[j] += static_cast<float>(eps * vfield[j]);
                       return render_loss(model, scene.ids, scene);
                     });
  // A random field constant on 2 x 2 texel blocks, through the factor-2 texel gradient.
  const std::vector<double> blocks = unit(random_vector(texels / 4, 32));
  std::vector<double> bfield(texels);
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      for (int c = 0; c < 3; ++c) bfield[(y * 32 + x) * 3 + c] = blocks[((y / 2) * 16 + x / 2) * 3 + c];
    }
  }
  expect_directional("block texture field",
                     dot(a.texel2.data(), blocks) + dot(a.texel2.data() + texels / 4, blocks), 0.02, [&](double eps) {
                       dr::FaceModel model = m;
                       for (std::size_t j = 0; j < texels; ++j) model.texture_glm[j] += static_cast<float>(eps * bfield[j]);
                       return render_loss(model, scene.ids, scene);
                     });
}

TEST(FeatureGradients, DeterministicEmuMatchesCpu) {
  const Scene scene;
  const Analytic cpu = backward(Device::cpu(), scene, false);
  const Analytic emu = backward(Device::emu(), scene, true);
  const auto close = [](const std::vector<float>& x, const std::vector<float>& y, const char* what) {
    ASSERT_EQ(x.size(), y.size()) << what;
    double scale = 0;
    for (float v : x) scale = std::max(scale, static_cast<double>(std::fabs(v)));
    ASSERT_GT(scale, 0) << what;
    int bad = 0;
    for (std::size_t i = 0; i < x.size(); ++i) {
      if (!(std::fabs(x[i] - y[i]) <= 1e-4 * scale) && ++bad <= 5) {
        ADD_FAILURE() << what << "[" << i << "]: " << x[i] << " vs " << y[i];
      }
    }
  };
  close(cpu.vertex, emu.vertex, "vertex");
  close(cpu.texel1, emu.texel1, "texel");
}

TEST(FeatureGradients, Errors) {
  const Scene scene;
  const dr::RenderModel rm(Device::cpu(), scene.model, scene.ids);
  dr::RenderBackward bw(rm, scene.model);
  std::vector<float> vg{1.0f}, tg{1.0f};
  dr::feature_gradients(bw, 0, 1, vg, tg);  // before any backward: an empty batch
  EXPECT_TRUE(vg.empty() && tg.empty());
  EXPECT_NE(error_of([&] { dr::feature_gradients(bw, 2, 1, vg, tg); })
                .find("feature gradients: batch 2 is not the last backward's batch 0"),
            std::string::npos);
  dr::Renderer renderer(rm, scene.options);
  Tensor images = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  renderer.render(scene.factors, images);
  Tensor g = Tensor::empty({kBatch, kSize, kSize, 3}, DType::f32, Device::cpu());
  deeper::copy_bytes(g.data_raw(), Device::cpu(), scene.weights.data(), Device::cpu(), scene.weights.size() * sizeof(float));
  dr::RenderGradients grads;
  bw.backward(renderer, g, grads);
  EXPECT_EQ(bw.last_batch(), kBatch);
  EXPECT_NE(error_of([&] { dr::feature_gradients(bw, 2, 3, vg, tg); }).find("factor 3 does not divide the 32 x 32"),
            std::string::npos);
  EXPECT_NE(error_of([&] { dr::feature_gradients(bw, 1, 1, vg, tg); }).find("batch 1 is not the last backward's batch 2"),
            std::string::npos);
  dr::feature_gradients(bw, 2, 4, vg, tg);
  EXPECT_EQ(vg.size(), static_cast<std::size_t>(2 * 3 * scene.model.vertex_count()));
  EXPECT_EQ(tg.size(), static_cast<std::size_t>(2 * 8 * 8 * 3));
}

}  // namespace
