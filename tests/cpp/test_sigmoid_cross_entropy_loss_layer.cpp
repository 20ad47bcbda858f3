// SigmoidCrossEntropyLoss: hand-computed losses (stable for large |x|), every normalization,
// ignore_label, gradients, errors, GPU against CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// -[t log p + (1 - t) log(1 - p)], p = sigmoid(x), in double from the textbook formula (the
// test inputs keep p away from 0 and 1 where it would overflow).
double cross_entropy(double x, double t) {
  const double p = 1.0 / (1.0 + std::exp(-x));
  return -(t * std::log(p) + (1 - t) * std::log(1 - p));
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

const std::vector<float> kScores = {0, 2, -3, 1.5f, -0.5f, 4};
const std::vector<float> kTargets = {1, 0, 0.5f, 1, 0, 0.25f};

double total_loss() {
  double total = 0;
  for (size_t i = 0; i < kScores.size(); ++i) total += cross_entropy(kScores[i], kTargets[i]);
  return total;
}

TEST(SigmoidCrossEntropyLossLayerTest, DividesByTheBatchByDefault) {
  LayerFixture f("name: 'sce' type: 'SigmoidCrossEntropyLoss'", {{2, 3}, {2, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], kScores);
  test::set_values(f.bottom.ptrs[1], kTargets);
  f.setup();
  const float loss = f.forward();
  EXPECT_EQ(f.top.ptrs[0]->num_axes(), 0);
  EXPECT_NEAR(f.top_data()[0], total_loss() / 2, 1e-5);
  EXPECT_NEAR(loss, total_loss() / 2, 1e-5);
}

TEST(SigmoidCrossEntropyLossLayerTest, StableForLargeScores) {
  // Confident and right: ~0.  Confident and wrong: |x| (a naive log(1 - p) would be -inf).
  LayerFixture f("type: 'SigmoidCrossEntropyLoss'", {{4}, {4}}, 1);
  test::set_values(f.bottom.ptrs[0], {100, -100, 100, -200});
  test::set_values(f.bottom.ptrs[1], {1, 0, 0, 1});
  f.setup();
  f.forward();
  EXPECT_NEAR(f.top_data()[0], (100.0f + 200.0f) / 4, 1e-3f);
  f.backward({true, false});
  const float* dx = f.bottom.ptrs[0]->cpu_diff();
  const std::vector<float> expected = {0, 0, 0.25f, -0.25f};
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(dx[i], expected[i], 1e-6f) << i;
}

struct NormalizationCase {
  const char* loss_param;
  float normalizer;
};

class SigmoidCrossEntropyNormalization : public ::testing::TestWithParam<NormalizationCase> {};

// Scores 2 x 3 with target -1 (ignored) at two positions: 6 values, 4 valid, batch 2.
TEST_P(SigmoidCrossEntropyNormalization, DividesByTheRightCount) {
  LayerFixture f(std::string("type: 'SigmoidCrossEntropyLoss' loss_weight: 2 ") +
                     "loss_param { ignore_label: -1 " + GetParam().loss_param + " }",
                 {{2, 3}, {2, 3}}, 1);
  std::vector<float> targets = kTargets;
  targets[1] = -1;
  targets[4] = -1;
  test::set_values(f.bottom.ptrs[0], kScores);
  test::set_values(f.bottom.ptrs[1], targets);
  f.setup();
  f.forward();
  double sum = 0;
  for (int i : {0, 2, 3, 5}) sum += cross_entropy(kScores[i], kTargets[i]);
  EXPECT_NEAR(f.top_data()[0], sum / GetParam().normalizer, 1e-5);

  f.backward({true, false});
  const float* dx = f.bottom.ptrs[0]->cpu_diff();
  for (int i = 0; i < 6; ++i) {
    const double expected =
        targets[i] == -1 ? 0.0 : 2 * (sigmoid(kScores[i]) - kTargets[i]) / GetParam().normalizer;
    EXPECT_NEAR(dx[i], expected, 1e-6) << i;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Modes, SigmoidCrossEntropyNormalization,
    ::testing::Values(NormalizationCase{"", 2},  // BATCH_SIZE default
                      NormalizationCase{"normalization: VALID", 4},
                      NormalizationCase{"normalization: FULL", 6},
                      NormalizationCase{"normalization: BATCH_SIZE", 2},
                      NormalizationCase{"normalization: NONE", 1},
                      NormalizationCase{"normalize: true", 4},   // legacy -> VALID
                      NormalizationCase{"normalize: false", 2},  // legacy -> BATCH_SIZE
                      NormalizationCase{"normalize: true normalization: FULL", 6}));  // new wins

TEST(SigmoidCrossEntropyLossLayerTest, AllIgnoredIsZero) {
  LayerFixture f(
      "type: 'SigmoidCrossEntropyLoss' loss_param { ignore_label: 7 normalization: VALID }",
      {{3}, {3}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 2, 3});
  test::set_values(f.bottom.ptrs[1], {7, 7, 7});
  f.setup();
  f.forward();
  EXPECT_EQ(f.top_data()[0], 0.0f);
}

TEST(SigmoidCrossEntropyLossLayerTest, Gradients) {
  for (const char* prototxt :
       {"type: 'SigmoidCrossEntropyLoss'",
        "type: 'SigmoidCrossEntropyLoss' loss_weight: 3 loss_param { normalization: FULL }",
        "type: 'SigmoidCrossEntropyLoss' loss_param { ignore_label: 2 normalization: VALID }"}) {
    SCOPED_TRACE(prototxt);
    LayerFixture f(prototxt, {{3, 2, 4}, {3, 8}}, 1);
    test::fill_gaussian(f.bottom.ptrs[0], 51, 0, 2);
    test::fill_uniform(f.bottom.ptrs[1], 52, 0, 1);
    f.bottom.ptrs[1]->mutable_cpu_data()[5] = 2;  // ignored where ignore_label is 2
    f.setup();
    test::GradientCheckOptions options;
    options.bottoms_to_check = {0};
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs, options);
  }
}

TEST(SigmoidCrossEntropyLossLayerTest, Errors) {
  LayerFixture mismatch("name: 'sce' type: 'SigmoidCrossEntropyLoss'", {{2, 3}, {5}}, 1);
  test::expect_error([&] { mismatch.setup(); },
                     {"layer 'sce' (SigmoidCrossEntropyLoss)", "2 3 (6)", "5 (5)", "same number"});
  LayerFixture f("type: 'SigmoidCrossEntropyLoss'", {{2}, {2}}, 1);
  f.setup();
  f.forward();
  test::expect_error([&] { f.backward({true, true}); }, {"targets (bottom 1)"});
  EXPECT_FALSE(f.layer->AllowForceBackward(1));
}

TEST(SigmoidCrossEntropyLossLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) {
    test::fill_gaussian(bottom[0], 53, 0, 3);
    test::fill_uniform(bottom[1], 54, 0, 1);
    bottom[1]->mutable_cpu_data()[3] = -1;
  };
  for (const char* prototxt :
       {"type: 'SigmoidCrossEntropyLoss'",
        "type: 'SigmoidCrossEntropyLoss' loss_param { ignore_label: -1 normalization: VALID }"}) {
    SCOPED_TRACE(prototxt);
    test::check_gpu_matches_cpu(prototxt, {{8, 3, 5}, {8, 15}}, fill, 1e-5f);
  }
}

}  // namespace
}  // namespace caffe
