// AbsVal, ELU, BNLL, Power and PReLU: hand-computed values and gradients, gradient checks,
// in-place use (or its refusal), setup errors, GPU against CPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

const char* kAbsVal = "name: 'abs' type: 'AbsVal'";
const char* kElu = "name: 'elu' type: 'ELU'";
const char* kEluHalf = "name: 'elu' type: 'ELU' elu_param { alpha: 0.5 }";
const char* kBnll = "name: 'bnll' type: 'BNLL'";
const char* kPReLU = "name: 'prelu' type: 'PReLU'";
const char* kPReLUShared = "name: 'prelu' type: 'PReLU' prelu_param { channel_shared: true }";

// Gaussian values pushed at least 0.1 away from 0, where these functions have their kinks.
void fill_away_from_zero(Blob* blob, uint64_t seed) {
  test::fill_gaussian(blob, seed);
  float* x = blob->mutable_cpu_data();
  for (int i = 0; i < blob->count(); ++i) x[i] += x[i] >= 0 ? 0.1f : -0.1f;
}

// Forward of a layer over a 1-d input; returns the top.  With `top_diff`, also runs backward
// and returns the bottom gradient in *bottom_diff.
std::vector<float> run(const std::string& prototxt, const std::vector<float>& input,
                       const std::vector<float>& top_diff = {},
                       std::vector<float>* bottom_diff = nullptr) {
  LayerFixture f(prototxt, {{static_cast<int>(input.size())}}, 1);
  test::set_values(f.bottom.ptrs[0], input);
  f.setup();
  f.forward();
  if (bottom_diff) {
    std::copy(top_diff.begin(), top_diff.end(), f.top.ptrs[0]->mutable_cpu_diff());
    f.backward({true});
    const float* diff = f.bottom.ptrs[0]->cpu_diff();
    bottom_diff->assign(diff, diff + input.size());
  }
  return std::vector<float>(f.top_data(), f.top_data() + input.size());
}

void expect_near(const std::vector<float>& actual, const std::vector<float>& expected,
                 float tolerance = 1e-6f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0f, std::fabs(expected[i]))) << i;
  }
}

void check_layer_gradients(const std::string& prototxt, const std::vector<int>& shape = {2, 3, 4}) {
  SCOPED_TRACE(prototxt);
  LayerFixture f(prototxt, {shape}, 1);
  fill_away_from_zero(f.bottom.ptrs[0], 31);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

// Runs forward + backward out of place and in place on the same data and expects equal tops,
// bottom gradients and parameter gradients.
void expect_in_place_matches(const std::string& prototxt, const std::vector<int>& shape = {3, 5}) {
  SCOPED_TRACE(prototxt);
  LayerFixture separate(prototxt, {shape}, 1);
  fill_away_from_zero(separate.bottom.ptrs[0], 32);
  separate.setup();
  separate.forward();
  test::fill_gaussian(separate.top.ptrs[0]->mutable_cpu_diff(), separate.top.ptrs[0]->count(), 33);
  separate.backward({true});

  auto in_place = test::make_layer(prototxt);
  test::BlobSet blob;
  fill_away_from_zero(blob.add(shape), 32);
  in_place->SetUp(blob.ptrs, blob.ptrs);
  in_place->Forward(blob.ptrs, blob.ptrs);
  test::fill_gaussian(blob.ptrs[0]->mutable_cpu_diff(), blob.ptrs[0]->count(), 33);
  in_place->Backward(blob.ptrs, {true}, blob.ptrs);

  const Blob& result = *blob.ptrs[0];
  for (int i = 0; i < result.count(); ++i) {
    EXPECT_FLOAT_EQ(result.cpu_data()[i], separate.top_data()[i]) << i;
    EXPECT_FLOAT_EQ(result.cpu_diff()[i], separate.bottom.ptrs[0]->cpu_diff()[i]) << i;
  }
  ASSERT_EQ(in_place->blobs().size(), separate.layer->blobs().size());
  for (size_t j = 0; j < in_place->blobs().size(); ++j) {
    const Blob& mine = *in_place->blobs()[j];
    const Blob& theirs = *separate.layer->blobs()[j];
    for (int i = 0; i < mine.count(); ++i) {
      EXPECT_FLOAT_EQ(mine.cpu_diff()[i], theirs.cpu_diff()[i]) << "param " << j << " " << i;
    }
  }
}

void expect_in_place_refused(const std::string& prototxt, const std::vector<std::string>& parts) {
  auto layer = test::make_layer(prototxt);
  test::BlobSet blob;
  blob.add({4});
  test::expect_error([&] { layer->SetUp(blob.ptrs, blob.ptrs); }, parts);
}

// ----- AbsVal

TEST(AbsValLayerTest, ValuesAndGradient) {
  std::vector<float> dx;
  expect_near(run(kAbsVal, {-2, -0.5f, 0, 0.5f, 3}, {1, 2, 3, 4, 5}, &dx), {2, 0.5f, 0, 0.5f, 3});
  expect_near(dx, {-1, -2, 0, 4, 5});
}

TEST(AbsValLayerTest, Gradients) { check_layer_gradients(kAbsVal); }

TEST(AbsValLayerTest, InPlaceIsAnError) {
  expect_in_place_refused(kAbsVal, {"layer 'abs' (AbsVal)", "in place", "sign"});
}

// ----- ELU

TEST(ELULayerTest, ValuesAndGradient) {
  // alpha 1: y = exp(x) - 1 below 0, dy/dx = y + 1 = exp(x).
  std::vector<float> dx;
  const std::vector<float> x = {-2, -0.5f, 0, 0.5f, 3};
  expect_near(run(kElu, x, {1, 1, 1, 2, 1}, &dx),
              {std::expm1(-2.0f), std::expm1(-0.5f), 0, 0.5f, 3});
  expect_near(dx, {std::exp(-2.0f), std::exp(-0.5f), 1, 2, 1});
  // alpha 0.5 halves the negative side and its slope.
  expect_near(run(kEluHalf, x, {1, 1, 1, 1, 1}, &dx),
              {0.5f * std::expm1(-2.0f), 0.5f * std::expm1(-0.5f), 0, 0.5f, 3});
  expect_near(dx, {0.5f * std::exp(-2.0f), 0.5f * std::exp(-0.5f), 0.5f, 1, 1});
}

TEST(ELULayerTest, Gradients) {
  check_layer_gradients(kElu);
  check_layer_gradients(kEluHalf);
}

TEST(ELULayerTest, InPlace) {
  expect_in_place_matches(kElu);
  expect_in_place_matches(kEluHalf);
  expect_in_place_refused("name: 'elu' type: 'ELU' elu_param { alpha: -1 }",
                          {"in place", "alpha -1"});
}

// ----- BNLL

TEST(BNLLLayerTest, ValuesAndGradient) {
  std::vector<float> dx;
  const std::vector<float> y = run(kBnll, {0, 1, -1, 100, -50, 20}, {1, 1, 2, 1, 1, 1}, &dx);
  // log(1 + e^x); large |x| neither overflows nor loses the value.
  expect_near(y, {std::log(2.0f), std::log1p(std::exp(1.0f)), std::log1p(std::exp(-1.0f)), 100,
                  std::exp(-50.0f), 20});
  const auto sigmoid = [](float x) { return 1.0f / (1.0f + std::exp(-x)); };
  expect_near(dx, {0.5f, sigmoid(1), 2 * sigmoid(-1), 1, sigmoid(-50), sigmoid(20)});
  EXPECT_NEAR(dx[4] / sigmoid(-50), 1.0f, 1e-5f);  // ~2e-22: relative accuracy, not just ~0
}

TEST(BNLLLayerTest, Gradients) { check_layer_gradients(kBnll); }

TEST(BNLLLayerTest, InPlace) { expect_in_place_matches(kBnll); }

// ----- Power

std::string power(float p, float scale, float shift) {
  return "name: 'pow' type: 'Power' power_param { power: " + std::to_string(p) +
         " scale: " + std::to_string(scale) + " shift: " + std::to_string(shift) + " }";
}

TEST(PowerLayerTest, ValuesAndGradient) {
  std::vector<float> dx;
  // (1 + 2x)^3, dy/dx = 6 (1 + 2x)^2.
  expect_near(run(power(3, 2, 1), {0, 1, -1, 0.5f}, {1, 1, 1, 2}, &dx), {1, 27, -1, 8});
  expect_near(dx, {6, 54, 6, 48});
  // (0.5 x)^0.5 at x = 8: 2, derivative 0.5 · 0.5 · 4^-0.5 = 0.125.
  expect_near(run(power(0.5f, 0.5f, 0), {8, 2}, {1, 1}, &dx), {2, 1});
  expect_near(dx, {0.125f, 0.25f});
  // Defaults: the identity.
  expect_near(run("type: 'Power'", {-3, 4}, {1, 2}, &dx), {-3, 4});
  expect_near(dx, {1, 2});
}

TEST(PowerLayerTest, SpecialCasesAreExactAndFinite) {
  std::vector<float> dx;
  // power 0: y = 1, no gradient, even where the base is 0 (pow(0, -1) would be infinite).
  expect_near(run(power(0, 2, 0), {0, 3}, {1, 1}, &dx), {1, 1});
  expect_near(dx, {0, 0});
  // scale 0: y = shift^power, constant; gradient 0 even when shift^(power - 1) is infinite.
  expect_near(run(power(-1, 0, 2), {0, 5}, {1, 1}, &dx), {0.5f, 0.5f});
  expect_near(dx, {0, 0});
  run(power(0.5f, 0, 0), {1, -1}, {1, 1}, &dx);
  expect_near(dx, {0, 0});
  // power 1: affine, gradient scale.
  expect_near(run(power(1, -3, 1), {0, 2}, {1, 2}, &dx), {1, -5});
  expect_near(dx, {-3, -6});
  // power 2 and 3 at base 0: the derivative is 0, not 0 · pow(0, ...) trouble.
  expect_near(run(power(2, 2, -2), {1, 2}, {1, 1}, &dx), {0, 4});
  expect_near(dx, {0, 8});
  expect_near(run(power(3, 1, 0), {0, 2}, {1, 1}, &dx), {0, 8});
  expect_near(dx, {0, 12});
  for (float value : dx) EXPECT_FALSE(std::isnan(value));
}

TEST(PowerLayerTest, Gradients) {
  // Inputs are kept where the base 1 + 0.2 x is positive (non-integer powers).
  for (const std::string& prototxt :
       {power(2, 0.7f, -0.3f), power(3, -0.5f, 0.2f), power(1.5f, 0.2f, 1), power(-0.5f, 0.2f, 1),
        power(1, 2, 1), power(0, 1, 1)}) {
    SCOPED_TRACE(prototxt);
    LayerFixture f(prototxt, {{2, 3, 4}}, 1);
    test::fill_uniform(f.bottom.ptrs[0], 35, -2, 2);
    f.setup();
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
  }
}

TEST(PowerLayerTest, InPlaceOnlyWithAConstantDerivative) {
  expect_in_place_matches(power(1, 2, 0.5f));
  expect_in_place_matches(power(0, 2, 0.5f));
  expect_in_place_matches(power(3, 0, 0.5f));
  expect_in_place_refused(power(2, 1, 0), {"layer 'pow' (Power)", "in place", "power 2"});
}

// ----- PReLU

TEST(PReLULayerTest, ValuesPerChannel) {
  // Slopes 0.25 (the default filler) for both channels, then per-channel ones.
  LayerFixture f(kPReLU, {{1, 2, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {-4, 2, 8, -2});
  f.setup();
  ASSERT_EQ(f.layer->blobs().size(), 1u);
  EXPECT_EQ(f.layer->blobs()[0]->shape(), (std::vector<int>{2}));
  EXPECT_FLOAT_EQ(f.layer->blobs()[0]->cpu_data()[1], 0.25f);
  f.forward();
  expect_near({f.top_data(), f.top_data() + 4}, {-1, 2, 8, -0.5f});
  test::set_values(f.layer->blobs()[0].get(), {0.5f, -1});
  f.forward();
  expect_near({f.top_data(), f.top_data() + 4}, {-2, 2, 8, 2});
}

TEST(PReLULayerTest, HandComputedGradients) {
  // N = 2, C = 2, 2 values per channel; slopes {0.5, -1}.
  LayerFixture f(kPReLU, {{2, 2, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {-1, 2, 3, -4, -2, -3, 1, -1});
  f.setup();
  test::set_values(f.layer->blobs()[0].get(), {0.5f, -1});
  f.forward();
  const std::vector<float> dy = {1, 2, 3, 4, 5, 6, 7, 8};
  std::copy(dy.begin(), dy.end(), f.top.ptrs[0]->mutable_cpu_diff());
  f.backward({true});
  const float* dx = f.bottom.ptrs[0]->cpu_diff();
  expect_near({dx, dx + 8}, {0.5f, 2, 3, -4, 2.5f, 3, 7, -8});
  // dL/da_0 = 1·(-1) + 5·(-2) + 6·(-3) = -29;  dL/da_1 = 4·(-4) + 8·(-1) = -24.
  const float* da = f.layer->blobs()[0]->cpu_diff();
  expect_near({da, da + 2}, {-29, -24});
  // Parameter gradients accumulate over backward passes (iter_size, shared slopes).
  f.backward({false});
  da = f.layer->blobs()[0]->cpu_diff();
  expect_near({da, da + 2}, {-58, -48});
}

TEST(PReLULayerTest, ChannelSharedIsOneScalarSlope) {
  LayerFixture f(
      "type: 'PReLU' prelu_param { channel_shared: true filler { type: 'constant' value: 0.1 } }",
      {{2, 3, 2}}, 1);
  test::set_values(f.bottom.ptrs[0], {-1, 1, -2, 2, -3, 3, -4, 4, -5, 5, -6, 6});
  f.setup();
  ASSERT_EQ(f.layer->blobs().size(), 1u);
  EXPECT_EQ(f.layer->blobs()[0]->num_axes(), 0);  // BVLC's layout: a scalar
  EXPECT_EQ(f.layer->blobs()[0]->count(), 1);
  f.forward();
  EXPECT_NEAR(f.top_data()[10], -0.6f, 1e-6f);
  EXPECT_NEAR(f.top_data()[11], 6.0f, 1e-6f);
  for (int i = 0; i < 12; ++i) f.top.ptrs[0]->mutable_cpu_diff()[i] = 1.0f;
  f.backward({true});
  EXPECT_NEAR(f.layer->blobs()[0]->cpu_diff()[0], -21.0f, 1e-5f);  // Σ of the negative inputs
}

TEST(PReLULayerTest, Gradients) {
  for (const char* prototxt : {kPReLU, kPReLUShared}) {
    SCOPED_TRACE(prototxt);
    LayerFixture f(prototxt, {{2, 3, 2, 2}}, 1);
    fill_away_from_zero(f.bottom.ptrs[0], 36);
    f.setup();
    test::fill_uniform(f.layer->blobs()[0].get(), 37, -0.5f, 0.8f);
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
  }
  // Two axes only (inner size 1).
  LayerFixture f(kPReLU, {{4, 3}}, 1);
  fill_away_from_zero(f.bottom.ptrs[0], 38);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(PReLULayerTest, InPlaceMatchesOutOfPlace) {
  // A negative slope makes y's sign differ from x's, so only a copy of x gives these gradients.
  const std::string negative =
      "name: 'prelu' type: 'PReLU' prelu_param { filler { type: "
      "'constant' value: -0.7 } }";
  for (const std::string& prototxt : {std::string(kPReLU), std::string(kPReLUShared), negative}) {
    expect_in_place_matches(prototxt, {2, 3, 4});
  }
}

TEST(PReLULayerTest, SetupErrors) {
  LayerFixture one_axis(kPReLU, {{5}}, 1);
  test::expect_error([&] { one_axis.setup(); },
                     {"layer 'prelu' (PReLU)", "at least 2 axes", "5 (5)"});

  // Slopes from a model that do not fit the input's channels.
  LayerFixture model(
      "name: 'p' type: 'PReLU' blobs { shape { dim: 3 } data: 0.1 data: 0.2 data: 0.3 }",
      {{2, 4, 2}}, 1);
  test::expect_error([&] { model.setup(); }, {"1 parameter blob(s) of shape 3 (3)", "4 slope(s)"});

  // The channel count must not change after setup.
  LayerFixture f(kPReLU, {{2, 3, 2}}, 1);
  f.setup();
  f.bottom.ptrs[0]->Reshape({2, 4, 2});
  test::expect_error([&] { f.forward(); }, {"4 channels", "3 slopes"});
}

TEST(PReLULayerTest, SharedSlopeFromAModel) {
  // A scalar (BVLC's layout) or a one-element blob both give the shared slope.
  for (const char* blob : {"blobs { data: 0.5 }", "blobs { shape { dim: 1 } data: 0.5 }"}) {
    LayerFixture f(std::string(kPReLUShared) + " " + blob, {{1, 2, 1}}, 1);
    test::set_values(f.bottom.ptrs[0], {-2, -4});
    f.setup();
    f.forward();
    expect_near({f.top_data(), f.top_data() + 2}, {-1, -2});
  }
}

// ----- devices

TEST(VisionNeuronLayersTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { fill_away_from_zero(bottom[0], 34); };
  for (const std::string& prototxt :
       {std::string(kAbsVal), std::string(kElu), std::string(kEluHalf), std::string(kBnll),
        power(2, 0.7f, -0.3f), power(-1.5f, 0.1f, 2), std::string(kPReLU),
        std::string(kPReLUShared)}) {
    SCOPED_TRACE(prototxt);
    test::check_gpu_matches_cpu(prototxt, {{4, 3, 5, 6}}, fill);
  }
}

}  // namespace
}  // namespace caffe
