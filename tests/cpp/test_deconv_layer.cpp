// Deconvolution: BVLC's semantics (the transpose of Convolution, weights [C, M/G, kh, kw],
// output stride·(in − 1) + extent − 2·pad) on every engine, gradients, engines against each
// other, GPU against CPU, and errors.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caffe/layers/deconv_layer.hpp"
#include "tests/cpp/conv_test_util.hpp"

namespace caffe {
namespace {

using test::ConvCase;
using test::expect_error;
using test::set_values;

struct DeconvFixture {
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  DeconvFixture(const std::string& prototxt, const std::vector<int>& shape)
      : layer(test::make_layer(prototxt)) {
    bottom.add(shape);
    top.add({});
  }
  void setup() { layer->SetUp(bottom.ptrs, top.ptrs); }
  void forward() { layer->Forward(bottom.ptrs, top.ptrs); }
  Blob& weights() { return *layer->blobs()[0]; }
  const Blob& output() const { return *top.ptrs[0]; }
};

class DeconvolutionEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string deconv(const std::string& settings) const {
    return "name: 'up' type: 'Deconvolution' convolution_param { " + settings +
           " engine: " + GetParam() + " }";
  }
};

INSTANTIATE_TEST_SUITE_P(Engines, DeconvolutionEngineTest,
                         ::testing::ValuesIn(test::cpu_engines()));

// x = [[1 2] [3 4]], w = [[1 2] [3 4]], stride 1: every x[i][j] adds x[i][j]·w at (i, j) of a
// 3x3 output; b = 1.
TEST_P(DeconvolutionEngineTest, ForwardScattersTheKernel) {
  DeconvFixture f(deconv("num_output: 1 kernel_size: 2 bias_filler { type: 'constant' value: 1 }"),
                  {1, 1, 2, 2});
  f.setup();
  EXPECT_EQ(f.weights().shape(), (std::vector<int>{1, 1, 2, 2}));
  set_values(f.bottom.ptrs[0], {1, 2, 3, 4});
  set_values(&f.weights(), {1, 2, 3, 4});
  f.forward();
  EXPECT_EQ(f.output().shape(), (std::vector<int>{1, 1, 3, 3}));
  test::expect_near_all({2, 5, 5, 7, 21, 17, 10, 25, 17}, f.output(), 1e-5f, "y");
}

// Stride 2 with a 2x2 kernel: the copies of the kernel do not overlap (output 2·(2 − 1) + 2 = 4);
// pad 1 then crops one position from every side.
TEST_P(DeconvolutionEngineTest, StrideAndPadByHand) {
  DeconvFixture f(deconv("num_output: 1 kernel_size: 2 stride: 2 bias_term: false"), {1, 1, 2, 2});
  f.setup();
  set_values(f.bottom.ptrs[0], {1, 2, 3, 4});
  set_values(&f.weights(), {1, 2, 3, 4});
  f.forward();
  test::expect_near_all({1, 2, 2, 4, 3, 4, 6, 8, 3, 6, 4, 8, 9, 12, 12, 16}, f.output(), 1e-5f,
                        "y");

  DeconvFixture padded(deconv("num_output: 1 kernel_size: 2 stride: 2 pad: 1 bias_term: false"),
                       {1, 1, 2, 2});
  padded.setup();
  set_values(padded.bottom.ptrs[0], {1, 2, 3, 4});
  set_values(&padded.weights(), {1, 2, 3, 4});
  padded.forward();
  EXPECT_EQ(padded.output().shape(), (std::vector<int>{1, 1, 2, 2}));
  test::expect_near_all({4, 6, 6, 4}, padded.output(), 1e-5f, "y");
}

// Weights [C, M/G, kh, kw]: input channel c scatters into output m with w[c][m].
TEST_P(DeconvolutionEngineTest, WeightsAreInputMajor) {
  DeconvFixture f(deconv("num_output: 3 kernel_size: 1 bias_term: false"), {1, 2, 1, 1});
  f.setup();
  EXPECT_EQ(f.weights().shape(), (std::vector<int>{2, 3, 1, 1}));
  set_values(f.bottom.ptrs[0], {1, 10});
  set_values(&f.weights(), {1, 2, 3, 4, 5, 6});
  f.forward();
  test::expect_near_all({41, 52, 63}, f.output(), 1e-5f, "y");
}

TEST_P(DeconvolutionEngineTest, MatchesTheDefinition) {
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    DeconvFixture f(c.prototxt("Deconvolution", GetParam()), c.bottom_shape());
    test::fill_gaussian(f.bottom.ptrs[0], 3);
    f.setup();
    const std::vector<int> weight_shape = {c.channels, c.num_output / c.group, c.kernel_h,
                                           c.kernel_w};
    EXPECT_EQ(f.weights().shape(), weight_shape);
    f.forward();
    std::vector<int> shape;
    const std::vector<float> expected = test::reference_conv(
        c, f.bottom.ptrs[0]->cpu_data(), f.weights().cpu_data(),
        c.bias ? f.layer->blobs()[1]->cpu_data() : nullptr, /*transposed=*/true, &shape);
    EXPECT_EQ(f.output().shape(), shape);
    test::expect_near_all(expected, f.output(), 1e-4f, "y");
  }
}

// <conv(a), b> = <a, deconv(b)>: with the same settings and weights, Deconvolution is the adjoint
// of the Convolution from its top's channels to its bottom's.
TEST_P(DeconvolutionEngineTest, IsTheAdjointOfConvolution) {
  for (ConvCase c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    c.bias = false;
    DeconvFixture deconv(c.prototxt("Deconvolution", GetParam()), c.bottom_shape());
    test::fill_gaussian(deconv.bottom.ptrs[0], 5);
    deconv.setup();
    deconv.forward();
    const Blob& up = deconv.output();

    ConvCase forward = c;  // from the deconvolution's top back to its bottom
    forward.channels = c.num_output;
    forward.num_output = c.channels;
    forward.height = up.shape(2);
    forward.width = up.shape(3);
    DeconvFixture conv(forward.prototxt("Convolution", GetParam()), forward.bottom_shape());
    test::fill_gaussian(conv.bottom.ptrs[0], 6);
    conv.setup();
    ASSERT_EQ(conv.weights().shape(), deconv.weights().shape());
    conv.weights().ShareData(deconv.weights());
    conv.forward();
    ASSERT_EQ(conv.output().shape(), deconv.bottom.ptrs[0]->shape());

    const auto dot = [](const Blob& a, const Blob& b) {
      double sum = 0;
      for (int i = 0; i < a.count(); ++i) sum += double{a.cpu_data()[i]} * b.cpu_data()[i];
      return sum;
    };
    const double lhs = dot(conv.output(), *deconv.bottom.ptrs[0]);
    const double rhs = dot(*conv.bottom.ptrs[0], up);
    EXPECT_NEAR(lhs, rhs, 1e-4 * std::max(1.0, std::fabs(lhs)));
  }
}

TEST_P(DeconvolutionEngineTest, Gradients) {
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    ConvCase small = c;
    small.height = 3;
    small.width = 4;
    DeconvFixture f(small.prototxt("Deconvolution", GetParam()), small.bottom_shape());
    test::fill_gaussian(f.bottom.ptrs[0], 4);
    f.setup();
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
  }
}

TEST(DeconvolutionLayerTest, CpuEnginesAgree) {
  if (library_backend(Mode::CPU) == Backend::kCaffe) GTEST_SKIP() << "no oneDNN in this build";
  for (ConvCase c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    c.num = 3, c.height = 9, c.width = 7;
    std::vector<std::unique_ptr<DeconvFixture>> runs;
    for (const char* engine : {"CAFFE", "CUDNN"}) {
      runs.push_back(
          std::make_unique<DeconvFixture>(c.prototxt("Deconvolution", engine), c.bottom_shape()));
      DeconvFixture& f = *runs.back();
      test::fill_gaussian(f.bottom.ptrs[0], 21);
      f.setup();
      f.forward();
      test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 22);
      f.layer->Backward(f.top.ptrs, {true}, f.bottom.ptrs);
    }
    const DeconvFixture &ours = *runs[0], &library = *runs[1];
    test::expect_near_values(ours.output().cpu_data(), library.output().cpu_data(),
                             ours.output().count(), 1e-4f, "y");
    test::expect_near_values(ours.bottom.ptrs[0]->cpu_diff(), library.bottom.ptrs[0]->cpu_diff(),
                             ours.bottom.ptrs[0]->count(), 1e-4f, "dx");
    for (size_t j = 0; j < ours.layer->blobs().size(); ++j) {
      test::expect_near_values(
          ours.layer->blobs()[j]->cpu_diff(), library.layer->blobs()[j]->cpu_diff(),
          ours.layer->blobs()[j]->count(), 1e-4f, "param diff " + std::to_string(j));
    }
  }
}

class DeconvolutionGpuTest : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Engines, DeconvolutionGpuTest,
                         ::testing::Values("CAFFE", "CUDNN", "DEFAULT"));

TEST_P(DeconvolutionGpuTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  if (GetParam() == "CUDNN" && library_backend(Mode::GPU) == Backend::kCaffe) {
    GTEST_SKIP() << "no cuDNN in this build";
  }
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    test::check_gpu_matches_cpu(
        c.prototxt("Deconvolution", GetParam()), {c.bottom_shape()},
        [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 13); }, 1e-4f);
  }
}

TEST(DeconvolutionLayerTest, PaddingThatLeavesNoOutputIsAnError) {
  expect_error(
      [] {
        DeconvFixture f(
            "name: 'd1' type: 'Deconvolution' convolution_param { num_output: 1 "
            "kernel_size: 2 pad: 2 }",
            {1, 1, 1, 3});
        f.setup();
      },
      {"layer 'd1' (Deconvolution)", "output height would be -2"});
}

TEST(DeconvolutionLayerTest, GroupMustDivideChannelsAndNumOutput) {
  expect_error(
      [] {
        DeconvFixture f(
            "name: 'd2' type: 'Deconvolution' convolution_param { num_output: 6 "
            "kernel_size: 2 group: 4 }",
            {1, 8, 3, 3});
        f.setup();
      },
      {"layer 'd2' (Deconvolution)", "group 4 does not divide num_output 6"});
}

TEST(DeconvolutionLayerTest, LoadedWeightsOfTheWrongShapeAreAnError) {
  // Convolution's layout [M, C, kh, kw] where Deconvolution needs [C, M, kh, kw].
  LayerParameter param = test::layer_param(
      "name: 'd3' type: 'Deconvolution' convolution_param { num_output: 4 kernel_size: 3 "
      "bias_term: false }");
  Blob(std::vector<int>{4, 2, 3, 3}).ToProto(param.add_blobs());
  auto layer = LayerRegistry::Create(param);
  test::BlobSet bottom, top;
  bottom.add({1, 2, 5, 5});
  top.add({});
  expect_error([&] { layer->SetUp(bottom.ptrs, top.ptrs); },
               {"layer 'd3' (Deconvolution)", "blob 0 (weights)", "4 2 3 3", "2 4 3 3"});
}

}  // namespace
}  // namespace caffe
