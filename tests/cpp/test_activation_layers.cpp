// ReLU, TanH and Sigmoid: hand-computed values, gradients, in-place use, GPU against CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

const char* kRelu = "name: 'relu' type: 'ReLU'";
const char* kLeakyRelu = "name: 'relu' type: 'ReLU' relu_param { negative_slope: 0.1 }";
const char* kTanh = "name: 'tanh' type: 'TanH'";
const char* kSigmoid = "name: 'sigmoid' type: 'Sigmoid'";

// Gaussian values pushed at least 0.1 away from 0, where ReLU has its kink.
void fill_away_from_zero(Blob* blob, uint64_t seed) {
  test::fill_gaussian(blob, seed);
  float* x = blob->mutable_cpu_data();
  for (int i = 0; i < blob->count(); ++i) x[i] += x[i] >= 0 ? 0.1f : -0.1f;
}

std::vector<float> forward(const std::string& prototxt, const std::vector<float>& input) {
  auto layer = test::make_layer(prototxt);
  test::BlobSet bottom, top;
  Blob* x = bottom.add({static_cast<int>(input.size())});
  std::copy(input.begin(), input.end(), x->mutable_cpu_data());
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  return std::vector<float>(top.ptrs[0]->cpu_data(), top.ptrs[0]->cpu_data() + input.size());
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6f) << i;
}

void check_layer_gradients(const std::string& prototxt) {
  auto layer = test::make_layer(prototxt);
  test::BlobSet bottom, top;
  fill_away_from_zero(bottom.add({2, 3, 4}), 31);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

// Runs forward + backward out of place and in place on the same data; expects equal results.
void expect_in_place_matches(const std::string& prototxt) {
  const std::vector<int> shape = {3, 5};
  auto separate = test::make_layer(prototxt);
  test::BlobSet bottom, top;
  fill_away_from_zero(bottom.add(shape), 32);
  top.add({});
  separate->SetUp(bottom.ptrs, top.ptrs);
  separate->Forward(bottom.ptrs, top.ptrs);
  test::fill_gaussian(top.ptrs[0]->mutable_cpu_diff(), top.ptrs[0]->count(), 33);
  separate->Backward(top.ptrs, {true}, bottom.ptrs);

  auto in_place = test::make_layer(prototxt);
  test::BlobSet blob;
  fill_away_from_zero(blob.add(shape), 32);
  in_place->SetUp(blob.ptrs, blob.ptrs);
  in_place->Forward(blob.ptrs, blob.ptrs);
  test::fill_gaussian(blob.ptrs[0]->mutable_cpu_diff(), blob.ptrs[0]->count(), 33);
  in_place->Backward(blob.ptrs, {true}, blob.ptrs);

  const Blob& result = *blob.ptrs[0];
  for (int i = 0; i < result.count(); ++i) {
    EXPECT_FLOAT_EQ(result.cpu_data()[i], top.ptrs[0]->cpu_data()[i]) << prototxt << " " << i;
    EXPECT_FLOAT_EQ(result.cpu_diff()[i], bottom.ptrs[0]->cpu_diff()[i]) << prototxt << " " << i;
  }
}

TEST(ReLULayerTest, ForwardValues) {
  expect_near(forward(kRelu, {-2, -0.5f, 0, 0.5f, 3}), {0, 0, 0, 0.5f, 3});
  expect_near(forward(kLeakyRelu, {-2, -0.5f, 0, 0.5f, 3}), {-0.2f, -0.05f, 0, 0.5f, 3});
}

TEST(ReLULayerTest, Gradients) {
  check_layer_gradients(kRelu);
  check_layer_gradients(kLeakyRelu);
}

TEST(ReLULayerTest, InPlace) {
  expect_in_place_matches(kRelu);
  expect_in_place_matches(kLeakyRelu);
}

TEST(ReLULayerTest, NegativeSlopeInPlaceIsAnError) {
  auto layer = test::make_layer("name: 'relu' type: 'ReLU' relu_param { negative_slope: -0.5 }");
  test::BlobSet blob;
  blob.add({4});
  EXPECT_THROW(layer->SetUp(blob.ptrs, blob.ptrs), Error);
}

TEST(TanHLayerTest, ForwardValues) {
  expect_near(forward(kTanh, {0, 1, -2, 30}), {0, 0.76159416f, -0.96402758f, 1});
}

TEST(TanHLayerTest, Gradients) { check_layer_gradients(kTanh); }

TEST(TanHLayerTest, InPlace) { expect_in_place_matches(kTanh); }

TEST(SigmoidLayerTest, ForwardValues) {
  // Saturates cleanly (no NaN) for large |x|.
  expect_near(forward(kSigmoid, {0, 2, -3, 100, -100}), {0.5f, 0.88079708f, 0.04742587f, 1, 0});
}

TEST(SigmoidLayerTest, Gradients) { check_layer_gradients(kSigmoid); }

TEST(SigmoidLayerTest, InPlace) { expect_in_place_matches(kSigmoid); }

TEST(ActivationLayersTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { fill_away_from_zero(bottom[0], 34); };
  for (const char* prototxt : {kRelu, kLeakyRelu, kTanh, kSigmoid}) {
    SCOPED_TRACE(prototxt);
    test::check_gpu_matches_cpu(prototxt, {{4, 3, 50}}, fill);
  }
}

}  // namespace
}  // namespace caffe
