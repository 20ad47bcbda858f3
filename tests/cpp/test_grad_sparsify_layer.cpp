// GradSparsify: the pruning rule, its statistics on Gaussian gradients (threshold, Lemma 1,
// second moment, density), exact resumption, host/device agreement and bad input.  Statistical
// tests use fixed seeds and tolerances of at least six standard deviations of the estimate.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/block_sum.hpp"
#include "layers/grad_sparsify/grad_sparsify_layer.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

// Φ⁻¹(p) to 16 digits (tables of the normal quantile).
constexpr double kQuantile085 = 1.0364333894937898;
constexpr double kQuantile090 = 1.2815515655446004;
constexpr double kQuantile095 = 1.6448536269514722;
constexpr double kQuantile0995 = 2.5758293035489004;

std::string sparsify(float percentile, bool stochastic = true) {
  return "name: 'gs' type: 'GradSparsify' grad_sparsify_param { percentile: " +
         std::to_string(percentile) + " stochastic: " + (stochastic ? "true" : "false") + " }";
}

std::vector<float> values_of(const float* values, int count) {
  return std::vector<float>(values, values + count);
}

// A GradSparsify layer set up and run forward on a blob of `count` values; set_gradient fills the
// top gradient (N(0, sigma²) from a seed, or given values), backward runs one pruning pass.
struct SparsifyCase {
  std::unique_ptr<Layer> layer;
  test::BlobSet bottom, top;

  SparsifyCase(const std::string& prototxt, int count, Phase phase = TRAIN) {
    layer = test::make_layer(prototxt, phase);
    test::fill_gaussian(bottom.add({count}), 1);
    top.add({});
    layer->SetUp(bottom.ptrs, top.ptrs);
    layer->Forward(bottom.ptrs, top.ptrs);
  }
  GradSparsifyLayer& sparsifier() { return dynamic_cast<GradSparsifyLayer&>(*layer); }
  void set_gradient(uint64_t seed, float sigma) {
    Blob* y = top.ptrs[0];
    test::fill_gaussian(y->mutable_cpu_diff(), y->count(), seed, 0.0f, sigma);
  }
  void set_gradient(const std::vector<float>& values) {
    std::copy(values.begin(), values.end(), top.ptrs[0]->mutable_cpu_diff());
  }
  // Runs backward as forward pass `step` of training; returns the bottom gradient.
  std::vector<float> backward(uint64_t step = 0) {
    layer->set_step(0, step);
    layer->Backward(top.ptrs, {true}, bottom.ptrs);
    return values_of(bottom.ptrs[0]->cpu_diff(), bottom.ptrs[0]->count());
  }
  std::vector<float> gradient() const {
    return values_of(top.ptrs[0]->cpu_diff(), top.ptrs[0]->count());
  }
};

// Closed form of the expected density for g ~ N(0, σ²) and threshold τ = t·σ:
// P(|g| ≥ τ) + E[|g|/τ; |g| < τ] = erfc(t/√2) + sqrt(2/π)(1 − e^{−t²/2}) / t.
double expected_density(double t, bool stochastic) {
  const double kept = std::erfc(t / std::sqrt(2.0));
  if (!stochastic) return kept;
  return kept + std::sqrt(2.0 / M_PI) * (1.0 - std::exp(-t * t / 2.0)) / t;
}

TEST(GradSparsifyLayerTest, NormalQuantileMatchesTables) {
  EXPECT_NEAR(normal_quantile(0.5), 0.0, 1e-12);
  EXPECT_NEAR(normal_quantile(0.85), kQuantile085, 1e-12);
  EXPECT_NEAR(normal_quantile(0.9), kQuantile090, 1e-12);
  EXPECT_NEAR(normal_quantile(0.95), kQuantile095, 1e-12);
  EXPECT_NEAR(normal_quantile(0.995), kQuantile0995, 1e-12);
}

TEST(GradSparsifyLayerTest, ForwardIsTheIdentityInAndOutOfPlace) {
  SparsifyCase separate(sparsify(0.9f), 1000);
  EXPECT_EQ(values_of(separate.top.ptrs[0]->cpu_data(), 1000),
            values_of(separate.bottom.ptrs[0]->cpu_data(), 1000));

  auto layer = test::make_layer(sparsify(0.9f));
  test::BlobSet blob;
  test::fill_gaussian(blob.add({10, 100}), 1);
  const std::vector<float> before = values_of(blob.ptrs[0]->cpu_data(), 1000);
  layer->SetUp(blob.ptrs, blob.ptrs);
  layer->Forward(blob.ptrs, blob.ptrs);
  EXPECT_EQ(values_of(blob.ptrs[0]->cpu_data(), 1000), before);
  EXPECT_EQ(blob.ptrs[0]->shape(), (std::vector<int>{10, 100}));
}

TEST(GradSparsifyLayerTest, KeepsLargeValuesAndSetsTheOthersToZeroOrTau) {
  SparsifyCase gs(sparsify(0.9f), 100000);
  gs.set_gradient(2, 0.5f);
  const std::vector<float> g = gs.gradient();
  const std::vector<float> out = gs.backward();
  double magnitude_sum = 0;
  for (float value : g) magnitude_sum += std::fabs(value);
  const double tau = std::sqrt(M_PI / 2.0) * magnitude_sum / g.size() * kQuantile090;
  const float threshold = gs.sparsifier().last_threshold();
  EXPECT_NEAR(threshold, tau, 1e-6 * tau);
  int promoted = 0, zeroed = 0, nonzero = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    nonzero += out[i] != 0.0f;
    if (std::fabs(g[i]) >= threshold) {
      ASSERT_EQ(out[i], g[i]) << i;
    } else if (out[i] == 0.0f) {
      ++zeroed;
    } else {
      ASSERT_EQ(out[i], std::copysign(threshold, g[i])) << i << ": " << g[i];
      ++promoted;
    }
  }
  EXPECT_GT(promoted, 1000);
  EXPECT_GT(zeroed, 10000);
  EXPECT_DOUBLE_EQ(*gs.layer->GradientDensity(), static_cast<double>(nonzero) / g.size());
}

TEST(GradSparsifyLayerTest, ThresholdEstimatesSigmaTimesTheQuantile) {
  // The relative error of mean|g| over 10^6 values has a standard deviation of 0.00076, so the
  // 2% allowed here is over 26 of them.
  const float sigma = 0.37f;
  for (const auto& [p, quantile] :
       {std::pair{0.85f, kQuantile085}, std::pair{0.9f, kQuantile090},
        std::pair{0.95f, kQuantile095}, std::pair{0.995f, kQuantile0995}}) {
    SparsifyCase gs(sparsify(p), 1000000);
    gs.set_gradient(3, sigma);
    gs.backward();
    EXPECT_NEAR(gs.sparsifier().last_threshold(), sigma * quantile, 0.02 * sigma * quantile)
        << "p = " << p;
  }
}

TEST(GradSparsifyLayerTest, DensityMatchesTheGaussianClosedForm) {
  // The density of 10^6 values has a standard deviation below 5e-4; the tolerance is 3e-3.
  const float sigma = 2.0f;
  for (bool stochastic : {true, false}) {
    for (float p : {0.85f, 0.9f, 0.95f, 0.995f}) {
      SparsifyCase gs(sparsify(p, stochastic), 1000000);
      gs.set_gradient(4, sigma);
      gs.backward(5);
      const double t = gs.sparsifier().last_threshold() / sigma;
      EXPECT_NEAR(*gs.layer->GradientDensity(), expected_density(t, stochastic), 3e-3)
          << "p = " << p << (stochastic ? " stochastic" : " thresholding");
    }
  }
}

TEST(GradSparsifyLayerTest, StochasticPruningIsUnbiasedWithBoundedSecondMoment) {
  // Lemma 1: E[ĝ] = g.  For |g| < τ, ĝ is ±τ with probability q = |g|/τ: its mean over K draws
  // has standard deviation τ sqrt(q(1 − q) / K), its square the mean τ|g| ≤ τ² (+ g²).
  const int count = 2000, draws = 20000;
  SparsifyCase gs(sparsify(0.95f), count);
  gs.set_gradient(6, 1.0f);
  const std::vector<float> g = gs.gradient();
  std::vector<double> sum(count, 0.0), sum_squares(count, 0.0);
  for (int draw = 0; draw < draws; ++draw) {
    const std::vector<float> out = gs.backward(draw);
    for (int i = 0; i < count; ++i) {
      sum[i] += out[i];
      sum_squares[i] += static_cast<double>(out[i]) * out[i];
    }
  }
  const double tau = gs.sparsifier().last_threshold();
  int below = 0;
  for (int i = 0; i < count; ++i) {
    const double magnitude = std::fabs(g[i]);
    const double mean = sum[i] / draws, second = sum_squares[i] / draws;
    EXPECT_LE(second, tau * tau + static_cast<double>(g[i]) * g[i] + 1e-9) << i;
    if (magnitude >= tau) {
      EXPECT_EQ(mean, g[i]) << i;
      continue;
    }
    ++below;
    const double q = magnitude / tau;
    const double spread = tau * std::sqrt(q * (1.0 - q) / draws);
    EXPECT_NEAR(mean, g[i], 6.0 * spread + 1e-7) << i;
    EXPECT_NEAR(second, tau * magnitude, 6.0 * tau * spread + 1e-7) << i;
  }
  EXPECT_GT(below, count / 2);
}

TEST(GradSparsifyLayerTest, ThresholdingWithoutStochasticRoundingZeroesSmallValues) {
  SparsifyCase gs(sparsify(0.9f, false), 50000);
  gs.set_gradient(7, 1.0f);
  const std::vector<float> g = gs.gradient();
  const std::vector<float> out = gs.backward();
  const float threshold = gs.sparsifier().last_threshold();
  int kept = 0;
  for (size_t i = 0; i < g.size(); ++i) {
    const bool keep = std::fabs(g[i]) >= threshold;
    ASSERT_EQ(out[i], keep ? g[i] : 0.0f) << i;
    kept += keep;
  }
  EXPECT_DOUBLE_EQ(*gs.layer->GradientDensity(), static_cast<double>(kept) / g.size());
}

TEST(GradSparsifyLayerTest, MedianPercentileAndTestPhasePassTheGradientUnchanged) {
  // p = 0.5: Φ⁻¹(p) = 0, τ = 0, every value is kept.  TEST: no pruning at all.
  for (const auto& [p, phase] : {std::pair{0.5f, TRAIN}, std::pair{0.9f, TEST}}) {
    SparsifyCase gs(sparsify(p), 3000, phase);
    gs.set_gradient(8, 1.0f);
    EXPECT_EQ(gs.backward(), gs.gradient()) << "p = " << p;
  }
}

TEST(GradSparsifyLayerTest, InPlaceMatchesOutOfPlace) {
  SparsifyCase separate(sparsify(0.85f), 5000);
  separate.set_gradient(9, 1.0f);
  const std::vector<float> expected = separate.backward(3);

  auto layer = test::make_layer(sparsify(0.85f));
  test::BlobSet blob;
  blob.add({5000});
  layer->SetUp(blob.ptrs, blob.ptrs);
  layer->Forward(blob.ptrs, blob.ptrs);
  test::fill_gaussian(blob.ptrs[0]->mutable_cpu_diff(), 5000, 9);
  layer->set_step(0, 3);
  layer->Backward(blob.ptrs, {true}, blob.ptrs);
  EXPECT_EQ(values_of(blob.ptrs[0]->cpu_diff(), 5000), expected);
}

TEST(GradSparsifyLayerTest, DrawsDependOnTheStepOnly) {
  SparsifyCase gs(sparsify(0.9f), 20000);
  gs.set_gradient(10, 1.0f);
  const std::vector<float> first = gs.backward(11);
  EXPECT_EQ(gs.backward(11), first);
  const std::vector<float> other = gs.backward(12);
  int differ = 0;
  for (size_t i = 0; i < first.size(); ++i) differ += first[i] != other[i];
  EXPECT_GT(differ, 500);
}

TEST(GradSparsifyLayerTest, ResultDoesNotDependOnTheThreadCount) {
  // Several sum blocks, the last one partial.
  const int count = static_cast<int>(9 * kSumBlock + 123);
  std::vector<float> outputs[2];
  float thresholds[2];
  const int saved = blas_threads();
  for (int run = 0; run < 2; ++run) {
    set_blas_threads(run + 1);
    SparsifyCase gs(sparsify(0.9f), count);
    gs.set_gradient(13, 1.0f);
    outputs[run] = gs.backward(2);
    thresholds[run] = gs.sparsifier().last_threshold();
  }
  set_blas_threads(saved);
  EXPECT_EQ(thresholds[0], thresholds[1]);
  EXPECT_EQ(outputs[0], outputs[1]);
}

TEST(GradSparsifyLayerTest, HostPruningIsTheGroupFunctorsStream) {
  // The host's block kernel against SparsifyGroup (what the device runs) on the host: several
  // sum blocks, a last group of three values, in and out of place, with and without draws.
  const int count = static_cast<int>(3 * kSumBlock + 7);
  for (bool stochastic : {true, false}) {
    SparsifyCase gs(sparsify(0.9f, stochastic), count);
    gs.set_gradient(17, 1.0f);
    const std::vector<float> g = gs.gradient();
    const std::vector<float> out = gs.backward(5);
    std::vector<float> expected(count, -1.0f);
    double nonzeros = 0;
    const SparsifyGroup group{
        g.data(),  expected.data(), count, gs.sparsifier().last_threshold(), gs.layer->step_key(),
        stochastic};
    for (long long q = 0; q < (count + kValuesPerDraw - 1) / kValuesPerDraw; ++q) {
      nonzeros += group(q);
    }
    EXPECT_EQ(out, expected) << (stochastic ? "stochastic" : "thresholding");
    EXPECT_EQ(*gs.layer->GradientDensity(), nonzeros / count);

    auto layer = test::make_layer(sparsify(0.9f, stochastic));
    test::BlobSet blob;
    blob.add({count});
    layer->SetUp(blob.ptrs, blob.ptrs);
    layer->Forward(blob.ptrs, blob.ptrs);
    std::copy(g.begin(), g.end(), blob.ptrs[0]->mutable_cpu_diff());
    layer->set_step(0, 5);
    layer->Backward(blob.ptrs, {true}, blob.ptrs);
    EXPECT_EQ(values_of(blob.ptrs[0]->cpu_diff(), count), expected) << "in place";
  }
}

TEST(GradSparsifyLayerTest, BlockSumAddsFloatLanesInTheDocumentedOrder) {
  // The order the device repeats: per block, lane t adds values t, t + 32, ... in float; the
  // lanes are added in double in lane order, then the blocks in block order.
  const long long count = 2 * kSumBlock + 77;
  std::vector<float> values(count);
  test::fill_gaussian(values.data(), static_cast<int>(count), 18, 0.0f, 3.0f);
  double expected = 0;
  for (long long begin = 0; begin < count; begin += kSumBlock) {
    float lanes[kSumLanes] = {};
    for (long long i = begin; i < std::min(begin + kSumBlock, count); ++i) {
      lanes[(i - begin) % kSumLanes] += std::fabs(values[i]);
    }
    double block = 0;
    for (float lane : lanes) block += lane;
    expected += block;
  }
  std::unique_ptr<SyncedMemory> partials;
  block_sum_buffer(count, &partials);
  EXPECT_EQ(block_sum(Mode::CPU, count, GradientMagnitude{values.data()}, partials.get()),
            expected);
}

TEST(GradSparsifyLayerTest, DensityIsReportedOnlyAfterABackward) {
  SparsifyCase gs(sparsify(0.9f), 100);
  EXPECT_FALSE(gs.layer->GradientDensity().has_value());
  gs.set_gradient(14, 1.0f);
  gs.backward();
  EXPECT_TRUE(gs.layer->GradientDensity().has_value());
  EXPECT_FALSE(test::make_layer("name: 'r' type: 'ReLU'")->GradientDensity().has_value());
}

TEST(GradSparsifyLayerTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  // Several sum blocks, the last one partial; the draws and therefore the outputs are the same.
  const int count = static_cast<int>(37 * kSumBlock + 999);
  std::vector<float> outputs[2];
  float thresholds[2];
  double densities[2];
  for (int run = 0; run < 2; ++run) {
    SparsifyCase gs(sparsify(0.9f), count);
    gs.set_gradient(15, 0.01f);
    if (run == 1) set_mode(Mode::GPU);
    outputs[run] = gs.backward(4);
    set_mode(Mode::CPU);
    thresholds[run] = gs.sparsifier().last_threshold();
    densities[run] = *gs.layer->GradientDensity();
  }
  EXPECT_EQ(thresholds[0], thresholds[1]);
  EXPECT_EQ(densities[0], densities[1]);
  EXPECT_EQ(outputs[0], outputs[1]);
}

// ---------------------------------------------------------------------------------------------
// Bad input

TEST(GradSparsifyLayerTest, PercentileOutsideTheRangeIsAnErrorNamingTheLayer) {
  for (float p : {1.0f, 0.49f, -0.5f, 1.5f, std::numeric_limits<float>::quiet_NaN()}) {
    const std::string message = test::error_of([&] { SparsifyCase(sparsify(p), 4); });
    EXPECT_NE(message.find("layer 'gs' (GradSparsify)"), std::string::npos) << message;
    EXPECT_NE(message.find("percentile must be in [0.5, 1)"), std::string::npos) << message;
  }
}

TEST(GradSparsifyLayerTest, NanOrInfInTheGradientIsAnErrorNamingTheLayer) {
  for (float bad :
       {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
    SparsifyCase gs(sparsify(0.9f), 10000);
    gs.set_gradient(16, 1.0f);
    gs.top.ptrs[0]->mutable_cpu_diff()[4321] = bad;
    const std::string message = test::error_of([&] { gs.backward(); });
    EXPECT_NE(message.find("layer 'gs' (GradSparsify)"), std::string::npos) << message;
    EXPECT_NE(message.find(std::isnan(bad) ? "holds a NaN" : "holds an Inf"), std::string::npos)
        << message;
  }
}

// ---------------------------------------------------------------------------------------------
// In a net and a solver

// Identity forward; backward passes the gradient on, with a NaN in it at iteration kNanIteration.
class TestNanGradientLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "TestNanGradient"; }
  static constexpr int kNanIteration = 2;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override {
    blas(mode).copy(bottom[0]->count(), bottom[0]->data_on(mode), top[0]->mutable_data_on(mode));
  }
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override {
    blas(mode).copy(top[0]->count(), top[0]->diff_on(mode), bottom[0]->mutable_diff_on(mode));
    if (iteration() == kNanIteration) {
      bottom[0]->mutable_cpu_diff()[0] = std::numeric_limits<float>::quiet_NaN();
    }
  }
};
REGISTER_LAYER("TestNanGradient", TestNanGradientLayer);

const char kSparsifyConv1[] = R"(
    layer { name: 'gs' type: 'GradSparsify' bottom: 'conv1' top: 'conv1'
            grad_sparsify_param { percentile: 0.9 } })";

// DummyData -> [on_data] -> conv1 -> ReLU -> [sparsify] -> [after] -> conv2 -> ip ->
// EuclideanLoss; the bracketed layers are inserted as given, conv1 is 4 x 4 x 4 x 4.
std::string tiny_net(const std::string& sparsify = kSparsifyConv1, const std::string& on_data = "",
                     const std::string& after = "") {
  return R"(
    name: 'tiny'
    layer { name: 'data' type: 'DummyData' top: 'data' top: 'target'
            dummy_data_param { shape { dim: 4 dim: 2 dim: 6 dim: 6 } shape { dim: 4 dim: 3 }
                               data_filler { type: 'gaussian' std: 1 } } })" +
         on_data + R"(
    layer { name: 'conv1' type: 'Convolution' bottom: 'data' top: 'conv1'
            convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: 'msra' } } }
    layer { name: 'relu1' type: 'ReLU' bottom: 'conv1' top: 'conv1' })" +
         sparsify + after + R"(
    layer { name: 'conv2' type: 'Convolution' bottom: 'conv1' top: 'conv2'
            convolution_param { num_output: 3 kernel_size: 3 weight_filler { type: 'msra' } } }
    layer { name: 'ip' type: 'InnerProduct' bottom: 'conv2' top: 'ip'
            inner_product_param { num_output: 3 weight_filler { type: 'gaussian' std: 0.1 } } }
    layer { name: 'loss' type: 'EuclideanLoss' bottom: 'ip' bottom: 'target' top: 'loss' }
  )";
}

SolverParameter tiny_solver(const std::string& net, const std::string& settings) {
  SolverParameter param;
  read_proto_from_text("net_param {" + net + "} base_lr: 0.05 momentum: 0.9 max_iter: 100 " +
                           "random_seed: 7 " + settings,
                       "<test solver>", &param);
  return param;
}

TEST(GradSparsifyLayerTest, ResumedTrainingIsExact) {
  test::TempDir dir;
  const SolverParameter param =
      tiny_solver(tiny_net(), "snapshot_prefix: '" + (dir / "half") + "'");
  auto straight = Solver::Create(param);
  straight->Step(6);
  const Layer& straight_gs = *straight->net().layer_by_name("gs");
  ASSERT_TRUE(straight_gs.GradientDensity().has_value());
  EXPECT_LT(*straight_gs.GradientDensity(), 0.9);

  auto first_half = Solver::Create(param);
  first_half->Step(3);
  const SnapshotFiles files = first_half->Snapshot();
  auto resumed = Solver::Create(param);
  resumed->Restore(files.solverstate);
  resumed->Step(3);
  const std::vector<float> a = test::solver_state(*straight), b = test::solver_state(*resumed);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);
  EXPECT_EQ(*resumed->net().layer_by_name("gs")->GradientDensity(), *straight_gs.GradientDensity());
}

TEST(GradSparsifyLayerTest, SolverDisplaysTheDensities) {
  auto solver = Solver::Create(tiny_solver(tiny_net(), "display: 1"));
  const int saved = FLAGS_minloglevel;
  FLAGS_minloglevel = google::GLOG_INFO;
  testing::internal::CaptureStderr();
  solver->Step(1);
  const std::string log = testing::internal::GetCapturedStderr();
  FLAGS_minloglevel = saved;
  const double density = *solver->net().layer_by_name("gs")->GradientDensity();
  std::ostringstream expected;
  expected << "    Gradient density layer gs = " << density << " (256 elements)";
  EXPECT_NE(log.find(expected.str()), std::string::npos) << log;
  std::ostringstream mean;
  mean << "    Gradient density mean = " << density << " (element-weighted over 1 layers)";
  EXPECT_NE(log.find(mean.str()), std::string::npos) << log;
}

TEST(GradSparsifyLayerTest, WeightedMeanDensityWeighsByElements) {
  EXPECT_EQ(weighted_mean_density({}), 0.0);
  EXPECT_DOUBLE_EQ(weighted_mean_density({{"a", 0.5, 100}, {"b", 0.1, 300}}), 0.2);
}

TEST(GradSparsifyLayerTest, NanGradientStopsTrainingNamingIterationAndLayer) {
  const std::string injector =
      "layer { name: 'inject' type: 'TestNanGradient' bottom: 'conv1' top: 'conv1' }";
  auto solver = Solver::Create(tiny_solver(tiny_net(kSparsifyConv1, "", injector), ""));
  const std::string message = test::error_of([&] { solver->Step(10); });
  EXPECT_EQ(message.rfind("iteration 2: layer 'gs' (GradSparsify): the incoming gradient", 0), 0u)
      << message;
  EXPECT_NE(message.find("holds a NaN"), std::string::npos) << message;
  EXPECT_EQ(solver->iter(), TestNanGradientLayer::kNanIteration);
}

// Collects the text of glog warnings while it lives.
class WarningCapture : public google::LogSink {
 public:
  WarningCapture() { google::AddLogSink(this); }
  ~WarningCapture() override { google::RemoveLogSink(this); }
  void send(google::LogSeverity severity, const char*, const char*, int, const struct ::tm*,
            const char* message, size_t length) override {
    if (severity != google::GLOG_WARNING) return;
    std::lock_guard<std::mutex> lock(mutex_);
    warnings_.emplace_back(message, length);
  }
  std::vector<std::string> warnings() {
    std::lock_guard<std::mutex> lock(mutex_);
    return warnings_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> warnings_;
};

TEST(GradSparsifyLayerTest, UsesTheNotedMagnitudeSumWhileItHolds) {
  constexpr int kCount = 5000;
  SparsifyCase gs(sparsify(0.9f), kCount);
  gs.set_gradient(11, 1.0f);
  gs.backward();
  const float computed = gs.sparsifier().last_threshold();
  EXPECT_TRUE(gs.top.ptrs[0]->diff_abs_sum_requested());
  // A note (here four times the true sum, so that its use shows) is what τ comes from ...
  gs.set_gradient(11, 1.0f);
  double magnitude_sum = 0;
  for (float value : gs.gradient()) magnitude_sum += std::fabs(value);
  gs.top.ptrs[0]->note_diff_abs_sum(4 * magnitude_sum);
  gs.backward();
  EXPECT_NEAR(gs.sparsifier().last_threshold(), 4 * computed, 4e-6 * computed);
  // ... and once the gradient has been written again it is stale: τ is computed.
  gs.top.ptrs[0]->note_diff_abs_sum(4 * magnitude_sum);
  gs.set_gradient(11, 1.0f);
  gs.backward();
  EXPECT_EQ(gs.sparsifier().last_threshold(), computed);
}

TEST(GradSparsifyLayerTest, BatchNormAboveNotesTheSumTheThresholdUses) {
  // Conv -> GradSparsify (not in place, so that its input gradient stays readable) -> BatchNorm:
  // τ = sqrt(π/2) · mean|g| · Φ⁻¹(p) of the gradient BatchNorm wrote.
  const std::string net_text = R"(
    force_backward: true
    layer { name: 'data' type: 'Input' top: 'data' input_param { shape { dim: 4 dim: 3 dim: 9 dim: 7 } } }
    layer { name: 'conv' type: 'Convolution' bottom: 'data' top: 'conv'
            convolution_param { num_output: 5 kernel_size: 3 pad: 1
                                weight_filler { type: 'gaussian' std: 0.5 } } }
    layer { name: 'gs' type: 'GradSparsify' bottom: 'conv' top: 'conv_gs'
            grad_sparsify_param { percentile: 0.9 } }
    layer { name: 'bn' type: 'BatchNorm' bottom: 'conv_gs' top: 'bn' }
    layer { name: 'target' type: 'Input' top: 'target' input_param { shape { dim: 4 dim: 5 dim: 9 dim: 7 } } }
    layer { name: 'loss' type: 'EuclideanLoss' bottom: 'bn' bottom: 'target' top: 'loss' }
  )";
  Net net(test::net_param(net_text));
  test::fill_gaussian(net.blob_by_name("data"), 5);
  test::fill_gaussian(net.blob_by_name("target"), 6);
  net.ForwardBackward();
  const Blob& gradient = *net.blob_by_name("conv_gs");
  double magnitude_sum = 0;
  for (int i = 0; i < gradient.count(); ++i) magnitude_sum += std::fabs(gradient.cpu_diff()[i]);
  const double expected = std::sqrt(M_PI / 2.0) * magnitude_sum / gradient.count() * kQuantile090;
  auto& gs = dynamic_cast<GradSparsifyLayer&>(*net.layer_by_name("gs"));
  EXPECT_NEAR(gs.last_threshold(), expected, 1e-5 * expected);
  // The sum came from BatchNorm: its backward alone leaves the note on the blob.
  net.Forward();
  net.BackwardFromTo(static_cast<int>(net.layers().size()) - 1, 3);  // loss, target, bn
  const std::optional<double> noted = net.blob_by_name("conv_gs")->take_diff_abs_sum();
  ASSERT_TRUE(noted.has_value());
  EXPECT_NEAR(*noted, magnitude_sum, 1e-6 * magnitude_sum);
}

TEST(GradSparsifyLayerTest, LayerWithoutGradientWarnsOnceAndDoesNothing) {
  // On the data (nothing before it learns), and cut off by propagate_down: false.
  const std::string on_data =
      "layer { name: 'gs_data' type: 'GradSparsify' bottom: 'data' top: 'data' }";
  const std::string cut =
      "layer { name: 'gs_cut' type: 'GradSparsify' bottom: 'conv1' top: 'conv1' "
      "propagate_down: false }";
  for (const auto& [name, net] : {std::pair{"gs_data", tiny_net(kSparsifyConv1, on_data)},
                                  std::pair{"gs_cut", tiny_net(cut)}}) {
    const NetParameter param = test::net_param(net);
    std::vector<std::string> warnings;
    std::unique_ptr<Net> built;
    {
      WarningCapture capture;
      built = std::make_unique<Net>(param);
      warnings = capture.warnings();
    }
    ASSERT_EQ(warnings.size(), 1u) << name;
    EXPECT_NE(warnings[0].find("layer '" + std::string(name) + "' (GradSparsify)"),
              std::string::npos)
        << warnings[0];
    EXPECT_NE(warnings[0].find("gets no gradient"), std::string::npos) << warnings[0];
    built->ForwardBackward();
    EXPECT_FALSE(built->layer_by_name(name)->GradientDensity().has_value()) << name;
  }
}

}  // namespace
}  // namespace caffe
