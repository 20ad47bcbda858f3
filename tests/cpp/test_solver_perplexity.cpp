// Perplexity reporting (loss_param.report_perplexity): OutputAccumulator's report, the checks of
// the setting, Solver::Test's output list and log lines, the training display, and that every
// test pass reads batches 0 .. test_iter-1.  The nets are Input-fed; a test-only layer scales
// the scores by (batch index + 1), so that batches differ the way a data layer's would.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::error_of;

// top = (forward_count() + 1) * bottom: batch b of a pass sees its own scores.
class PerplexityTestBatchScaleLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "PerplexityTestBatchScale"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override { top[0]->ReshapeLike(*bottom[0]); }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const float scale = static_cast<float>(forward_count() + 1);
    for (int i = 0; i < bottom[0]->count(); ++i) {
      top[0]->mutable_cpu_data()[i] = scale * bottom[0]->cpu_data()[i];
    }
  }
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}
};
REGISTER_LAYER("PerplexityTestBatchScale", PerplexityTestBatchScaleLayer);

constexpr int kSteps = 2, kStreams = 3, kVocabulary = 4;
const std::vector<float> kLabels = {0, 3, 1, 2, 2, 0};

// Input (scores T x N x V, labels T x N) -> batch scale -> SoftmaxWithLoss (axis 2) + Accuracy.
std::string lm_net(const std::string& loss_param) {
  return "name: 'lm' "
         "layer { name: 'input' type: 'Input' top: 'scores' top: 'label' input_param { "
         "shape { dim: 2 dim: 3 dim: 4 } shape { dim: 2 dim: 3 } } } "
         "layer { name: 'scale' type: 'PerplexityTestBatchScale' bottom: 'scores' top: 'scaled' } "
         "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'scaled' bottom: 'label' "
         "top: 'loss' softmax_param { axis: 2 } " + loss_param + " } "
         "layer { name: 'accuracy' type: 'Accuracy' bottom: 'scaled' bottom: 'label' "
         "top: 'accuracy' accuracy_param { axis: 2 } }";
}
const char kReport[] = "loss_param { report_perplexity: true }";

NetParameter parse_net(const std::string& text) {
  NetParameter param;
  read_proto_from_text(text, "<test net>", &param);
  return param;
}

SolverParameter parse_solver(const std::string& text) {
  SolverParameter param;
  read_proto_from_text(text, "<test solver>", &param);
  return param;
}

std::vector<float> scores() {
  std::vector<float> values(kSteps * kStreams * kVocabulary);
  for (size_t i = 0; i < values.size(); ++i) values[i] = std::sin(1.7f * static_cast<float>(i));
  return values;
}

void set_inputs(Net& net) {
  const std::vector<float> values = scores();
  std::copy(values.begin(), values.end(), net.blob_by_name("scores")->mutable_cpu_data());
  std::copy(kLabels.begin(), kLabels.end(), net.blob_by_name("label")->mutable_cpu_data());
}

// The mean cross-entropy of batch b, computed here from the definition.
double cross_entropy(int batch) {
  const std::vector<float> values = scores();
  double total = 0;
  for (int position = 0; position < kSteps * kStreams; ++position) {
    double normalizer = 0;
    for (int c = 0; c < kVocabulary; ++c) {
      normalizer += std::exp((batch + 1.0) * values[position * kVocabulary + c]);
    }
    const int label = static_cast<int>(kLabels[position]);
    total += std::log(normalizer) - (batch + 1.0) * values[position * kVocabulary + label];
  }
  return total / (kSteps * kStreams);
}

double mean_cross_entropy(int batches) {
  double total = 0;
  for (int batch = 0; batch < batches; ++batch) total += cross_entropy(batch);
  return total / batches;
}

class SolverPerplexityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    set_mode(Mode::CPU);
    saved_log_level_ = FLAGS_minloglevel;
    FLAGS_minloglevel = google::GLOG_WARNING;
  }
  void TearDown() override { FLAGS_minloglevel = saved_log_level_; }

  int saved_log_level_ = 0;
};

// ---------------------------------------------------------------------------------------------
// OutputAccumulator

TEST_F(SolverPerplexityTest, ReportsOutputsThenPerplexityOfTheMeanLoss) {
  Net net(parse_net(lm_net(kReport)));
  set_inputs(net);
  OutputAccumulator accumulator(net);
  EXPECT_TRUE(accumulator.Means().empty());
  for (int batch = 0; batch < 3; ++batch) {
    net.set_step(0, static_cast<uint64_t>(batch));
    net.Forward();
    accumulator.Add();
    const std::vector<ReportedOutput> latest = accumulator.Latest();
    ASSERT_EQ(latest.size(), 3u);
    EXPECT_NEAR(latest[1].value, cross_entropy(batch), 1e-5);
    EXPECT_NEAR(latest[2].value, std::exp(cross_entropy(batch)), 1e-4 * std::exp(cross_entropy(batch)));
  }
  EXPECT_EQ(accumulator.passes(), 3);

  const std::vector<ReportedOutput> means = accumulator.Means();
  ASSERT_EQ(means.size(), 3u);
  // The blob outputs first, in the net's output order, then the perplexity.
  EXPECT_EQ(means[0].key(), "accuracy");
  EXPECT_EQ(means[1].key(), "loss");
  EXPECT_EQ(means[2].key(), "perplexity");
  EXPECT_FALSE(means[1].derived);
  EXPECT_TRUE(means[2].derived);
  EXPECT_EQ(means[1].loss_weight, 1.0f);
  EXPECT_EQ(means[2].loss_weight, 0.0f);
  const double mean_loss = mean_cross_entropy(3);
  EXPECT_NEAR(means[1].value, mean_loss, 1e-5);
  // exp of the mean cross-entropy, which is not the mean of the per-batch perplexities.
  EXPECT_NEAR(means[2].value, std::exp(mean_loss), 1e-4 * std::exp(mean_loss));
  double mean_of_exps = 0;
  for (int batch = 0; batch < 3; ++batch) mean_of_exps += std::exp(cross_entropy(batch)) / 3;
  EXPECT_GT(std::abs(mean_of_exps - std::exp(mean_loss)), 0.01 * std::exp(mean_loss));
  EXPECT_EQ(means[2].describe().rfind("perplexity = ", 0), 0u) << means[2].describe();
  EXPECT_NE(means[1].describe().find(" (* 1 = "), std::string::npos) << means[1].describe();
}

TEST_F(SolverPerplexityTest, NoPerplexityWithoutTheSetting) {
  Net net(parse_net(lm_net("")));
  set_inputs(net);
  net.Forward();
  OutputAccumulator accumulator(net);
  accumulator.Add();
  ASSERT_EQ(accumulator.Means().size(), 2u);
  EXPECT_TRUE(perplexity_layers(net).empty());
}

TEST_F(SolverPerplexityTest, SeveralLossesAreNamedAfterTheirTops) {
  // A second loss on the unscaled scores, with FULL normalization (a mean per position too),
  // and a third without the setting.
  const std::string extra =
      " layer { name: 'raw_loss' type: 'SoftmaxWithLoss' bottom: 'scores' bottom: 'label' "
      "top: 'raw' softmax_param { axis: 2 } loss_param { report_perplexity: true "
      "normalization: FULL } } "
      " layer { name: 'quiet_loss' type: 'SoftmaxWithLoss' bottom: 'scores' bottom: 'label' "
      "top: 'quiet' softmax_param { axis: 2 } loss_weight: 0.5 }";
  Net net(parse_net(lm_net(kReport) + extra));
  set_inputs(net);
  net.set_step(0, 1);
  net.Forward();
  OutputAccumulator accumulator(net);
  accumulator.Add();
  const std::vector<ReportedOutput> report = accumulator.Means();
  ASSERT_EQ(report.size(), 6u);  // accuracy, loss, quiet, raw, then two perplexities
  EXPECT_EQ(report[2].key(), "quiet");
  EXPECT_EQ(report[2].loss_weight, 0.5f);
  EXPECT_EQ(report[4].key(), "loss_perplexity");
  EXPECT_EQ(report[5].key(), "raw_perplexity");
  EXPECT_NEAR(report[4].value, std::exp(cross_entropy(1)), 1e-4 * std::exp(cross_entropy(1)));
  EXPECT_NEAR(report[5].value, std::exp(cross_entropy(0)), 1e-4 * std::exp(cross_entropy(0)));
}

TEST_F(SolverPerplexityTest, NonScalarOutputsKeepTheirElementKeys) {
  const std::string text =
      "name: 'v' layer { name: 'input' type: 'Input' top: 'vector' top: 'scores' top: 'label' "
      "input_param { shape { dim: 2 } shape { dim: 1 dim: 3 } shape { dim: 1 } } } "
      "layer { name: 'loss' type: 'SoftmaxWithLoss' bottom: 'scores' bottom: 'label' top: 'loss' "
      "loss_param { report_perplexity: true } }";
  Net net(parse_net(text));
  float* vector = net.blob_by_name("vector")->mutable_cpu_data();
  vector[0] = 1.5f;
  vector[1] = -2.0f;
  std::fill_n(net.blob_by_name("scores")->mutable_cpu_data(), 3, 0.0f);
  net.blob_by_name("label")->mutable_cpu_data()[0] = 2;
  net.Forward();
  OutputAccumulator accumulator(net);
  accumulator.Add();
  const std::vector<ReportedOutput> report = accumulator.Means();
  ASSERT_EQ(report.size(), 4u);  // loss, vector[0], vector[1], perplexity
  EXPECT_EQ(report[1].key(), "vector[0]");
  EXPECT_EQ(report[1].describe(), "vector = 1.5");
  EXPECT_EQ(report[2].key(), "vector[1]");
  EXPECT_NEAR(report[3].value, 3.0f, 1e-5);  // uniform over 3 classes
}

TEST_F(SolverPerplexityTest, RejectsLossesThatAreNotMeansPerPosition) {
  for (const char* setting : {"normalization: NONE", "normalize: false", "normalization: BATCH_SIZE"}) {
    const std::string loss = std::string("loss_param { report_perplexity: true ") + setting + " }";
    Net net(parse_net(lm_net(loss)));
    const std::string message = error_of([&] { OutputAccumulator accumulator(net); });
    EXPECT_NE(message.find("layer 'loss' (SoftmaxWithLoss): loss_param.report_perplexity needs a "
                           "loss that is the mean over positions"),
              std::string::npos)
        << setting << ": " << message;
  }
  // The legacy `normalize: true` means VALID.
  Net legacy(parse_net(lm_net("loss_param { report_perplexity: true normalize: true }")));
  EXPECT_EQ(perplexity_layers(legacy).size(), 1u);

  const std::string euclidean =
      "name: 'e' layer { name: 'input' type: 'Input' top: 'a' top: 'b' input_param { "
      "shape { dim: 2 } shape { dim: 2 } } } layer { name: 'l2' type: 'EuclideanLoss' "
      "bottom: 'a' bottom: 'b' top: 'l2' loss_param { report_perplexity: true } }";
  Net net(parse_net(euclidean));
  EXPECT_NE(error_of([&] { perplexity_layers(net); })
                .find("layer 'l2' (EuclideanLoss): loss_param.report_perplexity applies to "
                      "SoftmaxWithLoss layers only"),
            std::string::npos);
}

TEST_F(SolverPerplexityTest, OutputsThatChangeSizeAreAnError) {
  const std::string text =
      "name: 'r' layer { name: 'input' type: 'Input' top: 'x' input_param { shape { dim: 2 } } }";
  Net net(parse_net(text));
  OutputAccumulator accumulator(net);
  accumulator.Add();
  net.blob_by_name("x")->Reshape(std::vector<int>{3});
  EXPECT_NE(error_of([&] { accumulator.Add(); }).find("output 'x' changed size between passes (2 -> 3"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// The solver

std::string lm_solver(const std::string& loss_param, const std::string& extra = "") {
  return "net_param { " + lm_net(loss_param) + " } test_iter: 3 test_interval: 100 base_lr: 0.1 " +
         extra;
}

TEST_F(SolverPerplexityTest, TestReportsPerplexityAfterTheOutputs) {
  auto solver = Solver::Create(parse_solver(lm_solver(kReport)));
  Net& test_net = *solver->test_nets()[0];
  set_inputs(test_net);
  FLAGS_minloglevel = google::GLOG_INFO;
  testing::internal::CaptureStderr();
  const TestResult result = solver->Test(0);
  const std::string log = testing::internal::GetCapturedStderr();
  ASSERT_EQ(result.size(), 3u);
  EXPECT_EQ(result[0].first, "accuracy");
  EXPECT_EQ(result[1].first, "loss");
  EXPECT_EQ(result[2].first, "perplexity");
  const double mean_loss = mean_cross_entropy(3);
  EXPECT_NEAR(result[1].second, mean_loss, 1e-5);
  EXPECT_NEAR(result[2].second, std::exp(mean_loss), 1e-4 * std::exp(mean_loss));
  EXPECT_NE(log.find("    Test net output #1: loss = "), std::string::npos) << log;
  EXPECT_NE(log.find("    Test net output #2: perplexity = "), std::string::npos) << log;
}

TEST_F(SolverPerplexityTest, EveryTestPassReadsBatchesFromTheStart) {
  auto solver = Solver::Create(parse_solver(lm_solver(kReport)));
  Net& test_net = *solver->test_nets()[0];
  set_inputs(test_net);
  const TestResult first = solver->Test(0);
  // Stray forward passes move the net's counter; a test pass starts over at batch 0 anyway.
  test_net.set_step(0, 40);
  test_net.Forward();
  test_net.Forward();
  solver->Step(2);
  const TestResult again = solver->Test(0);
  ASSERT_EQ(again.size(), first.size());
  for (size_t i = 0; i < first.size(); ++i) EXPECT_EQ(again[i], first[i]) << first[i].first;
}

TEST_F(SolverPerplexityTest, TrainingDisplayShowsThePassPerplexity) {
  auto solver = Solver::Create(parse_solver(lm_solver(kReport, "display: 1")));
  set_inputs(solver->net());
  FLAGS_minloglevel = google::GLOG_INFO;
  testing::internal::CaptureStderr();
  solver->Step(1);
  const std::string log = testing::internal::GetCapturedStderr();
  // Iteration 0 is forward pass 0: scale 1.
  std::ostringstream expected;
  expected << "    Train net output #2: perplexity = " << static_cast<float>(std::exp(cross_entropy(0)));
  EXPECT_NE(log.find(expected.str()), std::string::npos) << log;
  EXPECT_NE(log.find("    Train net output #1: loss = "), std::string::npos) << log;
}

TEST_F(SolverPerplexityTest, BadSettingFailsWhenTheSolverIsBuilt) {
  const std::string message = error_of([] {
    Solver::Create(parse_solver(lm_solver("loss_param { report_perplexity: true normalization: NONE }")));
  });
  EXPECT_NE(message.find("train net"), std::string::npos) << message;
  EXPECT_NE(message.find("report_perplexity needs a loss that is the mean over positions"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace caffe
