#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
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

// Three (2, 2) bottoms.
const std::vector<float> kA = {1, -2, 3, 0.5f};
const std::vector<float> kB = {4, 5, -1, 2};
const std::vector<float> kC = {-1, 5, 2, 0.5f};

LayerFixture three_bottoms(const std::string& param) {
  LayerFixture fixture("name: 'elt' type: 'Eltwise' eltwise_param { " + param + " }",
                       {{2, 2}, {2, 2}, {2, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], kA);
  set_values(fixture.bottom.ptrs[1], kB);
  set_values(fixture.bottom.ptrs[2], kC);
  fixture.setup();
  return fixture;
}

// Runs forward, then backward with dy = 1, 2, 3, 4.
void forward_backward(LayerFixture& fixture) {
  fixture.forward();
  const std::vector<float> dy = {1, 2, 3, 4};
  std::copy(dy.begin(), dy.end(), fixture.top.ptrs[0]->mutable_cpu_diff());
  fixture.backward({true, true, true});
}

TEST(EltwiseLayerTest, SumIsTheDefaultWithUnitCoefficients) {
  LayerFixture fixture(R"(name: "elt" type: "Eltwise")", {{2, 2}, {2, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], kA);
  set_values(fixture.bottom.ptrs[1], kB);
  fixture.setup();
  fixture.forward();
  expect_near_all(values_of(*fixture.top.ptrs[0]), {5, 3, 2, 2.5f});
}

TEST(EltwiseLayerTest, SumWithCoefficientsHandComputed) {
  LayerFixture fixture = three_bottoms("operation: SUM coeff: 1 coeff: -2 coeff: 0.5");
  forward_backward(fixture);
  // y = a − 2b + c/2;  dx_k = c_k dy.
  expect_near_all(values_of(*fixture.top.ptrs[0]), {-7.5f, -9.5f, 6, -3.25f});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[0]), {1, 2, 3, 4});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[1]), {-2, -4, -6, -8});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[2]), {0.5f, 1, 1.5f, 2});
}

TEST(EltwiseLayerTest, ProductHandComputed) {
  LayerFixture fixture = three_bottoms("operation: PROD");
  forward_backward(fixture);
  expect_near_all(values_of(*fixture.top.ptrs[0]), {-4, -50, -6, 0.5f});
  // dx_a = dy · b · c, and so on.
  expect_near_all(diffs_of(*fixture.bottom.ptrs[0]), {-4, 50, -6, 4});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[1]), {-1, -20, 18, 1});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[2]), {4, -20, -9, 4});
}

TEST(EltwiseLayerTest, StableProductGradientHandlesZeroInputs) {
  // b has a zero: y = 0 there, and y / b is 0 / 0.  The stable gradient is still a · c · dy.
  for (const bool stable : {true, false}) {
    LayerFixture fixture = three_bottoms(std::string("operation: PROD stable_prod_grad: ") +
                                         (stable ? "true" : "false"));
    set_values(fixture.bottom.ptrs[1], {4, 0, -1, 2});
    forward_backward(fixture);
    const float at_zero = fixture.bottom.ptrs[1]->cpu_diff()[1];
    if (stable) {
      EXPECT_FLOAT_EQ(at_zero, -2 * 5 * 2);
    } else {
      EXPECT_TRUE(std::isnan(at_zero)) << at_zero;
    }
    EXPECT_NEAR(fixture.bottom.ptrs[1]->cpu_diff()[0], -1, 1e-6f);  // away from the zero: equal
  }
}

TEST(EltwiseLayerTest, MaxHandComputedWithTiesGoingToTheFirstBottom) {
  LayerFixture fixture = three_bottoms("operation: MAX");
  forward_backward(fixture);
  // Element 1: b = c = 5 (b wins); element 3: a = c = 0.5 < b = 2.
  expect_near_all(values_of(*fixture.top.ptrs[0]), {4, 5, 3, 2});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[0]), {0, 0, 3, 0});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[1]), {1, 2, 0, 4});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[2]), {0, 0, 0, 0});

  LayerFixture all_equal(R"(name: "elt" type: "Eltwise" eltwise_param { operation: MAX })",
                         {{3}, {3}}, 1);
  set_values(all_equal.bottom.ptrs[0], {7, 7, 7});
  set_values(all_equal.bottom.ptrs[1], {7, 7, 7});
  all_equal.setup();
  all_equal.forward();
  std::fill(all_equal.top.ptrs[0]->mutable_cpu_diff(),
            all_equal.top.ptrs[0]->mutable_cpu_diff() + 3, 1.0f);
  all_equal.backward({true, true});
  expect_near_all(diffs_of(*all_equal.bottom.ptrs[0]), {1, 1, 1});
  expect_near_all(diffs_of(*all_equal.bottom.ptrs[1]), {0, 0, 0});
}

// K bottoms whose values, at every element, are at least 0.1 apart (so that a gradient-check
// step of 0.01 never changes the winner of MAX) and at least 1 away from 0 (PROD's y / x).
void fill_separated(const BlobVec& bottom, uint64_t seed) {
  std::mt19937 engine(static_cast<uint32_t>(seed));
  std::uniform_real_distribution<float> magnitude(1.0f, 3.0f);
  std::vector<float> offsets;
  for (size_t k = 0; k < bottom.size(); ++k) offsets.push_back(0.1f * static_cast<float>(k));
  for (int i = 0; i < bottom[0]->count(); ++i) {
    std::shuffle(offsets.begin(), offsets.end(), engine);
    const float sign = (engine() & 1) ? 1.0f : -1.0f;
    const float base = magnitude(engine);
    for (size_t k = 0; k < bottom.size(); ++k) {
      bottom[k]->mutable_cpu_data()[i] = sign * (base + offsets[k]);
    }
  }
}

TEST(EltwiseLayerTest, Gradients) {
  for (const std::string param :
       {"operation: SUM", "operation: SUM coeff: 0.5 coeff: -3 coeff: 2", "operation: PROD",
        "operation: PROD stable_prod_grad: false", "operation: MAX"}) {
    LayerFixture fixture("name: 'elt' type: 'Eltwise' eltwise_param { " + param + " }",
                         {{2, 3, 2}, {2, 3, 2}, {2, 3, 2}}, 1);
    fill_separated(fixture.bottom.ptrs, 5);
    fixture.setup();
    SCOPED_TRACE(param);
    test::check_gradients(*fixture.layer, fixture.bottom.ptrs, fixture.top.ptrs);
  }
}

TEST(EltwiseLayerTest, PropagateDownSkipsBottoms) {
  LayerFixture fixture = three_bottoms("operation: MAX");
  fixture.forward();
  std::fill(fixture.bottom.ptrs[1]->mutable_cpu_diff(),
            fixture.bottom.ptrs[1]->mutable_cpu_diff() + 4, 42.0f);
  std::fill(fixture.top.ptrs[0]->mutable_cpu_diff(), fixture.top.ptrs[0]->mutable_cpu_diff() + 4,
            1.0f);
  fixture.backward({true, false, true});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[1]), {42, 42, 42, 42});
  expect_near_all(diffs_of(*fixture.bottom.ptrs[0]), {0, 0, 1, 0});
}

TEST(EltwiseLayerTest, Errors) {
  LayerFixture shapes(R"(name: "elt" type: "Eltwise")", {{2, 3}, {3, 2}}, 1);
  expect_error([&] { shapes.setup(); }, {"layer 'elt' (Eltwise)", "bottom 1 has shape 3 2 (6)",
                                         "bottom 0 has shape 2 3 (6)"});
  LayerFixture reshaped(R"(name: "elt" type: "Eltwise")", {{2, 3}, {2, 3}}, 1);
  reshaped.setup();
  reshaped.bottom.ptrs[0]->Reshape({2, 4});
  expect_error([&] { reshaped.forward(); }, {"2 3 (6)", "2 4 (8)"});

  LayerFixture coeffs(R"(name: "elt" type: "Eltwise" eltwise_param { coeff: 1 coeff: 2 coeff: 3 })",
                      {{2}, {2}}, 1);
  expect_error([&] { coeffs.setup(); }, {"3 coeff value(s) for 2 bottoms"});
  LayerFixture prod_coeffs(R"(name: "elt" type: "Eltwise"
                              eltwise_param { operation: PROD coeff: 1 coeff: 2 })",
                           {{2}, {2}}, 1);
  expect_error([&] { prod_coeffs.setup(); }, {"coeff applies to SUM only", "PROD"});

  LayerFixture one(R"(name: "elt" type: "Eltwise")", {{2}}, 1);
  expect_error([&] { one.setup(); }, {"at least 2 bottom"});
  LayerFixture in_place(R"(name: "elt" type: "Eltwise")", {{2}, {2}}, 0);
  in_place.top.ptrs.push_back(in_place.bottom.ptrs[1]);
  expect_error([&] { in_place.setup(); }, {"in place", "bottom 1"});
}

TEST(EltwiseLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const auto fill = [](BlobVec& bottom) { fill_separated(bottom, 17); };
  const std::vector<std::vector<int>> shapes = {{4, 3, 5, 6}, {4, 3, 5, 6}, {4, 3, 5, 6}};
  for (const std::string param : {"operation: SUM coeff: 0.5 coeff: -3 coeff: 2", "operation: PROD",
                                  "operation: PROD stable_prod_grad: false", "operation: MAX"}) {
    SCOPED_TRACE(param);
    test::check_gpu_matches_cpu("type: 'Eltwise' eltwise_param { " + param + " }", shapes, fill);
  }
}

}  // namespace
}  // namespace caffe
