#include <gtest/gtest.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "caffe/layers/pooling_layer.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

std::string pooling(const std::string& params) {
  return "name: 'pool' type: 'Pooling' pooling_param { " + params + " }";
}

void expect_values(const float* actual, const std::vector<float>& expected, float tolerance) {
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tolerance) << i;
}

// Values 0, 1, ... count-1 in a fixed shuffled order: distinct, so every window has one maximum
// and a gradient-check step never changes it.
void fill_distinct(Blob* blob, uint32_t seed) {
  std::vector<float> values(blob->count());
  std::iota(values.begin(), values.end(), 0.0f);
  std::shuffle(values.begin(), values.end(), std::mt19937(seed));
  for (float& v : values) v *= 0.1f;
  test::set_values(blob, values);
}

// The top's height and width for one input plane.
std::vector<int> pooled_shape(const std::string& params, int height, int width) {
  LayerFixture f(pooling(params), {{1, 1, height, width}}, 1);
  f.setup();
  return {f.top.ptrs[0]->shape(2), f.top.ptrs[0]->shape(3)};
}

TEST(PoolingLayerTest, OutputSizesFollowBvlcCeilAndClippingRules) {
  // ceil((in + 2 pad - k) / s) + 1.
  EXPECT_EQ(pooled_shape("kernel_size: 3 stride: 2", 32, 32), (std::vector<int>{16, 16}));
  EXPECT_EQ(pooled_shape("kernel_size: 2 stride: 2", 24, 8), (std::vector<int>{12, 4}));
  EXPECT_EQ(pooled_shape("kernel_size: 3 stride: 2", 55, 112), (std::vector<int>{27, 56}));
  EXPECT_EQ(pooled_shape("kernel_size: 3 stride: 1 pad: 1", 28, 28), (std::vector<int>{28, 28}));
  EXPECT_EQ(pooled_shape("kernel_size: 3 stride: 2 pad: 1", 7, 6), (std::vector<int>{4, 4}));
  // in 5, k 2, s 2, pad 1: ceil(5 / 2) + 1 = 4, but the 4th window would start at 5 = in, in the
  // padding, so it is dropped.
  EXPECT_EQ(pooled_shape("kernel_size: 2 stride: 2 pad: 1", 5, 5), (std::vector<int>{3, 3}));
  // FLOOR: floor(5 / 2) + 1 = 3 where CEIL gives 4.
  EXPECT_EQ(pooled_shape("kernel_size: 3 stride: 2 pad: 1 round_mode: FLOOR", 6, 6),
            (std::vector<int>{3, 3}));
  EXPECT_EQ(pooled_shape("kernel_h: 4 kernel_w: 2 stride_h: 4 stride_w: 1", 4, 5),
            (std::vector<int>{1, 4}));
  EXPECT_EQ(pooled_shape("global_pooling: true", 7, 5), (std::vector<int>{1, 1}));
}

TEST(PoolingLayerTest, MaxForwardAndMaskHandComputed) {
  LayerFixture f(pooling("pool: MAX kernel_size: 2 stride: 2"), {{1, 1, 4, 4}}, 2);
  // The top-right window holds 5 twice: the mask names the first in row-major order (index 2).
  // clang-format off
  test::set_values(f.bottom.ptrs[0], {1, 8, 5, 2,
                                      3, 4, 5, 5,
                                      -1, -2, 0, 9,
                                      -3, -4, 7, 6});
  // clang-format on
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[1]->shape(), (std::vector<int>{1, 1, 2, 2}));
  expect_values(f.top_data(0), {8, 5, -1, 9}, 0);
  expect_values(f.top_data(1), {1, 2, 8, 11}, 0);
}

TEST(PoolingLayerTest, MaxIgnoresPaddingEvenWhenAllInputsAreNegative) {
  // k 3, s 2, pad 1 on 3 x 3: windows start at -1 and 1; the padding (zeros in AVE) never wins.
  LayerFixture f(pooling("pool: MAX kernel_size: 3 stride: 2 pad: 1"), {{1, 1, 3, 3}}, 2);
  test::set_values(f.bottom.ptrs[0], {-1, -2, -3, -4, -5, -6, -7, -8, -9});
  f.setup();
  f.forward();
  expect_values(f.top_data(0), {-1, -2, -4, -5}, 0);
  expect_values(f.top_data(1), {0, 1, 3, 4}, 0);
}

TEST(PoolingLayerTest, AveForwardHandComputed) {
  LayerFixture f(pooling("pool: AVE kernel_size: 2 stride: 1"), {{1, 1, 3, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 2, 3, 4, 5, 6, 7, 8, 9});
  f.setup();
  f.forward();
  expect_values(f.top_data(), {3, 4, 6, 7}, 1e-6f);
}

TEST(PoolingLayerTest, AveDividesByTheWindowClippedToThePaddedInput) {
  // in 6, k 3, s 2, pad 1: 4 windows per axis starting at -1, 1, 3, 5.  Inside the image they
  // hold 2, 3, 3, 1 inputs; clipped to the padded input [-1, 7) they are 3, 3, 3, 2 long (the
  // last overhangs by one).  On ones, an output is the product of the two ratios: 4/9 in the
  // corner, 1/4 at (3, 3), where include-padding would give 1/9 and exclude-padding 1.
  LayerFixture f(pooling("pool: AVE kernel_size: 3 stride: 2 pad: 1"), {{1, 1, 6, 6}}, 1);
  test::set_values(f.bottom.ptrs[0], std::vector<float>(36, 1.0f));
  f.setup();
  f.forward();
  ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{1, 1, 4, 4}));
  const float ratio[] = {2.0f / 3, 1, 1, 0.5f};
  std::vector<float> expected;
  for (float row : ratio) {
    for (float col : ratio) expected.push_back(row * col);
  }
  expect_values(f.top_data(), expected, 1e-6f);
}

TEST(PoolingLayerTest, WindowWithoutInputGivesBvlcValues) {
  // No padding, stride 3 > kernel 1 on 5: ceil(4 / 3) + 1 = 3 windows, the last at 6, past the
  // input.  BVLC gives -FLT_MAX (mask -1) for MAX and 0 for AVE there, and no gradient.
  LayerFixture max(pooling("pool: MAX kernel_size: 1 stride: 3"), {{1, 1, 1, 5}}, 2);
  test::set_values(max.bottom.ptrs[0], {1, 2, 3, 4, 5});
  max.setup();
  max.forward();
  expect_values(max.top_data(0), {1, 4, -FLT_MAX}, 0);
  expect_values(max.top_data(1), {0, 3, -1}, 0);
  LayerFixture ave(pooling("pool: AVE kernel_size: 1 stride: 3"), {{1, 1, 1, 5}}, 1);
  test::set_values(ave.bottom.ptrs[0], {1, 2, 3, 4, 5});
  ave.setup();
  ave.forward();
  expect_values(ave.top_data(), {1, 4, 0}, 0);
  std::fill_n(ave.top.ptrs[0]->mutable_cpu_diff(), 3, 1.0f);
  ave.backward({true});
  expect_values(ave.bottom.ptrs[0]->cpu_diff(), {1, 0, 0, 1, 0}, 0);
}

TEST(PoolingLayerTest, GlobalPoolingPoolsWholePlanes) {
  for (const char* method : {"MAX", "AVE"}) {
    LayerFixture f(pooling(std::string("global_pooling: true pool: ") + method), {{2, 3, 3, 5}}, 1);
    test::fill_gaussian(f.bottom.ptrs[0], 3);
    f.setup();
    f.forward();
    ASSERT_EQ(f.top.ptrs[0]->shape(), (std::vector<int>{2, 3, 1, 1}));
    for (int plane = 0; plane < 6; ++plane) {
      const float* x = f.bottom.ptrs[0]->cpu_data() + plane * 15;
      const float expected = std::string(method) == "MAX" ? *std::max_element(x, x + 15)
                                                          : std::accumulate(x, x + 15, 0.0f) / 15;
      EXPECT_NEAR(f.top_data()[plane], expected, 1e-6f) << method << " plane " << plane;
    }
  }
}

TEST(PoolingLayerTest, MaxBackwardRoutesToTheFirstMaximum) {
  LayerFixture f(pooling("pool: MAX kernel_size: 2 stride: 1"), {{1, 1, 2, 3}}, 1);
  // Both windows hold the maximum 7 twice (at 1 and 4); each routes to index 1.
  test::set_values(f.bottom.ptrs[0], {0, 7, 2, 3, 7, 1});
  f.setup();
  f.forward();
  std::copy_n(std::vector<float>{10, 100}.begin(), 2, f.top.ptrs[0]->mutable_cpu_diff());
  f.backward({true});
  expect_values(f.bottom.ptrs[0]->cpu_diff(), {0, 110, 0, 0, 0, 0}, 0);
}

void check_pooling_gradients(const std::string& params, const std::vector<int>& shape) {
  LayerFixture f(pooling(params + " engine: CAFFE"), {shape}, 1);
  fill_distinct(f.bottom.ptrs[0], 7);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(PoolingLayerTest, GradientMaxOverlappingWindowsWithPadding) {
  check_pooling_gradients("pool: MAX kernel_size: 3 stride: 2 pad: 1", {2, 2, 6, 5});
}

TEST(PoolingLayerTest, GradientMaxRectangular) {
  check_pooling_gradients("pool: MAX kernel_h: 3 kernel_w: 2 stride_h: 1 stride_w: 2",
                          {1, 2, 5, 6});
}

TEST(PoolingLayerTest, GradientAveWithPaddingAndOverhang) {
  check_pooling_gradients("pool: AVE kernel_size: 3 stride: 2 pad: 1", {2, 2, 6, 7});
}

TEST(PoolingLayerTest, GradientAveNoPaddingOverhang) {
  check_pooling_gradients("pool: AVE kernel_size: 3 stride: 2", {1, 3, 8, 8});
}

TEST(PoolingLayerTest, GradientGlobalAve) {
  check_pooling_gradients("pool: AVE global_pooling: true", {2, 3, 4, 3});
}

// ----- engines -----

struct PoolingRun {
  Backend backend;
  std::vector<float> top, mask, bottom_diff;
};

// Forward and backward of a Pooling layer in `mode` on seeded inputs and top gradients.
enum class Inputs { kDistinct, kWithTies };

PoolingRun run_pooling(const std::string& prototxt, const std::vector<int>& shape, int tops,
                       Mode mode, Inputs inputs) {
  LayerFixture f(prototxt, {shape}, tops);
  if (inputs == Inputs::kDistinct) {
    fill_distinct(f.bottom.ptrs[0], 5);
  } else {  // gaussian values rounded to halves: many windows hold their maximum twice
    test::fill_gaussian(f.bottom.ptrs[0], 5);
    float* x = f.bottom.ptrs[0]->mutable_cpu_data();
    for (int i = 0; i < f.bottom.ptrs[0]->count(); ++i) x[i] = std::round(x[i] * 2) / 2;
  }
  f.setup();
  set_mode(mode);
  f.forward();
  test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 6);
  f.backward({true});
  set_mode(Mode::CPU);
  const auto values = [](const float* data, int count) {
    return std::vector<float>(data, data + count);
  };
  PoolingRun run{static_cast<PoolingLayer&>(*f.layer).backend(mode),
                 values(f.top_data(0), f.top.ptrs[0]->count()),
                 {},
                 values(f.bottom.ptrs[0]->cpu_diff(), f.bottom.ptrs[0]->count())};
  if (tops > 1) run.mask = values(f.top_data(1), f.top.ptrs[1]->count());
  return run;
}

void expect_same_run(const PoolingRun& expected, const PoolingRun& actual, float tolerance) {
  ASSERT_EQ(expected.top.size(), actual.top.size());
  expect_values(actual.top.data(), expected.top, tolerance);
  expect_values(actual.mask.data(), expected.mask, 0);
  expect_values(actual.bottom_diff.data(), expected.bottom_diff, tolerance);
}

// Configurations where the libraries and our kernels must agree (where a library runs), on
// 9 x 14 planes: k 3, s 2 overhangs the width by one.
const char* const kEngineCases[] = {
    "pool: MAX kernel_size: 3 stride: 2",         // ceil overhang, no padding
    "pool: MAX kernel_size: 3 stride: 2 pad: 1",  // padding and overhang
    "pool: MAX kernel_size: 2 stride: 2",         // LeNet
    "pool: AVE kernel_size: 3 stride: 2",         // overhang without padding: exclude
    "pool: AVE kernel_size: 3 stride: 1 pad: 1",  // padding without overhang: include
    "pool: AVE kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 3 pad_h: 1 pad_w: 0",
    "pool: AVE global_pooling: true",
};

TEST(PoolingLayerTest, DnnlEngineMatchesCaffeEngine) {
#ifndef CAFFE_USE_DNNL
  GTEST_SKIP() << "built without oneDNN";
#endif
  for (const char* params : kEngineCases) {
    SCOPED_TRACE(params);
    const std::vector<int> shape = {2, 3, 9, 14};
    const PoolingRun library = run_pooling(pooling(std::string(params) + " engine: CUDNN"), shape,
                                           1, Mode::CPU, Inputs::kDistinct);
    const PoolingRun caffe = run_pooling(pooling(std::string(params) + " engine: CAFFE"), shape, 1,
                                         Mode::CPU, Inputs::kDistinct);
    EXPECT_EQ(library.backend, Backend::kDnnl);
    EXPECT_EQ(caffe.backend, Backend::kCaffe);
    expect_same_run(caffe, library, 1e-5f);
  }
}

TEST(PoolingLayerTest, LibraryEngineFallsBackWhereItCannotMatchBvlc) {
  // AVE with padding and an overhang (BVLC's divisor is neither include- nor exclude-padding),
  // a window without input, and the mask top all run on our kernels whatever the engine says.
  struct Case {
    const char* params;
    std::vector<int> shape;
    int tops;
  };
  const Case cases[] = {
      {"pool: AVE kernel_size: 3 stride: 2 pad: 1", {1, 2, 6, 6}, 1},
      {"pool: MAX kernel_size: 1 stride: 3", {1, 2, 5, 5}, 1},
      {"pool: MAX kernel_size: 2 stride: 2", {1, 2, 6, 6}, 2},
  };
  for (const Case& c : cases) {
    LayerFixture f(pooling(std::string(c.params) + " engine: DEFAULT"), {c.shape}, c.tops);
    f.setup();
    EXPECT_EQ(static_cast<PoolingLayer&>(*f.layer).backend(Mode::CPU), Backend::kCaffe) << c.params;
#ifdef CAFFE_USE_DNNL
    LayerFixture library(pooling(std::string(c.params) + " engine: CUDNN"), {c.shape}, c.tops);
    library.setup();
    EXPECT_EQ(static_cast<PoolingLayer&>(*library.layer).backend(Mode::CPU), Backend::kCaffe)
        << c.params;
#endif
  }
}

TEST(PoolingLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  for (const char* params : kEngineCases) {
    for (const char* engine : {" engine: CAFFE", " engine: DEFAULT", " engine: CUDNN"}) {
      SCOPED_TRACE(std::string(params) + engine);
      const std::string prototxt = pooling(std::string(params) + engine);
      const std::vector<int> shape = {2, 3, 9, 14};
      const PoolingRun cpu = run_pooling(prototxt, shape, 1, Mode::CPU, Inputs::kDistinct);
      const PoolingRun gpu = run_pooling(prototxt, shape, 1, Mode::GPU, Inputs::kDistinct);
      expect_same_run(cpu, gpu, 1e-5f);
    }
  }
}

TEST(PoolingLayerTest, GpuMatchesCpuWithMaskAndTies) {
  SKIP_IF_NO_GPU();
  // With ties both devices take the first maximum.
  const std::string prototxt = pooling("pool: MAX kernel_size: 3 stride: 2 pad: 1");
  const PoolingRun cpu = run_pooling(prototxt, {2, 3, 9, 8}, 2, Mode::CPU, Inputs::kWithTies);
  const PoolingRun gpu = run_pooling(prototxt, {2, 3, 9, 8}, 2, Mode::GPU, Inputs::kWithTies);
  expect_same_run(cpu, gpu, 1e-5f);
}

// ----- errors -----

std::string setup_error(const std::string& params, const std::vector<int>& shape, int tops = 1) {
  LayerFixture f(pooling(params), {shape}, tops);
  return test::error_of([&] { f.setup(); });
}

void expect_mentions(const std::string& message, const std::vector<std::string>& parts) {
  for (const std::string& part : parts) {
    EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' missing in: " << message;
  }
}

TEST(PoolingLayerTest, PadMustBeSmallerThanKernel) {
  expect_mentions(setup_error("kernel_size: 2 pad: 2", {1, 1, 5, 5}),
                  {"layer 'pool'", "pad 2 x 2", "kernel 2 x 2"});
}

TEST(PoolingLayerTest, KernelLargerThanPaddedInputIsAnError) {
  expect_mentions(setup_error("kernel_size: 5 pad: 1", {1, 1, 2, 8}),
                  {"layer 'pool'", "kernel 5 x 5", "padded input 4 x 10", "2 x 8"});
}

TEST(PoolingLayerTest, StochasticIsNotImplemented) {
  expect_mentions(setup_error("pool: STOCHASTIC kernel_size: 2", {1, 1, 4, 4}),
                  {"layer 'pool'", "STOCHASTIC", "not implemented"});
}

TEST(PoolingLayerTest, ParameterAndShapeErrors) {
  expect_mentions(setup_error("stride: 2", {1, 1, 4, 4}), {"kernel_size or as kernel_h"});
  expect_mentions(setup_error("kernel_size: 2 kernel_h: 2 kernel_w: 2", {1, 1, 4, 4}),
                  {"kernel_size or as kernel_h"});
  expect_mentions(setup_error("kernel_h: 2", {1, 1, 4, 4}), {"only kernel_h"});
  expect_mentions(setup_error("kernel_size: 2 stride: 0", {1, 1, 4, 4}), {"stride", "0 x 0"});
  expect_mentions(setup_error("kernel_size: 2 pad: 1 pad_h: 1 pad_w: 1", {1, 1, 4, 4}),
                  {"pad or as pad_h"});
  expect_mentions(setup_error("global_pooling: true kernel_size: 2", {1, 1, 4, 4}),
                  {"global_pooling", "kernel_size"});
  expect_mentions(setup_error("global_pooling: true stride: 2", {1, 1, 4, 4}),
                  {"global_pooling needs pad 0 and stride 1", "stride 2 x 2"});
  expect_mentions(setup_error("kernel_size: 2", {4, 4}), {"4 axes", "4 4"});
  // Only MAX has the mask top.
  expect_mentions(setup_error("pool: AVE kernel_size: 2", {1, 1, 4, 4}, 2), {"layer 'pool'"});
}

TEST(PoolingLayerTest, MaxBackwardWithoutForwardIsAnError) {
  LayerFixture f(pooling("kernel_size: 2 engine: CAFFE"), {{1, 1, 4, 4}}, 1);
  f.setup();
  expect_mentions(test::error_of([&] { f.backward({true}); }),
                  {"layer 'pool'", "the last forward did not run"});
}

TEST(PoolingLayerTest, InPlaceIsAnError) {
  LayerFixture f(pooling("kernel_size: 1"), {{1, 1, 4, 4}}, 0);
  f.top.ptrs.push_back(f.bottom.ptrs[0]);
  expect_mentions(test::error_of([&] { f.setup(); }), {"in place"});
}

}  // namespace
}  // namespace caffe
