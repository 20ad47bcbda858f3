#include <gtest/gtest.h>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

// Four items, four classes.  Class ranking per row (best first):
//   row 0: 2 1 0 3    row 1: 0 3 1 2    row 2: 3 2 1 0    row 3: 1 0 2 3
const std::vector<float> kScores = {0.2f, 0.3f, 0.9f, 0.1f,
                                    0.8f, 0.1f, 0.0f, 0.5f,
                                    0.1f, 0.2f, 0.3f, 0.4f,
                                    0.5f, 0.6f, 0.4f, 0.3f};
// Label ranks: row 0 label 2 -> 1st, row 1 label 3 -> 2nd, row 2 label 1 -> 3rd, row 3 label 1 -> 1st.
const std::vector<float> kLabels = {2, 3, 1, 1};

LayerFixture four_rows(const std::string& prototxt, int tops) {
  LayerFixture f(prototxt, {{4, 4}, {4}}, tops);
  test::set_values(f.bottom.ptrs[0], kScores);
  test::set_values(f.bottom.ptrs[1], kLabels);
  f.setup();
  f.forward();
  return f;
}

TEST(AccuracyLayerTest, TopOne) {
  LayerFixture f = four_rows(R"(type: "Accuracy")", 1);
  EXPECT_FLOAT_EQ(f.top_data()[0], 0.5f);
  EXPECT_EQ(f.top.ptrs[0]->num_axes(), 0);
}

TEST(AccuracyLayerTest, TopKCountsLabelsAmongTheBestK) {
  EXPECT_FLOAT_EQ(four_rows(R"(type: "Accuracy" accuracy_param { top_k: 2 })", 1).top_data()[0], 0.75f);
  EXPECT_FLOAT_EQ(four_rows(R"(type: "Accuracy" accuracy_param { top_k: 3 })", 1).top_data()[0], 1.0f);
}

TEST(AccuracyLayerTest, PerClassAccuracyTop) {
  LayerFixture f = four_rows(R"(type: "Accuracy")", 2);
  ASSERT_EQ(f.top.ptrs[1]->shape(), std::vector<int>{4});
  // class 0: no items -> 0; class 1: rows 2 (wrong) and 3 (right); class 2: right; class 3: wrong.
  const std::vector<float> expected = {0.0f, 0.5f, 1.0f, 0.0f};
  for (int c = 0; c < 4; ++c) EXPECT_FLOAT_EQ(f.top_data(1)[c], expected[c]) << c;
}

TEST(AccuracyLayerTest, IgnoredPositionsDoNotCount) {
  LayerFixture f(R"(type: "Accuracy" accuracy_param { ignore_label: 7 })", {{4, 4}, {4}}, 1);
  test::set_values(f.bottom.ptrs[0], kScores);
  test::set_values(f.bottom.ptrs[1], {2, 7, 1, 7});  // one right, one wrong, two ignored
  f.setup();
  f.forward();
  EXPECT_FLOAT_EQ(f.top_data()[0], 0.5f);
}

TEST(AccuracyLayerTest, TiesGoToTheLowerClassId) {
  LayerFixture f(R"(type: "Accuracy")", {{2, 3}, {2}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 1, 1, 1, 1, 1});
  test::set_values(f.bottom.ptrs[1], {0, 1});  // argmax of a tie is class 0
  f.setup();
  f.forward();
  EXPECT_FLOAT_EQ(f.top_data()[0], 0.5f);
}

TEST(AccuracyLayerTest, AxisTwoOfTimeBatchVocabBlob) {
  // T = 2, N = 2, V = 3 (axis 2), labels T x N.
  LayerFixture f(R"(type: "Accuracy" accuracy_param { axis: 2 })", {{2, 2, 3}, {2, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 1, 2,  5, 1, 0,  1, 3, 2,  0, 0, 9});
  test::set_values(f.bottom.ptrs[1], {2, 0, 2, 1});  // right, right, wrong, wrong
  f.setup();
  f.forward();
  EXPECT_FLOAT_EQ(f.top_data()[0], 0.5f);
}

TEST(AccuracyLayerTest, ClassesOnAxisOneWithInnerPositions) {
  // 1 x 3 x 2: two positions whose class scores are interleaved.
  LayerFixture f(R"(type: "Accuracy")", {{1, 3, 2}, {1, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 3, 1, 2, 2, 1});  // position 0 best 2; position 1 best 0
  test::set_values(f.bottom.ptrs[1], {2, 0});
  f.setup();
  f.forward();
  EXPECT_FLOAT_EQ(f.top_data()[0], 1.0f);
}

TEST(AccuracyLayerTest, Errors) {
  LayerFixture too_many(R"(type: "Accuracy" accuracy_param { top_k: 5 })", {{4, 4}, {4}}, 1);
  test::expect_error([&] { too_many.setup(); }, {"top_k 5", "(4)"});
  LayerFixture zero_k(R"(type: "Accuracy" accuracy_param { top_k: 0 })", {{4, 4}, {4}}, 1);
  test::expect_error([&] { zero_k.setup(); }, {"top_k"});
  LayerFixture bad_label(R"(type: "Accuracy")", {{4, 4}, {4}}, 1);
  test::set_values(bad_label.bottom.ptrs[1], {0, 1, 4, 0});
  bad_label.setup();
  test::expect_error([&] { bad_label.forward(); }, {"label 4", "index 2"});
}

TEST(AccuracyLayerTest, NoBackward) {
  LayerFixture f = four_rows(R"(type: "Accuracy")", 1);
  EXPECT_FALSE(f.layer->AllowForceBackward(0));
  EXPECT_FALSE(f.layer->AllowForceBackward(1));
  f.backward({false, false});  // nothing requested: nothing to do
  test::expect_error([&] { f.backward({true, false}); }, {"no gradient", "bottom 0"});
}

TEST(AccuracyLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) {
    test::fill_gaussian(bottom[0], 51);
    test::fill_labels(bottom[1], 5, 52);
    bottom[1]->mutable_cpu_data()[1] = -1;
  };
  test::check_gpu_matches_cpu(
      R"(type: "Accuracy" accuracy_param { top_k: 2 ignore_label: -1 })", {{6, 5, 3}, {6, 3}}, fill);
  test::check_gpu_matches_cpu(R"(type: "Accuracy" accuracy_param { axis: 2 })", {{3, 4, 5}, {3, 4}},
                              fill);
}

}  // namespace
}  // namespace caffe
