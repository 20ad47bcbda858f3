#include <gtest/gtest.h>

#include <vector>

#include "caffe/util/math_functions.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

const char* kSplit = "name: 'split' type: 'Split'";
const char* kSilence = "name: 'silence' type: 'Silence'";

// A Split with one [2, 3, 4] bottom and `tops` tops, set up.
struct SplitCase {
  std::unique_ptr<Layer> layer = test::make_layer(kSplit);
  test::BlobSet bottom, top;
  explicit SplitCase(int tops) {
    test::fill_gaussian(bottom.add({2, 3, 4}), 41);
    for (int t = 0; t < tops; ++t) top.add({});
    layer->SetUp(bottom.ptrs, top.ptrs);
  }
  // Random top diffs, and the sum the bottom diff should get.
  std::vector<float> fill_top_diffs() {
    std::vector<float> sum(bottom.ptrs[0]->count(), 0.0f);
    for (size_t t = 0; t < top.ptrs.size(); ++t) {
      Blob* y = top.ptrs[t];
      test::fill_gaussian(y->mutable_cpu_diff(), y->count(), 42 + t);
      for (int i = 0; i < y->count(); ++i) sum[i] += y->cpu_diff()[i];
    }
    return sum;
  }
};

TEST(SplitLayerTest, TopsShareTheBottomData) {
  SplitCase split(3);
  split.layer->Forward(split.bottom.ptrs, split.top.ptrs);
  for (Blob* y : split.top.ptrs) {
    EXPECT_EQ(y->shape(), split.bottom.ptrs[0]->shape());
    EXPECT_EQ(y->cpu_data(), split.bottom.ptrs[0]->cpu_data());
  }
  // A reshaped bottom is followed by the tops on the next forward pass.
  split.bottom.ptrs[0]->Reshape({5, 7});
  split.layer->Forward(split.bottom.ptrs, split.top.ptrs);
  EXPECT_EQ(split.top.ptrs[2]->shape(), (std::vector<int>{5, 7}));
  EXPECT_EQ(split.top.ptrs[2]->cpu_data(), split.bottom.ptrs[0]->cpu_data());
}

TEST(SplitLayerTest, BackwardSumsTopDiffs) {
  for (int tops : {1, 2, 3}) {
    SplitCase split(tops);
    const std::vector<float> sum = split.fill_top_diffs();
    split.layer->Backward(split.top.ptrs, {true}, split.bottom.ptrs);
    const float* diff = split.bottom.ptrs[0]->cpu_diff();
    for (size_t i = 0; i < sum.size(); ++i) EXPECT_FLOAT_EQ(diff[i], sum[i]) << tops << " " << i;
  }
}

TEST(SplitLayerTest, Gradients) {
  SplitCase split(3);
  test::check_gradients(*split.layer, split.bottom.ptrs, split.top.ptrs);
}

TEST(SplitLayerTest, InPlaceIsAnError) {
  auto layer = test::make_layer(kSplit);
  test::BlobSet blobs;
  blobs.add({2});
  EXPECT_THROW(layer->SetUp(blobs.ptrs, blobs.ptrs), Error);
}

TEST(SplitLayerTest, GpuSumsTopDiffsOnTheDevice) {
  SKIP_IF_NO_GPU();
  SplitCase split(3);
  const std::vector<float> sum = split.fill_top_diffs();
  Blob* x = split.bottom.ptrs[0];
  x->mutable_gpu_data();
  {
    test::GpuModeScope gpu;
    split.layer->Forward(split.bottom.ptrs, split.top.ptrs);
    split.layer->Backward(split.top.ptrs, {true}, split.bottom.ptrs);
  }
  EXPECT_EQ(x->data()->head(), SyncedMemory::Head::AT_GPU);  // forward made no host copy
  EXPECT_EQ(x->diff()->head(), SyncedMemory::Head::AT_GPU);  // the sum ran on the device
  for (size_t i = 0; i < sum.size(); ++i) EXPECT_NEAR(x->cpu_diff()[i], sum[i], 1e-5f) << i;
  test::check_gpu_matches_cpu(kSplit, {{4, 6}}, [](BlobVec& b) { test::fill_gaussian(b[0], 43); });
}

TEST(SilenceLayerTest, BackwardZeroesOnlyRequestedBottoms) {
  auto layer = test::make_layer(kSilence);
  test::BlobSet bottom, top;
  bottom.add({2, 3});
  bottom.add({4});
  for (Blob* x : bottom.ptrs) cpu_set(x->count(), 5.0f, x->mutable_cpu_diff());
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  layer->Backward(top.ptrs, {true, false}, bottom.ptrs);
  EXPECT_EQ(bottom.ptrs[0]->asum_diff(), 0.0f);
  EXPECT_EQ(bottom.ptrs[1]->asum_diff(), 20.0f);
}

TEST(SilenceLayerTest, TopsAreAnError) {
  auto layer = test::make_layer(kSilence);
  test::BlobSet bottom, top;
  bottom.add({2});
  top.add({});
  EXPECT_THROW(layer->SetUp(bottom.ptrs, top.ptrs), Error);
}

TEST(SilenceLayerTest, GpuZeroesOnTheDevice) {
  SKIP_IF_NO_GPU();
  auto layer = test::make_layer(kSilence);
  test::BlobSet bottom, top;
  Blob* x = bottom.add({3, 5});
  cpu_set(x->count(), 5.0f, x->mutable_cpu_diff());
  x->mutable_gpu_data();
  layer->SetUp(bottom.ptrs, top.ptrs);
  {
    test::GpuModeScope gpu;
    layer->Forward(bottom.ptrs, top.ptrs);
    layer->Backward(top.ptrs, {true}, bottom.ptrs);
  }
  EXPECT_EQ(x->data()->head(), SyncedMemory::Head::AT_GPU);
  EXPECT_EQ(x->diff()->head(), SyncedMemory::Head::AT_GPU);
  EXPECT_EQ(x->asum_diff(), 0.0f);
}

}  // namespace
}  // namespace caffe
