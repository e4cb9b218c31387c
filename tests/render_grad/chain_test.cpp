// The whole backward (renderer/pipeline_grad.h) against central differences of the whole forward
// evaluated in double (this file's reference: the model's linear combinations, pose, projection,
// normals, barycentrics, texture, shading and antialiasing in double; only the triangle ids come from
// the float rasterizer), at a tiny size: the 17 x 17-grid model, 32 x 32 px, two images.
// Also: the double forward reproduces the float pipeline's images; cpu vs emu backward.
#include "core/error.h"
#include "kernels/emu/emulator.h"
#include "kernels/raster/antialias.h"
#include "kernels/raster/rasterize.h"
#include "kernels/raster/rasterize_grad.h"
#include "kernels/render/render_grad.h"
#include "kernels/runtime/tensor.h"
#include "renderer/face_model.h"
#include "renderer/identities.h"
#include "renderer/pipeline.h"
#include "renderer/pipeline_grad.h"
#include "render_grad_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

namespace {

namespace dk = deeper::kernels;
namespace dr = deeper::render;
using deeper::Device;
using deeper::DType;
using deeper::Tensor;
using namespace render_grad_test;

const dr::FaceModel& small_model() {
  static const dr::FaceModel model = dr::make_procedural_model(dr::ProceduralOptions{17, 6, 5, 32});
  return model;
}

// Everything the double forward varies for one image.
struct Params {
  std::vector<double> s, t;  // shape, texture coefficients
  // intensity, yaw, pitch, roll, scale, tx, ty, azimuth, elevation, ambient, diffuse
  std::vector<double> f;
  std::vector<double> sh;  // empty: Lambert; 27 values: spherical-harmonics lighting
  std::int32_t identity = 0, expression = 0;
};

struct Reference {
  const dr::FaceModel& model;
  dr::RenderOptions options;
  std::array<float, 16> projection{};
  std::vector<std::int32_t> offsets, adjacency, topology;
  std::vector<std::vector<float>> design;  // per identity

  std::vector<double> render(const Params& p, std::vector<std::int32_t>* ids = nullptr) const {
    const std::int64_t v = model.vertex_count(), t = model.mesh.triangle_count();
    const std::int64_t v3 = 3 * v, texels = model.texel_values(), np = model.glm_term_count();
    const auto& d = design[static_cast<std::size_t>(p.identity)];
    const int au = model.action_unit_count();
    std::vector<double> verts(static_cast<std::size_t>(v3), 0.0);
    for (std::int64_t j = 0; j < v3; ++j) {
      double x = 0;
      for (std::int64_t k = 0; k < np; ++k) x += static_cast<double>(d[k]) * model.shape_glm[k * v3 + j];
      for (std::size_t k = 0; k < p.s.size(); ++k) x += p.s[k] * model.shape_basis[k * v3 + j];
      for (int a = 0; a < au; ++a) {
        x += p.f[0] * model.expression_weights[p.expression * au + a] * model.blendshapes[a * v3 + j];
      }
      verts[static_cast<std::size_t>(j)] = x;
    }
    double pose[12];
    dk::rotation_ref(p.f[1], p.f[2], p.f[3], -1, pose);
    pose[9] = p.f[4];
    pose[10] = p.f[5];
    pose[11] = p.f[6];
    const double pivot[3] = {0.0, options.center_y_mm, options.pivot_z_mm};
    double m[16];
    for (int i = 0; i < 16; ++i) m[i] = projection[static_cast<std::size_t>(i)];
    std::vector<double> cam(static_cast<std::size_t>(v3)), clip(static_cast<std::size_t>(4 * v)), normal(cam.size());
    for (std::int64_t i = 0; i < v; ++i) {
      double c[3], q[4];
      dk::pose_project_ref(&verts[3 * i], pose, pivot, static_cast<double>(options.distance_mm), m, c, q);
      for (int k = 0; k < 3; ++k) cam[3 * i + k] = c[k];
      for (int k = 0; k < 4; ++k) clip[4 * i + k] = q[k];
    }
    for (std::int64_t i = 0; i < v; ++i) {
      double r[3];
      dk::vertex_normal_raw(cam.data(), model.mesh.triangles.data(), offsets.data(), adjacency.data(), i, r);
      const double len = std::sqrt(r[0] * r[0] + r[1] * r[1] + r[2] * r[2]);
      for (int k = 0; k < 3; ++k) normal[3 * i + k] = len > 0 ? r[k] / len : 0.0;
    }
    const int h = options.height, w = options.width;
    const std::vector<float> clip_f(clip.begin(), clip.end());
    std::vector<float> rast(static_cast<std::size_t>(4 * h * w));
    std::vector<unsigned long long> keys(static_cast<std::size_t>(h * w));
    dk::RasterizeParams rp;
    rp.pos = clip_f.data();
    rp.tri = model.mesh.triangles.data();
    rp.batch = 1;
    rp.vertices = v;
    rp.triangles = t;
    rp.height = h;
    rp.width = w;
    rp.cull = dk::RasterCull::back;
    rp.keys = keys.data();
    rp.out = rast.data();
    dk::cpu_impl::rasterize(rp);
    std::vector<double> tex(static_cast<std::size_t>(texels));
    for (std::int64_t j = 0; j < texels; ++j) {
      double x = 0;
      for (std::int64_t k = 0; k < np; ++k) x += static_cast<double>(d[k]) * model.texture_glm[k * texels + j];
      for (std::size_t k = 0; k < p.t.size(); ++k) x += p.t[k] * model.texture_basis[k * texels + j];
      tex[static_cast<std::size_t>(j)] = x;
    }
    double l[3], da[3], de[3];
    dk::light_direction_ref(p.f[7], p.f[8], l, da, de);
    const double lambert[9] = {l[0], l[1], l[2], p.f[9], p.f[9], p.f[9], p.f[10], p.f[10], p.f[10]};
    const dk::ShadeModel shading = p.sh.empty() ? dk::ShadeModel::lambert : dk::ShadeModel::sh9;
    const double* light = p.sh.empty() ? lambert : p.sh.data();
    std::vector<double> color(static_cast<std::size_t>(3 * h * w));
    if (ids) ids->assign(static_cast<std::size_t>(h * w), 0);
    for (int j = 0; j < h; ++j) {
      for (int i = 0; i < w; ++i) {
        const std::int64_t px = static_cast<std::int64_t>(j) * w + i;
        const std::int32_t id = dk::raster_pixel_id(&rast[4 * px]);
        if (ids) (*ids)[static_cast<std::size_t>(px)] = id;
        double* out = &color[3 * px];
        if (id < 0) {
          for (int c = 0; c < 3; ++c) out[c] = options.background[static_cast<std::size_t>(c)];
          continue;
        }
        const std::int32_t* tv = &model.mesh.triangles[3 * static_cast<std::size_t>(id)];
        double c[3][4];
        for (int k = 0; k < 3; ++k) {
          for (int e = 0; e < 4; ++e) c[k][e] = clip[4 * static_cast<std::size_t>(tv[k]) + e];
        }
        double bary[3];
        dk::bary_forward(c, dk::pixel_centre_ndc_x<double>(i, w), dk::pixel_centre_ndc_y<double>(j, h), bary);
        const double wk[3] = {bary[0], bary[1], 1.0 - bary[0] - bary[1]};
        double uv[2] = {0, 0}, n[3] = {0, 0, 0};
        for (int k = 0; k < 3; ++k) {
          for (int e = 0; e < 2; ++e) uv[e] += wk[k] * model.mesh.uv[2 * static_cast<std::size_t>(tv[k]) + e];
          for (int e = 0; e < 3; ++e) n[e] += wk[k] * normal[3 * static_cast<std::size_t>(tv[k]) + e];
        }
        EXPECT_TRUE(
            dk::compose_pixel_ref(tex.data(), model.texture_height, model.texture_width, uv, n, light, out, shading));
      }
    }
    if (!options.antialias) return color;
    std::vector<double> image(color.size());
    dk::AntialiasParamsT<double> ap;
    ap.color = color.data();
    ap.rast = rast.data();
    ap.pos = clip.data();
    ap.tri = model.mesh.triangles.data();
    ap.topology = topology.data();
    ap.batch = 1;
    ap.vertices = v;
    ap.triangles = t;
    ap.channels = 3;
    ap.height = h;
    ap.width = w;
    ap.out = image.data();
    dk::cpu_impl::antialias(ap);
    return image;
  }
};

double test_max_diff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = a.size() == b.size() ? 0.0 : INFINITY;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    m = std::max(m, static_cast<double>(std::fabs(a[i] - b[i])));
  }
  return m;
}

dk::ImageFactors factors_of(const Params& p) {
  dk::ImageFactors f;
  f.identity = p.identity;
  f.expression = p.expression;
  f.intensity = static_cast<float>(p.f[0]);
  f.yaw = static_cast<float>(p.f[1]);
  f.pitch = static_cast<float>(p.f[2]);
  f.roll = static_cast<float>(p.f[3]);
  f.scale = static_cast<float>(p.f[4]);
  f.tx = static_cast<float>(p.f[5]);
  f.ty = static_cast<float>(p.f[6]);
  f.light_azimuth = static_cast<float>(p.f[7]);
  f.light_elevation = static_cast<float>(p.f[8]);
  f.ambient = static_cast<float>(p.f[9]);
  f.diffuse = static_cast<float>(p.f[10]);
  if (!p.sh.empty()) {
    f.lighting = dk::Lighting::sh9;
    for (int k = 0; k < dk::kShCoefficients; ++k) f.sh[k] = static_cast<float>(p.sh[static_cast<std::size_t>(k)]);
  }
  return f;
}

struct Scene {
  dr::IdentitySet identities;
  std::vector<Params> params;
  dr::RenderOptions options;
  // Image 0 lit by spherical harmonics (image 1 stays Lambert: a mixed batch).
  void light_first_by_sh() {
    const double sh[27] = {2.0, 0.3, 0.4, -0.35, 0.08, -0.06, 0.05, 0.07, -0.04,
                           2.2, 0.25, 0.45, -0.3, 0.06, -0.08, 0.04, 0.09, -0.05,
                           1.8, 0.35, 0.35, -0.4, 0.1, -0.05, 0.06, 0.05, -0.03};
    params[0].sh.assign(sh, sh + 27);
    for (double& x : params[0].sh) x = static_cast<float>(x);
  }
  explicit Scene(bool antialias = true) {
    options.antialias = antialias;
    identities = dr::make_identities(small_model(), 7, 2);
    options.width = options.height = 32;
    const double f0[11] = {0.6, 17.0, -6.0, 5.0, 1.05, 0.03, -0.02, 35.0, 25.0, 0.45, 0.55};
    const double f1[11] = {0.8, -24.0, 9.0, -4.0, 0.95, -0.04, 0.05, -50.0, -10.0, 0.5, 0.5};
    for (int b = 0; b < 2; ++b) {
      Params p;
      const auto& id = identities.identities[static_cast<std::size_t>(b)];
      for (float x : id.shape) p.s.push_back(static_cast<float>(x));
      for (float x : id.texture) p.t.push_back(static_cast<float>(x));
      p.f.assign(b == 0 ? f0 : f1, (b == 0 ? f0 : f1) + 11);
      for (double& x : p.f) x = static_cast<float>(x);  // the float pipeline sees these values exactly
      p.identity = b;
      p.expression = b == 0 ? 1 : 5;
      params.push_back(p);
    }
  }
};

Reference make_reference(const dr::Renderer& renderer, const dr::RenderOptions& options) {
  Reference ref{small_model(), options, renderer.projection(), {}, {}, {}, {}};
  dr::build_vertex_adjacency(small_model().mesh.triangles, small_model().vertex_count(), ref.offsets, ref.adjacency);
  ref.topology = dk::build_edge_topology(small_model().mesh.triangles.data(), small_model().mesh.triangle_count(),
                                         small_model().vertex_count());
  return ref;
}

// d loss / d images: smooth random weights.
std::vector<float> image_weights(std::int64_t batch, int h, int w) {
  return to_float(random_vector(static_cast<std::size_t>(batch * h * w * 3), 99, -1.0, 1.0));
}

struct PipelineRun {
  std::vector<float> images;
  dr::RenderGradients grads;
};

PipelineRun run_pipeline(const Device& device, const Scene& scene, bool deterministic) {
  const dr::RenderModel rm(device, small_model(), scene.identities);
  dr::Renderer renderer(rm, scene.options);
  std::vector<dk::ImageFactors> factors;
  for (const auto& p : scene.params) factors.push_back(factors_of(p));
  const auto b = static_cast<std::int64_t>(factors.size());
  const int h = scene.options.height, w = scene.options.width;
  Tensor images = Tensor::empty({b, h, w, 3}, DType::f32, device);
  renderer.render(factors, images);
  const std::vector<float> g = image_weights(b, h, w);
  Tensor gt = Tensor::empty({b, h, w, 3}, DType::f32, device);
  deeper::copy_bytes(gt.data_raw(), device, g.data(), Device::cpu(), g.size() * sizeof(float));
  PipelineRun run;
  run.images = dr::tensor_to_host(images);
  dr::RenderBackwardOptions opt;
  opt.deterministic = deterministic;
  run.grads = dr::render_backward(renderer, small_model(), gt, opt);
  return run;
}

class RenderGradChainFd : public ::testing::TestWithParam<bool> {};

// Central differences of the double forward for `items` of image b (the
// step shrinks until no pixel changes its triangle; at a kink the analytic value must lie between the
// one-sided slopes). Returns how many were checked.
struct FdItem {
  const char* name;
  double* x;
  double analytic;
  double eps;
};

int check_central_differences(const Reference& ref, Params& p, const std::vector<float>& g, int b,
                              const std::vector<FdItem>& items) {
  const std::size_t plane = static_cast<std::size_t>(ref.options.height * ref.options.width * 3);
  const auto loss = [&](std::vector<std::int32_t>* ids) {
    const std::vector<double> img = ref.render(p, ids);
    double s = 0;
    for (std::size_t i = 0; i < plane; ++i) s += g[b * plane + i] * img[i];
    return s;
  };
  std::vector<std::int32_t> base_ids;
  loss(&base_ids);
  int checked = 0;
  for (const FdItem& it : items) {
    double eps = it.eps, fd = 0, left = 0, right = 0;
    bool stable = false;
    for (int tries = 0; tries < 4 && !stable; ++tries, eps /= 8) {
      const double keep = *it.x;
      std::vector<std::int32_t> up_ids, down_ids;
      *it.x = keep + eps;
      const double up = loss(&up_ids);
      *it.x = keep - eps;
      const double down = loss(&down_ids);
      *it.x = keep;
      fd = (up - down) / (2 * eps);
      const double mid = loss(nullptr);
      right = (up - mid) / eps;
      left = (mid - down) / eps;
      stable = up_ids == base_ids && down_ids == base_ids;
    }
    if (!stable) {
      ADD_FAILURE() << "image " << b << " " << it.name << ": every step changes a pixel's triangle";
      continue;
    }
    ++checked;
    const double lo = std::min(left, right), hi = std::max(left, right);
    const double off = it.analytic < lo ? lo - it.analytic : (it.analytic > hi ? it.analytic - hi : 0.0);
    EXPECT_LE(off, 5e-3 * std::fabs(fd) + 2e-3)
        << "image " << b << " " << it.name << ": analytic " << it.analytic << ", one-sided slopes " << left << ", "
        << right;
  }
  return checked;
}

TEST_P(RenderGradChainFd, WholeChainMatchesCentralDifferences) {
  const Scene scene(GetParam());
  const dr::RenderModel rm(Device::cpu(), small_model(), scene.identities);
  dr::Renderer renderer(rm, scene.options);
  Reference ref = make_reference(renderer, scene.options);
  for (const auto& id : scene.identities.identities) ref.design.push_back(dr::design_vector(small_model(), id.factors));
  const PipelineRun run = run_pipeline(Device::cpu(), scene, false);
  ASSERT_EQ(run.grads.shape.size(), 2 * static_cast<std::size_t>(small_model().shape_components()));
  const int h = scene.options.height, w = scene.options.width;
  const std::vector<float> g = image_weights(2, h, w);
  const std::size_t plane = static_cast<std::size_t>(h * w * 3);

  // The double forward reproduces the float pipeline's images (ids from the same rasterizer).
  for (int b = 0; b < 2; ++b) {
    const std::vector<double> img = ref.render(scene.params[static_cast<std::size_t>(b)]);
    double worst = 0;
    int face = 0;
    for (std::size_t i = 0; i < plane; ++i) {
      worst = std::max(worst, std::fabs(img[i] - run.images[b * plane + i]));
      face += std::fabs(img[i] - scene.options.background[i % 3]) > 1e-3;
    }
    EXPECT_LT(worst, 2e-3) << "image " << b;
    EXPECT_GT(face, static_cast<int>(plane / 4)) << "image " << b << ": the face covers too little";
  }

  const std::size_t ks = static_cast<std::size_t>(small_model().shape_components());
  const std::size_t kt = static_cast<std::size_t>(small_model().texture_components());
  int checked = 0;
  for (int b = 0; b < 2; ++b) {
    Params p = scene.params[static_cast<std::size_t>(b)];
    const dk::FactorGrads& fg = run.grads.factors[static_cast<std::size_t>(b)];
    const std::vector<FdItem> items = {
        {"shape 0", &p.s[0], run.grads.shape[b * ks + 0], 1e-3},
        {"shape 2", &p.s[2], run.grads.shape[b * ks + 2], 1e-3},
        {"texture 0", &p.t[0], run.grads.texture[b * kt + 0], 1e-4},
        {"texture 3", &p.t[3], run.grads.texture[b * kt + 3], 1e-4},
        {"intensity", &p.f[0], fg.intensity, 1e-4},
        {"yaw", &p.f[1], fg.yaw, 1e-3},
        {"pitch", &p.f[2], fg.pitch, 1e-3},
        {"roll", &p.f[3], fg.roll, 1e-3},
        {"scale", &p.f[4], fg.scale, 1e-4},
        {"tx", &p.f[5], fg.tx, 1e-5},
        {"ty", &p.f[6], fg.ty, 1e-5},
        {"light azimuth", &p.f[7], fg.light_azimuth, 1e-3},
        {"light elevation", &p.f[8], fg.light_elevation, 1e-3},
        {"ambient", &p.f[9], fg.ambient, 1e-4},
        {"diffuse", &p.f[10], fg.diffuse, 1e-4},
    };
    SCOPED_TRACE(::testing::Message() << "antialias " << scene.options.antialias);
    checked += check_central_differences(ref, p, g, b, items);
  }
  EXPECT_EQ(checked, 30);
  // Not all zero: the chain really carries gradient to every group.
  EXPECT_GT(std::fabs(run.grads.factors[0].yaw), 1e-3);
  EXPECT_GT(std::fabs(run.grads.texture[0]), 1e-3);
  EXPECT_GT(std::fabs(run.grads.shape[0]), 1e-4);
}

INSTANTIATE_TEST_SUITE_P(Antialias, RenderGradChainFd, ::testing::Bool());

TEST(RenderGradChain, EmuMatchesCpu) {
  const Scene scene;
  const PipelineRun cpu = run_pipeline(Device::cpu(), scene, false);
  const PipelineRun emu = run_pipeline(Device::emu(), scene, false);
  const auto close = [](const std::vector<float>& a, const std::vector<float>& b, const char* what) {
    ASSERT_EQ(a.size(), b.size()) << what;
    double scale = 0;
    for (float x : a) scale = std::max(scale, static_cast<double>(std::fabs(x)));
    for (std::size_t i = 0; i < a.size(); ++i) {
      EXPECT_NEAR(a[i], b[i], 1e-4 * scale + 1e-6) << what << "[" << i << "]";
    }
  };
  close(cpu.grads.shape, emu.grads.shape, "shape");
  close(cpu.grads.texture, emu.grads.texture, "texture");
  close(cpu.grads.expression, emu.grads.expression, "expression");
  close(cpu.grads.light, emu.grads.light, "light");
  ASSERT_EQ(cpu.grads.factors.size(), emu.grads.factors.size());
  for (std::size_t b = 0; b < cpu.grads.factors.size(); ++b) {
    const auto& x = cpu.grads.factors[b];
    const auto& y = emu.grads.factors[b];
    const float a[] = {x.intensity, x.yaw, x.pitch, x.roll, x.scale, x.tx, x.ty, x.light_azimuth, x.light_elevation, x.ambient, x.diffuse};
    const float e[] = {y.intensity, y.yaw, y.pitch, y.roll, y.scale, y.tx, y.ty, y.light_azimuth, y.light_elevation, y.ambient, y.diffuse};
    for (int i = 0; i < 11; ++i) EXPECT_NEAR(a[i], e[i], 1e-4 * std::fabs(a[i]) + 1e-4) << "image " << b << " factor " << i;
  }
}

TEST(RenderGradChain, DeterministicModeRepeatsBitForBit) {
  const Scene scene;
  deeper::emu::set_seed(3);
  const PipelineRun a = run_pipeline(Device::emu(), scene, true);
  deeper::emu::set_seed(8);
  const PipelineRun b = run_pipeline(Device::emu(), scene, true);
  EXPECT_EQ(0, std::memcmp(a.grads.shape.data(), b.grads.shape.data(), a.grads.shape.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.grads.texture.data(), b.grads.texture.data(), a.grads.texture.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.grads.factors.data(), b.grads.factors.data(), a.grads.factors.size() * sizeof(dk::FactorGrads)));
  // And close to the float-atomics result on the CPU.
  const PipelineRun c = run_pipeline(Device::cpu(), scene, false);
  for (std::size_t i = 0; i < c.grads.shape.size(); ++i) EXPECT_NEAR(a.grads.shape[i], c.grads.shape[i], 1e-3 * std::fabs(c.grads.shape[i]) + 1e-4);
}


// A mixed batch: image 0 lit by 9 x RGB spherical harmonics, image 1 by Lambert. The SH image's
// gradients to its SH coefficients, pose (yaw, pitch), a shape and a texture coefficient, and the
// Lambert image's light factors, against central differences of the double forward.
TEST(RenderGradChainSh, MatchesCentralDifferences) {
  Scene scene;
  scene.light_first_by_sh();
  const dr::RenderModel rm(Device::cpu(), small_model(), scene.identities);
  dr::Renderer renderer(rm, scene.options);
  Reference ref = make_reference(renderer, scene.options);
  for (const auto& id : scene.identities.identities) ref.design.push_back(dr::design_vector(small_model(), id.factors));
  const PipelineRun run = run_pipeline(Device::cpu(), scene, false);
  ASSERT_EQ(run.grads.sh.size(), 2u * 27u);
  ASSERT_EQ(run.grads.light.size(), 2u * 9u);
  const int h = scene.options.height, w = scene.options.width;
  const std::vector<float> g = image_weights(2, h, w);
  const std::size_t plane = static_cast<std::size_t>(h * w * 3);

  // The double forward reproduces the float pipeline's SH image.
  const std::vector<double> img = ref.render(scene.params[0]);
  double worst = 0;
  for (std::size_t i = 0; i < plane; ++i) worst = std::max(worst, std::fabs(img[i] - run.images[i]));
  EXPECT_LT(worst, 2e-3);

  // Each image's gradient goes to its own lighting model only.
  for (int k = 0; k < 9; ++k) EXPECT_EQ(run.grads.light[static_cast<std::size_t>(k)], 0.0f) << k;
  for (int k = 0; k < 27; ++k) EXPECT_EQ(run.grads.sh[27 + static_cast<std::size_t>(k)], 0.0f) << k;
  EXPECT_EQ(run.grads.factors[0].ambient, 0.0f);
  EXPECT_EQ(run.grads.factors[0].light_azimuth, 0.0f);
  EXPECT_GT(std::fabs(run.grads.factors[1].ambient), 1e-3);

  Params p0 = scene.params[0];
  const auto& sh = run.grads.sh;
  const dk::FactorGrads& f0 = run.grads.factors[0];
  const int checked0 = check_central_differences(ref, p0, g, 0,
                                                 {{"sh_r0", &p0.sh[0], sh[0], 1e-3},
                                                  {"sh_g1", &p0.sh[10], sh[10], 1e-3},
                                                  {"sh_b2", &p0.sh[20], sh[20], 1e-3},
                                                  {"sh_r3", &p0.sh[3], sh[3], 1e-3},
                                                  {"sh_g4", &p0.sh[13], sh[13], 1e-3},
                                                  {"sh_b6", &p0.sh[24], sh[24], 1e-3},
                                                  {"sh_r8", &p0.sh[8], sh[8], 1e-3},
                                                  {"yaw", &p0.f[1], f0.yaw, 1e-3},
                                                  {"pitch", &p0.f[2], f0.pitch, 1e-3},
                                                  {"scale", &p0.f[4], f0.scale, 1e-5},
                                                  {"shape 1", &p0.s[1], run.grads.shape[1], 1e-3},
                                                  {"texture 2", &p0.t[2], run.grads.texture[2], 1e-4}});
  Params p1 = scene.params[1];
  const dk::FactorGrads& f1 = run.grads.factors[1];
  const int checked1 = check_central_differences(ref, p1, g, 1,
                                                 {{"ambient", &p1.f[9], f1.ambient, 1e-4},
                                                  {"diffuse", &p1.f[10], f1.diffuse, 1e-4},
                                                  {"light azimuth", &p1.f[7], f1.light_azimuth, 1e-3},
                                                  {"yaw", &p1.f[1], f1.yaw, 1e-3}});
  EXPECT_EQ(checked0 + checked1, 16);
  // The SH gradients are not all zero: every band carries gradient.
  EXPECT_GT(std::fabs(sh[0]), 1e-2);
  EXPECT_GT(std::fabs(sh[3]), 1e-3);
  EXPECT_GT(std::fabs(sh[6]), 1e-4);
}

TEST(RenderGradChainSh, EmuMatchesCpuAndDeterministicModeRepeats) {
  Scene scene;
  scene.light_first_by_sh();
  const PipelineRun cpu = run_pipeline(Device::cpu(), scene, false);
  const PipelineRun emu = run_pipeline(Device::emu(), scene, false);
  double scale = 0;
  for (float x : cpu.grads.sh) scale = std::max(scale, static_cast<double>(std::fabs(x)));
  ASSERT_GT(scale, 0.0);
  ASSERT_EQ(cpu.grads.sh.size(), emu.grads.sh.size());
  for (std::size_t i = 0; i < cpu.grads.sh.size(); ++i) {
    EXPECT_NEAR(cpu.grads.sh[i], emu.grads.sh[i], 1e-4 * scale) << i;
  }
  for (std::size_t i = 0; i < cpu.grads.light.size(); ++i) {
    EXPECT_NEAR(cpu.grads.light[i], emu.grads.light[i], 1e-4 * std::fabs(cpu.grads.light[i]) + 1e-5) << i;
  }
  EXPECT_NEAR(cpu.grads.factors[0].yaw, emu.grads.factors[0].yaw, 1e-4 * std::fabs(cpu.grads.factors[0].yaw) + 1e-4);
  EXPECT_LT(test_max_diff(cpu.images, emu.images), 1e-6);
  deeper::emu::set_seed(4);
  const PipelineRun a = run_pipeline(Device::emu(), scene, true);
  deeper::emu::set_seed(9);
  const PipelineRun b = run_pipeline(Device::emu(), scene, true);
  EXPECT_EQ(0, std::memcmp(a.grads.sh.data(), b.grads.sh.data(), a.grads.sh.size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(a.grads.factors.data(), b.grads.factors.data(),
                           a.grads.factors.size() * sizeof(dk::FactorGrads)));
}

// compose_grad with per-image lighting needs room for 27 light values per image.
TEST(RenderGradChainSh, ComposeGradRefusesAShortLightStride) {
  dk::ComposeGradParams p;
  p.batch = 0;
  p.height = p.width = 4;
  p.tex_count = 1;
  p.tex_height = p.tex_width = 2;
  const std::int32_t lighting = 1;
  p.lighting = &lighting;
  p.light_stride = 9;
  try {
    dk::compose_grad(Device::cpu(), p);
    ADD_FAILURE() << "no error";
  } catch (const deeper::Error& e) {
    EXPECT_NE(std::string(e.what()).find("compose_grad: light stride 9 is below 27"), std::string::npos) << e.what();
  }
  p.light_stride = 27;
  p.lighting_stride = 0;
  EXPECT_THROW(dk::compose_grad(Device::cpu(), p), deeper::Error);
  p.lighting_stride = 1;
  EXPECT_NO_THROW(dk::compose_grad(Device::cpu(), p));
}

}  // namespace
