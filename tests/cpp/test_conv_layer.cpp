// Convolution: BVLC's semantics (cross-correlation, weight layout [M, C/G, kh, kw], output size
// rule) on every engine, gradients, engines against each other, GPU against CPU, and errors.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "caffe/core/net.hpp"
#include "caffe/layers/conv_layer.hpp"
#include "tests/cpp/conv_test_util.hpp"

namespace caffe {
namespace {

using test::ConvCase;
using test::expect_error;
using test::set_values;

// A Convolution layer with engine `engine`, set up on one bottom of `shape`.
struct ConvFixture {
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  ConvFixture(const std::string& prototxt, const std::vector<int>& shape)
      : layer(test::make_layer(prototxt)) {
    bottom.add(shape);
    top.add({});
  }
  void setup() { layer->SetUp(bottom.ptrs, top.ptrs); }
  void forward() { layer->Forward(bottom.ptrs, top.ptrs); }
  Blob& weights() { return *layer->blobs()[0]; }
  Blob& bias() { return *layer->blobs()[1]; }
  const Blob& output() const { return *top.ptrs[0]; }
};

class ConvolutionEngineTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string conv(const std::string& settings) const {
    return "name: 'conv' type: 'Convolution' convolution_param { " + settings +
           " engine: " + GetParam() + " }";
  }
};

INSTANTIATE_TEST_SUITE_P(Engines, ConvolutionEngineTest, ::testing::ValuesIn(test::cpu_engines()));

// x = 1..9 as 3x3, w = [[1 2] [3 4]], b = 0.5: a cross-correlation (no kernel flip) gives
// y[i][j] = x[i][j] + 2 x[i][j+1] + 3 x[i+1][j] + 4 x[i+1][j+1] + 0.5.
TEST_P(ConvolutionEngineTest, ForwardIsCrossCorrelation) {
  ConvFixture f(conv("num_output: 1 kernel_size: 2"), {1, 1, 3, 3});
  f.setup();
  EXPECT_EQ(f.weights().shape(), (std::vector<int>{1, 1, 2, 2}));
  EXPECT_EQ(f.bias().shape(), (std::vector<int>{1}));
  set_values(f.bottom.ptrs[0], {1, 2, 3, 4, 5, 6, 7, 8, 9});
  set_values(&f.weights(), {1, 2, 3, 4});
  set_values(&f.bias(), {0.5f});
  f.forward();
  EXPECT_EQ(f.output().shape(), (std::vector<int>{1, 1, 2, 2}));
  test::expect_near_all({37.5f, 47.5f, 67.5f, 77.5f}, f.output(), 1e-5f, "y");
}

// Weights [M, C, 1, 1] = [[1 10] [100 1000]]: output m mixes the inputs with row m.
TEST_P(ConvolutionEngineTest, WeightsAreOutputMajor) {
  ConvFixture f(conv("num_output: 2 kernel_size: 1 bias_term: false"), {1, 2, 1, 2});
  f.setup();
  ASSERT_EQ(f.layer->blobs().size(), 1u);
  EXPECT_EQ(f.weights().shape(), (std::vector<int>{2, 2, 1, 1}));
  set_values(f.bottom.ptrs[0], {1, 2, 3, 4});  // channel 0: 1 2, channel 1: 3 4
  set_values(&f.weights(), {1, 10, 100, 1000});
  f.forward();
  test::expect_near_all({31, 42, 3100, 4200}, f.output(), 1e-5f, "y");
}

// Group 2: output channel m sees input channels of group m / (M/G) only; weights [M, C/G, ..].
TEST_P(ConvolutionEngineTest, GroupsSeeTheirOwnChannels) {
  ConvFixture f(conv("num_output: 4 kernel_size: 1 group: 2 bias_term: false"), {1, 4, 1, 1});
  f.setup();
  EXPECT_EQ(f.weights().shape(), (std::vector<int>{4, 2, 1, 1}));
  set_values(f.bottom.ptrs[0], {1, 2, 3, 4});
  set_values(&f.weights(), {1, 10, 2, 20, 3, 30, 4, 40});
  f.forward();
  // m = 0, 1 use channels 0, 1 (values 1, 2); m = 2, 3 use channels 2, 3 (values 3, 4).
  test::expect_near_all({21, 42, 129, 172}, f.output(), 1e-5f, "y");
}

// 4x4 input 1..16, a 2x2 kernel with dilation 2, pad 1, stride 2: output (4 + 2 - 3) / 2 + 1 = 2
// (floor), computed by hand from the definition.
TEST_P(ConvolutionEngineTest, PadStrideDilationByHand) {
  ConvFixture f(conv("num_output: 1 kernel_size: 2 pad: 1 stride: 2 dilation: 2 bias_term: false"),
                {1, 1, 4, 4});
  f.setup();
  std::vector<float> x(16);
  for (int i = 0; i < 16; ++i) x[i] = i + 1.0f;
  set_values(f.bottom.ptrs[0], x);
  set_values(&f.weights(), {1, -1, 2, 0.5f});
  f.forward();
  EXPECT_EQ(f.output().shape(), (std::vector<int>{1, 1, 2, 2}));
  test::expect_near_all({3, 16, 1, 34}, f.output(), 1e-5f, "y");
}

// A 1x3 kernel with stride_w 2 and pad_w 1 over 3x4 (rows 1..4, 5..8, 9..12).
TEST_P(ConvolutionEngineTest, RectangularKernelByHand) {
  ConvFixture f(conv("num_output: 1 kernel_h: 1 kernel_w: 3 pad_h: 0 pad_w: 1 stride_h: 1 "
                     "stride_w: 2 bias_term: false"),
                {1, 1, 3, 4});
  f.setup();
  std::vector<float> x(12);
  for (int i = 0; i < 12; ++i) x[i] = i + 1.0f;
  set_values(f.bottom.ptrs[0], x);
  set_values(&f.weights(), {1, 2, -1});
  f.forward();
  EXPECT_EQ(f.output().shape(), (std::vector<int>{1, 1, 3, 2}));
  test::expect_near_all({0, 4, 4, 12, 8, 20}, f.output(), 1e-5f, "y");
}

TEST_P(ConvolutionEngineTest, MatchesTheDefinition) {
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    ConvFixture f(c.prototxt("Convolution", GetParam()), c.bottom_shape());
    test::fill_gaussian(f.bottom.ptrs[0], 3);
    f.setup();
    f.forward();
    std::vector<int> shape;
    const std::vector<float> expected =
        test::reference_conv(c, f.bottom.ptrs[0]->cpu_data(), f.weights().cpu_data(),
                             c.bias ? f.bias().cpu_data() : nullptr, /*transposed=*/false, &shape);
    EXPECT_EQ(f.output().shape(), shape);
    test::expect_near_all(expected, f.output(), 1e-4f, "y");
  }
}

TEST_P(ConvolutionEngineTest, Gradients) {
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    ConvCase small = c;
    small.num = 2;
    small.channels = 4;
    ConvFixture f(small.prototxt("Convolution", GetParam()), small.bottom_shape());
    test::fill_gaussian(f.bottom.ptrs[0], 4);
    f.setup();
    test::check_gradients(*f.layer, f.bottom.ptrs, f.top.ptrs);
  }
}

// Several bottoms share the weights; each gets its own top, and the parameter gradients sum.
TEST_P(ConvolutionEngineTest, BottomsShareWeightsAndGradientsSum) {
  auto layer =
      test::make_layer(conv("num_output: 3 kernel_size: 2 pad: 1 "
                            "weight_filler { type: 'gaussian' } "
                            "bias_filler { type: 'gaussian' }"));
  test::BlobSet bottom, top;
  test::fill_gaussian(bottom.add({2, 2, 3, 3}), 5);
  test::fill_gaussian(bottom.add({2, 2, 3, 3}), 6);
  top.add({});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(top.ptrs[1]->shape(), (std::vector<int>{2, 3, 4, 4}));
  test::check_gradients(*layer, bottom.ptrs, top.ptrs);
}

// axis 2: the axes before the channel axis are all images.
TEST_P(ConvolutionEngineTest, AxisFoldsLeadingAxesIntoTheBatch) {
  ConvCase c;
  c.num = 6;
  c.axis = 2;
  ConvFixture f(c.prototxt("Convolution", GetParam()), {2, 3, c.channels, c.height, c.width});
  test::fill_gaussian(f.bottom.ptrs[0], 7);
  f.setup();
  f.forward();
  std::vector<int> shape;
  const std::vector<float> expected = test::reference_conv(
      c, f.bottom.ptrs[0]->cpu_data(), f.weights().cpu_data(), f.bias().cpu_data(), false, &shape);
  EXPECT_EQ(f.output().shape(), (std::vector<int>{2, 3, shape[1], shape[2], shape[3]}));
  test::expect_near_all(expected, f.output(), 1e-4f, "y");
}

TEST_P(ConvolutionEngineTest, PropagateDownAndParamFlags) {
  ConvCase c;
  ConvFixture f(c.prototxt("Convolution", GetParam()), c.bottom_shape());
  test::fill_gaussian(f.bottom.ptrs[0], 8);
  f.setup();
  f.forward();
  test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 9);
  const float untouched = 7.0f;
  Blob& x = *f.bottom.ptrs[0];
  std::fill(x.mutable_cpu_diff(), x.mutable_cpu_diff() + x.count(), untouched);
  for (auto& blob : f.layer->blobs()) {
    std::fill(blob->mutable_cpu_diff(), blob->mutable_cpu_diff() + blob->count(), untouched);
  }
  f.layer->set_param_propagate_down(0, false);
  f.layer->Backward(f.top.ptrs, {false}, f.bottom.ptrs);
  EXPECT_EQ(x.cpu_diff()[0], untouched);
  EXPECT_EQ(f.weights().cpu_diff()[0], untouched);
  EXPECT_NE(f.bias().cpu_diff()[0], untouched);  // accumulated onto the 7
}

// Parameter gradients add to the diffs (a second backward doubles them); the bottom gradient
// is overwritten.
TEST_P(ConvolutionEngineTest, ParamGradientsAccumulateBottomGradientIsOverwritten) {
  ConvCase c;
  c.pad_h = 1;
  ConvFixture f(c.prototxt("Convolution", GetParam()), c.bottom_shape());
  test::fill_gaussian(f.bottom.ptrs[0], 10);
  f.setup();
  f.forward();
  test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 11);
  const auto diff_of = [](const Blob& blob) {
    return std::vector<float>(blob.cpu_diff(), blob.cpu_diff() + blob.count());
  };
  f.layer->Backward(f.top.ptrs, {true}, f.bottom.ptrs);
  const std::vector<float> dx = diff_of(*f.bottom.ptrs[0]);
  const std::vector<float> dw = diff_of(f.weights()), db = diff_of(f.bias());
  f.layer->Backward(f.top.ptrs, {true}, f.bottom.ptrs);
  const auto doubled = [](std::vector<float> values) {
    for (float& v : values) v *= 2;
    return values;
  };
  test::expect_near_values(dx.data(), f.bottom.ptrs[0]->cpu_diff(), f.bottom.ptrs[0]->count(),
                           1e-6f, "dx");
  test::expect_near_values(doubled(dw).data(), f.weights().cpu_diff(), f.weights().count(), 1e-5f,
                           "dw");
  test::expect_near_values(doubled(db).data(), f.bias().cpu_diff(), f.bias().count(), 1e-5f, "db");
}

TEST_P(ConvolutionEngineTest, EmptyBatch) {
  ConvCase c;
  ConvFixture f(c.prototxt("Convolution", GetParam()), {0, c.channels, c.height, c.width});
  f.setup();
  f.forward();
  EXPECT_EQ(f.output().shape(), (std::vector<int>{0, 6, 3, 4}));
  f.layer->Backward(f.top.ptrs, {true}, f.bottom.ptrs);
}

// A new input size re-plans the engine (oneDNN primitives are built per shape).
TEST_P(ConvolutionEngineTest, ReshapeToANewInputSize) {
  ConvCase c;
  ConvFixture f(c.prototxt("Convolution", GetParam()), c.bottom_shape());
  f.setup();
  for (int height : {7, 4}) {
    c.height = height;
    f.bottom.ptrs[0]->Reshape(c.bottom_shape());
    test::fill_gaussian(f.bottom.ptrs[0], height);
    f.forward();
    std::vector<int> shape;
    const std::vector<float> expected =
        test::reference_conv(c, f.bottom.ptrs[0]->cpu_data(), f.weights().cpu_data(),
                             f.bias().cpu_data(), false, &shape);
    test::expect_near_all(expected, f.output(), 1e-4f, "y after reshape");
  }
}

// ---- engines against each other ----

// Forward and all gradients of CAFFE and the CPU library on larger shapes, to 1e-4 relative.
TEST(ConvolutionLayerTest, CpuEnginesAgree) {
  if (library_backend(Mode::CPU) == Backend::kCaffe) GTEST_SKIP() << "no oneDNN in this build";
  std::vector<ConvCase> cases = test::varied_cases();
  for (ConvCase& c : cases) {
    c.num = 3, c.channels = 8, c.height = 13, c.width = 11;
    c.num_output = c.group == 4 ? 8 : 12;
    if (c.group == 4) c.group = 8;  // depthwise
  }
  for (const ConvCase& c : cases) {
    SCOPED_TRACE(test::describe(c));
    struct Run {
      ConvFixture f;
      explicit Run(const ConvCase& c, const std::string& engine)
          : f(c.prototxt("Convolution", engine), c.bottom_shape()) {
        test::fill_gaussian(f.bottom.ptrs[0], 11);
        f.setup();
        f.forward();
        test::fill_gaussian(f.top.ptrs[0]->mutable_cpu_diff(), f.top.ptrs[0]->count(), 12);
        f.layer->Backward(f.top.ptrs, {true}, f.bottom.ptrs);
      }
    };
    Run ours(c, "CAFFE"), library(c, "CUDNN");
    const auto expect_same = [](const Blob& expected, const Blob& actual, bool diff,
                                const std::string& what) {
      ASSERT_EQ(expected.shape(), actual.shape()) << what;
      test::expect_near_values(diff ? expected.cpu_diff() : expected.cpu_data(),
                               diff ? actual.cpu_diff() : actual.cpu_data(), expected.count(),
                               1e-4f, what);
    };
    expect_same(ours.f.output(), library.f.output(), false, "y");
    expect_same(*ours.f.bottom.ptrs[0], *library.f.bottom.ptrs[0], true, "dx");
    for (size_t j = 0; j < ours.f.layer->blobs().size(); ++j) {
      expect_same(*ours.f.layer->blobs()[j], *library.f.layer->blobs()[j], true,
                  "param diff " + std::to_string(j));
    }
  }
}

// oneDNN primitives are planned for a thread count: a change of the framework's thread count
// rebuilds them, with the same results.
TEST(ConvolutionLayerTest, OneDnnFollowsTheThreadCount) {
  if (library_backend(Mode::CPU) == Backend::kCaffe) GTEST_SKIP() << "no oneDNN in this build";
  ConvCase c;
  c.num = 4;
  ConvFixture f(c.prototxt("Convolution", "CUDNN"), c.bottom_shape());
  test::fill_gaussian(f.bottom.ptrs[0], 12);
  f.setup();
  const int threads = blas_threads();
  std::vector<std::vector<float>> outputs;
  for (int count : {1, 2}) {
    set_blas_threads(count);
    f.forward();
    outputs.emplace_back(f.output().cpu_data(), f.output().cpu_data() + f.output().count());
  }
  set_blas_threads(threads);
  test::expect_near_values(outputs[0].data(), outputs[1].data(), f.output().count(), 1e-6f, "y");
}

TEST(ConvolutionLayerTest, EngineFieldResolvesPerDevice) {
  const auto backend_of = [](const std::string& engine) {
    ConvFixture f(ConvCase().prototxt("Convolution", engine), ConvCase().bottom_shape());
    f.setup();
    return static_cast<const BaseConvolutionLayer&>(*f.layer).backend(Mode::CPU);
  };
  EXPECT_EQ(backend_of("CAFFE"), Backend::kCaffe);
  EXPECT_EQ(backend_of("CUDNN"), library_backend(Mode::CPU));
  // DEFAULT: the library on the CPU where the benchmark showed that it pays (it does here).
  EXPECT_EQ(backend_of("DEFAULT"), library_backend(Mode::CPU));
}

// ---- GPU against CPU ----

class ConvolutionGpuTest : public ::testing::TestWithParam<std::string> {};
INSTANTIATE_TEST_SUITE_P(Engines, ConvolutionGpuTest,
                         ::testing::Values("CAFFE", "CUDNN", "DEFAULT"));

TEST_P(ConvolutionGpuTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  if (GetParam() == "CUDNN" && library_backend(Mode::GPU) == Backend::kCaffe) {
    GTEST_SKIP() << "no cuDNN in this build";
  }
  for (const ConvCase& c : test::varied_cases()) {
    SCOPED_TRACE(test::describe(c));
    test::check_gpu_matches_cpu(
        c.prototxt("Convolution", GetParam()), {c.bottom_shape()},
        [](BlobVec& bottom) { test::fill_gaussian(bottom[0], 13); }, 1e-4f);
  }
}

// ---- errors ----

std::string setup_error(const std::string& prototxt, const std::vector<int>& shape) {
  ConvFixture f(prototxt, shape);
  return test::error_of([&] { f.setup(); });
}

TEST(ConvolutionLayerTest, KernelLargerThanPaddedInputIsAnError) {
  const std::string message = setup_error(
      "name: 'c1' type: 'Convolution' convolution_param { num_output: 2 kernel_h: 3 kernel_w: 6 "
      "pad_w: 1 }",
      {1, 1, 5, 3});
  for (const char* part :
       {"layer 'c1' (Convolution)", "kernel width 6", "padded input width 5", "3 + 2 x pad 1"}) {
    EXPECT_NE(message.find(part), std::string::npos) << part << " missing in: " << message;
  }
}

TEST(ConvolutionLayerTest, DilatedKernelLargerThanInputIsAnError) {
  const std::string message = setup_error(
      "name: 'c1' type: 'Convolution' convolution_param { num_output: 2 kernel_size: 3 "
      "dilation: 3 }",
      {1, 1, 6, 8});
  EXPECT_NE(message.find("extent 7 with dilation 3"), std::string::npos) << message;
  EXPECT_NE(message.find("height 6"), std::string::npos) << message;
}

TEST(ConvolutionLayerTest, GroupMustDivideChannelsAndNumOutput) {
  std::string message = setup_error(
      "name: 'c2' type: 'Convolution' convolution_param { num_output: 4 kernel_size: 1 group: 2 }",
      {1, 3, 4, 4});
  EXPECT_NE(message.find("layer 'c2' (Convolution)"), std::string::npos) << message;
  EXPECT_NE(message.find("group 2 does not divide the 3 input channels"), std::string::npos)
      << message;
  message = setup_error(
      "name: 'c2' type: 'Convolution' convolution_param { num_output: 5 kernel_size: 1 group: 2 }",
      {1, 4, 4, 4});
  EXPECT_NE(message.find("group 2 does not divide num_output 5"), std::string::npos) << message;
}

TEST(ConvolutionLayerTest, OnlyTwoSpatialAxes) {
  expect_error(
      [] {
        ConvFixture f(
            "name: 'c3' type: 'Convolution' convolution_param { num_output: 1 "
            "kernel_size: 1 }",
            {1, 2, 3, 4, 5});
        f.setup();
      },
      {"layer 'c3' (Convolution)", "2 spatial axes", "2 3 4 5", "has 3"});
}

TEST(ConvolutionLayerTest, ParameterErrors) {
  const std::vector<int> shape = {1, 2, 5, 5};
  const auto message_of = [&](const std::string& settings) {
    return setup_error("name: 'c4' type: 'Convolution' convolution_param { " + settings + " }",
                       shape);
  };
  EXPECT_NE(message_of("kernel_size: 3").find("num_output must be a positive number"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2").find("needs kernel_size"), std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_size: 3 kernel_h: 3 kernel_w: 3")
                .find("both kernel_size and kernel_h/kernel_w"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_h: 3").find("both kernel_h and kernel_w"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_size: 1 kernel_size: 2 kernel_size: 3")
                .find("kernel_size has 3 values"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_size: 3 stride: 0").find("stride height"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_size: 3 dilation: 0").find("dilation height"),
            std::string::npos);
  EXPECT_NE(message_of("num_output: 2 kernel_size: 3 group: 0").find("group must be"),
            std::string::npos);
}

TEST(ConvolutionLayerTest, ReshapeErrors) {
  ConvFixture f("name: 'c5' type: 'Convolution' convolution_param { num_output: 2 kernel_size: 3 }",
                {1, 2, 5, 5});
  f.setup();
  f.bottom.ptrs[0]->Reshape({1, 3, 5, 5});
  expect_error([&] { f.forward(); }, {"layer 'c5'", "3 channels", "set up for 2"});
  f.bottom.ptrs[0]->Reshape({1, 2, 2, 5});
  expect_error([&] { f.forward(); }, {"layer 'c5'", "kernel height 3", "padded input height 2"});
}

TEST(ConvolutionLayerTest, InPlaceIsAnError) {
  auto layer = test::make_layer(
      "name: 'c6' type: 'Convolution' convolution_param { num_output: 2 kernel_size: 1 }");
  test::BlobSet blobs;
  blobs.add({1, 2, 3, 3});
  expect_error([&] { layer->SetUp(blobs.ptrs, blobs.ptrs); }, {"layer 'c6'", "in place"});
}

// Weights that come with the layer (LayerParameter.blobs) are checked against the settings.
TEST(ConvolutionLayerTest, LoadedWeightsOfTheWrongShapeAreAnError) {
  LayerParameter param = test::layer_param(
      "name: 'c7' type: 'Convolution' convolution_param { num_output: 4 kernel_size: 3 }");
  Blob(std::vector<int>{4, 2, 3, 2}).ToProto(param.add_blobs());
  Blob(std::vector<int>{4}).ToProto(param.add_blobs());
  auto layer = LayerRegistry::Create(param);
  test::BlobSet bottom, top;
  bottom.add({1, 2, 5, 5});
  top.add({});
  expect_error([&] { layer->SetUp(bottom.ptrs, top.ptrs); },
               {"layer 'c7' (Convolution)", "blob 0 (weights)", "4 2 3 2", "4 2 3 3"});
}

TEST(ConvolutionLayerTest, LoadedLegacyBiasShapeIsAccepted) {
  LayerParameter param = test::layer_param(
      "name: 'c8' type: 'Convolution' convolution_param { num_output: 2 kernel_size: 1 }");
  Blob(std::vector<int>{2, 3, 1, 1}).ToProto(param.add_blobs());
  Blob(std::vector<int>{1, 1, 1, 2}).ToProto(param.add_blobs());
  auto layer = LayerRegistry::Create(param);
  test::BlobSet bottom, top;
  bottom.add({1, 3, 2, 2});
  top.add({});
  layer->SetUp(bottom.ptrs, top.ptrs);
  EXPECT_EQ(layer->blobs()[1]->shape(), (std::vector<int>{2}));
}

// A .caffemodel whose convolution weights do not fit the net: Net names the layer, the blob
// index and both shapes.
TEST(ConvolutionLayerTest, CaffemodelWithWrongWeightShapeIsAnError) {
  const std::string prototxt = R"(
    layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 1 dim: 3 dim: 8 dim: 8 } } }
    layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1'
            convolution_param { num_output: 4 kernel_size: 3 } })";
  NetParameter net_param;
  read_proto_from_text(prototxt, "<test net>", &net_param);
  Net net(net_param);
  NetParameter trained;
  net.ToProto(&trained);
  BlobProto* weights = trained.mutable_layer(1)->mutable_blobs(0);
  Blob(std::vector<int>{4, 3, 5, 5}).ToProto(weights);
  expect_error([&] { net.CopyTrainedLayersFrom(trained); },
               {"layer 'conv1' blob 0", "4 3 5 5", "4 3 3 3"});
}

}  // namespace
}  // namespace caffe
