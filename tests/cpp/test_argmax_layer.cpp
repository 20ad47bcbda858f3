// ArgMax: per-example and per-axis rankings, BVLC's top shapes, ties and NaN, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

std::vector<float> top_values(const LayerFixture& f) {
  return std::vector<float>(f.top_data(), f.top_data() + f.top.ptrs[0]->count());
}

TEST(ArgMaxLayerTest, PerExampleIndex) {
  LayerFixture f("name: 'am' type: 'ArgMax'", {{2, 4}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 5, 3, 2, -1, -4, -0.5f, -3});
  f.setup();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 1, 1}));
  f.forward();
  EXPECT_EQ(top_values(f), (std::vector<float>{1, 2}));
}

TEST(ArgMaxLayerTest, PerExampleTopKWithValuesOverTrailingAxes) {
  // Each example's 2 x 2 x 1 values are ranked as one vector of 4; the top keeps the bottom's
  // axis count: (N, 2, top_k, 1), indices in row 0 and values in row 1.
  LayerFixture f("type: 'ArgMax' argmax_param { out_max_val: true top_k: 3 }", {{2, 2, 2, 1}}, 1);
  test::set_values(f.bottom.ptrs[0], {0.5f, 4, -1, 2, 7, 7, 1, 9});
  f.setup();
  EXPECT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 2, 3, 1}));
  f.forward();
  EXPECT_EQ(top_values(f), (std::vector<float>{1, 3, 0, 4, 2, 0.5f,  //
                                               3, 0, 1, 9, 7, 7}));  // tie 7/7: lower index first
}

TEST(ArgMaxLayerTest, AlongAnAxis) {
  // (2, 3, 2) along axis 1: each of the 4 (example, column) vectors has 3 values.
  const std::vector<float> input = {1, 6, 3, 5, 2, 4,  //
                                    9, 0, 8, 0, 7, 1};
  LayerFixture indices("type: 'ArgMax' argmax_param { axis: 1 top_k: 2 }", {{2, 3, 2}}, 1);
  test::set_values(indices.bottom.ptrs[0], input);
  indices.setup();
  EXPECT_EQ(indices.top.ptrs[0]->shape(), (std::vector<int>{2, 2, 2}));
  indices.forward();
  // n1, column 1 is {0, 0, 1}: 1 first, then the tie 0/0 goes to index 0.
  EXPECT_EQ(top_values(indices), (std::vector<float>{1, 0, 2, 1,  //
                                                     0, 2, 1, 0}));
  LayerFixture values("type: 'ArgMax' argmax_param { axis: -2 top_k: 2 out_max_val: true }",
                      {{2, 3, 2}}, 1);
  test::set_values(values.bottom.ptrs[0], input);
  values.setup();
  EXPECT_EQ(values.top.ptrs[0]->shape(), (std::vector<int>{2, 2, 2}));
  values.forward();
  EXPECT_EQ(top_values(values), (std::vector<float>{3, 6, 2, 5,  //
                                                    9, 1, 8, 0}));
}

TEST(ArgMaxLayerTest, TiesGoToTheLowerIndexAndNaNRanksFirst) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  LayerFixture f("type: 'ArgMax' argmax_param { top_k: 5 }", {{2, 5}}, 1);
  test::set_values(f.bottom.ptrs[0], {2, 3, 3, 2, 3, 1, nan, 5, nan, -1});
  f.setup();
  f.forward();
  EXPECT_EQ(top_values(f), (std::vector<float>{1, 2, 4, 0, 3,  //
                                               1, 3, 2, 0, 4}));
}

TEST(ArgMaxLayerTest, MatchesASortedReference) {
  LayerFixture f("type: 'ArgMax' argmax_param { axis: 2 top_k: 3 }", {{3, 4, 7}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 41);
  f.setup();
  f.forward();
  const float* x = f.bottom.ptrs[0]->cpu_data();
  for (int row = 0; row < 12; ++row) {
    std::vector<int> order(7);
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](int a, int b) { return x[row * 7 + a] > x[row * 7 + b]; });
    for (int j = 0; j < 3; ++j)
      EXPECT_EQ(f.top_data()[row * 3 + j], static_cast<float>(order[j])) << row << " " << j;
  }
}

TEST(ArgMaxLayerTest, Errors) {
  LayerFixture zero("name: 'am' type: 'ArgMax' argmax_param { top_k: 0 }", {{2, 3}}, 1);
  test::expect_error([&] { zero.setup(); }, {"layer 'am' (ArgMax)", "top_k must be at least 1"});
  LayerFixture too_many("type: 'ArgMax' argmax_param { top_k: 7 }", {{2, 3, 2}}, 1);
  test::expect_error([&] { too_many.setup(); }, {"top_k 7", "the 6 values", "per example"});
  LayerFixture too_many_on_axis("type: 'ArgMax' argmax_param { top_k: 4 axis: 1 }", {{2, 3, 2}}, 1);
  test::expect_error([&] { too_many_on_axis.setup(); }, {"top_k 4", "the 3 values", "along"});
  LayerFixture bad_axis("type: 'ArgMax' argmax_param { axis: 3 }", {{2, 3, 2}}, 1);
  EXPECT_THROW(bad_axis.setup(), Error);
  LayerFixture scalar("type: 'ArgMax'", {{}}, 1);
  test::expect_error([&] { scalar.setup(); }, {"scalar"});
}

TEST(ArgMaxLayerTest, HasNoGradient) {
  LayerFixture f("name: 'am' type: 'ArgMax'", {{2, 3}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 42);
  f.setup();
  f.forward();
  EXPECT_FALSE(f.layer->AllowForceBackward(0));
  f.backward({false});  // nothing asked, nothing done
  test::expect_error([&] { f.backward({true}); }, {"layer 'am' (ArgMax)", "no gradient"});
}

}  // namespace
}  // namespace caffe
