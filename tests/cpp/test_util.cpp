#include "tests/cpp/test_util.hpp"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

namespace caffe {
namespace test {

void fill_gaussian(float* values, int count, uint64_t seed, float mean, float std) {
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::normal_distribution<float> dist(mean, std);
  for (int i = 0; i < count; ++i) values[i] = dist(engine);
}

void fill_gaussian(Blob* blob, uint64_t seed, float mean, float std) {
  fill_gaussian(blob->mutable_cpu_data(), blob->count(), seed, mean, std);
}

void fill_uniform(Blob* blob, uint64_t seed, float low, float high) {
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> dist(low, high);
  float* data = blob->mutable_cpu_data();
  for (int i = 0; i < blob->count(); ++i) data[i] = dist(engine);
}

std::string temp_file_path(const std::string& name) {
  return ::testing::TempDir() + name + "_" +
         ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
         std::to_string(getpid());
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "caffe_test_XXXXXX").string();
  if (!mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp failed for " + pattern);
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path_)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

LayerParameter layer_param(const std::string& prototxt) {
  LayerParameter param;
  read_proto_from_text(prototxt, "<test layer>", &param);
  return param;
}

std::unique_ptr<Layer> make_layer(const std::string& prototxt, Phase phase) {
  LayerParameter param = layer_param(prototxt);
  param.set_phase(phase);
  return LayerRegistry::Create(param);
}

NetParameter net_param(const std::string& prototxt, Phase phase) {
  NetParameter param;
  read_proto_from_text(prototxt, "<test net>", &param);
  param.mutable_state()->set_phase(phase);
  return param;
}

Blob* BlobSet::add(const std::vector<int>& shape) {
  return add_existing(std::make_unique<Blob>(shape));
}

Blob* BlobSet::add_existing(std::unique_ptr<Blob> blob) {
  owned.push_back(std::move(blob));
  ptrs.push_back(owned.back().get());
  return ptrs.back();
}

namespace {

// L = sum_t <r_t, top_t>.
double objective(Layer& layer, const BlobVec& bottom, const BlobVec& top,
                 const std::vector<std::vector<float>>& weights) {
  layer.Forward(bottom, top);
  double total = 0;
  for (size_t t = 0; t < top.size(); ++t) {
    const float* values = top[t]->cpu_data();
    for (int i = 0; i < top[t]->count(); ++i) total += static_cast<double>(values[i]) * weights[t][i];
  }
  return total;
}

}  // namespace

void check_gradients(Layer& layer, const BlobVec& bottom, const BlobVec& top,
                     const GradientCheckOptions& options) {
  // Fixed projection weights for each top.
  std::mt19937 engine(static_cast<uint32_t>(options.seed));
  std::normal_distribution<float> dist(0.0f, 1.0f);
  layer.Forward(bottom, top);
  std::vector<std::vector<float>> weights(top.size());
  for (size_t t = 0; t < top.size(); ++t) {
    const float loss_weight = layer.loss_weight(static_cast<int>(t));
    weights[t].resize(top[t]->count());
    for (float& w : weights[t]) w = loss_weight != 0.0f ? loss_weight : dist(engine);
  }

  // Analytic gradients.
  std::vector<Blob*> checked;
  std::vector<std::string> labels;
  std::vector<bool> propagate_down(bottom.size(), options.bottoms_to_check.empty());
  for (int b : options.bottoms_to_check) propagate_down[b] = true;
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (!propagate_down[b]) continue;
    checked.push_back(bottom[b]);
    labels.push_back("bottom " + std::to_string(b));
  }
  if (options.check_params) {
    for (size_t j = 0; j < layer.blobs().size(); ++j) {
      checked.push_back(layer.blobs()[j].get());
      labels.push_back("param " + std::to_string(j));
      Blob& param = *layer.blobs()[j];
      std::fill(param.mutable_cpu_diff(), param.mutable_cpu_diff() + param.count(), 0.0f);
    }
  }
  for (size_t t = 0; t < top.size(); ++t) {
    std::copy(weights[t].begin(), weights[t].end(), top[t]->mutable_cpu_diff());
  }
  layer.Backward(top, propagate_down, bottom);
  std::vector<std::vector<float>> analytic;
  for (Blob* blob : checked) analytic.emplace_back(blob->cpu_diff(), blob->cpu_diff() + blob->count());

  // Numeric gradients, one element at a time.
  for (size_t c = 0; c < checked.size(); ++c) {
    Blob* blob = checked[c];
    for (int i = 0; i < blob->count(); ++i) {
      const float original = blob->cpu_data()[i];
      blob->mutable_cpu_data()[i] = original + options.step;
      const double plus = objective(layer, bottom, top, weights);
      blob->mutable_cpu_data()[i] = original - options.step;
      const double minus = objective(layer, bottom, top, weights);
      blob->mutable_cpu_data()[i] = original;
      const double numeric = (plus - minus) / (2.0 * options.step);
      const double exact = analytic[c][i];
      const double scale = std::max({1.0, std::fabs(exact), std::fabs(numeric)});
      EXPECT_NEAR(exact, numeric, options.threshold * scale)
          << layer.type() << " " << labels[c] << " element " << i << " (value " << original << ")";
    }
  }
}

void check_gpu_matches_cpu(const std::string& prototxt, const std::vector<std::vector<int>>& bottom_shapes,
                           const std::function<void(BlobVec&)>& fill_inputs, float tolerance,
                           Phase phase) {
  struct Run {
    std::unique_ptr<Layer> layer;
    BlobSet bottom, top;
  };
  const auto run = [&](Mode run_mode, const Layer* weights_from) {
    auto result = std::make_unique<Run>();
    for (const auto& shape : bottom_shapes) result->bottom.add(shape);
    fill_inputs(result->bottom.ptrs);
    result->layer = make_layer(prototxt, phase);
    Layer& layer = *result->layer;
    const int tops = std::max({layer.ExactNumTopBlobs(), layer.MinTopBlobs(), 1});
    for (int t = 0; t < tops; ++t) result->top.add({});
    layer.SetUp(result->bottom.ptrs, result->top.ptrs);
    if (weights_from) {
      for (size_t j = 0; j < layer.blobs().size(); ++j) {
        const Blob& source = *weights_from->blobs()[j];
        std::copy(source.cpu_data(), source.cpu_data() + source.count(),
                  layer.blobs()[j]->mutable_cpu_data());
      }
    }
    set_mode(run_mode);
    layer.Forward(result->bottom.ptrs, result->top.ptrs);
    for (size_t t = 0; t < result->top.ptrs.size(); ++t) {
      Blob* top = result->top.ptrs[t];
      fill_gaussian(top->mutable_cpu_diff(), top->count(), 99 + t);
    }
    std::vector<bool> propagate_down(bottom_shapes.size(), true);
    for (size_t b = 0; b < bottom_shapes.size(); ++b) {
      propagate_down[b] = layer.AllowForceBackward(static_cast<int>(b));
    }
    layer.Backward(result->top.ptrs, propagate_down, result->bottom.ptrs);
    set_mode(Mode::CPU);
    return result;
  };
  const auto expect_same = [&](const float* cpu, const float* gpu, int count, const std::string& what) {
    for (int i = 0; i < count; ++i) {
      const float scale = std::max({1.0f, std::fabs(cpu[i]), std::fabs(gpu[i])});
      ASSERT_NEAR(cpu[i], gpu[i], tolerance * scale) << what << " element " << i;
    }
  };
  auto cpu = run(Mode::CPU, nullptr);
  auto gpu = run(Mode::GPU, cpu->layer.get());
  for (size_t t = 0; t < cpu->top.ptrs.size(); ++t) {
    expect_same(cpu->top.ptrs[t]->cpu_data(), gpu->top.ptrs[t]->cpu_data(),
                cpu->top.ptrs[t]->count(), "top " + std::to_string(t));
  }
  for (size_t b = 0; b < bottom_shapes.size(); ++b) {
    if (!cpu->layer->AllowForceBackward(static_cast<int>(b))) continue;
    expect_same(cpu->bottom.ptrs[b]->cpu_diff(), gpu->bottom.ptrs[b]->cpu_diff(),
                cpu->bottom.ptrs[b]->count(), "bottom diff " + std::to_string(b));
  }
  for (size_t j = 0; j < cpu->layer->blobs().size(); ++j) {
    expect_same(cpu->layer->blobs()[j]->cpu_diff(), gpu->layer->blobs()[j]->cpu_diff(),
                cpu->layer->blobs()[j]->count(), "param diff " + std::to_string(j));
  }
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  ADD_FAILURE() << "expected a caffe::Error";
  return "";
}

}  // namespace test
}  // namespace caffe
