#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using Shape = std::vector<int>;

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

// Sets up the layer on a [2, 3, 4, 5] bottom (or `bottom_shape`) and returns the top's shape.
Shape top_shape(const std::string& prototxt, const Shape& bottom_shape = {2, 3, 4, 5}) {
  auto layer = test::make_layer(prototxt);
  test::BlobSet bottom, top;
  bottom.add(bottom_shape);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  return top.ptrs[0]->shape();
}

std::string setup_error(const std::string& prototxt, const Shape& bottom_shape = {2, 3, 4, 5}) {
  return error_of([&] { top_shape(prototxt, bottom_shape); });
}

std::string flatten(const std::string& param) {
  return "name: 'flat' type: 'Flatten' flatten_param { " + param + " }";
}

std::string reshape(const std::string& param) {
  return "name: 'reshape' type: 'Reshape' reshape_param { " + param + " }";
}

// The top is a view: same data and diff memory as the bottom; gradients pass straight through.
void expect_view(const std::string& prototxt) {
  auto layer = test::make_layer(prototxt);
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 3, 4}), 51);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->cpu_data(), bottom.ptrs[0]->cpu_data());
  EXPECT_EQ(top.ptrs[0]->cpu_diff(), bottom.ptrs[0]->cpu_diff());
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

TEST(FlattenLayerTest, Shapes) {
  EXPECT_EQ(top_shape("name: 'flat' type: 'Flatten'"), (Shape{2, 60}));
  EXPECT_EQ(top_shape(flatten("axis: 2")), (Shape{2, 3, 20}));
  EXPECT_EQ(top_shape(flatten("axis: 1 end_axis: 2")), (Shape{2, 12, 5}));
  EXPECT_EQ(top_shape(flatten("axis: 0 end_axis: -2")), (Shape{24, 5}));
  EXPECT_EQ(top_shape(flatten("axis: -1")), (Shape{2, 3, 4, 5}));
}

TEST(FlattenLayerTest, BadAxesAreErrors) {
  const std::string reversed = setup_error(flatten("axis: 2 end_axis: 1"));
  EXPECT_NE(reversed.find("comes before"), std::string::npos) << reversed;
  const std::string out_of_range = setup_error(flatten("axis: 4"));
  EXPECT_NE(out_of_range.find("axis 4 is out of range"), std::string::npos) << out_of_range;
  EXPECT_NE(setup_error(flatten("axis: 1"), {7}), "");  // a 1-axis bottom has no axis 1
}

TEST(FlattenLayerTest, SharesDataAndDiff) { expect_view("name: 'flat' type: 'Flatten'"); }

TEST(ReshapeLayerTest, CopyAndInferredDimensions) {
  EXPECT_EQ(top_shape(reshape("shape { dim: 0 dim: -1 }")), (Shape{2, 60}));
  EXPECT_EQ(top_shape(reshape("shape { dim: 0 dim: 0 dim: -1 }")), (Shape{2, 3, 20}));
  EXPECT_EQ(top_shape(reshape("shape { dim: -1 }")), (Shape{120}));
  EXPECT_EQ(top_shape(reshape("shape { dim: 3 dim: 2 dim: 0 dim: -1 }")), (Shape{3, 2, 4, 5}));
  EXPECT_EQ(top_shape(reshape("shape { dim: 6 dim: 2 dim: 2 dim: 5 }")), (Shape{6, 2, 2, 5}));
}

TEST(ReshapeLayerTest, AxisAndNumAxesSelectTheReplacedRange) {
  EXPECT_EQ(top_shape(reshape("axis: 1 num_axes: 2 shape { dim: -1 }")), (Shape{2, 12, 5}));
  EXPECT_EQ(top_shape(reshape("axis: 2 shape { dim: 20 }")), (Shape{2, 3, 20}));
  EXPECT_EQ(top_shape(reshape("axis: 0 num_axes: 0 shape { dim: 1 }")), (Shape{1, 2, 3, 4, 5}));
  EXPECT_EQ(top_shape(reshape("axis: -1 shape { dim: 1 dim: 1 }")), (Shape{2, 3, 4, 5, 1, 1}));
  EXPECT_EQ(top_shape(reshape("axis: -2 shape { dim: 5 dim: -1 }")), (Shape{2, 3, 4, 5, 1}));
  EXPECT_EQ(top_shape(reshape("axis: 1 num_axes: 1 shape { dim: 0 dim: 1 }")),
            (Shape{2, 3, 1, 4, 5}));
}

TEST(ReshapeLayerTest, ImpossibleShapesAreClearErrors) {
  const std::string two_inferred = setup_error(reshape("shape { dim: -1 dim: -1 }"));
  EXPECT_NE(two_inferred.find("at most one"), std::string::npos) << two_inferred;
  const std::string count = setup_error(reshape("shape { dim: 7 dim: 0 }"));
  EXPECT_NE(count.find("cannot reshape a bottom of shape 2 3 4 5 (120) into 7 3 (21)"),
            std::string::npos)
      << count;
  const std::string indivisible = setup_error(reshape("shape { dim: 7 dim: -1 }"));
  EXPECT_NE(indivisible.find("120 elements, not a multiple of 7"), std::string::npos)
      << indivisible;
  const std::string copy = setup_error(reshape("axis: 3 shape { dim: 0 dim: 0 }"));
  EXPECT_NE(copy.find("has no axis 4"), std::string::npos) << copy;
  const std::string range = setup_error(reshape("axis: 2 num_axes: 3 shape { dim: -1 }"));
  EXPECT_NE(range.find("reaches past the last axis"), std::string::npos) << range;
  EXPECT_NE(setup_error(reshape("axis: 5 shape { dim: 1 }")).find("out of range"),
            std::string::npos);
  EXPECT_NE(setup_error(reshape("shape { dim: -3 }")).find("-3"), std::string::npos);
  EXPECT_NE(setup_error(reshape("num_axes: -2 shape { dim: -1 }")).find("num_axes"),
            std::string::npos);
}

TEST(ReshapeLayerTest, FollowsTheBottomAndSharesDataAndDiff) {
  expect_view(reshape("shape { dim: 0 dim: -1 }"));
  auto layer = test::make_layer(reshape("shape { dim: 0 dim: -1 }"));
  test::BlobSet bottom, top;
  bottom.add({2, 3, 4});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  bottom.ptrs[0]->Reshape({5, 2, 2});
  layer->Forward(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[0]->shape(), (Shape{5, 4}));
  EXPECT_EQ(top.ptrs[0]->cpu_data(), bottom.ptrs[0]->cpu_data());
}

TEST(ReshapeLayerTest, InPlaceIsAnError) {
  auto layer = test::make_layer(reshape("shape { dim: -1 }"));
  test::BlobSet blobs;
  blobs.add({2, 3});
  EXPECT_THROW(layer->SetUp(blobs.ptrs, blobs.ptrs), Error);
}

TEST(FlattenReshapeLayersTest, GpuPathsStayOnTheDevice) {
  SKIP_IF_NO_GPU();
  for (const std::string& prototxt :
       {std::string("name: 'flat' type: 'Flatten'"), reshape("shape { dim: 0 dim: -1 }")}) {
    SCOPED_TRACE(prototxt);
    auto layer = test::make_layer(prototxt);
    test::BlobSet bottom, top;
    Blob* x = bottom.add({3, 4, 5});
    test::fill_gaussian(x, 52);
    x->mutable_gpu_data();
    x->mutable_gpu_diff();
    top.add({});
    layer->SetUp(bottom.ptrs, top.ptrs);
    {
      test::GpuModeScope gpu;
      layer->Forward(bottom.ptrs, top.ptrs);
      layer->Backward(top.ptrs, {true}, bottom.ptrs);
    }
    EXPECT_EQ(x->data()->head(), SyncedMemory::Head::AT_GPU);
    EXPECT_EQ(x->diff()->head(), SyncedMemory::Head::AT_GPU);
    test::check_gpu_matches_cpu(prototxt, {{3, 4, 5}},
                                [](BlobVec& b) { test::fill_gaussian(b[0], 53); });
  }
}

}  // namespace
}  // namespace caffe
