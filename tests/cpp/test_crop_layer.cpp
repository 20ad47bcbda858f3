#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"

namespace caffe {
namespace {

using test::expect_error;
using test::LayerFixture;
using test::set_values;

std::vector<float> values_of(const Blob& blob) {
  return std::vector<float>(blob.cpu_data(), blob.cpu_data() + blob.count());
}
std::vector<float> diffs_of(const Blob& blob) {
  return std::vector<float>(blob.cpu_diff(), blob.cpu_diff() + blob.count());
}

std::vector<float> iota(int count) {
  std::vector<float> values(count);
  for (int i = 0; i < count; ++i) values[i] = static_cast<float>(i);
  return values;
}

// x (1, 2, 3, 4) = 0 .. 23: channel 0 rows 0-3 | 4-7 | 8-11, channel 1 rows 12-15 | 16-19 | 20-23.
LayerFixture crop_of_x(const std::string& param, const std::vector<int>& reference_shape) {
  LayerFixture fixture("name: 'crop' type: 'Crop' " + param, {{1, 2, 3, 4}, reference_shape}, 1);
  set_values(fixture.bottom.ptrs[0], iota(24));
  fixture.setup();
  return fixture;
}

TEST(CropLayerTest, DefaultCropsTheSpatialAxesFromZero) {
  LayerFixture fixture = crop_of_x("", {5, 7, 2, 2});
  // Axes 0 and 1 keep bottom 0's sizes; axes 2 and 3 take bottom 1's, from offset 0.
  EXPECT_EQ(fixture.top.ptrs[0]->shape(), (std::vector<int>{1, 2, 2, 2}));
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{0, 1, 4, 5, 12, 13, 16, 17}));
}

TEST(CropLayerTest, OneOffsetForEveryCroppedAxis) {
  LayerFixture fixture = crop_of_x("crop_param { offset: 1 }", {1, 1, 2, 2});
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{5, 6, 9, 10, 17, 18, 21, 22}));
}

TEST(CropLayerTest, OneOffsetPerAxisFromAxis1) {
  LayerFixture fixture =
      crop_of_x("crop_param { axis: 1 offset: 1 offset: 2 offset: 1 }", {1, 1, 1, 3});
  EXPECT_EQ(fixture.top.ptrs[0]->shape(), (std::vector<int>{1, 1, 1, 3}));
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{21, 22, 23}));
}

TEST(CropLayerTest, NegativeAxisCropsTheLastAxis) {
  LayerFixture fixture = crop_of_x("crop_param { axis: -1 offset: 3 }", {9, 9, 9, 1});
  EXPECT_EQ(fixture.top.ptrs[0]->shape(), (std::vector<int>{1, 2, 3, 1}));
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{3, 7, 11, 15, 19, 23}));
}

TEST(CropLayerTest, BackwardScattersIntoZeros) {
  LayerFixture fixture = crop_of_x("crop_param { offset: 1 offset: 2 }", {1, 1, 2, 2});
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{6, 7, 10, 11, 18, 19, 22, 23}));
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7, 8};
  std::copy(dy.begin(), dy.end(), fixture.top.ptrs[0]->mutable_cpu_diff());
  std::fill(fixture.bottom.ptrs[0]->mutable_cpu_diff(),
            fixture.bottom.ptrs[0]->mutable_cpu_diff() + 24, 9.0f);  // stale values are cleared
  std::fill(fixture.bottom.ptrs[1]->mutable_cpu_diff(),
            fixture.bottom.ptrs[1]->mutable_cpu_diff() + 4, 9.0f);
  fixture.backward({true, true});
  std::vector<float> expected(24, 0.0f);
  for (size_t k = 0; k < dy.size(); ++k) {
    expected[static_cast<size_t>(values_of(*fixture.top.ptrs[0])[k])] = dy[k];
  }
  EXPECT_EQ(diffs_of(*fixture.bottom.ptrs[0]), expected);
  EXPECT_EQ(diffs_of(*fixture.bottom.ptrs[1]), std::vector<float>(4, 0.0f));
}

TEST(CropLayerTest, Gradients) {
  LayerFixture fixture(
      "name: 'crop' type: 'Crop' crop_param { axis: 1 offset: 1 offset: 0 offset: 2 }",
      {{2, 3, 4, 5}, {2, 2, 3, 2}}, 1);
  test::fill_gaussian(fixture.bottom.ptrs[0], 3);
  fixture.setup();
  test::GradientCheckOptions options;
  options.bottoms_to_check = {0};
  test::check_gradients(*fixture.layer, fixture.bottom.ptrs, fixture.top.ptrs, options);
}

TEST(CropLayerTest, FollowsNewShapes) {
  LayerFixture fixture = crop_of_x("crop_param { offset: 1 }", {1, 1, 2, 2});
  fixture.bottom.ptrs[1]->Reshape({1, 1, 1, 3});
  fixture.forward();
  EXPECT_EQ(values_of(*fixture.top.ptrs[0]), (std::vector<float>{5, 6, 7, 17, 18, 19}));
}

TEST(CropLayerTest, Errors) {
  LayerFixture past("name: 'crop' type: 'Crop' crop_param { offset: 2 }",
                    {{1, 2, 3, 4}, {1, 1, 2, 2}}, 1);
  expect_error([&] { past.setup(); },
               {"layer 'crop' (Crop)", "cropping 2 values from offset 2 on axis 2",
                "bottom 0's size 3", "1 2 3 4 (24)", "1 1 2 2 (4)"});
  LayerFixture larger("name: 'crop' type: 'Crop'", {{1, 2, 3, 4}, {1, 1, 2, 5}}, 1);
  expect_error([&] { larger.setup(); }, {"cropping 5 values from offset 0 on axis 3", "size 4"});
  LayerFixture counts("name: 'crop' type: 'Crop' crop_param { offset: 1 offset: 1 offset: 1 }",
                      {{1, 2, 3, 4}, {1, 1, 2, 2}}, 1);
  expect_error([&] { counts.setup(); }, {"3 offsets", "axes 2 to 3 (2 axes)"});
  LayerFixture axes("name: 'crop' type: 'Crop'", {{1, 2, 3, 4}, {2, 2}}, 1);
  expect_error([&] { axes.setup(); }, {"1 2 3 4 (24)", "2 2 (4)", "same number of axes"});
  LayerFixture axis("name: 'crop' type: 'Crop' crop_param { axis: 4 }",
                    {{1, 2, 3, 4}, {1, 2, 3, 4}}, 1);
  expect_error([&] { axis.setup(); }, {"axis 4 is out of range"});
  LayerFixture in_place("name: 'crop' type: 'Crop'", {{1, 2, 3, 4}, {1, 2, 2, 2}}, 0);
  in_place.top.ptrs.push_back(in_place.bottom.ptrs[0]);
  expect_error([&] { in_place.setup(); }, {"in place"});

  // A reference that grows past bottom 0 after setup.
  LayerFixture grown("name: 'crop' type: 'Crop'", {{1, 2, 3, 4}, {1, 1, 2, 2}}, 1);
  grown.setup();
  grown.bottom.ptrs[1]->Reshape({1, 1, 4, 2});
  expect_error([&] { grown.forward(); }, {"cropping 4 values from offset 0 on axis 2"});
}

TEST(CropLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 33); };
  test::check_gpu_matches_cpu("type: 'Crop' crop_param { offset: 3 offset: 1 }",
                              {{4, 3, 17, 19}, {4, 3, 11, 16}}, fill);
  test::check_gpu_matches_cpu("type: 'Crop' crop_param { axis: 0 offset: 1 }",
                              {{4, 3, 5, 6}, {2, 2, 3, 4}}, fill);
}

}  // namespace
}  // namespace caffe
