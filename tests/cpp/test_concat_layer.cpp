#include <gtest/gtest.h>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

TEST(ConcatLayerTest, AlongAxisOne) {
  LayerFixture f(R"(type: "Concat")", {{2, 2, 2}, {2, 1, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 1, 2, 3, 4, 5, 6, 7});
  test::set_values(f.bottom.ptrs[1], {10, 11, 12, 13});
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 2}));
  const std::vector<float> expected = {0, 1, 2, 3, 10, 11, 4, 5, 6, 7, 12, 13};
  for (int i = 0; i < 12; ++i) EXPECT_EQ(f.top_data()[i], expected[i]) << i;
}

TEST(ConcatLayerTest, LegacyConcatDimZero) {
  LayerFixture f(R"(type: "Concat" concat_param { concat_dim: 0 })", {{1, 3}, {2, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 1, 2});
  test::set_values(f.bottom.ptrs[1], {3, 4, 5, 6, 7, 8});
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{3, 3}));
  for (int i = 0; i < 9; ++i) EXPECT_EQ(f.top_data()[i], static_cast<float>(i));
}

TEST(ConcatLayerTest, LastAxisOfThreeBottoms) {
  LayerFixture f(R"(type: "Concat" concat_param { axis: -1 })", {{2, 1}, {2, 2}, {2, 1}}, 1);
  test::set_values(f.bottom.ptrs[0], {0, 4});
  test::set_values(f.bottom.ptrs[1], {1, 2, 5, 6});
  test::set_values(f.bottom.ptrs[2], {3, 7});
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 4}));
  for (int i = 0; i < 8; ++i) EXPECT_EQ(f.top_data()[i], static_cast<float>(i));
}

TEST(ConcatLayerTest, MismatchNamesTheBottomAndShapes) {
  LayerFixture f(R"(type: "Concat")", {{2, 2, 3}, {2, 1, 3}, {2, 1, 4}}, 1);
  test::expect_error([&] { f.setup(); }, {"bottom 2", "2 1 4 (8)", "2 2 3 (12)", "axis 1"});
  LayerFixture axes(R"(type: "Concat")", {{2, 2, 3}, {2, 2}}, 1);
  test::expect_error([&] { axes.setup(); }, {"bottom 1", "2 2 (4)"});
  LayerFixture both(R"(type: "Concat" concat_param { axis: 0 concat_dim: 1 })", {{2, 2}}, 1);
  test::expect_error([&] { both.setup(); }, {"concat_dim", "not both"});
}

TEST(ConcatLayerTest, GradientAndSkippedBottom) {
  LayerFixture f(R"(type: "Concat" concat_param { axis: 1 })", {{2, 3, 2}, {2, 1, 2}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 81);
  test::fill_gaussian(f.bottom.ptrs[1], 82);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
  // A bottom that is not asked for a gradient keeps its diff.
  Blob* skipped = f.bottom.ptrs[1];
  skipped->mutable_cpu_diff()[0] = 42.0f;
  f.forward();
  f.backward({true, false});
  EXPECT_EQ(skipped->cpu_diff()[0], 42.0f);
}

TEST(ConcatLayerTest, SliceUndoesConcat) {
  LayerFixture concat(R"(type: "Concat" concat_param { axis: 2 })", {{2, 3, 2}, {2, 3, 5}}, 1);
  test::fill_gaussian(concat.bottom.ptrs[0], 83);
  test::fill_gaussian(concat.bottom.ptrs[1], 84);
  concat.setup();
  concat.forward();
  test::BlobSet slice_tops;
  slice_tops.add({});
  slice_tops.add({});
  auto slice = test::make_layer(R"(type: "Slice" slice_param { axis: 2 slice_point: 2 })");
  slice->SetUp(concat.top.ptrs, slice_tops.ptrs);
  slice->Forward(concat.top.ptrs, slice_tops.ptrs);
  for (int b = 0; b < 2; ++b) {
    ASSERT_EQ(slice_tops.ptrs[b]->shape(), concat.bottom.ptrs[b]->shape());
    for (int i = 0; i < slice_tops.ptrs[b]->count(); ++i) {
      EXPECT_EQ(slice_tops.ptrs[b]->cpu_data()[i], concat.bottom.ptrs[b]->cpu_data()[i]);
    }
  }
}

TEST(ConcatLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) {
    for (size_t b = 0; b < bottom.size(); ++b) test::fill_gaussian(bottom[b], 85 + b);
  };
  test::check_gpu_matches_cpu(R"(type: "Concat")", {{3, 2, 4}, {3, 5, 4}}, fill);
  test::check_gpu_matches_cpu(R"(type: "Concat" concat_param { axis: 0 })", {{1, 2, 4}, {3, 2, 4}},
                              fill);
}

}  // namespace
}  // namespace caffe
