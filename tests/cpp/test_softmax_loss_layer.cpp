#include <gtest/gtest.h>

#include <cmath>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

const float kLn2 = std::log(2.0f);
const float kLn5 = std::log(5.0f);

// Two positions of three classes: softmax {1/8, 2/8, 5/8} and {1/3, 1/3, 1/3}.
void set_two_rows(LayerFixture& f) {
  test::set_values(f.bottom.ptrs[0], {0, kLn2, kLn5, 4, 4, 4});
}

TEST(SoftmaxWithLossLayerTest, MeanCrossEntropy) {
  LayerFixture f(R"(type: "SoftmaxWithLoss")", {{2, 3}, {2}}, 1);
  set_two_rows(f);
  test::set_values(f.bottom.ptrs[1], {2, 0});
  f.setup();
  const float loss = f.forward();
  const float expected = (-std::log(0.625f) + std::log(3.0f)) / 2;
  EXPECT_NEAR(f.top_data()[0], expected, 1e-6f);
  EXPECT_NEAR(loss, expected, 1e-6f);
  EXPECT_EQ(f.top.ptrs[0]->num_axes(), 0);
}

TEST(SoftmaxWithLossLayerTest, UniformScoresGiveLogOfVocabulary) {
  // Perplexity exp(loss) of a uniform model is the vocabulary size.
  LayerFixture f(R"(type: "SoftmaxWithLoss" softmax_param { axis: 2 })", {{3, 2, 10}, {3, 2}}, 1);
  test::fill_labels(f.bottom.ptrs[1], 10, 3);
  f.setup();
  f.forward();
  EXPECT_NEAR(std::exp(f.top_data()[0]), 10.0f, 1e-4f);
}

TEST(SoftmaxWithLossLayerTest, AxisTwoOfTimeBatchVocabBlob) {
  // T = 2, N = 1, V = 3, labels T x N.
  LayerFixture f(R"(type: "SoftmaxWithLoss" softmax_param { axis: 2 })", {{2, 1, 3}, {2, 1}}, 2);
  test::set_values(f.bottom.ptrs[0], {0, kLn2, kLn5, kLn5, 0, kLn2});
  test::set_values(f.bottom.ptrs[1], {1, 0});
  f.setup();
  f.forward();
  EXPECT_NEAR(f.top_data()[0], (-std::log(0.25f) - std::log(0.625f)) / 2, 1e-6f);
  // The second top holds the probabilities.
  const std::vector<float> expected = {0.125f, 0.25f, 0.625f, 0.625f, 0.125f, 0.25f};
  ASSERT_EQ(f.top.ptrs[1]->shape(), (std::vector<int>{2, 1, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_NEAR(f.top_data(1)[i], expected[i], 1e-6f) << i;
}

// Scores 2 x 3 x 2 (axis 1, two columns per item), labels 2 x 2 with one ignored position.
// Per-position cross-entropies: column softmaxes are {1/8, 2/8, 5/8} or uniform.
struct NormalizationCase {
  const char* loss_param;
  float normalizer;
};

class SoftmaxWithLossNormalization : public ::testing::TestWithParam<NormalizationCase> {};

TEST_P(SoftmaxWithLossNormalization, DividesByTheRightCount) {
  const std::string prototxt =
      std::string(R"(type: "SoftmaxWithLoss" loss_param { ignore_label: -1 )") +
      GetParam().loss_param + " }";
  LayerFixture f(prototxt, {{2, 3, 2}, {2, 2}}, 1);
  // Item 0: column 0 = {0, ln2, ln5}, column 1 uniform; item 1: both columns {0, ln2, ln5}.
  test::set_values(f.bottom.ptrs[0], {0, 1, kLn2, 1, kLn5, 1,  0, 0, kLn2, kLn2, kLn5, kLn5});
  test::set_values(f.bottom.ptrs[1], {2, 1, -1, 0});
  f.setup();
  f.forward();
  const float sum = -std::log(0.625f) + std::log(3.0f) - std::log(0.125f);
  EXPECT_NEAR(f.top_data()[0], sum / GetParam().normalizer, 1e-5f);
}

INSTANTIATE_TEST_SUITE_P(
    Modes, SoftmaxWithLossNormalization,
    ::testing::Values(NormalizationCase{"", 3},                            // VALID default
                      NormalizationCase{"normalization: VALID", 3},
                      NormalizationCase{"normalization: FULL", 4},         // outer x inner
                      NormalizationCase{"normalization: BATCH_SIZE", 2},   // outer
                      NormalizationCase{"normalization: NONE", 1},
                      NormalizationCase{"normalize: true", 3},             // legacy -> VALID
                      NormalizationCase{"normalize: false", 2}));          // legacy -> BATCH_SIZE

TEST(SoftmaxWithLossLayerTest, AllIgnoredGivesZero) {
  LayerFixture f(R"(type: "SoftmaxWithLoss" loss_param { ignore_label: 5 })", {{2, 3}, {2}}, 1);
  set_two_rows(f);
  test::set_values(f.bottom.ptrs[1], {5, 5});
  f.setup();
  f.forward();
  EXPECT_EQ(f.top_data()[0], 0.0f);
}

TEST(SoftmaxWithLossLayerTest, LossWeightScalesTheReturnedLoss) {
  LayerFixture f(R"(type: "SoftmaxWithLoss" loss_weight: 3)", {{2, 3}, {2}}, 1);
  set_two_rows(f);
  test::set_values(f.bottom.ptrs[1], {2, 0});
  f.setup();
  const float weighted = f.forward();
  EXPECT_NEAR(weighted, 3 * f.top_data()[0], 1e-6f);
  EXPECT_GT(weighted, 0.0f);
}

TEST(SoftmaxWithLossLayerTest, LabelOutOfRangeNamesValueAndIndex) {
  LayerFixture f(R"(type: "SoftmaxWithLoss")", {{2, 3}, {2}}, 1);
  set_two_rows(f);
  test::set_values(f.bottom.ptrs[1], {0, 3});
  f.setup();
  test::expect_error([&] { f.forward(); }, {"label 3", "index 1", "[0, 3)"});
  test::set_values(f.bottom.ptrs[1], {-1, 0});
  test::expect_error([&] { f.forward(); }, {"label -1", "index 0"});
  test::set_values(f.bottom.ptrs[1], {1.5f, 0});
  test::expect_error([&] { f.forward(); }, {"label 1.5", "index 0"});
}

TEST(SoftmaxWithLossLayerTest, SetupErrors) {
  LayerFixture wrong_labels(R"(type: "SoftmaxWithLoss")", {{2, 3, 2}, {2}}, 1);
  test::expect_error([&] { wrong_labels.setup(); }, {"labels", "4"});
  LayerFixture weighted_prob(R"(type: "SoftmaxWithLoss" loss_weight: 1 loss_weight: 1)",
                             {{2, 3}, {2}}, 2);
  test::expect_error([&] { weighted_prob.setup(); }, {"top 1"});
}

TEST(SoftmaxWithLossLayerTest, NoGradientForLabels) {
  LayerFixture f(R"(type: "SoftmaxWithLoss")", {{2, 3}, {2}}, 1);
  set_two_rows(f);
  test::set_values(f.bottom.ptrs[1], {2, 0});
  f.setup();
  EXPECT_TRUE(f.layer->AllowForceBackward(0));
  EXPECT_FALSE(f.layer->AllowForceBackward(1));
  f.forward();
  test::expect_error([&] { f.backward({true, true}); }, {"labels"});
}

TEST(SoftmaxWithLossLayerTest, GradientWithIgnoredPositions) {
  LayerFixture f(R"(type: "SoftmaxWithLoss" loss_param { ignore_label: 1 })",
                 {{2, 4, 3}, {2, 3}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 31);
  test::fill_labels(f.bottom.ptrs[1], 4, 32);
  f.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = {0};
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs, options);
}

TEST(SoftmaxWithLossLayerTest, GradientAxisTwoFullNormalizationAndLossWeight) {
  LayerFixture f(R"(type: "SoftmaxWithLoss" loss_weight: 2 softmax_param { axis: 2 }
                    loss_param { normalization: FULL })",
                 {{3, 2, 5}, {3, 2}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 33);
  test::fill_labels(f.bottom.ptrs[1], 5, 34);
  f.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = {0};
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs, options);
}

TEST(SoftmaxWithLossLayerTest, GradientWideRowsWithAnIgnoredPosition) {
  // Rows of 37 classes take the vectorised row loops (16-wide blocks and a tail).
  LayerFixture f(R"(type: "SoftmaxWithLoss" softmax_param { axis: 2 }
                    loss_param { ignore_label: 3 })",
                 {{3, 2, 37}, {3, 2}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 35, 0.0f, 2.0f);
  test::set_values(f.bottom.ptrs[1], {0, 36, 3, 17, 16, 5});
  f.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = {0};
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs, options);
}

TEST(SoftmaxWithLossLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) {
    test::fill_gaussian(bottom[0], 41, 0.0f, 2.0f);
    test::fill_labels(bottom[1], 6, 42);
    bottom[1]->mutable_cpu_data()[0] = -1;  // one ignored position
  };
  test::check_gpu_matches_cpu(R"(type: "SoftmaxWithLoss" loss_param { ignore_label: -1 })",
                              {{4, 6, 3}, {4, 3}}, fill);
  test::check_gpu_matches_cpu(
      R"(type: "SoftmaxWithLoss" softmax_param { axis: 2 } loss_param { ignore_label: -1 })",
      {{3, 4, 6}, {3, 4}}, fill);
}

}  // namespace
}  // namespace caffe
