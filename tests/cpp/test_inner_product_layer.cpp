#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

// The message of the caffe::Error that `body` throws ("" if none).
template <typename Body>
std::string error_of(Body&& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "";
}

void set_values(Blob* blob, const std::vector<float>& values) {
  ASSERT_EQ(blob->count(), static_cast<int>(values.size()));
  std::copy(values.begin(), values.end(), blob->mutable_cpu_data());
}

void expect_values(const Blob& blob, const std::vector<float>& expected) {
  ASSERT_EQ(blob.count(), static_cast<int>(expected.size()));
  for (int i = 0; i < blob.count(); ++i) EXPECT_NEAR(blob.cpu_data()[i], expected[i], 1e-5f) << i;
}

const char* kGaussianIp = R"(
  name: "ip" type: "InnerProduct"
  inner_product_param {
    num_output: 3
    weight_filler { type: "gaussian" std: 1 }
    bias_filler { type: "gaussian" std: 1 }
  })";

// x = [[1 2 3] [4 5 6]], W = [[1 0 -1] [.5 .5 .5]], b = [.1 -.2]:
// y = [[-2 + .1, 3 - .2] [-2 + .1, 7.5 - .2]].
const std::vector<float> kX = {1, 2, 3, 4, 5, 6};
const std::vector<float> kW = {1, 0, -1, 0.5f, 0.5f, 0.5f};
const std::vector<float> kWTransposed = {1, 0.5f, 0, 0.5f, -1, 0.5f};
const std::vector<float> kB = {0.1f, -0.2f};
const std::vector<float> kY = {-1.9f, 2.8f, -1.9f, 7.3f};

TEST(InnerProductLayerTest, ForwardHandComputed) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct"
                                   inner_product_param { num_output: 2 })");
  test::BlobSet bottom, top;
  set_values(bottom.add({2, 3}), kX);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  ASSERT_EQ(layer->blobs().size(), 2u);
  EXPECT_EQ(layer->blobs()[0]->shape(), (std::vector<int>{2, 3}));
  EXPECT_EQ(layer->blobs()[1]->shape(), (std::vector<int>{2}));
  set_values(layer->blobs()[0].get(), kW);
  set_values(layer->blobs()[1].get(), kB);
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{2, 2}));
  expect_values(*top.ptrs[0], kY);
}

TEST(InnerProductLayerTest, TransposeStoresWeightsKByN) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct"
                                   inner_product_param { num_output: 2 transpose: true })");
  test::BlobSet bottom, top;
  set_values(bottom.add({2, 3}), kX);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(layer->blobs()[0]->shape(), (std::vector<int>{3, 2}));
  set_values(layer->blobs()[0].get(), kWTransposed);
  set_values(layer->blobs()[1].get(), kB);
  layer->Forward(bottom.ptrs, top.ptrs);
  expect_values(*top.ptrs[0], kY);
}

TEST(InnerProductLayerTest, AxisKeepsLeadingAxes) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct"
      inner_product_param { num_output: 2 axis: -1 bias_term: false })");
  test::BlobSet bottom, top;
  set_values(bottom.add({1, 2, 3}), kX);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  ASSERT_EQ(layer->blobs().size(), 1u);
  set_values(layer->blobs()[0].get(), kW);
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{1, 2, 2}));
  expect_values(*top.ptrs[0], {-2, 3, -2, 7.5f});
}

TEST(InnerProductLayerTest, DefaultFillersAreZeroAndFillsAreReproducible) {
  test::BlobSet bottom, top;
  bottom.add({2, 4});
  top.add({});
  auto plain =
      test::make_layer(R"(name: "a" type: "InnerProduct" inner_product_param { num_output: 3 })");
  plain->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(plain->blobs()[0]->asum_data(), 0.0f);
  EXPECT_EQ(plain->blobs()[1]->asum_data(), 0.0f);

  const auto weights_of = [&](const std::string& name) {
    auto layer = test::make_layer("name: '" + name + R"(' type: "InnerProduct"
        inner_product_param { num_output: 3 weight_filler { type: "gaussian" } })");
    layer->SetUp(bottom.ptrs, top.ptrs);
    const Blob& w = *layer->blobs()[0];
    return std::vector<float>(w.cpu_data(), w.cpu_data() + w.count());
  };
  EXPECT_EQ(weights_of("fc"), weights_of("fc"));
  EXPECT_NE(weights_of("fc"), weights_of("fc2"));
}

TEST(InnerProductLayerTest, Gradients) {
  auto layer = test::make_layer(kGaussianIp);
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 3, 2}), 5);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

TEST(InnerProductLayerTest, GradientsTransposed) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct"
      inner_product_param { num_output: 3 transpose: true
        weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } })");
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({3, 4}), 6);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

TEST(InnerProductLayerTest, GradientsAxis2WithoutBias) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct"
      inner_product_param { num_output: 2 axis: 2 bias_term: false
        weight_filler { type: "xavier" } })");
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 2, 3}), 7);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{2, 2, 2}));
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

TEST(InnerProductLayerTest, ParamGradientsAccumulateAndRespectPropagateFlags) {
  auto layer = test::make_layer(kGaussianIp);
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 4}), 8);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  test::fill_gaussian(top.ptrs[0]->mutable_cpu_diff(), top.ptrs[0]->count(), 9);
  Blob& weight = *layer->blobs()[0];
  Blob& bias = *layer->blobs()[1];
  cpu_set(weight.count(), 0.0f, weight.mutable_cpu_diff());
  cpu_set(bias.count(), 0.0f, bias.mutable_cpu_diff());
  layer->Backward(top.ptrs, {true}, bottom.ptrs);
  const std::vector<float> once(weight.cpu_diff(), weight.cpu_diff() + weight.count());
  const float bias_once = bias.cpu_diff()[0];
  layer->Backward(top.ptrs, {true}, bottom.ptrs);
  for (int i = 0; i < weight.count(); ++i) EXPECT_FLOAT_EQ(weight.cpu_diff()[i], 2 * once[i]);
  EXPECT_FLOAT_EQ(bias.cpu_diff()[0], 2 * bias_once);

  // Frozen parameters and an unneeded bottom gradient are left untouched.
  layer->set_param_propagate_down(0, false);
  layer->set_param_propagate_down(1, false);
  cpu_set(bottom.ptrs[0]->count(), 42.0f, bottom.ptrs[0]->mutable_cpu_diff());
  layer->Backward(top.ptrs, {false}, bottom.ptrs);
  EXPECT_FLOAT_EQ(weight.cpu_diff()[0], 2 * once[0]);
  EXPECT_FLOAT_EQ(bias.cpu_diff()[0], 2 * bias_once);
  EXPECT_EQ(bottom.ptrs[0]->cpu_diff()[3], 42.0f);
}

TEST(InnerProductLayerTest, InputSizeChangeNamesBothSizes) {
  auto layer = test::make_layer(kGaussianIp);
  test::BlobSet bottom, top;
  bottom.add({2, 6});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  bottom.ptrs[0]->Reshape({5, 6});  // a new batch size is fine
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (std::vector<int>{5, 3}));
  bottom.ptrs[0]->Reshape({2, 7});
  const std::string message = error_of([&] { layer->Forward(bottom.ptrs, top.ptrs); });
  EXPECT_NE(message.find("layer 'ip' (InnerProduct)"), std::string::npos) << message;
  EXPECT_NE(message.find("has 7 inputs"), std::string::npos) << message;
  EXPECT_NE(message.find("set up for 6"), std::string::npos) << message;
}

TEST(InnerProductLayerTest, MissingNumOutputIsAnError) {
  auto layer = test::make_layer(R"(name: "ip" type: "InnerProduct")");
  test::BlobSet bottom, top;
  bottom.add({2, 3});
  top.add({});
  EXPECT_NE(error_of([&] { layer->SetUp(bottom.ptrs, top.ptrs); }).find("num_output"),
            std::string::npos);
}

// A layer parameter carrying the given parameter blobs, as a loaded model would.
LayerParameter with_blobs(const std::vector<std::vector<int>>& shapes) {
  LayerParameter param = test::layer_param(R"(name: "ip" type: "InnerProduct"
                                              inner_product_param { num_output: 2 })");
  for (size_t i = 0; i < shapes.size(); ++i) {
    Blob blob(shapes[i]);
    test::fill_gaussian(&blob, 10 + i);
    blob.ToProto(param.add_blobs());
  }
  return param;
}

TEST(InnerProductLayerTest, LoadedBlobsAreKeptWhenShapesFit) {
  test::BlobSet bottom, top;
  bottom.add({4, 3});
  top.add({});
  const LayerParameter param = with_blobs({{2, 3}, {2}});
  auto layer = LayerRegistry::Create(param);
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(layer->blobs()[0]->cpu_data()[5], param.blobs(0).data(5));
  EXPECT_EQ(layer->blobs()[1]->cpu_data()[1], param.blobs(1).data(1));

  // Legacy 4-d weights [1, 1, N, K] are accepted as [N, K].
  auto legacy = LayerRegistry::Create(with_blobs({{1, 1, 2, 3}, {1, 1, 1, 2}}));
  legacy->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(legacy->blobs()[0]->shape(), (std::vector<int>{2, 3}));
  EXPECT_EQ(legacy->blobs()[1]->shape(), (std::vector<int>{2}));
}

TEST(InnerProductLayerTest, LoadedBlobsWithWrongShapesAreErrors) {
  test::BlobSet bottom, top;
  bottom.add({4, 3});
  top.add({});
  const auto setup_error = [&](const LayerParameter& param) {
    auto layer = LayerRegistry::Create(param);
    return error_of([&] { layer->SetUp(bottom.ptrs, top.ptrs); });
  };
  const std::string weight = setup_error(with_blobs({{2, 4}, {2}}));
  EXPECT_NE(weight.find("weight blob from the model has shape 2 4"), std::string::npos) << weight;
  EXPECT_NE(weight.find("need 2 3"), std::string::npos) << weight;
  const std::string bias = setup_error(with_blobs({{2, 3}, {3}}));
  EXPECT_NE(bias.find("bias blob"), std::string::npos) << bias;
  const std::string count = setup_error(with_blobs({{2, 3}}));
  EXPECT_NE(count.find("1 parameter blob(s)"), std::string::npos) << count;
}

TEST(InnerProductLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 11); };
  test::check_gpu_matches_cpu(kGaussianIp, {{4, 3, 5}}, fill);
  test::check_gpu_matches_cpu(R"(name: "ip" type: "InnerProduct"
      inner_product_param { num_output: 7 transpose: true
        weight_filler { type: "gaussian" } bias_filler { type: "gaussian" } })",
                              {{6, 10}}, fill);
  test::check_gpu_matches_cpu(R"(name: "ip" type: "InnerProduct"
      inner_product_param { num_output: 4 axis: 2 bias_term: false
        weight_filler { type: "gaussian" } })",
                              {{2, 3, 5}}, fill);
}

}  // namespace
}  // namespace caffe
