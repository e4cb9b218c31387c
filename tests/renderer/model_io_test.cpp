// Face model files: a round trip keeps every value and the metadata; broken files (missing tensor,
// wrong shape or dtype, index out of range, NaN, non-orthonormal basis, wrong format) are refused
// with errors that name the file and the tensor.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "core/error.h"
#include "core/safetensors.h"
#include "renderer/model_io.h"

namespace deeper::render {
namespace {

namespace fs = std::filesystem;

const FaceModel& small_model() {
  static const FaceModel m = make_procedural_model({.grid = 17, .shape_components = 12, .texture_components = 10, .texture_size = 32});
  return m;
}

fs::path temp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("deeper_renderer_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}

template <typename T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

TEST(RendererModelFile, RoundTrip) {
  const FaceModel& m = small_model();
  const fs::path path = temp_path("model.safetensors");
  save_face_model(m, path);
  const FaceModel r = load_face_model(path);
  EXPECT_TRUE(same(m.mesh.triangles, r.mesh.triangles));
  EXPECT_TRUE(same(m.mesh.uv, r.mesh.uv));
  EXPECT_TRUE(same(m.shape_glm, r.shape_glm));
  EXPECT_TRUE(same(m.shape_basis, r.shape_basis));
  EXPECT_TRUE(same(m.shape_sd, r.shape_sd));
  EXPECT_TRUE(same(m.texture_glm, r.texture_glm));
  EXPECT_TRUE(same(m.texture_basis, r.texture_basis));
  EXPECT_TRUE(same(m.texture_sd, r.texture_sd));
  EXPECT_TRUE(same(m.texture_band, r.texture_band));
  EXPECT_TRUE(same(m.blendshapes, r.blendshapes));
  EXPECT_TRUE(same(m.expression_weights, r.expression_weights));
  EXPECT_EQ(m.ethnicities, r.ethnicities);
  EXPECT_EQ(m.action_units, r.action_units);
  EXPECT_EQ(m.age_min, r.age_min);
  EXPECT_EQ(m.age_scale, r.age_scale);
  EXPECT_EQ(r.texture_height, 32);
  const io::SafetensorsFile raw = io::read_safetensors(path);
  EXPECT_EQ(raw.metadata.at("format"), "deeper-face-model");
  EXPECT_EQ(raw.metadata.at("units"), "mm");
  EXPECT_EQ(raw.metadata.at("vertices"), "289");
  fs::remove(path);
}

// Saves the small model, lets `edit` break it, and expects load_face_model to fail with a message
// containing the file name and every needle.
void expect_refused(const std::string& name, const std::function<void(io::SafetensorsFile&)>& edit,
                    std::vector<std::string> needles) {
  const fs::path path = temp_path(name + ".safetensors");
  save_face_model(small_model(), path);
  io::SafetensorsFile file = io::read_safetensors(path);
  edit(file);
  io::write_safetensors(path, file);
  try {
    (void)load_face_model(path);
    ADD_FAILURE() << name << ": no error";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path.string()), std::string::npos) << what;
    for (const std::string& n : needles) EXPECT_NE(what.find(n), std::string::npos) << name << ": " << what;
  }
  fs::remove(path);
}

io::HostArray& tensor(io::SafetensorsFile& f, const std::string& name) {
  for (auto& t : f.tensors)
    if (t.name == name) return t.array;
  throw Error("no tensor " + name);
}

template <typename T>
T* values(io::HostArray& a) {
  return reinterpret_cast<T*>(a.data.data());
}

TEST(RendererModelFile, BadFilesAreRefused) {
  expect_refused("missing", [](io::SafetensorsFile& f) { std::erase_if(f.tensors, [](auto& t) { return t.name == "shape.basis"; }); },
                 {"'shape.basis'", "missing"});
  expect_refused("shape", [](io::SafetensorsFile& f) {
    io::HostArray& a = tensor(f, "shape.sd");
    a.shape = {a.shape[0] - 1};
    a.data.resize(a.data.size() - 4);
  }, {"'shape.sd'", "shape 11", "expected 12"});
  expect_refused("dtype", [](io::SafetensorsFile& f) {
    io::HostArray& a = tensor(f, "texture.band");
    a.dtype = DType::f32;
  }, {"'texture.band'", "F32", "expected I32"});
  expect_refused("index", [](io::SafetensorsFile& f) { values<std::int32_t>(tensor(f, "mesh.triangles"))[7] = 289; },
                 {"'mesh.triangles'", "index 289", "triangle 2", "[0, 289)"});
  expect_refused("negative_index", [](io::SafetensorsFile& f) { values<std::int32_t>(tensor(f, "mesh.triangles"))[0] = -1; },
                 {"'mesh.triangles'", "index -1"});
  expect_refused("nan", [](io::SafetensorsFile& f) { values<float>(tensor(f, "texture.glm"))[5] = NAN; },
                 {"'texture.glm'", "non-finite", "element 5"});
  expect_refused("inf", [](io::SafetensorsFile& f) { values<float>(tensor(f, "expression.blendshapes"))[9] = INFINITY; },
                 {"'expression.blendshapes'", "non-finite"});
  expect_refused("orthonormal", [](io::SafetensorsFile& f) { values<float>(tensor(f, "shape.basis"))[100] += 0.2f; },
                 {"'shape.basis'", "not orthonormal"});
  expect_refused("format", [](io::SafetensorsFile& f) { f.metadata["format"] = "something-else"; }, {"'format'", "something-else"});
  expect_refused("version", [](io::SafetensorsFile& f) { f.metadata.at("format_version").assign(1, '2'); }, {"format_version", "2"});
  expect_refused("count", [](io::SafetensorsFile& f) { f.metadata["vertices"] = "twelve"; }, {"'vertices'", "twelve"});
  expect_refused("flipped", [](io::SafetensorsFile& f) { std::swap(values<std::int32_t>(tensor(f, "mesh.triangles"))[1], values<std::int32_t>(tensor(f, "mesh.triangles"))[2]); },
                 {"'mesh.triangles'", "same direction"});
  EXPECT_THROW(load_face_model(temp_path("does-not-exist.safetensors")), Error);
}

}  // namespace
}  // namespace deeper::render
