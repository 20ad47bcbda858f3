// ContrastiveLoss: hand-computed losses and gradients (both forms), the similarity rule,
// gradient checks, errors, GPU against CPU.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// Three pairs of 2-d points: similar at distance 5, dissimilar at 0 and at 0.5 (margin 1).
void set_three_pairs(LayerFixture& f) {
  test::set_values(f.bottom.ptrs[0], {0, 0, 1, 1, 0, 0});
  test::set_values(f.bottom.ptrs[1], {3, 4, 1, 1, 0.3f, 0.4f});
  test::set_values(f.bottom.ptrs[2], {1, 0, 0});
}

std::vector<float> diff_of(const Blob& blob) {
  return std::vector<float>(blob.cpu_diff(), blob.cpu_diff() + blob.count());
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) EXPECT_NEAR(actual[i], expected[i], 1e-6f) << i;
}

TEST(ContrastiveLossLayerTest, HandComputedLossAndGradients) {
  LayerFixture f("name: 'c' type: 'ContrastiveLoss'", {{3, 2, 1, 1}, {3, 2, 1, 1}, {3, 1, 1, 1}},
                 1);
  set_three_pairs(f);
  f.setup();
  const float loss = f.forward();
  // (25 + max(1 - 0, 0)^2 + max(1 - 0.5, 0)^2) / (2 · 3)
  EXPECT_NEAR(f.top_data()[0], 26.25f / 6, 1e-6f);
  EXPECT_NEAR(loss, 26.25f / 6, 1e-6f);
  f.backward({true, true, false});
  // Similar: (a - b)/N.  Coinciding dissimilar points: 0 (the 1e-4 keeps it finite).
  // Dissimilar inside the margin: -(1 - 0.5)/(0.5 + 1e-4) (a - b)/N.
  const float k = -0.5f / (0.5f + 1e-4f) / 3;
  const std::vector<float> da = {-1, -4.0f / 3, 0, 0, -0.3f * k, -0.4f * k};
  expect_near(diff_of(*f.bottom.ptrs[0]), da);
  expect_near(diff_of(*f.bottom.ptrs[1]), {1, 4.0f / 3, 0, 0, 0.3f * k, 0.4f * k});
}

TEST(ContrastiveLossLayerTest, LegacyForm) {
  LayerFixture f("type: 'ContrastiveLoss' contrastive_loss_param { legacy_version: true }",
                 {{3, 2}, {3, 2}, {3}}, 1);
  set_three_pairs(f);
  f.setup();
  f.forward();
  // (25 + max(1 - 0, 0) + max(1 - 0.25, 0)) / 6
  EXPECT_NEAR(f.top_data()[0], 26.75f / 6, 1e-6f);
  f.backward({true, true, false});
  expect_near(diff_of(*f.bottom.ptrs[0]), {-1, -4.0f / 3, 0, 0, 0.1f, 0.4f / 3});
}

TEST(ContrastiveLossLayerTest, MarginAndSimilarityRule) {
  // margin 0.5: the dissimilar pair at distance 5 adds nothing and gets no gradient; y is
  // truncated to an integer, so 0.9 is dissimilar and -1 and 1.5 are similar.
  LayerFixture f("type: 'ContrastiveLoss' contrastive_loss_param { margin: 0.5 }",
                 {{4, 2}, {4, 2}, {4}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 0, 0, 0, 0, 0, 0, 0});
  test::set_values(f.bottom.ptrs[1], {3, 4, 0.3f, 0, 1, 0, 0, 1});
  test::set_values(f.bottom.ptrs[2], {0.9f, 0.9f, -1, 1.5f});
  f.setup();
  f.forward();
  // 0 + (0.5 - 0.3)^2 + 1 + 1, over 2 · 4.
  EXPECT_NEAR(f.top_data()[0], (0.04f + 2) / 8, 1e-6f);
  f.backward({true, false, false});
  const std::vector<float> a_diff = diff_of(*f.bottom.ptrs[0]);
  EXPECT_EQ(a_diff[0], 0.0f);
  EXPECT_EQ(a_diff[1], 0.0f);
  EXPECT_NEAR(a_diff[4], -1.0f / 4, 1e-6f);
}

TEST(ContrastiveLossLayerTest, Gradients) {
  for (const char* prototxt : {"type: 'ContrastiveLoss' contrastive_loss_param { margin: 3 }",
                               "type: 'ContrastiveLoss' loss_weight: 0.5 contrastive_loss_param { "
                               "margin: 6 legacy_version: true }"}) {
    SCOPED_TRACE(prototxt);
    LayerFixture f(prototxt, {{6, 3, 1, 1}, {6, 3, 1, 1}, {6, 1, 1, 1}}, 1);
    test::fill_gaussian(f.bottom.ptrs[0], 71);
    test::fill_gaussian(f.bottom.ptrs[1], 72);
    test::set_values(f.bottom.ptrs[2], {1, 0, 0, 1, 0, 0});
    f.setup();
    test::GradientCheckOptions options;
    options.bottoms_to_check = {0, 1};
    options.step = 1e-3f;
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs, options);
  }
}

TEST(ContrastiveLossLayerTest, Errors) {
  LayerFixture shapes("name: 'c' type: 'ContrastiveLoss'", {{3, 2}, {3, 4}, {3}}, 1);
  test::expect_error([&] { shapes.setup(); },
                     {"layer 'c' (ContrastiveLoss)", "same shape", "3 2 (6)", "3 4 (12)"});
  LayerFixture labels("type: 'ContrastiveLoss'", {{3, 2}, {3, 2}, {2}}, 1);
  test::expect_error([&] { labels.setup(); }, {"bottom 2", "one value per pair", "3 values"});
  LayerFixture f("type: 'ContrastiveLoss'", {{2, 2}, {2, 2}, {2}}, 1);
  f.setup();
  f.forward();
  test::expect_error([&] { f.backward({true, true, true}); }, {"similarity labels (bottom 2)"});
  EXPECT_FALSE(f.layer->AllowForceBackward(2));
}

TEST(ContrastiveLossLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) {
    test::fill_gaussian(bottom[0], 73);
    test::fill_gaussian(bottom[1], 74);
    for (int n = 0; n < bottom[2]->count(); ++n) bottom[2]->mutable_cpu_data()[n] = n % 3 == 0;
  };
  for (const char* prototxt :
       {"type: 'ContrastiveLoss' contrastive_loss_param { margin: 4 }",
        "type: 'ContrastiveLoss' contrastive_loss_param { margin: 10 legacy_version: true }"}) {
    SCOPED_TRACE(prototxt);
    test::check_gpu_matches_cpu(prototxt, {{64, 8, 1, 1}, {64, 8, 1, 1}, {64, 1, 1, 1}}, fill,
                                1e-5f);
  }
}

}  // namespace
}  // namespace caffe
