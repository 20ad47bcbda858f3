#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caffe/util/math_functions.hpp"
#include "caffe/util/random.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

std::string dropout(float ratio) {
  return "name: 'drop' type: 'Dropout' dropout_param { dropout_ratio: " + std::to_string(ratio) +
         " }";
}

std::vector<float> values_of(const float* values, int count) {
  return std::vector<float>(values, values + count);
}

// A set-up Dropout layer with one bottom of `shape` (filled with ones unless `seed` is given).
struct DropoutCase {
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  DropoutCase(float ratio, const std::vector<int>& shape, Phase phase = TRAIN, int seed = -1) {
    layer = test::make_layer(dropout(ratio), phase);
    Blob* x = bottom.add(shape);
    if (seed < 0) {
      cpu_set(x->count(), 1.0f, x->mutable_cpu_data());
    } else {
      test::fill_gaussian(x, seed);
    }
    top.add({});
    layer->SetUp(bottom.ptrs, top.ptrs);
  }
  const Blob& y() const { return *top.ptrs[0]; }
  std::vector<float> forward(uint64_t forward_count) {
    layer->set_step(0, forward_count);
    layer->Forward(bottom.ptrs, top.ptrs);
    return values_of(y().cpu_data(), y().count());
  }
};

TEST(DropoutLayerTest, TrainDropsTheRatioAndScalesTheRest) {
  const float ratio = 0.3f;
  DropoutCase drop(ratio, {1000, 100});
  const std::vector<float> y = drop.forward(3);
  const float scale = 1.0f / (1.0f - ratio);
  int dropped = 0;
  for (size_t i = 0; i < y.size(); ++i) {
    // The mask is the documented rule on the layer's counter-based stream.
    const bool keep = uniform_at(drop.layer->step_key(), i) >= ratio;
    ASSERT_EQ(y[i], keep ? scale : 0.0f) << i;
    dropped += !keep;
  }
  EXPECT_NEAR(static_cast<double>(dropped) / y.size(), ratio, 0.01);
}

TEST(DropoutLayerTest, MaskDependsOnlyOnTheForwardCount) {
  DropoutCase drop(0.5f, {50, 40});
  const std::vector<float> first = drop.forward(7);
  EXPECT_EQ(drop.forward(7), first);
  const std::vector<float> other = drop.forward(8);
  int differ = 0;
  for (size_t i = 0; i < first.size(); ++i) differ += first[i] != other[i];
  EXPECT_GT(differ, 500);  // about half of the 2000 units flip
}

TEST(DropoutLayerTest, BackwardAppliesTheForwardMask) {
  DropoutCase drop(0.4f, {10, 30}, TRAIN, 21);
  const std::vector<float> y = drop.forward(2);
  Blob* top = drop.top.ptrs[0];
  test::fill_gaussian(top->mutable_cpu_diff(), top->count(), 22);
  drop.layer->set_step(0, 99);  // a later step must not change the mask of this pass
  drop.layer->Backward(drop.top.ptrs, {true}, drop.bottom.ptrs);
  const float scale = 1.0f / 0.6f;
  for (int i = 0; i < top->count(); ++i) {
    const float expected = y[i] != 0.0f ? top->cpu_diff()[i] * scale : 0.0f;
    EXPECT_FLOAT_EQ(drop.bottom.ptrs[0]->cpu_diff()[i], expected) << i;
  }
}

TEST(DropoutLayerTest, Gradients) {
  DropoutCase drop(0.5f, {2, 3, 4}, TRAIN, 23);
  drop.layer->set_step(0, 1);
  test::check_gradients(*drop.layer, drop.bottom.ptrs, drop.top.ptrs);
}

TEST(DropoutLayerTest, InPlaceMatchesOutOfPlace) {
  DropoutCase separate(0.5f, {8, 16}, TRAIN, 24);
  const std::vector<float> y = separate.forward(4);
  Blob* top = separate.top.ptrs[0];
  test::fill_gaussian(top->mutable_cpu_diff(), top->count(), 25);
  separate.layer->Backward(separate.top.ptrs, {true}, separate.bottom.ptrs);

  auto layer = test::make_layer(dropout(0.5f));
  test::BlobSet blob;
  test::fill_gaussian(blob.add({8, 16}), 24);
  layer->SetUp(blob.ptrs, blob.ptrs);
  layer->set_step(0, 4);
  layer->Forward(blob.ptrs, blob.ptrs);
  EXPECT_EQ(values_of(blob.ptrs[0]->cpu_data(), blob.ptrs[0]->count()), y);
  test::fill_gaussian(blob.ptrs[0]->mutable_cpu_diff(), blob.ptrs[0]->count(), 25);
  layer->Backward(blob.ptrs, {true}, blob.ptrs);
  const Blob& expected = *separate.bottom.ptrs[0];
  EXPECT_EQ(values_of(blob.ptrs[0]->cpu_diff(), blob.ptrs[0]->count()),
            values_of(expected.cpu_diff(), expected.count()));
}

TEST(DropoutLayerTest, TestPhaseAndZeroRatioAreIdentity) {
  for (const auto& [phase, ratio] : {std::pair{TEST, 0.5f}, std::pair{TRAIN, 0.0f}}) {
    DropoutCase drop(ratio, {4, 5}, phase, 26);
    const Blob& x = *drop.bottom.ptrs[0];
    EXPECT_EQ(drop.forward(1), values_of(x.cpu_data(), x.count()));
    Blob* top = drop.top.ptrs[0];
    test::fill_gaussian(top->mutable_cpu_diff(), top->count(), 27);
    drop.layer->Backward(drop.top.ptrs, {true}, drop.bottom.ptrs);
    EXPECT_EQ(values_of(x.cpu_diff(), x.count()), values_of(top->cpu_diff(), top->count()));
  }
}

TEST(DropoutLayerTest, RatioOutsideZeroOneIsAnError) {
  for (float ratio : {1.0f, 1.5f, -0.1f}) {
    EXPECT_THROW(DropoutCase(ratio, {2, 2}), Error) << ratio;
  }
}

TEST(DropoutLayerTest, BackwardBeforeForwardIsAnError) {
  DropoutCase drop(0.5f, {4, 5});
  const std::string message =
      test::error_of([&] { drop.layer->Backward(drop.top.ptrs, {true}, drop.bottom.ptrs); });
  EXPECT_NE(message.find("layer 'drop'"), std::string::npos) << message;
  EXPECT_NE(message.find("run forward first"), std::string::npos) << message;
  drop.forward(1);
  EXPECT_NO_THROW(drop.layer->Backward(drop.top.ptrs, {true}, drop.bottom.ptrs));
}

TEST(DropoutLayerTest, DeviceHashMatchesHost) {
  SKIP_IF_NO_GPU();
#ifdef CAFFE_USE_CUDA
  Blob values({1 << 20});
  for (uint64_t key : std::vector<uint64_t>{0, 1, 0xDEADBEEFCAFE, hash_combine(3, 4)}) {
    for_each(Mode::GPU, values.count(), UniformFill{key, values.mutable_gpu_data()});
    const float* got = values.cpu_data();
    for (int i = 0; i < values.count(); ++i) {
      ASSERT_EQ(got[i], uniform_at(key, i)) << "key " << key << " index " << i;
    }
  }
#endif
}

TEST(DropoutLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 28); };
  // Any mask difference shows as a whole value, far beyond the tolerance.
  test::check_gpu_matches_cpu(dropout(0.5f), {{64, 1000}}, fill, 1e-6f);
  test::check_gpu_matches_cpu(dropout(0.2f), {{3, 7, 11}}, fill, 1e-6f);
  test::check_gpu_matches_cpu(dropout(0.5f), {{8, 9}}, fill, 1e-6f, TEST);
}

}  // namespace
}  // namespace caffe
