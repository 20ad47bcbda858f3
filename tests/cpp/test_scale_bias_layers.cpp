#include <gtest/gtest.h>

#include <cmath>
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

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], 1e-5f * std::max(1.0f, std::fabs(expected[i])))
        << "element " << i;
  }
}

// x (2, 3, 2) = 0 .. 11.
std::vector<float> iota(int count) {
  std::vector<float> values(count);
  for (int i = 0; i < count; ++i) values[i] = static_cast<float>(i);
  return values;
}

void check_all_gradients(LayerFixture& fixture) {
  for (size_t b = 0; b < fixture.bottom.ptrs.size(); ++b) {
    test::fill_gaussian(fixture.bottom.ptrs[b], 70 + b);
  }
  fixture.setup();
  for (size_t j = 0; j < fixture.layer->blobs().size(); ++j) {
    test::fill_gaussian(fixture.layer->blobs()[j].get(), 80 + j);
  }
  test::check_gradients(*fixture.layer, fixture.bottom.ptrs, fixture.top.ptrs);
}

// ----- Scale -----

TEST(ScaleLayerTest, LearnedScaleAndBiasHandComputed) {
  LayerFixture fixture(R"(name: "sc" type: "Scale" scale_param { bias_term: true })", {{2, 3, 2}},
                       1);
  set_values(fixture.bottom.ptrs[0], iota(12));
  fixture.setup();
  auto& blobs = fixture.layer->blobs();
  ASSERT_EQ(blobs.size(), 2u);
  EXPECT_EQ(blobs[0]->shape(), (std::vector<int>{3}));
  EXPECT_EQ(blobs[1]->shape(), (std::vector<int>{3}));
  expect_near_all(values_of(*blobs[0]), {1, 1, 1});  // default fillers: scale 1, bias 0
  expect_near_all(values_of(*blobs[1]), {0, 0, 0});
  set_values(blobs[0].get(), {1, 2, -1});
  set_values(blobs[1].get(), {0.5f, 0, 1});
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]),
                  {0.5f, 1.5f, 4, 6, -3, -4, 6.5f, 7.5f, 16, 18, -9, -10});
}

TEST(ScaleLayerTest, FillersFromThePrototxt) {
  LayerFixture fixture(R"(name: "sc" type: "Scale" scale_param { bias_term: true
                            filler { type: "constant" value: 3 }
                            bias_filler { type: "constant" value: -2 } })",
                       {{2, 3}}, 1);
  fixture.setup();
  expect_near_all(values_of(*fixture.layer->blobs()[0]), {3, 3, 3});
  expect_near_all(values_of(*fixture.layer->blobs()[1]), {-2, -2, -2});
}

TEST(ScaleLayerTest, AxisAndNumAxesSelectTheScaleShape) {
  const auto scale_shape = [](const std::string& param, const std::vector<int>& x_shape) {
    LayerFixture fixture("name: 'sc' type: 'Scale' scale_param { " + param + " }", {x_shape}, 1);
    fixture.setup();
    return fixture.layer->blobs()[0]->shape();
  };
  EXPECT_EQ(scale_shape("", {2, 3, 4}), (std::vector<int>{3}));
  EXPECT_EQ(scale_shape("axis: 1 num_axes: 2", {2, 3, 4}), (std::vector<int>{3, 4}));
  EXPECT_EQ(scale_shape("axis: 0 num_axes: -1", {2, 3, 4}), (std::vector<int>{2, 3, 4}));
  EXPECT_EQ(scale_shape("axis: -1", {2, 3, 4}), (std::vector<int>{4}));
  EXPECT_EQ(scale_shape("num_axes: 0", {2, 3, 4}), (std::vector<int>{}));
}

TEST(ScaleLayerTest, ScalarAndLastAxisScalesHandComputed) {
  LayerFixture scalar(R"(name: "sc" type: "Scale" scale_param { num_axes: 0 })", {{2, 2}}, 1);
  set_values(scalar.bottom.ptrs[0], {1, 2, 3, 4});
  scalar.setup();
  set_values(scalar.layer->blobs()[0].get(), {-3});
  scalar.forward();
  expect_near_all(values_of(*scalar.top.ptrs[0]), {-3, -6, -9, -12});

  LayerFixture last(R"(name: "sc" type: "Scale" scale_param { axis: -1 })", {{2, 2}}, 1);
  set_values(last.bottom.ptrs[0], {1, 2, 3, 4});
  last.setup();
  set_values(last.layer->blobs()[0].get(), {10, -1});
  last.forward();
  expect_near_all(values_of(*last.top.ptrs[0]), {10, -2, 30, -4});
}

TEST(ScaleLayerTest, SecondBottomIsTheScale) {
  LayerFixture fixture(R"(name: "sc" type: "Scale")", {{2, 3, 2}, {3, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], iota(12));
  set_values(fixture.bottom.ptrs[1], {1, -1, 2, -2, 0, 0.5f});
  fixture.setup();
  EXPECT_TRUE(fixture.layer->blobs().empty());
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]),
                  {0, -1, 4, -6, 0, 2.5f, 6, -7, 16, -18, 0, 5.5f});

  // A scalar second bottom scales everything (its axis does not matter).
  LayerFixture scalar(R"(name: "sc" type: "Scale" scale_param { axis: 2 })", {{2, 2}, {}}, 1);
  set_values(scalar.bottom.ptrs[0], {1, 2, 3, 4});
  set_values(scalar.bottom.ptrs[1], {0.5f});
  scalar.setup();
  scalar.forward();
  expect_near_all(values_of(*scalar.top.ptrs[0]), {0.5f, 1, 1.5f, 2});
}

TEST(ScaleLayerTest, Gradients) {
  LayerFixture with_bias(R"(name: "sc" type: "Scale" scale_param { bias_term: true })",
                         {{2, 3, 2, 2}}, 1);
  check_all_gradients(with_bias);
  LayerFixture whole(R"(name: "sc" type: "Scale" scale_param { axis: 0 num_axes: -1 })", {{2, 3}},
                     1);
  check_all_gradients(whole);
  LayerFixture scalar(R"(name: "sc" type: "Scale" scale_param { num_axes: 0 bias_term: true })",
                      {{3, 2}}, 1);
  check_all_gradients(scalar);
  LayerFixture two_bottoms(R"(name: "sc" type: "Scale" scale_param { bias_term: true })",
                           {{2, 3, 4}, {3, 4}}, 1);
  check_all_gradients(two_bottoms);
  LayerFixture negative_axis(R"(name: "sc" type: "Scale" scale_param { axis: -2 })",
                             {{2, 3, 4}, {3}}, 1);
  check_all_gradients(negative_axis);
}

TEST(ScaleLayerTest, ParamGradientsAccumulateButTheScaleBottomIsOverwritten) {
  LayerFixture learned(R"(name: "sc" type: "Scale" scale_param { bias_term: true })", {{2, 3}}, 1);
  set_values(learned.bottom.ptrs[0], iota(6));
  learned.setup();
  learned.forward();
  std::fill(learned.top.ptrs[0]->mutable_cpu_diff(), learned.top.ptrs[0]->mutable_cpu_diff() + 6,
            1.0f);
  learned.backward({true});
  learned.backward({true});
  expect_near_all(diffs_of(*learned.layer->blobs()[0]), {2 * 3, 2 * 5, 2 * 7});  // 2 Σ_n x
  expect_near_all(diffs_of(*learned.layer->blobs()[1]), {4, 4, 4});

  LayerFixture two(R"(name: "sc" type: "Scale")", {{2, 3}, {3}}, 1);
  set_values(two.bottom.ptrs[0], iota(6));
  two.setup();
  two.forward();
  std::fill(two.top.ptrs[0]->mutable_cpu_diff(), two.top.ptrs[0]->mutable_cpu_diff() + 6, 1.0f);
  two.backward({true, true});
  two.backward({true, true});
  expect_near_all(diffs_of(*two.bottom.ptrs[1]), {3, 5, 7});
}

TEST(ScaleLayerTest, InPlaceKeepsTheInputForTheScaleGradient) {
  for (const char* prototxt : {R"(name: "sc" type: "Scale" scale_param { bias_term: true })",
                               R"(name: "sc" type: "Scale")"}) {
    const bool two_bottoms = std::string(prototxt).find("bias") == std::string::npos;
    const std::vector<std::vector<int>> shapes = two_bottoms
                                                     ? std::vector<std::vector<int>>{{2, 3, 2}, {3}}
                                                     : std::vector<std::vector<int>>{{2, 3, 2}};
    LayerFixture separate(prototxt, shapes, 1);
    LayerFixture in_place(prototxt, shapes, 0);
    for (LayerFixture* fixture : {&separate, &in_place}) {
      test::fill_gaussian(fixture->bottom.ptrs[0], 91);
      if (two_bottoms) test::fill_gaussian(fixture->bottom.ptrs[1], 92);
    }
    in_place.top.ptrs.push_back(in_place.bottom.ptrs[0]);
    for (LayerFixture* fixture : {&separate, &in_place}) {
      fixture->setup();
      if (!two_bottoms) test::fill_gaussian(fixture->layer->blobs()[0].get(), 93);
      fixture->forward();
      test::fill_gaussian(fixture->top.ptrs[0]->mutable_cpu_diff(), 12, 94);
      fixture->backward(std::vector<bool>(shapes.size(), true));
    }
    expect_near_all(values_of(*in_place.top.ptrs[0]), values_of(*separate.top.ptrs[0]));
    expect_near_all(diffs_of(*in_place.bottom.ptrs[0]), diffs_of(*separate.bottom.ptrs[0]));
    const Blob& scale_in_place =
        two_bottoms ? *in_place.bottom.ptrs[1] : *in_place.layer->blobs()[0];
    const Blob& scale_separate =
        two_bottoms ? *separate.bottom.ptrs[1] : *separate.layer->blobs()[0];
    expect_near_all(diffs_of(scale_in_place), diffs_of(scale_separate));
  }
}

TEST(ScaleLayerTest, Errors) {
  // Two bottoms whose shapes do not fit: the message names the layer and both shapes.
  LayerFixture mismatch(R"(name: "sc" type: "Scale")", {{2, 3, 4}, {4}}, 1);
  expect_error([&] { mismatch.setup(); },
               {"layer 'sc' (Scale)", "4 (4)", "2 3 4 (24)", "from axis 1"});
  LayerFixture too_long(R"(name: "sc" type: "Scale" scale_param { axis: 2 })", {{2, 3, 4}, {4, 1}},
                        1);
  expect_error([&] { too_long.setup(); }, {"4 1 (4)", "2 3 4 (24)"});

  // A learned scale set up for one shape, then a bottom of another.
  LayerFixture reshaped(R"(name: "sc" type: "Scale")", {{2, 3}}, 1);
  reshaped.setup();
  reshaped.bottom.ptrs[0]->Reshape({2, 5});
  expect_error([&] { reshaped.forward(); }, {"scale blob of shape 3 (3)", "2 5 (10)"});

  LayerFixture num_axes(R"(name: "sc" type: "Scale" scale_param { num_axes: 3 })", {{2, 3}}, 1);
  expect_error([&] { num_axes.setup(); }, {"num_axes 3", "needs 4 axes", "2 3 (6)"});
  LayerFixture below(R"(name: "sc" type: "Scale" scale_param { num_axes: -2 })", {{2, 3}}, 1);
  expect_error([&] { below.setup(); }, {"num_axes must be -1", "-2"});
  LayerFixture axis(R"(name: "sc" type: "Scale" scale_param { axis: 3 })", {{2, 3}}, 1);
  expect_error([&] { axis.setup(); }, {"axis 3 is out of range", "2 3 (6)"});

  // Blobs from a model that do not fit.
  LayerFixture loaded(
      R"(name: "sc" type: "Scale" blobs { shape { dim: 4 } data: 1 data: 2 data: 3 data: 4 })",
      {{2, 3}}, 1);
  expect_error([&] { loaded.setup(); }, {"scale blob from the model has shape 4 (4)", "3 (3)"});
  LayerFixture count(R"(name: "sc" type: "Scale" scale_param { bias_term: true }
                        blobs { shape { dim: 3 } data: 1 data: 2 data: 3 })",
                     {{2, 3}}, 1);
  expect_error([&] { count.setup(); }, {"gives 1 parameter blob(s)", "has 2 (scale, bias)"});

  // Writing the top over the scale bottom.
  LayerFixture over_scale(R"(name: "sc" type: "Scale")", {{2, 3}, {3}}, 0);
  over_scale.top.ptrs.push_back(over_scale.bottom.ptrs[1]);
  expect_error([&] { over_scale.setup(); }, {"bottom 1"});
}

void fill_inputs(BlobVec& bottom) {
  for (size_t b = 0; b < bottom.size(); ++b) test::fill_gaussian(bottom[b], 101 + b);
}

TEST(ScaleLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  test::check_gpu_matches_cpu(R"(type: "Scale" scale_param { bias_term: true
                                   filler { type: "gaussian" } bias_filler { type: "gaussian" } })",
                              {{4, 3, 5, 6}}, fill_inputs);
  test::check_gpu_matches_cpu(R"(type: "Scale" scale_param { bias_term: true })",
                              {{4, 3, 5, 6}, {3, 5}}, fill_inputs);
  test::check_gpu_matches_cpu(R"(type: "Scale" scale_param { num_axes: 0 })", {{7, 9}},
                              fill_inputs);
}

// ----- Bias -----

TEST(BiasLayerTest, LearnedBiasHandComputed) {
  LayerFixture fixture(R"(name: "b" type: "Bias")", {{2, 3, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], iota(12));
  fixture.setup();
  ASSERT_EQ(fixture.layer->blobs().size(), 1u);
  EXPECT_EQ(fixture.layer->blobs()[0]->shape(), (std::vector<int>{3}));
  expect_near_all(values_of(*fixture.layer->blobs()[0]), {0, 0, 0});  // default filler: 0
  set_values(fixture.layer->blobs()[0].get(), {1, -1, 10});
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]), {1, 2, 1, 2, 14, 15, 7, 8, 7, 8, 20, 21});
}

TEST(BiasLayerTest, AxisNumAxesAndFiller) {
  LayerFixture fixture(R"(name: "b" type: "Bias" bias_param { axis: -2 num_axes: 2
                            filler { type: "constant" value: 0.5 } })",
                       {{2, 3, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], iota(12));
  fixture.setup();
  EXPECT_EQ(fixture.layer->blobs()[0]->shape(), (std::vector<int>{3, 2}));
  expect_near_all(values_of(*fixture.layer->blobs()[0]), std::vector<float>(6, 0.5f));
  set_values(fixture.layer->blobs()[0].get(), {0, 10, 20, 30, 40, 50});
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]), {0, 11, 22, 33, 44, 55, 6, 17, 28, 39, 50, 61});

  LayerFixture scalar(R"(name: "b" type: "Bias" bias_param { num_axes: 0 })", {{2, 2}}, 1);
  scalar.setup();
  EXPECT_EQ(scalar.layer->blobs()[0]->shape(), (std::vector<int>{}));
}

TEST(BiasLayerTest, SecondBottomIsTheBias) {
  LayerFixture fixture(R"(name: "b" type: "Bias" bias_param { axis: 0 })", {{2, 3}, {2}}, 1);
  set_values(fixture.bottom.ptrs[0], iota(6));
  set_values(fixture.bottom.ptrs[1], {100, -100});
  fixture.setup();
  EXPECT_TRUE(fixture.layer->blobs().empty());
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]), {100, 101, 102, -97, -96, -95});
  std::fill(fixture.top.ptrs[0]->mutable_cpu_diff(), fixture.top.ptrs[0]->mutable_cpu_diff() + 6,
            1.0f);
  fixture.backward({true, true});
  fixture.backward({true, true});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[1]), {3, 3});  // written afresh, not summed
  expect_near_all(diffs_of(*fixture.bottom.ptrs[0]), std::vector<float>(6, 1.0f));
}

TEST(BiasLayerTest, Gradients) {
  LayerFixture learned(R"(name: "b" type: "Bias")", {{2, 3, 2, 2}}, 1);
  check_all_gradients(learned);
  LayerFixture spanning(R"(name: "b" type: "Bias" bias_param { axis: 1 num_axes: -1 })",
                        {{2, 3, 2}}, 1);
  check_all_gradients(spanning);
  LayerFixture two_bottoms(R"(name: "b" type: "Bias" bias_param { axis: -1 })", {{2, 3, 4}, {4}},
                           1);
  check_all_gradients(two_bottoms);
}

TEST(BiasLayerTest, InPlaceAndAccumulatingParamGradient) {
  test::BlobSet blob;
  Blob* x = blob.add({2, 3});
  set_values(x, iota(6));
  auto layer = test::make_layer(R"(name: "b" type: "Bias")");
  layer->SetUp(blob.ptrs, blob.ptrs);
  set_values(layer->blobs()[0].get(), {1, 2, 3});
  layer->Forward(blob.ptrs, blob.ptrs);
  expect_near_all(values_of(*x), {1, 3, 5, 4, 6, 8});
  set_values(x, iota(6));
  const std::vector<float> dy = iota(6);
  std::copy(dy.begin(), dy.end(), x->mutable_cpu_diff());
  layer->Backward(blob.ptrs, {true}, blob.ptrs);
  layer->Backward(blob.ptrs, {true}, blob.ptrs);
  expect_near_all(diffs_of(*x), iota(6));                                // dx = dy
  expect_near_all(diffs_of(*layer->blobs()[0]), {2 * 3, 2 * 5, 2 * 7});  // accumulated Σ_n dy
}

TEST(BiasLayerTest, Errors) {
  LayerFixture mismatch(R"(name: "b" type: "Bias")", {{2, 3, 4}, {3, 5}}, 1);
  expect_error([&] { mismatch.setup(); },
               {"layer 'b' (Bias)", "bias (bottom 1) of shape 3 5 (15)", "2 3 4 (24)"});
  LayerFixture reshaped(R"(name: "b" type: "Bias")", {{2, 3}}, 1);
  reshaped.setup();
  reshaped.bottom.ptrs[0]->Reshape({2, 4});
  expect_error([&] { reshaped.forward(); }, {"bias blob of shape 3 (3)", "2 4 (8)"});
  LayerFixture num_axes(R"(name: "b" type: "Bias" bias_param { num_axes: 2 })", {{2, 3}}, 1);
  expect_error([&] { num_axes.setup(); }, {"num_axes 2", "2 3 (6)"});
  LayerFixture loaded(R"(name: "b" type: "Bias" blobs { shape { dim: 2 } data: 1 data: 2 })",
                      {{2, 3}}, 1);
  expect_error([&] { loaded.setup(); }, {"bias blob from the model has shape 2 (2)", "3 (3)"});
  LayerFixture loaded_two(
      R"(name: "b" type: "Bias" blobs { shape { dim: 3 } data: 1 data: 2 data: 3 })", {{2, 3}, {3}},
      1);
  expect_error([&] { loaded_two.setup(); }, {"gives 1 parameter blob(s)", "has 0"});
  LayerFixture over_bias(R"(name: "b" type: "Bias")", {{2, 3}, {3}}, 0);
  over_bias.top.ptrs.push_back(over_bias.bottom.ptrs[1]);
  expect_error([&] { over_bias.setup(); }, {"over bottom 1 (the bias)"});
}

TEST(BiasLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  test::check_gpu_matches_cpu(R"(type: "Bias" bias_param { filler { type: "gaussian" } })",
                              {{4, 3, 5, 6}}, fill_inputs);
  test::check_gpu_matches_cpu(R"(type: "Bias" bias_param { axis: 0 })", {{4, 3, 5, 6}, {4, 3}},
                              fill_inputs);
}

}  // namespace
}  // namespace caffe
