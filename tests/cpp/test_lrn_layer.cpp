#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "caffe/layers/lrn_layer.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::LayerFixture;

std::string lrn(const std::string& params) {
  return "name: 'norm' type: 'LRN' lrn_param { " + params + " }";
}

void expect_values(const float* actual, const std::vector<float>& expected, float tolerance) {
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(actual[i], expected[i], tolerance) << i;
}

TEST(LRNLayerTest, AcrossChannelsHandComputed) {
  // x = 1, 2, 3 over three channels, n = 3, alpha / n = 1, beta = 1, k = 1:
  // s = 1 + (0 + 1 + 4), 1 + (1 + 4 + 9), 1 + (4 + 9 + 0) = 6, 15, 14.
  LayerFixture f(lrn("local_size: 3 alpha: 3 beta: 1 k: 1"), {{1, 3, 1, 1}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 2, 3});
  f.setup();
  f.forward();
  expect_values(f.top_data(), {1.0f / 6, 2.0f / 15, 3.0f / 14}, 1e-6f);
}

TEST(LRNLayerTest, AcrossChannelsWindowWiderThanChannelsAndK) {
  // n = 5 over two channels: both windows hold both channels.  k = 2, alpha / n = 0.5, beta 0.5.
  LayerFixture f(lrn("local_size: 5 alpha: 2.5 beta: 0.5 k: 2"), {{1, 2, 1, 1}}, 1);
  test::set_values(f.bottom.ptrs[0], {3, 4});
  f.setup();
  f.forward();
  const float s = 2 + 0.5f * 25;  // 14.5
  expect_values(f.top_data(), {3 / std::sqrt(s), 4 / std::sqrt(s)}, 1e-6f);
}

TEST(LRNLayerTest, WithinChannelDividesByTheSquareAndIgnoresK) {
  // 3 x 3 plane of 1..9, n = 3, alpha = 9 (alpha / n² = 1), beta = 1.  BVLC adds 1, not k, and
  // the AVE divisor is n² = 9 even where the window is clipped: the corner's s = 1 + (1 + 4 +
  // 16 + 25) = 47, the centre's 1 + 285 = 286.
  LayerFixture f(lrn("local_size: 3 alpha: 9 beta: 1 k: 5 norm_region: WITHIN_CHANNEL"),
                 {{1, 1, 3, 3}}, 1);
  test::set_values(f.bottom.ptrs[0], {1, 2, 3, 4, 5, 6, 7, 8, 9});
  f.setup();
  f.forward();
  EXPECT_NEAR(f.top_data()[0], 1.0f / 47, 1e-7f);
  EXPECT_NEAR(f.top_data()[4], 5.0f / 286, 1e-7f);
  EXPECT_NEAR(f.top_data()[8], 9.0f / (1 + 25 + 36 + 64 + 81), 1e-7f);
}

// BVLC's LRN written out directly, one element at a time.
std::vector<float> reference_lrn(const Blob& x, int n, float alpha, float beta, float k,
                                 bool across) {
  const int num = x.shape(0), channels = x.shape(1), height = x.shape(2), width = x.shape(3);
  const auto at = [&](int i, int c, int h, int w) {
    return x.cpu_data()[((i * channels + c) * height + h) * width + w];
  };
  std::vector<float> y;
  for (int i = 0; i < num; ++i) {
    for (int c = 0; c < channels; ++c) {
      for (int h = 0; h < height; ++h) {
        for (int w = 0; w < width; ++w) {
          double sum = 0;
          for (int d = -(n / 2); d <= n / 2; ++d) {
            if (across && c + d >= 0 && c + d < channels) sum += std::pow(at(i, c + d, h, w), 2);
            for (int e = -(n / 2); !across && e <= n / 2; ++e) {
              const bool inside = h + d >= 0 && h + d < height && w + e >= 0 && w + e < width;
              if (inside) sum += std::pow(at(i, c, h + d, w + e), 2);
            }
          }
          const double scale = across ? k + alpha / n * sum : 1 + alpha / (n * n) * sum;
          y.push_back(static_cast<float>(at(i, c, h, w) * std::pow(scale, -beta)));
        }
      }
    }
  }
  return y;
}

TEST(LRNLayerTest, DefaultsMatchTheReference) {
  // local_size 5, alpha 1, beta 0.75, k 1.
  for (const char* region : {"ACROSS_CHANNELS", "WITHIN_CHANNEL"}) {
    LayerFixture f(lrn(std::string("norm_region: ") + region), {{2, 7, 4, 6}}, 1);
    test::fill_gaussian(f.bottom.ptrs[0], 4, 0.0f, 2.0f);
    f.setup();
    f.forward();
    const bool across = std::string(region) == "ACROSS_CHANNELS";
    expect_values(f.top_data(), reference_lrn(*f.bottom.ptrs[0], 5, 1, 0.75f, 1, across), 1e-5f);
  }
}

void check_lrn_gradients(const std::string& params) {
  LayerFixture f(lrn(params + " engine: CAFFE"), {{2, 6, 4, 5}}, 1);
  test::fill_gaussian(f.bottom.ptrs[0], 9);
  f.setup();
  test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
}

TEST(LRNLayerTest, GradientAcrossChannels) {
  check_lrn_gradients("local_size: 3 alpha: 2 beta: 0.75 k: 2");
}

TEST(LRNLayerTest, GradientAcrossChannelsGeneralPower) {
  check_lrn_gradients("local_size: 5 alpha: 3 beta: 1.3 k: 1.5");
}

TEST(LRNLayerTest, GradientWithinChannel) {
  check_lrn_gradients("local_size: 3 alpha: 4 beta: 0.75 norm_region: WITHIN_CHANNEL");
}

TEST(LRNLayerTest, GradientWithinChannelGeneralPower) {
  check_lrn_gradients("local_size: 5 alpha: 6 beta: 0.6 norm_region: WITHIN_CHANNEL");
}

// ----- engines -----

struct LrnRun {
  Backend backend;
  std::vector<float> top, bottom_diff;
};

LrnRun run_lrn(const std::string& prototxt, Mode mode, Phase phase = TRAIN) {
  auto layer = test::make_layer(prototxt, phase);
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 5, 6, 7}), 13, 0.0f, 2.0f);
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  set_mode(mode);
  layer->Forward(bottom.ptrs, top.ptrs);
  test::fill_gaussian(top.ptrs[0]->mutable_cpu_diff(), top.ptrs[0]->count(), 14);
  layer->Backward(top.ptrs, {true}, bottom.ptrs);
  set_mode(Mode::CPU);
  const Blob& x = *bottom.ptrs[0];
  return {static_cast<LRNLayer&>(*layer).backend(mode),
          std::vector<float>(top.ptrs[0]->cpu_data(), top.ptrs[0]->cpu_data() + x.count()),
          std::vector<float>(x.cpu_diff(), x.cpu_diff() + x.count())};
}

const char* const kEngineCases[] = {
    "local_size: 5 alpha: 0.5 beta: 0.75 k: 2",
    "local_size: 3 alpha: 2 beta: 1.2",
    "local_size: 3 alpha: 3 beta: 0.75 norm_region: WITHIN_CHANNEL",
};

TEST(LRNLayerTest, DnnlEngineMatchesCaffeEngine) {
#ifndef CAFFE_USE_DNNL
  GTEST_SKIP() << "built without oneDNN";
#endif
  for (const char* params : kEngineCases) {
    SCOPED_TRACE(params);
    const LrnRun library = run_lrn(lrn(std::string(params) + " engine: CUDNN"), Mode::CPU);
    const LrnRun caffe = run_lrn(lrn(std::string(params) + " engine: CAFFE"), Mode::CPU);
    EXPECT_EQ(library.backend, Backend::kDnnl);
    EXPECT_EQ(caffe.backend, Backend::kCaffe);
    expect_values(library.top.data(), caffe.top, 1e-5f);
    expect_values(library.bottom_diff.data(), caffe.bottom_diff, 1e-5f);
  }
}

TEST(LRNLayerTest, DefaultEngineUsesTheLibraryOnlyForForwardOnlyAcrossChannels) {
  const std::string across = lrn("local_size: 3");
  const std::string within = lrn("local_size: 3 norm_region: WITHIN_CHANNEL");
  const Backend library = library_backend(Mode::CPU);
  EXPECT_EQ(run_lrn(across, Mode::CPU, TRAIN).backend, Backend::kCaffe);
  EXPECT_EQ(run_lrn(across, Mode::CPU, TEST).backend, library);
  EXPECT_EQ(run_lrn(within, Mode::CPU, TEST).backend, Backend::kCaffe);
}

TEST(LRNLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  for (const char* params : kEngineCases) {
    SCOPED_TRACE(params);
    const std::string prototxt = lrn(std::string(params) + " engine: CAFFE");
    const LrnRun cpu = run_lrn(prototxt, Mode::CPU);
    const LrnRun gpu = run_lrn(prototxt, Mode::GPU);
    expect_values(gpu.top.data(), cpu.top, 1e-5f);
    expect_values(gpu.bottom_diff.data(), cpu.bottom_diff, 1e-5f);
  }
}

// ----- errors -----

TEST(LRNLayerTest, EvenLocalSizeIsAnError) {
  LayerFixture f(lrn("local_size: 4"), {{1, 3, 2, 2}}, 1);
  test::expect_error([&] { f.setup(); }, {"layer 'norm'", "local_size must be odd", "4"});
}

TEST(LRNLayerTest, BottomMustHaveFourAxes) {
  LayerFixture f(lrn("local_size: 3"), {{2, 3, 4}}, 1);
  test::expect_error([&] { f.setup(); }, {"layer 'norm'", "4 axes", "2 3 4"});
}

TEST(LRNLayerTest, InPlaceIsAnError) {
  LayerFixture f(lrn("local_size: 3"), {{1, 3, 2, 2}}, 0);
  f.top.ptrs.push_back(f.bottom.ptrs[0]);
  test::expect_error([&] { f.setup(); }, {"in place"});
}

TEST(LRNLayerTest, BackwardWithoutForwardIsAnError) {
  LayerFixture f(lrn("local_size: 3 engine: CAFFE"), {{1, 3, 2, 2}}, 1);
  f.setup();
  test::expect_error([&] { f.backward({true}); }, {"layer 'norm'", "the last forward did not run"});
}

}  // namespace
}  // namespace caffe
