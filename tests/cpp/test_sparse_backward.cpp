// The sparse backward of Convolution and InnerProduct (caffe/util/sparse_backward.hpp): with the
// sparse path forced on and off, the bottom gradient, the (accumulated) weight gradient and the
// bias gradient agree to float rounding, at top-gradient densities from 0.001 to 0.9, on odd
// shapes, groups, strides, dilation, padding, non-square and 1x1 kernels, several bottoms,
// InnerProduct axes and transposed weights.  The device kernels are checked on the host against
// the dense engine, and on the GPU against the CPU where one is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "caffe/layers/conv_im2col.hpp"
#include "caffe/util/sparse_backward.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

constexpr float kPrefilledParamDiff = 0.25f;  // parameter gradients must accumulate onto it
constexpr float kUntouched = -7.0f;           // a bottom gradient that must not be written
const double kDensities[] = {0.001, 0.01, 0.1, 0.3, 0.6, 0.9};

// Sets the policy for a scope.
class PolicyScope {
 public:
  explicit PolicyScope(SparseBackwardPolicy policy) : previous_(sparse_backward_policy()) {
    set_sparse_backward_policy(policy);
  }
  ~PolicyScope() { set_sparse_backward_policy(previous_); }
  PolicyScope(const PolicyScope&) = delete;
  PolicyScope& operator=(const PolicyScope&) = delete;

 private:
  SparseBackwardPolicy previous_;
};

// Gaussian values, each kept with probability `density` and zero otherwise.
void fill_sparse(float* values, long long count, double density, uint64_t seed) {
  std::mt19937_64 engine(seed);
  std::uniform_real_distribution<double> keep(0.0, 1.0);
  std::normal_distribution<float> value(0.0f, 1.0f);
  for (long long i = 0; i < count; ++i) {
    const float v = value(engine);
    values[i] = keep(engine) < density ? v : 0.0f;
  }
}

// Relative agreement, absolute below 1: the paths sum in different orders.
void expect_close(const std::vector<float>& dense, const std::vector<float>& sparse,
                  const std::string& what) {
  ASSERT_EQ(dense.size(), sparse.size()) << what;
  for (size_t i = 0; i < dense.size(); ++i) {
    const float scale = std::max({1.0f, std::fabs(dense[i]), std::fabs(sparse[i])});
    ASSERT_NEAR(dense[i], sparse[i], 2e-5f * scale) << what << " element " << i;
  }
}

std::vector<float> diff_of(const Blob& blob) {
  return {blob.cpu_diff(), blob.cpu_diff() + blob.count()};
}

struct Gradients {
  std::vector<std::vector<float>> bottoms;  // per bottom
  std::vector<std::vector<float>> params;   // per parameter blob
};

struct LayerCase {
  std::string prototxt;
  std::vector<int> bottom_shape;
  int bottoms = 1;
};

// Forward + backward of the layer of `c` in `mode` with the policy `policy`: inputs from fixed
// seeds, top gradients of `density`, parameter gradients prefilled, bottom gradients computed
// where `propagate_down` says and left at kUntouched elsewhere.
Gradients run_layer(const LayerCase& c, double density, SparseBackwardPolicy policy,
                    Mode mode = Mode::CPU, const std::vector<bool>& propagate_down = {},
                    bool weight_gradient = true) {
  PolicyScope scope(policy);
  test::BlobSet bottom, top;
  for (int b = 0; b < c.bottoms; ++b) {
    test::fill_gaussian(bottom.add(c.bottom_shape), 11 + b);
    top.add({});
  }
  auto layer = test::make_layer(c.prototxt);
  layer->SetUp(bottom.ptrs, top.ptrs);
  for (const auto& param : layer->blobs()) {
    std::fill(param->mutable_cpu_diff(), param->mutable_cpu_diff() + param->count(),
              kPrefilledParamDiff);
  }
  if (!weight_gradient) layer->set_param_propagate_down(0, false);
  for (Blob* x : bottom.ptrs) {
    std::fill(x->mutable_cpu_diff(), x->mutable_cpu_diff() + x->count(), kUntouched);
  }
  set_mode(mode);
  layer->Forward(bottom.ptrs, top.ptrs);
  for (size_t t = 0; t < top.ptrs.size(); ++t) {
    Blob* y = top.ptrs[t];
    fill_sparse(y->mutable_cpu_diff(), y->count(), density, 29 + t);
  }
  const std::vector<bool> down =
      propagate_down.empty() ? std::vector<bool>(bottom.ptrs.size(), true) : propagate_down;
  layer->Backward(top.ptrs, down, bottom.ptrs);
  set_mode(Mode::CPU);
  Gradients result;
  for (Blob* x : bottom.ptrs) result.bottoms.push_back(diff_of(*x));
  for (const auto& param : layer->blobs()) result.params.push_back(diff_of(*param));
  return result;
}

void expect_same_gradients(const Gradients& dense, const Gradients& sparse,
                           const std::string& what) {
  for (size_t b = 0; b < dense.bottoms.size(); ++b) {
    expect_close(dense.bottoms[b], sparse.bottoms[b], what + ", bottom " + std::to_string(b));
  }
  for (size_t p = 0; p < dense.params.size(); ++p) {
    expect_close(dense.params[p], sparse.params[p], what + ", param " + std::to_string(p));
  }
}

void expect_sparse_matches_dense(const LayerCase& c) {
  for (double density : kDensities) {
    const std::string what = c.prototxt + " at density " + std::to_string(density);
    expect_same_gradients(run_layer(c, density, SparseBackwardPolicy::kNever),
                          run_layer(c, density, SparseBackwardPolicy::kAlways), what);
  }
}

std::string conv(const std::string& settings, const std::string& engine = "CAFFE") {
  return "name: 'conv' type: 'Convolution' convolution_param { " + settings + " engine: " + engine +
         " weight_filler { type: 'gaussian' std: 0.5 } bias_filler { type: 'gaussian' } }";
}

TEST(SparseBackwardTest, ConvolutionOddShapeWithPadding) {
  expect_sparse_matches_dense({conv("num_output: 6 kernel_size: 3 pad: 1"), {3, 5, 7, 9}});
}

TEST(SparseBackwardTest, ConvolutionOnEveryEngine) {
  for (const char* engine : {"DEFAULT", "CAFFE"}) {
    expect_sparse_matches_dense(
        {conv("num_output: 4 kernel_size: 3 stride: 2 pad: 1", engine), {2, 3, 8, 8}});
  }
}

TEST(SparseBackwardTest, ConvolutionGroupsStrideDilationNonSquare) {
  expect_sparse_matches_dense(
      {conv("num_output: 6 kernel_h: 3 kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 pad_w: 0 "
            "dilation: 2 group: 3"),
       {2, 9, 11, 8}});
}

TEST(SparseBackwardTest, ConvolutionLargePaddingAndStride) {
  expect_sparse_matches_dense(
      {conv("num_output: 5 kernel_size: 4 stride: 3 pad: 3 bias_term: false"), {2, 3, 10, 7}});
}

TEST(SparseBackwardTest, ConvolutionDepthwise) {
  expect_sparse_matches_dense({conv("num_output: 8 kernel_size: 3 pad: 1 group: 8"), {3, 8, 6, 6}});
}

TEST(SparseBackwardTest, ConvolutionPointwise) {
  expect_sparse_matches_dense({conv("num_output: 7 kernel_size: 1"), {2, 5, 6, 5}});
  expect_sparse_matches_dense(
      {conv("num_output: 6 kernel_size: 1 stride: 2 group: 2"), {2, 4, 7, 7}});
}

TEST(SparseBackwardTest, ConvolutionOnePixelImages) {
  expect_sparse_matches_dense({conv("num_output: 5 kernel_size: 1"), {6, 9, 1, 1}});
}

TEST(SparseBackwardTest, ConvolutionSeveralBottomsAccumulateIntoSharedWeights) {
  LayerCase c{conv("num_output: 4 kernel_size: 3"), {2, 3, 6, 6}};
  c.bottoms = 2;
  expect_sparse_matches_dense(c);
}

TEST(SparseBackwardTest, ConvolutionWithoutBottomGradient) {
  const LayerCase c{conv("num_output: 4 kernel_size: 3 pad: 1"), {2, 3, 6, 5}};
  for (double density : {0.05, 0.5}) {
    const Gradients dense = run_layer(c, density, SparseBackwardPolicy::kNever, Mode::CPU, {false});
    const Gradients sparse =
        run_layer(c, density, SparseBackwardPolicy::kAlways, Mode::CPU, {false});
    expect_same_gradients(dense, sparse, "propagate_down false");
    for (float value : sparse.bottoms[0]) ASSERT_EQ(value, kUntouched);
  }
}

TEST(SparseBackwardTest, ConvolutionWithoutWeightGradient) {
  const LayerCase c{conv("num_output: 4 kernel_size: 3 pad: 1"), {2, 3, 6, 5}};
  const Gradients dense = run_layer(c, 0.2, SparseBackwardPolicy::kNever, Mode::CPU, {}, false);
  const Gradients sparse = run_layer(c, 0.2, SparseBackwardPolicy::kAlways, Mode::CPU, {}, false);
  expect_same_gradients(dense, sparse, "weights fixed");
  for (float value : sparse.params[0]) ASSERT_EQ(value, kPrefilledParamDiff);
}

TEST(SparseBackwardTest, ConvolutionAllZeroTopGradient) {
  const LayerCase c{conv("num_output: 3 kernel_size: 3"), {2, 2, 5, 5}};
  const Gradients sparse = run_layer(c, 0.0, SparseBackwardPolicy::kAlways);
  for (float value : sparse.bottoms[0]) ASSERT_EQ(value, 0.0f);
  for (const auto& param : sparse.params) {
    for (float value : param) ASSERT_EQ(value, kPrefilledParamDiff);
  }
}

TEST(SparseBackwardTest, DeconvolutionStaysCorrect) {
  expect_sparse_matches_dense(
      {"name: 'deconv' type: 'Deconvolution' convolution_param { num_output: 4 kernel_size: 3 "
       "stride: 2 pad: 1 group: 2 weight_filler { type: 'gaussian' } bias_filler { type: "
       "'gaussian' } }",
       {2, 6, 5, 4}});
}

std::string inner_product(const std::string& settings) {
  return "name: 'ip' type: 'InnerProduct' inner_product_param { " + settings +
         " weight_filler { type: 'gaussian' } bias_filler { type: 'gaussian' } }";
}

TEST(SparseBackwardTest, InnerProduct) {
  expect_sparse_matches_dense({inner_product("num_output: 7"), {5, 3, 2, 3}});
}

TEST(SparseBackwardTest, InnerProductTransposed) {
  expect_sparse_matches_dense({inner_product("num_output: 9 transpose: true"), {4, 13}});
}

TEST(SparseBackwardTest, InnerProductAxis) {
  expect_sparse_matches_dense({inner_product("num_output: 6 axis: 2"), {3, 4, 5}});
  expect_sparse_matches_dense({inner_product("num_output: 6 axis: 2 transpose: true "
                                             "bias_term: false"),
                               {3, 4, 5}});
}

TEST(SparseBackwardTest, InnerProductWithoutBottomGradient) {
  const LayerCase c{inner_product("num_output: 5 transpose: true"), {6, 8}};
  const Gradients dense = run_layer(c, 0.1, SparseBackwardPolicy::kNever, Mode::CPU, {false});
  const Gradients sparse = run_layer(c, 0.1, SparseBackwardPolicy::kAlways, Mode::CPU, {false});
  expect_same_gradients(dense, sparse, "propagate_down false");
  for (float value : sparse.bottoms[0]) ASSERT_EQ(value, kUntouched);
}

// ----- the device kernels, run on the host, against engine CAFFE -----

struct KernelCase {
  ConvGeometry geometry;
  WeightOrder order = WeightOrder::kConvolution;
};

ConvGeometry geometry(int batch, int channels, int height, int width, int outputs, int group,
                      ConvWindow rows, ConvWindow cols) {
  ConvGeometry g;
  g.batch = batch;
  g.in_channels = channels;
  g.in_h = height;
  g.in_w = width;
  g.out_channels = outputs;
  g.out_h = static_cast<int>(rows.conv_output(height));
  g.out_w = static_cast<int>(cols.conv_output(width));
  g.group = group;
  g.height = rows;
  g.width = cols;
  g.bias = true;
  return g;
}

struct Tensors {
  std::vector<float> x, weights, dy, dx, dweights, dbias;
};

Tensors tensors_for(const ConvGeometry& g, double density) {
  Tensors t;
  t.x.resize(g.batch * g.in_image());
  t.weights.resize(static_cast<size_t>(g.out_channels) * g.group_col_rows());
  t.dy.resize(g.batch * g.out_image());
  test::fill_gaussian(t.x.data(), static_cast<int>(t.x.size()), 3);
  test::fill_gaussian(t.weights.data(), static_cast<int>(t.weights.size()), 4);
  fill_sparse(t.dy.data(), static_cast<long long>(t.dy.size()), density, 5);
  t.dx.assign(t.x.size(), kUntouched);
  t.dweights.assign(t.weights.size(), kPrefilledParamDiff);
  t.dbias.assign(g.out_channels, kPrefilledParamDiff);
  return t;
}

// The dense gradients of engine CAFFE (input-major weights transposed around it).
Tensors dense_reference(const KernelCase& c, double density) {
  Tensors t = tensors_for(c.geometry, density);
  const ConvGeometry& g = c.geometry;
  const bool transposed = c.order == WeightOrder::kInputMajor;
  std::vector<float> weights = t.weights, dweights = t.dweights;
  if (transposed) {  // stored [C, O]: the engine wants [O, C]
    for (int o = 0; o < g.out_channels; ++o) {
      for (int ch = 0; ch < g.in_channels; ++ch) {
        weights[o * g.in_channels + ch] = t.weights[ch * g.out_channels + o];
        dweights[o * g.in_channels + ch] = t.dweights[ch * g.out_channels + o];
      }
    }
  }
  Im2colConvEngine engine(Mode::CPU);
  engine.Configure(g);
  engine.BackwardData(t.dy.data(), weights.data(), t.dx.data());
  engine.BackwardWeights(t.x.data(), t.dy.data(), dweights.data(), t.dbias.data());
  t.dweights = dweights;
  if (transposed) {
    for (int o = 0; o < g.out_channels; ++o) {
      for (int ch = 0; ch < g.in_channels; ++ch) {
        t.dweights[ch * g.out_channels + o] = dweights[o * g.in_channels + ch];
      }
    }
  }
  return t;
}

Tensors sparse_run(const KernelCase& c, double density, SparseConvBackward::Kernels kernels,
                   Mode mode = Mode::CPU) {
  PolicyScope scope(SparseBackwardPolicy::kAlways);
  Tensors t = tensors_for(c.geometry, density);
  SparseConvBackward sparse;
  sparse.Configure(c.geometry, c.order);
  sparse.set_kernels(kernels);
  if (mode == Mode::CPU) {
    EXPECT_TRUE(sparse.Prepare(mode, t.dy.data(), true));
    sparse.Backward(mode, t.x.data(), t.weights.data(), t.dx.data(), t.dweights.data(),
                    t.dbias.data());
    return t;
  }
  Blob x({static_cast<int>(t.x.size())}), weights({static_cast<int>(t.weights.size())}),
      dy({static_cast<int>(t.dy.size())}), dbias({static_cast<int>(t.dbias.size())});
  std::copy(t.x.begin(), t.x.end(), x.mutable_cpu_data());
  std::copy(t.weights.begin(), t.weights.end(), weights.mutable_cpu_data());
  std::copy(t.dweights.begin(), t.dweights.end(), weights.mutable_cpu_diff());
  std::copy(t.dy.begin(), t.dy.end(), dy.mutable_cpu_data());
  std::copy(t.dbias.begin(), t.dbias.end(), dbias.mutable_cpu_diff());
  EXPECT_TRUE(sparse.Prepare(mode, dy.data_on(mode), true));
  sparse.Backward(mode, x.data_on(mode), weights.data_on(mode), x.mutable_diff_on(mode),
                  weights.mutable_diff_on(mode), dbias.mutable_diff_on(mode));
  t.dx.assign(x.cpu_diff(), x.cpu_diff() + x.count());
  t.dweights.assign(weights.cpu_diff(), weights.cpu_diff() + weights.count());
  t.dbias.assign(dbias.cpu_diff(), dbias.cpu_diff() + dbias.count());
  return t;
}

void expect_same_tensors(const Tensors& dense, const Tensors& sparse, const std::string& what) {
  expect_close(dense.dx, sparse.dx, what + ": dx");
  expect_close(dense.dweights, sparse.dweights, what + ": dW");
  expect_close(dense.dbias, sparse.dbias, what + ": db");
}

// The engine computes the bias gradient only for geometries with a bias.
ConvGeometry with_bias(ConvGeometry g) {
  g.bias = true;
  return g;
}

std::vector<KernelCase> kernel_cases() {
  const ConvWindow k3p1{3, 1, 1, 1}, k1{1, 0, 1, 1}, k2s2d2{2, 1, 2, 2}, k3s3p2{3, 2, 3, 1};
  return {
      {geometry(3, 5, 7, 9, 6, 1, k3p1, k3p1)},
      {geometry(2, 6, 9, 8, 4, 2, k2s2d2, k3p1)},
      {geometry(2, 4, 10, 7, 4, 4, k3s3p2, k3p1)},
      {geometry(2, 6, 5, 4, 9, 3, k1, k1)},
      {with_bias(fully_connected_geometry(5, 11, 7))},
      {with_bias(fully_connected_geometry(4, 9, 6)), WeightOrder::kInputMajor},
  };
}

TEST(SparseBackwardTest, DeviceKernelsOnHostMatchDenseEngine) {
  for (const KernelCase& c : kernel_cases()) {
    for (double density : kDensities) {
      expect_same_tensors(dense_reference(c, density),
                          sparse_run(c, density, SparseConvBackward::Kernels::kDevice),
                          "device kernels at density " + std::to_string(density));
    }
  }
}

TEST(SparseBackwardTest, HostKernelsMatchDenseEngine) {
  for (const KernelCase& c : kernel_cases()) {
    for (double density : kDensities) {
      expect_same_tensors(dense_reference(c, density),
                          sparse_run(c, density, SparseConvBackward::Kernels::kForMode),
                          "host kernels at density " + std::to_string(density));
    }
  }
}

TEST(SparseBackwardTest, HostKernelsAreDeterministicAcrossThreadCounts) {
  const KernelCase c{geometry(6, 8, 9, 9, 12, 2, ConvWindow{3, 1, 1, 1}, ConvWindow{3, 1, 1, 1})};
  const int threads = blas_threads();
  set_blas_threads(1);
  const Tensors one = sparse_run(c, 0.3, SparseConvBackward::Kernels::kForMode);
  set_blas_threads(2);
  const Tensors two = sparse_run(c, 0.3, SparseConvBackward::Kernels::kForMode);
  set_blas_threads(threads);
  EXPECT_EQ(one.dx, two.dx);
  EXPECT_EQ(one.dweights, two.dweights);
  EXPECT_EQ(one.dbias, two.dbias);
}

// ----- the policy -----

TEST(SparseBackwardTest, AutoPolicyFollowsTheCrossover) {
  const ConvGeometry g =
      geometry(4, 64, 8, 8, 64, 1, ConvWindow{3, 1, 1, 1}, ConvWindow{3, 1, 1, 1});
  const double crossover = sparse_backward_crossover(Mode::CPU, g, true);
  ASSERT_GT(crossover, 0.0);
  ASSERT_LT(crossover, 0.9);
  PolicyScope scope(SparseBackwardPolicy::kAuto);
  SparseConvBackward sparse;
  sparse.Configure(g, WeightOrder::kConvolution);
  std::vector<float> dy(g.batch * g.out_image());
  for (double density : {crossover / 4, (1.0 + crossover) / 2}) {
    fill_sparse(dy.data(), static_cast<long long>(dy.size()), density, 7);
    EXPECT_EQ(sparse.Prepare(Mode::CPU, dy.data(), true), density < crossover) << density;
    EXPECT_NEAR(sparse.density(), density, 0.02);
  }
  set_sparse_backward_policy(SparseBackwardPolicy::kNever);
  EXPECT_FALSE(sparse.Prepare(Mode::CPU, dy.data(), true));
}

TEST(SparseBackwardTest, AutoPolicyKeepsShortFiltersDense) {
  const ConvWindow k3{3, 1, 1, 1};
  // Three input channels (a first layer) and a depthwise convolution: too little work per
  // non-zero for the sparse path to win at any density, so dy is not even counted.
  for (const ConvGeometry& g :
       {geometry(2, 3, 8, 8, 16, 1, k3, k3), geometry(2, 32, 8, 8, 32, 32, k3, k3)}) {
    EXPECT_EQ(sparse_backward_crossover(Mode::CPU, g, true), 0.0);
    PolicyScope scope(SparseBackwardPolicy::kAuto);
    SparseConvBackward sparse;
    sparse.Configure(g, WeightOrder::kConvolution);
    const std::vector<float> dy(g.batch * g.out_image(), 0.0f);
    EXPECT_FALSE(sparse.Prepare(Mode::CPU, dy.data(), true));
    EXPECT_EQ(sparse.density(), 1.0);
  }
}

// ----- the GPU -----

TEST(SparseBackwardTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  for (const KernelCase& c : kernel_cases()) {
    for (double density : {0.01, 0.3}) {
      expect_same_tensors(sparse_run(c, density, SparseConvBackward::Kernels::kForMode),
                          sparse_run(c, density, SparseConvBackward::Kernels::kForMode, Mode::GPU),
                          "GPU at density " + std::to_string(density));
    }
  }
  const LayerCase layer{conv("num_output: 6 kernel_size: 3 pad: 1 group: 2"), {2, 4, 7, 6}};
  expect_same_gradients(run_layer(layer, 0.1, SparseBackwardPolicy::kNever),
                        run_layer(layer, 0.1, SparseBackwardPolicy::kAlways, Mode::GPU),
                        "GPU layer");
}

}  // namespace
}  // namespace caffe
