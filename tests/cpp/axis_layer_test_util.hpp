// Small helpers shared by the tests of the axis-wise layers (Softmax, SoftmaxWithLoss, Accuracy,
// EuclideanLoss, Slice, Concat).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <string>
#include <vector>

#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace test {

inline void set_values(Blob* blob, const std::vector<float>& values) {
  ASSERT_EQ(static_cast<int>(values.size()), blob->count()) << "test data does not fit the blob";
  std::copy(values.begin(), values.end(), blob->mutable_cpu_data());
}

// Labels: integer class ids in [0, classes) from a fixed seed.
inline void fill_labels(Blob* blob, int classes, uint64_t seed) {
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::uniform_int_distribution<int> dist(0, classes - 1);
  float* data = blob->mutable_cpu_data();
  for (int i = 0; i < blob->count(); ++i) data[i] = static_cast<float>(dist(engine));
}

// Expects `body` to throw caffe::Error whose message contains every one of `parts`.
inline void expect_error(const std::function<void()>& body, const std::vector<std::string>& parts) {
  try {
    body();
  } catch (const Error& error) {
    const std::string message = error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "missing '" << part << "' in: " << message;
    }
    return;
  }
  ADD_FAILURE() << "expected a caffe::Error";
}

// A layer from prototxt, set up on bottoms of the given shapes and `tops` empty tops.
struct LayerFixture {
  std::unique_ptr<Layer> layer;
  BlobSet bottom, top;

  LayerFixture(const std::string& prototxt, const std::vector<std::vector<int>>& bottom_shapes,
               int tops)
      : layer(make_layer(prototxt)) {
    for (const auto& shape : bottom_shapes) bottom.add(shape);
    for (int t = 0; t < tops; ++t) top.add({});
  }
  void setup() { layer->SetUp(bottom.ptrs, top.ptrs); }
  float forward() { return layer->Forward(bottom.ptrs, top.ptrs); }
  void backward(const std::vector<bool>& propagate_down) {
    layer->Backward(top.ptrs, propagate_down, bottom.ptrs);
  }
  const float* top_data(int t = 0) const { return top.ptrs[t]->cpu_data(); }
};

}  // namespace test
}  // namespace caffe
