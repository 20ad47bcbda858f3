// DummyData: shapes (new and legacy form), fillers (none, one, one per top), refilling of
// random tops only, reproducible draws, and every counting error.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

std::vector<float> values_of(const Blob& blob) {
  return std::vector<float>(blob.cpu_data(), blob.cpu_data() + blob.count());
}

TEST(DummyDataLayerTest, OneShapeAndNoFillerGiveZeros) {
  LayerFixture f("name: 'd' type: 'DummyData' dummy_data_param { shape { dim: 2 dim: 3 } }", {}, 2);
  f.setup();
  for (Blob* top : f.top.ptrs) {
    EXPECT_EQ(top->shape(), (std::vector<int>{2, 3}));
    EXPECT_EQ(values_of(*top), std::vector<float>(6, 0.0f));
  }
  f.forward();
  EXPECT_EQ(values_of(*f.top.ptrs[1]), std::vector<float>(6, 0.0f));
}

TEST(DummyDataLayerTest, ShapesAndConstantFillersPerTop) {
  LayerFixture f(R"(type: 'DummyData' dummy_data_param {
                      shape { dim: 2 } shape { dim: 1 dim: 2 dim: 2 }
                      data_filler { type: 'constant' value: 1.5 }
                      data_filler { type: 'constant' value: -2 } })",
                 {}, 2);
  f.setup();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2}));
  EXPECT_EQ(f.top.ptrs[1]->shape(), (std::vector<int>{1, 2, 2}));
  EXPECT_EQ(values_of(*f.top.ptrs[0]), (std::vector<float>{1.5f, 1.5f}));
  EXPECT_EQ(values_of(*f.top.ptrs[1]), std::vector<float>(4, -2.0f));
}

TEST(DummyDataLayerTest, LegacyDimensionsOnceOrPerTop) {
  // num per top, the other dimensions once.
  LayerFixture f(R"(type: 'DummyData' dummy_data_param {
                      num: 2 num: 5 channels: 3 height: 1 width: 4
                      data_filler { type: 'constant' value: 7 } })",
                 {}, 2);
  f.setup();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 1, 4}));
  EXPECT_EQ(f.top.ptrs[1]->shape(), (std::vector<int>{5, 3, 1, 4}));
  EXPECT_EQ(values_of(*f.top.ptrs[1]), std::vector<float>(60, 7.0f));  // one filler for both
}

TEST(DummyDataLayerTest, RandomTopsAreRefilledConstantOnesAreNot) {
  LayerFixture f(R"(name: 'd' type: 'DummyData' dummy_data_param {
                      shape { dim: 5000 }
                      data_filler { type: 'constant' value: 3 }
                      data_filler { type: 'gaussian' std: 2 } })",
                 {}, 2);
  f.setup();
  const std::vector<float> first = values_of(*f.top.ptrs[1]);
  // A constant top keeps what it holds (even values written into it), as in BVLC.
  f.top.ptrs[0]->mutable_cpu_data()[0] = 42;
  f.layer->set_step(0, 1);
  f.forward();
  EXPECT_EQ(f.top_data(0)[0], 42.0f);
  EXPECT_EQ(f.top_data(0)[1], 3.0f);
  const std::vector<float> second = values_of(*f.top.ptrs[1]);
  EXPECT_NE(first, second);
  double sum_squares = 0;
  for (float v : second) sum_squares += v * v;
  // std 2: the mean of 5,000 squares is 4 with a standard deviation of sqrt(2 · 16 / 5000) = 0.08.
  EXPECT_NEAR(sum_squares / 5000, 4.0, 0.5);
  f.layer->set_step(0, 2);
  f.forward();
  EXPECT_NE(values_of(*f.top.ptrs[1]), second);

  // The draws are a function of the seed, the layer and the forward pass.
  LayerFixture again(f.layer->layer_param().DebugString(), {}, 2);
  again.setup();
  EXPECT_EQ(values_of(*again.top.ptrs[1]), first);
  again.layer->set_step(0, 1);
  again.forward();
  EXPECT_EQ(values_of(*again.top.ptrs[1]), second);
}

TEST(DummyDataLayerTest, CountErrorsNameTheNumbers) {
  const auto error = [](const std::string& param, int tops, const std::vector<std::string>& parts) {
    SCOPED_TRACE(param);
    LayerFixture f("name: 'd' type: 'DummyData' dummy_data_param { " + param + " }", {}, tops);
    test::expect_error([&] { f.setup(); }, parts);
  };
  error("shape { dim: 1 } shape { dim: 2 }", 3,
        {"layer 'd' (DummyData)", "3 top(s) but 2 shape value(s)"});
  error("shape { dim: 1 } data_filler { } data_filler { }", 3, {"3 top(s) but 2 data_filler"});
  error("num: 1 channels: 1 height: 1 width: 1 num: 2", 3, {"3 top(s) but 2 num"});
  error("num: 1 height: 1 width: 1", 1, {"1 top(s) but 0 channels"});
  error("shape { dim: 1 } num: 1 channels: 1 height: 1 width: 1", 1, {"not both"});
  error("", 1, {"needs a `shape`"});
  error("shape { dim: 1 } data_filler { type: 'bogus' }", 1, {"unknown filler type 'bogus'"});
  error("shape { dim: -1 }", 1, {"-1"});
  LayerFixture no_tops("type: 'DummyData' dummy_data_param { shape { dim: 1 } }", {}, 0);
  test::expect_error([&] { no_tops.setup(); }, {"at least 1 top"});
}

TEST(DummyDataLayerTest, NoParametersAndANoOpBackward) {
  auto layer = test::make_layer(
      "name: 'd' type: 'DummyData' top: 'x' dummy_data_param { shape { dim: 1 } "
      "data_filler { type: 'constant' value: 5 } }");
  test::BlobSet none, top;
  top.add({});
  layer->SetUp(none.ptrs, top.ptrs);
  layer->Forward(none.ptrs, top.ptrs);
  layer->Backward(top.ptrs, {}, none.ptrs);
  EXPECT_EQ(top.ptrs[0]->cpu_data()[0], 5.0f);
  EXPECT_TRUE(layer->blobs().empty());
}

}  // namespace
}  // namespace caffe
