#include <gtest/gtest.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "caffe/core/net.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"

namespace caffe {
namespace {

using test::expect_error;
using test::LayerFixture;
using test::set_values;

constexpr float kEps = 1e-5f;

std::vector<float> values_of(const Blob& blob) {
  return std::vector<float>(blob.cpu_data(), blob.cpu_data() + blob.count());
}

void expect_near_all(const std::vector<float>& actual, const std::vector<float>& expected,
                     float tolerance = 1e-5f) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0f, std::fabs(expected[i])))
        << "element " << i;
  }
}

// Blob text for a prototxt `blobs { ... }` entry.
std::string blob_text(const std::vector<float>& values) {
  std::string text = "blobs { shape { dim: " + std::to_string(values.size()) + " }";
  for (float value : values) text += " data: " + std::to_string(value);
  return text + " }";
}

// A (2, 2, 1, 2) input: channel 0 holds 1 3 | 5 7 (mean 4, variance 5), channel 1 holds
// 2 2 | 2 6 (mean 3, variance 3), "|" separating the two images.
const std::vector<float> kX = {1, 3, 2, 2, 5, 7, 2, 6};

TEST(BatchNormLayerTest, BatchStatisticsHandComputed) {
  LayerFixture fixture(R"(name: "bn" type: "BatchNorm")", {{2, 2, 1, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], kX);
  fixture.setup();
  ASSERT_EQ(fixture.layer->blobs().size(), 3u);
  EXPECT_EQ(fixture.layer->blobs()[0]->shape(), (std::vector<int>{2}));
  EXPECT_EQ(fixture.layer->blobs()[1]->shape(), (std::vector<int>{2}));
  EXPECT_EQ(fixture.layer->blobs()[2]->shape(), (std::vector<int>{1}));
  fixture.forward();
  const float a = 1.0f / std::sqrt(5.0f + kEps);
  const float b = 1.0f / std::sqrt(3.0f + kEps);
  expect_near_all(values_of(*fixture.top.ptrs[0]),
                  {-3 * a, -1 * a, -1 * b, -1 * b, 1 * a, 3 * a, -1 * b, 3 * b});
  // One update from zero: s = 1, the sums are the mean and the unbiased (m = 4) variance.
  expect_near_all(values_of(*fixture.layer->blobs()[0]), {4, 3});
  expect_near_all(values_of(*fixture.layer->blobs()[1]), {5 * 4.0f / 3, 3 * 4.0f / 3});
  expect_near_all(values_of(*fixture.layer->blobs()[2]), {1});
}

TEST(BatchNormLayerTest, NotesTheInputGradientMagnitudeOnlyWhenAsked) {
  // 37 values per plane: full float lanes and a tail.  dx is the same bits either way.
  const std::vector<int> shape = {3, 4, 37};
  std::vector<float> dx[2];
  for (bool asked : {false, true}) {
    LayerFixture fixture(R"(name: "bn" type: "BatchNorm")", {shape}, 1);
    test::fill_gaussian(fixture.bottom.ptrs[0], 3);
    fixture.setup();
    fixture.forward();
    Blob* x = fixture.bottom.ptrs[0];
    Blob* y = fixture.top.ptrs[0];
    test::fill_gaussian(y->mutable_cpu_diff(), y->count(), 4, 0.0f, 1.0f);
    if (asked) x->request_diff_abs_sum();
    fixture.backward({true});
    dx[asked].assign(x->cpu_diff(), x->cpu_diff() + x->count());
    const std::optional<double> noted = x->take_diff_abs_sum();
    if (!asked) {
      EXPECT_FALSE(noted.has_value());
      continue;
    }
    ASSERT_TRUE(noted.has_value());
    double expected = 0;
    for (float value : dx[asked]) expected += std::fabs(value);
    EXPECT_NEAR(*noted, expected, 1e-6 * expected);
  }
  EXPECT_EQ(dx[0], dx[1]);
}

TEST(BatchNormLayerTest, TwoAxisInput) {
  // (N, C) = (3, 2): channel 0 holds 1 2 3, channel 1 holds 4 4 4 (variance 0: y = 0).
  LayerFixture fixture(R"(name: "bn" type: "BatchNorm")", {{3, 2}}, 1);
  set_values(fixture.bottom.ptrs[0], {1, 4, 2, 4, 3, 4});
  fixture.setup();
  fixture.forward();
  const float a = 1.0f / std::sqrt(2.0f / 3 + kEps);
  expect_near_all(values_of(*fixture.top.ptrs[0]), {-a, 0, 0, 0, a, 0});
  expect_near_all(values_of(*fixture.layer->blobs()[1]), {1, 0});  // 2/3 · 3/2
}

TEST(BatchNormLayerTest, RunningStatisticsAfterSeveralForwards) {
  const float fraction = 0.9f;
  LayerFixture fixture(R"(name: "bn" type: "BatchNorm"
                          batch_norm_param { moving_average_fraction: 0.9 })",
                       {{3, 2, 2}}, 1);
  fixture.setup();
  const int n = 3, c_count = 2, inner = 2, m = n * inner;
  double s = 0;
  std::vector<double> mean_sum(c_count, 0), variance_sum(c_count, 0);
  for (int pass = 0; pass < 4; ++pass) {
    test::fill_gaussian(fixture.bottom.ptrs[0], 40 + pass, 0.5f * pass, 1.0f + pass);
    const float* x = fixture.bottom.ptrs[0]->cpu_data();
    for (int c = 0; c < c_count; ++c) {
      double sum = 0, sum_squares = 0;
      for (int o = 0; o < n; ++o) {
        for (int i = 0; i < inner; ++i) sum += x[(o * c_count + c) * inner + i];
      }
      const double mean = sum / m;
      for (int o = 0; o < n; ++o) {
        for (int i = 0; i < inner; ++i) {
          sum_squares += std::pow(x[(o * c_count + c) * inner + i] - mean, 2);
        }
      }
      mean_sum[c] = fraction * mean_sum[c] + mean;
      variance_sum[c] = fraction * variance_sum[c] + sum_squares / (m - 1);
    }
    s = fraction * s + 1;
    fixture.forward();
  }
  expect_near_all(values_of(*fixture.layer->blobs()[0]), {float(mean_sum[0]), float(mean_sum[1])});
  expect_near_all(values_of(*fixture.layer->blobs()[1]),
                  {float(variance_sum[0]), float(variance_sum[1])});
  expect_near_all(values_of(*fixture.layer->blobs()[2]), {float(s)});
}

// Stored sums μ_sum = (8, -2), σ²_sum = (10, 0.5) with s = 2.5.
const std::vector<float> kMeanSum = {8, -2}, kVarianceSum = {10, 0.5f}, kScaleFactor = {2.5f};

std::string stored_statistics_layer(const std::string& param) {
  return R"(name: "bn" type: "BatchNorm" )" + param + blob_text(kMeanSum) +
         blob_text(kVarianceSum) + blob_text(kScaleFactor);
}

std::vector<float> global_normalization(const std::vector<float>& x, int inner) {
  std::vector<float> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) {
    const int c = static_cast<int>(i / inner) % 2;
    const float mean = kMeanSum[c] / kScaleFactor[0];
    const float variance = kVarianceSum[c] / kScaleFactor[0];
    y[i] = (x[i] - mean) / std::sqrt(variance + kEps);
  }
  return y;
}

TEST(BatchNormLayerTest, GlobalStatisticsInTestPhaseByDefault) {
  test::BlobSet bottom, top;
  set_values(bottom.add({2, 2, 1, 2}), kX);
  top.add({});
  auto layer = test::make_layer(stored_statistics_layer(""), TEST);
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  expect_near_all(values_of(*top.ptrs[0]), global_normalization(kX, 2));
  // Global statistics are read, never updated.
  expect_near_all(values_of(*layer->blobs()[0]), kMeanSum);
  expect_near_all(values_of(*layer->blobs()[1]), kVarianceSum);
  expect_near_all(values_of(*layer->blobs()[2]), kScaleFactor);
}

TEST(BatchNormLayerTest, UseGlobalStatsOverridesThePhase) {
  test::BlobSet bottom, top;
  set_values(bottom.add({2, 2, 1, 2}), kX);
  top.add({});
  auto global_in_train =
      test::make_layer(stored_statistics_layer("batch_norm_param { use_global_stats: true }"));
  global_in_train->SetUp(bottom.ptrs, top.ptrs);
  global_in_train->Forward(bottom.ptrs, top.ptrs);
  expect_near_all(values_of(*top.ptrs[0]), global_normalization(kX, 2));

  auto batch_in_test = test::make_layer(
      stored_statistics_layer("batch_norm_param { use_global_stats: false }"), TEST);
  batch_in_test->SetUp(bottom.ptrs, top.ptrs);
  batch_in_test->Forward(bottom.ptrs, top.ptrs);
  EXPECT_NEAR(top.ptrs[0]->cpu_data()[0], -3 / std::sqrt(5.0f + kEps), 1e-5f);
  EXPECT_NEAR(batch_in_test->layer_param().batch_norm_param().moving_average_fraction(), 0.999f,
              1e-7f);
  EXPECT_NEAR(batch_in_test->blobs()[2]->cpu_data()[0], 0.999f * 2.5f + 1, 1e-5f);
}

TEST(BatchNormLayerTest, ZeroScaleFactorMeansZeroStatistics) {
  // s = 0 (no update yet): mean 0 and variance 0, so y = x / sqrt(eps).
  test::BlobSet bottom, top;
  set_values(bottom.add({2, 2, 1, 2}), kX);
  top.add({});
  auto layer = test::make_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: 0.25 })" +
                                    blob_text(kMeanSum) + blob_text(kVarianceSum) + blob_text({0}),
                                TEST);
  layer->SetUp(bottom.ptrs, top.ptrs);
  layer->Forward(bottom.ptrs, top.ptrs);
  std::vector<float> expected = kX;
  for (float& value : expected) value *= 2;  // 1 / sqrt(0.25)
  expect_near_all(values_of(*top.ptrs[0]), expected);
}

TEST(BatchNormLayerTest, GradientsWithBatchStatistics) {
  for (const std::vector<int>& shape : {std::vector<int>{2, 3, 2, 2}, std::vector<int>{5, 3}}) {
    LayerFixture fixture(R"(name: "bn" type: "BatchNorm")", {shape}, 1);
    test::fill_gaussian(fixture.bottom.ptrs[0], 11, 0.3f, 1.5f);
    fixture.setup();
    test::GradientCheckOptions options;
    options.check_params = false;  // statistics, not parameters: they have no gradient
    test::check_gradients(*fixture.layer, fixture.bottom.ptrs, fixture.top.ptrs, options);
  }
}

TEST(BatchNormLayerTest, GradientsWithGlobalStatistics) {
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 2, 3}), 12);
  top.add({});
  auto layer = test::make_layer(stored_statistics_layer(""), TEST);
  layer->SetUp(bottom.ptrs, top.ptrs);
  test::GradientCheckOptions options;
  options.check_params = false;
  test::check_gradients(*layer, bottom.ptrs, top.ptrs, options);
  // dx = dy / sqrt(σ² + eps) exactly.
  std::fill(top.ptrs[0]->mutable_cpu_diff(), top.ptrs[0]->mutable_cpu_diff() + 12, 1.0f);
  layer->Backward(top.ptrs, {true}, bottom.ptrs);
  EXPECT_NEAR(bottom.ptrs[0]->cpu_diff()[0], 1 / std::sqrt(4.0f + kEps), 1e-6f);
  EXPECT_NEAR(bottom.ptrs[0]->cpu_diff()[3], 1 / std::sqrt(0.2f + kEps), 1e-5f);
}

TEST(BatchNormLayerTest, InPlaceMatchesSeparateTopAndSurvivesLaterInPlaceLayers) {
  const std::vector<int> shape = {3, 2, 2};
  LayerFixture separate(R"(name: "bn" type: "BatchNorm")", {shape}, 1);
  test::fill_gaussian(separate.bottom.ptrs[0], 21);
  separate.setup();
  separate.forward();
  test::fill_gaussian(separate.top.ptrs[0]->mutable_cpu_diff(), 12, 22);
  separate.backward({true});

  test::BlobSet blob;
  Blob* x = blob.add(shape);
  test::fill_gaussian(x, 21);
  auto in_place = test::make_layer(R"(name: "bn" type: "BatchNorm")");
  in_place->SetUp(blob.ptrs, blob.ptrs);
  in_place->Forward(blob.ptrs, blob.ptrs);
  expect_near_all(values_of(*x), values_of(*separate.top.ptrs[0]));
  // A later in-place layer (Scale, ReLU) overwrites y; the gradient must not use what it wrote.
  std::fill(x->mutable_cpu_data(), x->mutable_cpu_data() + 12, 100.0f);
  test::fill_gaussian(x->mutable_cpu_diff(), 12, 22);
  in_place->Backward(blob.ptrs, {true}, blob.ptrs);
  const float* expected = separate.bottom.ptrs[0]->cpu_diff();
  expect_near_all(std::vector<float>(x->cpu_diff(), x->cpu_diff() + 12),
                  std::vector<float>(expected, expected + 12));
}

TEST(BatchNormLayerTest, StatisticsAreFrozenWhateverThePrototxtSays) {
  SolverParameter solver_param;
  read_proto_from_text(R"(
    base_lr: 0.5 lr_policy: "fixed" weight_decay: 0.1 momentum: 0.9
    net_param {
      name: "bn_net"
      layer { name: "x" type: "Input" top: "x" top: "target"
              input_param { shape { dim: 4 dim: 3 } shape { dim: 4 dim: 3 } } }
      layer { name: "bn" type: "BatchNorm" bottom: "x" top: "y"
              param { lr_mult: 5 decay_mult: 1 } param { lr_mult: 5 } }
      layer { name: "loss" type: "EuclideanLoss" bottom: "y" bottom: "target" top: "loss" }
    })",
                       "<test solver>", &solver_param);
  auto solver = Solver::Create(solver_param);
  Net& net = solver->net();
  const Layer& bn = *net.layer_by_name("bn");
  ASSERT_EQ(bn.layer_param().param_size(), 3);
  for (int j = 0; j < 3; ++j) {
    EXPECT_EQ(bn.layer_param().param(j).lr_mult(), 0.0f) << j;
    EXPECT_FALSE(bn.param_propagate_down(j)) << j;
  }
  for (float lr : net.params_lr()) EXPECT_EQ(lr, 0.0f);
  test::fill_gaussian(net.blob_by_name("x"), 31);
  test::fill_gaussian(net.blob_by_name("target"), 32);
  solver->Step(2);
  // Two forwards on the same batch: s = .999 + 1, the sums (.999 + 1) times the batch
  // statistics.  A weight-decay or momentum update would have changed them.
  const Blob& x = *net.blob_by_name("x");
  const double mean0 = (x.cpu_data()[0] + x.cpu_data()[3] + x.cpu_data()[6] + x.cpu_data()[9]) / 4;
  EXPECT_NEAR(bn.blobs()[2]->cpu_data()[0], 1.999f, 1e-6f);
  EXPECT_NEAR(bn.blobs()[0]->cpu_data()[0], 1.999 * mean0, 1e-5);
}

// The residual-block pattern of ResNet prototxts: BatchNorm, Scale and ReLU all in place on one
// blob, then an Eltwise sum with a skip path.  ReLU overwrites what BatchNorm and Scale wrote, so
// this checks that both keep what their gradients need.  The three tops are named `tops`.
std::string residual_net(const std::vector<std::string>& tops) {
  std::string net = R"(
    name: "residual"
    layer { name: "x" type: "Input" top: "x" top: "target"
            input_param { shape { dim: 6 dim: 4 } shape { dim: 6 dim: 3 } } }
    layer { name: "ip" type: "InnerProduct" bottom: "x" top: "h"
            inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
    layer { name: "skip" type: "InnerProduct" bottom: "x" top: "skip"
            inner_product_param { num_output: 3 weight_filler { type: "gaussian" } } }
    layer { name: "bn" type: "BatchNorm" bottom: "h" top: "@0" }
    layer { name: "scale" type: "Scale" bottom: "@0" top: "@1"
            scale_param { bias_term: true filler { type: "gaussian" }
                          bias_filler { type: "gaussian" } } }
    layer { name: "relu" type: "ReLU" bottom: "@1" top: "@2" }
    layer { name: "sum" type: "Eltwise" bottom: "@2" bottom: "skip" top: "out" }
    layer { name: "loss" type: "EuclideanLoss" bottom: "out" bottom: "target" top: "loss" }
  )";
  for (size_t t = 0; t < tops.size(); ++t) {
    const std::string placeholder = "@" + std::to_string(t);
    for (size_t at = net.find(placeholder); at != std::string::npos; at = net.find(placeholder)) {
      net.replace(at, placeholder.size(), tops[t]);
    }
  }
  return net;
}

TEST(BatchNormLayerTest, InPlaceChainInANetMatchesSeparateTops) {
  const auto run = [](const std::string& prototxt) {
    Net net(test::net_param(prototxt));
    test::fill_gaussian(net.blob_by_name("x"), 41);
    test::fill_gaussian(net.blob_by_name("target"), 42);
    const float loss = net.ForwardBackward();
    std::vector<float> all = {loss};
    for (const Blob* blob : net.learnable_params()) {
      const std::vector<float> diff(blob->cpu_diff(), blob->cpu_diff() + blob->count());
      all.insert(all.end(), diff.begin(), diff.end());
    }
    return all;
  };
  const std::vector<float> separate = run(residual_net({"a", "b", "c"}));
  const std::vector<float> in_place = run(residual_net({"h", "h", "h"}));
  // ip and skip (weights, bias), bn (statistics: no gradient), scale (scale, bias).
  ASSERT_EQ(separate.size(), 1u + (12 + 3) * 2 + (3 + 3 + 1) + (3 + 3));
  expect_near_all(in_place, separate);
  float gradient_size = 0;
  for (size_t i = 1; i < separate.size(); ++i) gradient_size += std::fabs(separate[i]);
  EXPECT_GT(gradient_size, 0.1f);
}

TEST(BatchNormLayerTest, Errors) {
  test::BlobSet bottom, top;
  bottom.add({2, 3, 4});
  top.add({});
  // Loaded statistics that do not fit the input.
  auto wrong_channels = test::make_layer(R"(name: "bn" type: "BatchNorm")" + blob_text({1, 2}) +
                                         blob_text({1, 2}) + blob_text({1}));
  expect_error([&] { wrong_channels->SetUp(bottom.ptrs, top.ptrs); },
               {"layer 'bn' (BatchNorm)", "mean blob", "shape 2 (2)", "2 3 4 (24)", "needs 3"});
  auto two_blobs = test::make_layer(R"(name: "bn" type: "BatchNorm")" + blob_text({1, 2, 3}) +
                                    blob_text({1, 2, 3}));
  expect_error([&] { two_blobs->SetUp(bottom.ptrs, top.ptrs); }, {"gives 2 blob(s)", "has 3"});
  auto negative_eps =
      test::make_layer(R"(name: "bn" type: "BatchNorm" batch_norm_param { eps: -1 })");
  expect_error([&] { negative_eps->SetUp(bottom.ptrs, top.ptrs); }, {"eps", "-1"});

  // A scalar input, and a channel count that changes after setup.
  test::BlobSet scalar;
  scalar.add({});
  auto layer = test::make_layer(R"(name: "bn" type: "BatchNorm")");
  expect_error([&] { layer->SetUp(scalar.ptrs, top.ptrs); }, {"at least one axis"});
  auto reshaped = test::make_layer(R"(name: "bn" type: "BatchNorm")");
  reshaped->SetUp(bottom.ptrs, top.ptrs);
  bottom.ptrs[0]->Reshape({2, 5, 4});
  expect_error([&] { reshaped->Forward(bottom.ptrs, top.ptrs); },
               {"2 5 4 (40)", "5 channels", "set up for 3"});
}

void fill_inputs(BlobVec& bottom) { test::fill_gaussian(bottom[0], 51, 0.2f, 2.0f); }

TEST(BatchNormLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  test::check_gpu_matches_cpu(R"(name: "bn" type: "BatchNorm")", {{4, 3, 5, 6}}, fill_inputs);
  test::check_gpu_matches_cpu(R"(name: "bn" type: "BatchNorm")", {{7, 5}}, fill_inputs);
  test::check_gpu_matches_cpu(stored_statistics_layer(""), {{3, 2, 4}}, fill_inputs, 1e-4f, TEST);
}

TEST(BatchNormLayerTest, GpuRunningStatisticsMatchCpu) {
  SKIP_IF_NO_GPU();
  const auto stored_after_two_passes = [](Mode mode) {
    LayerFixture fixture(R"(name: "bn" type: "BatchNorm")", {{6, 4, 3, 3}}, 1);
    fixture.setup();
    set_mode(mode);
    for (uint64_t pass = 0; pass < 2; ++pass) {
      test::fill_gaussian(fixture.bottom.ptrs[0], 60 + pass, 1.0f, 3.0f);
      fixture.forward();
    }
    set_mode(Mode::CPU);
    std::vector<float> all;
    for (const auto& blob : fixture.layer->blobs()) {
      const std::vector<float> values = values_of(*blob);
      all.insert(all.end(), values.begin(), values.end());
    }
    return all;
  };
  expect_near_all(stored_after_two_passes(Mode::GPU), stored_after_two_passes(Mode::CPU), 1e-4f);
}

}  // namespace
}  // namespace caffe
