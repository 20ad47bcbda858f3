// Solver tests.  The nets here are built from small test-only layers registered below, so the
// solver is tested independently of the real layer library:
//   TestDotLoss               loss = Σ c_i·W_i   (gradient dL/dW = c, set by the test via Input c)
//   TestRegressionData        x, y batches keyed by the forward-pass counter (like a data layer)
//   TestRandomScale           a dropout-like mask keyed by step_key()
//   TestLinearRegressionLoss  loss = 1/(2B) Σ_j (x_j·W + b − y_j)²
#include <glog/logging.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>

#include "caffe/core/layer_registry.hpp"
#include "caffe/solvers/lr_policy.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/math_functions.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::TempDir;

// ---------------------------------------------------------------------------------------------
// Test-only layers

class TestDotLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestDotLoss"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec&) override {
    if (blobs_.empty()) blobs_.push_back(std::make_shared<Blob>(bottom[0]->shape()));
  }
  void Reshape(const BlobVec&, const BlobVec& top) override { top[0]->Reshape(std::vector<int>{}); }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const float* c = bottom[0]->cpu_data();
    const float* w = blobs_[0]->cpu_data();
    float loss = 0;
    for (int i = 0; i < bottom[0]->count(); ++i) loss += c[i] * w[i];
    top[0]->mutable_cpu_data()[0] = loss;
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    const float scale = top[0]->cpu_diff()[0];
    const int n = bottom[0]->count();
    if (param_propagate_down(0)) cpu_axpy(n, scale, bottom[0]->cpu_data(), blobs_[0]->mutable_cpu_diff());
    if (propagate_down[0]) {
      cpu_copy(n, blobs_[0]->cpu_data(), bottom[0]->mutable_cpu_diff());
      cpu_scal(n, scale, bottom[0]->mutable_cpu_diff());
    }
  }
};
REGISTER_LAYER("TestDotLoss", TestDotLossLayer);

constexpr uint64_t kDataKey = 0x5eed;
constexpr float kTrueWeights[] = {0.5f, -1.0f, 2.0f, 0.25f};

// input_param { shape { dim: B dim: D } }: sample s of the stream is row s, so forward pass k
// reads samples [kB, (k+1)B) whatever the batch size.
class TestRegressionDataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestRegressionData"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int ExactNumTopBlobs() const override { return 2; }
  void Reshape(const BlobVec&, const BlobVec& top) override {
    const BlobShape& shape = layer_param_.input_param().shape(0);
    top[0]->Reshape(shape);
    top[1]->Reshape(std::vector<int>{top[0]->shape(0)});
  }

 protected:
  void Forward_cpu(const BlobVec&, const BlobVec& top) override {
    const int batch = top[0]->shape(0), dim = top[0]->shape(1);
    float* x = top[0]->mutable_cpu_data();
    float* y = top[1]->mutable_cpu_data();
    for (int j = 0; j < batch; ++j) {
      const uint64_t sample = forward_count() * batch + j;
      y[j] = 0.5f;
      for (int k = 0; k < dim; ++k) {
        x[j * dim + k] = 2.0f * uniform_at(kDataKey, sample * dim + k) - 1.0f;
        y[j] += kTrueWeights[k % 4] * x[j * dim + k];
      }
    }
  }
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}
};
REGISTER_LAYER("TestRegressionData", TestRegressionDataLayer);

class TestRandomScaleLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestRandomScale"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override { top[0]->ReshapeLike(*bottom[0]); }

 protected:
  float factor(int i) const { return uniform_at(step_key(), i) < 0.5f ? 0.0f : 2.0f; }
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    for (int i = 0; i < bottom[0]->count(); ++i) {
      top[0]->mutable_cpu_data()[i] = bottom[0]->cpu_data()[i] * (phase_ == TRAIN ? factor(i) : 1.0f);
    }
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (!propagate_down[0]) return;
    for (int i = 0; i < bottom[0]->count(); ++i) {
      bottom[0]->mutable_cpu_diff()[i] = top[0]->cpu_diff()[i] * (phase_ == TRAIN ? factor(i) : 1.0f);
    }
  }
};
REGISTER_LAYER("TestRandomScale", TestRandomScaleLayer);

class TestLinearRegressionLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "TestLinearRegressionLoss"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  bool IsLoss() const override { return true; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec&) override {
    if (blobs_.empty()) {
      blobs_.push_back(std::make_shared<Blob>(std::vector<int>{bottom[0]->shape(1)}));
      blobs_.push_back(std::make_shared<Blob>(std::vector<int>{1}));
    }
  }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override {
    residuals_.resize(bottom[0]->shape(0));
    top[0]->Reshape(std::vector<int>{});
  }

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    const int batch = bottom[0]->shape(0), dim = bottom[0]->shape(1);
    const float* x = bottom[0]->cpu_data();
    const float* w = blobs_[0]->cpu_data();
    float loss = 0;
    for (int j = 0; j < batch; ++j) {
      float prediction = blobs_[1]->cpu_data()[0];
      for (int k = 0; k < dim; ++k) prediction += x[j * dim + k] * w[k];
      residuals_[j] = prediction - bottom[1]->cpu_data()[j];
      loss += residuals_[j] * residuals_[j];
    }
    top[0]->mutable_cpu_data()[0] = loss / (2.0f * batch);
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>&, const BlobVec& bottom) override {
    const int batch = bottom[0]->shape(0), dim = bottom[0]->shape(1);
    const float scale = top[0]->cpu_diff()[0] / batch;
    const float* x = bottom[0]->cpu_data();
    float* w_diff = blobs_[0]->mutable_cpu_diff();
    float* b_diff = blobs_[1]->mutable_cpu_diff();
    for (int j = 0; j < batch; ++j) {
      for (int k = 0; k < dim; ++k) w_diff[k] += scale * residuals_[j] * x[j * dim + k];
      b_diff[0] += scale * residuals_[j];
    }
  }

 private:
  std::vector<float> residuals_;
};
REGISTER_LAYER("TestLinearRegressionLoss", TestLinearRegressionLossLayer);

// ---------------------------------------------------------------------------------------------
// Helpers

SolverParameter parse_solver(const std::string& text) {
  SolverParameter param;
  read_proto_from_text(text, "<test solver>", &param);
  return param;
}

std::string floats_text(const std::vector<float>& values) {
  std::ostringstream text;
  text.precision(9);
  for (float value : values) text << " data: " << value;
  return text.str();
}

// A dot-loss layer over the Input "c" (named `name`, weights `initial`, optional ParamSpec).
std::string dot_layer(const std::string& name, const std::string& input,
                      const std::vector<float>& initial, const std::string& param_spec = "") {
  return "layer { name: '" + name + "' type: 'TestDotLoss' bottom: '" + input + "' top: '" + name +
         "_loss' " + param_spec + " blobs { shape { dim: " + std::to_string(initial.size()) +
         " }" + floats_text(initial) + " } }";
}

std::string input_layer(const std::string& top, int n) {
  return "layer { name: '" + top + "' type: 'Input' top: '" + top +
         "' input_param { shape { dim: " + std::to_string(n) + " } } }";
}

// Solver text for one dot-loss layer with weights `initial`.
std::string dot_solver(const std::vector<float>& initial, const std::string& settings) {
  return "net_param { name: 'dot' " + input_layer("c", static_cast<int>(initial.size())) +
         dot_layer("dot", "c", initial) + " } " + settings;
}

std::string regression_net(int batch, bool random_mask) {
  const std::string shape = "input_param { shape { dim: " + std::to_string(batch) + " dim: 4 } }";
  std::string net = "net_param { name: 'regression' "
                    "layer { name: 'data' type: 'TestRegressionData' top: 'x' top: 'y' " + shape + " } ";
  if (random_mask) {
    net += "layer { name: 'mask' type: 'TestRandomScale' bottom: 'x' top: 'xm' } "
           "layer { name: 'fit' type: 'TestLinearRegressionLoss' bottom: 'xm' bottom: 'y' top: 'loss' } }";
  } else {
    net += "layer { name: 'fit' type: 'TestLinearRegressionLoss' bottom: 'x' bottom: 'y' top: 'loss' } }";
  }
  return net;
}

void set_input(Net& net, const std::string& name, const std::vector<float>& values) {
  Blob* blob = net.blob_by_name(name);
  ASSERT_EQ(blob->count(), static_cast<int>(values.size()));
  std::copy(values.begin(), values.end(), blob->mutable_cpu_data());
}

std::vector<float> param_values(const Solver& solver, int param_id) {
  const Blob* blob = solver.net().learnable_params()[param_id];
  return std::vector<float>(blob->cpu_data(), blob->cpu_data() + blob->count());
}

void expect_near_all(const std::vector<float>& actual, const std::vector<double>& expected,
                     double tolerance = 1e-6) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i], expected[i], tolerance * std::max(1.0, std::abs(expected[i]))) << "element " << i;
  }
}

std::string error_of(const std::function<void()>& body) {
  try {
    body();
  } catch (const Error& error) {
    return error.what();
  }
  return "<no error>";
}


class SolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_log_level_ = FLAGS_minloglevel;
    FLAGS_minloglevel = google::GLOG_WARNING;  // keep the test output readable
    set_mode(Mode::CPU);
  }
  void TearDown() override {
    FLAGS_minloglevel = saved_log_level_;
    set_mode(Mode::CPU);
  }

  // Runs `steps` iterations of a dot-loss solver with gradient c and returns the weights.
  static std::vector<float> run_dot(const std::string& settings, const std::vector<float>& w0,
                                    const std::vector<float>& c, int steps) {
    auto solver = Solver::Create(parse_solver(dot_solver(w0, settings)));
    set_input(solver->net(), "c", c);
    solver->Step(steps);
    return param_values(*solver, 0);
  }

  int saved_log_level_ = 0;
};

const std::vector<float> kW0 = {1.0f, -2.0f, 3.0f};
const std::vector<float> kGrad = {0.5f, 1.0f, -1.5f};

// ---------------------------------------------------------------------------------------------
// Learning-rate policies

TEST_F(SolverTest, LrPolicyValues) {
  const auto rate = [](const std::string& text, int iter) {
    const SolverParameter param = parse_solver(text);
    check_lr_policy(param);
    return learning_rate_at(param, iter);
  };
  EXPECT_FLOAT_EQ(rate("base_lr: 0.1", 1000), 0.1f);
  EXPECT_FLOAT_EQ(rate("base_lr: 0.1 lr_policy: 'fixed'", 7), 0.1f);
  const std::string step = "base_lr: 0.1 lr_policy: 'step' gamma: 0.5 stepsize: 10";
  EXPECT_FLOAT_EQ(rate(step, 0), 0.1f);
  EXPECT_FLOAT_EQ(rate(step, 9), 0.1f);
  EXPECT_FLOAT_EQ(rate(step, 10), 0.05f);
  EXPECT_FLOAT_EQ(rate(step, 25), 0.025f);
  EXPECT_FLOAT_EQ(rate("base_lr: 0.1 lr_policy: 'exp' gamma: 0.9", 2), 0.081f);
  const std::string inv = "base_lr: 0.01 lr_policy: 'inv' gamma: 0.0001 power: 0.75";
  EXPECT_FLOAT_EQ(rate(inv, 0), 0.01f);
  EXPECT_FLOAT_EQ(rate(inv, 1000), static_cast<float>(0.01 * std::pow(1.1, -0.75)));
  const std::string multistep =
      "base_lr: 0.1 lr_policy: 'multistep' gamma: 0.5 stepvalue: 5 stepvalue: 8";
  EXPECT_FLOAT_EQ(rate(multistep, 4), 0.1f);
  EXPECT_FLOAT_EQ(rate(multistep, 5), 0.05f);
  EXPECT_FLOAT_EQ(rate(multistep, 7), 0.05f);
  EXPECT_FLOAT_EQ(rate(multistep, 8), 0.025f);
  EXPECT_FLOAT_EQ(rate(multistep, 100), 0.025f);
  const std::string poly = "base_lr: 1 lr_policy: 'poly' power: 2 max_iter: 10";
  EXPECT_FLOAT_EQ(rate(poly, 0), 1.0f);
  EXPECT_FLOAT_EQ(rate(poly, 5), 0.25f);
  EXPECT_FLOAT_EQ(rate(poly, 10), 0.0f);
  const std::string sigmoid = "base_lr: 1 lr_policy: 'sigmoid' gamma: -0.5 stepsize: 20";
  EXPECT_FLOAT_EQ(rate(sigmoid, 20), 0.5f);
  EXPECT_FLOAT_EQ(rate(sigmoid, 22), static_cast<float>(1.0 / (1.0 + std::exp(1.0))));
}

TEST_F(SolverTest, LrPolicyErrors) {
  EXPECT_NE(error_of([] { check_lr_policy(parse_solver("lr_policy: 'cosine'")); })
                .find("unknown lr_policy \"cosine\""),
            std::string::npos);
  EXPECT_NE(error_of([] { check_lr_policy(parse_solver("lr_policy: 'step'")); }).find("stepsize"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              check_lr_policy(parse_solver("lr_policy: 'multistep' stepvalue: 5 stepvalue: 5"));
            }).find("must increase"),
            std::string::npos);
  EXPECT_NE(error_of([] { check_lr_policy(parse_solver("lr_policy: 'poly' power: 1")); }).find("max_iter"),
            std::string::npos);
  // The solver checks the policy when it is built, not at the first update.
  EXPECT_NE(error_of([] { Solver::Create(parse_solver(dot_solver(kW0, "lr_policy: 'bogus'"))); })
                .find("unknown lr_policy"),
            std::string::npos);
}

TEST_F(SolverTest, LearningRateFollowsIterations) {
  auto solver = Solver::Create(parse_solver(
      dot_solver(kW0, "base_lr: 1 lr_policy: 'step' gamma: 0.1 stepsize: 2")));
  EXPECT_FLOAT_EQ(solver->learning_rate(), 1.0f);
  solver->Step(2);
  EXPECT_EQ(solver->iter(), 2);
  EXPECT_FLOAT_EQ(solver->learning_rate(), 0.1f);
}

// ---------------------------------------------------------------------------------------------
// Update rules

TEST_F(SolverTest, SgdWithMomentum) {
  const double lr = 0.1, m = 0.9;
  // V1 = lr g, W1 = W0 - V1; V2 = m V1 + lr g, W2 = W1 - V2.
  std::vector<double> one, two;
  for (int i = 0; i < 3; ++i) {
    one.push_back(kW0[i] - lr * kGrad[i]);
    two.push_back(kW0[i] - lr * kGrad[i] - (m * lr + lr) * kGrad[i]);
  }
  expect_near_all(run_dot("base_lr: 0.1 momentum: 0.9", kW0, kGrad, 1), one);
  expect_near_all(run_dot("base_lr: 0.1 momentum: 0.9", kW0, kGrad, 2), two);
}

TEST_F(SolverTest, SgdLeavesStepInDiffAndHistory) {
  auto solver = Solver::Create(parse_solver(dot_solver(kW0, "base_lr: 0.1 momentum: 0.9")));
  set_input(solver->net(), "c", kGrad);
  solver->Step(1);
  const Blob& param = *solver->net().learnable_params()[0];
  ASSERT_EQ(solver->history().size(), 1u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(solver->history()[0]->cpu_data()[i], 0.1f * kGrad[i]);
    EXPECT_FLOAT_EQ(param.cpu_diff()[i], 0.1f * kGrad[i]);
  }
}

TEST_F(SolverTest, WeightDecayL2AndL1) {
  const double lr = 0.1, decay = 0.01;
  std::vector<double> l2, l1;
  for (int i = 0; i < 3; ++i) {
    l2.push_back(kW0[i] - lr * (kGrad[i] + decay * kW0[i]));
    l1.push_back(kW0[i] - lr * (kGrad[i] + decay * (kW0[i] > 0 ? 1 : -1)));
  }
  expect_near_all(run_dot("base_lr: 0.1 weight_decay: 0.01", kW0, kGrad, 1), l2);
  expect_near_all(
      run_dot("base_lr: 0.1 weight_decay: 0.01 regularization_type: 'L1'", kW0, kGrad, 1), l1);
  EXPECT_NE(error_of([] { run_dot("regularization_type: 'L3'", kW0, kGrad, 1); })
                .find("regularization_type"),
            std::string::npos);
}

TEST_F(SolverTest, LrMultAndDecayMult) {
  const std::string net =
      "net_param { name: 'three' " + input_layer("c", 3) + input_layer("c2", 3) +
      input_layer("c3", 3) + dot_layer("a", "c", kW0) +
      dot_layer("b", "c2", kW0, "param { lr_mult: 2 decay_mult: 0 }") +
      dot_layer("frozen", "c3", kW0, "param { lr_mult: 0 decay_mult: 1 }") +
      " } base_lr: 0.1 weight_decay: 0.01";
  auto solver = Solver::Create(parse_solver(net));
  for (const char* input : {"c", "c2", "c3"}) set_input(solver->net(), input, kGrad);
  solver->Step(1);
  std::vector<double> a, b;
  for (int i = 0; i < 3; ++i) {
    a.push_back(kW0[i] - 0.1 * (kGrad[i] + 0.01 * kW0[i]));
    b.push_back(kW0[i] - 0.2 * kGrad[i]);
  }
  expect_near_all(param_values(*solver, 0), a);
  expect_near_all(param_values(*solver, 1), b);
  // lr_mult 0: never touched, not even by weight decay.
  expect_near_all(param_values(*solver, 2), {kW0.begin(), kW0.end()}, 0);
}

TEST_F(SolverTest, Nesterov) {
  const double lr = 0.1, m = 0.9;
  std::vector<double> two;
  for (int i = 0; i < 3; ++i) {
    const double v1 = lr * kGrad[i];
    const double v2 = m * v1 + lr * kGrad[i];
    const double step1 = (1 + m) * v1;
    const double step2 = (1 + m) * v2 - m * v1;
    two.push_back(kW0[i] - step1 - step2);
  }
  expect_near_all(run_dot("type: 'Nesterov' base_lr: 0.1 momentum: 0.9", kW0, kGrad, 2), two);
}

TEST_F(SolverTest, AdaGrad) {
  const double lr = 0.1, delta = 1e-8;
  std::vector<double> two;
  for (int i = 0; i < 3; ++i) {
    const double g = kGrad[i];
    const double step1 = lr * g / (std::sqrt(g * g) + delta);
    const double step2 = lr * g / (std::sqrt(2 * g * g) + delta);
    two.push_back(kW0[i] - step1 - step2);
  }
  expect_near_all(run_dot("type: 'AdaGrad' base_lr: 0.1", kW0, kGrad, 2), two);
  EXPECT_NE(error_of([] { run_dot("type: 'AdaGrad' momentum: 0.9", kW0, kGrad, 1); }).find("momentum"),
            std::string::npos);
}

TEST_F(SolverTest, RMSProp) {
  const double lr = 0.01, decay = 0.9, delta = 1e-8;
  std::vector<double> two;
  for (int i = 0; i < 3; ++i) {
    const double g = kGrad[i];
    const double h1 = (1 - decay) * g * g;
    const double h2 = decay * h1 + (1 - decay) * g * g;
    two.push_back(kW0[i] - lr * g / (std::sqrt(h1) + delta) - lr * g / (std::sqrt(h2) + delta));
  }
  expect_near_all(run_dot("type: 'RMSProp' base_lr: 0.01 rms_decay: 0.9", kW0, kGrad, 2), two);
  EXPECT_NE(error_of([] { run_dot("type: 'RMSProp' rms_decay: 1.5", kW0, kGrad, 1); }).find("rms_decay"),
            std::string::npos);
}

TEST_F(SolverTest, Adam) {
  const double lr = 0.001, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  std::vector<double> two;
  for (int i = 0; i < 3; ++i) {
    const double g = kGrad[i];
    double m = 0, v = 0, w = kW0[i];
    for (int t = 1; t <= 2; ++t) {
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const double correction = std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t));
      w -= lr * correction * m / (std::sqrt(v) + eps);
    }
    two.push_back(w);
  }
  expect_near_all(
      run_dot("type: 'Adam' base_lr: 0.001 momentum: 0.9 momentum2: 0.999", kW0, kGrad, 2), two);
  auto solver = Solver::Create(parse_solver(dot_solver(kW0, "type: 'Adam' momentum: 0.9")));
  EXPECT_EQ(solver->history().size(), 2u);  // first and second moments
}

TEST_F(SolverTest, TypeNamesAreCaseInsensitive) {
  EXPECT_STREQ(Solver::Create(parse_solver(dot_solver(kW0, "type: 'sgd'")))->type(), "SGD");
  EXPECT_STREQ(Solver::Create(parse_solver(dot_solver(kW0, "type: 'adam'")))->type(), "Adam");
  EXPECT_STREQ(Solver::Create(parse_solver(dot_solver(kW0, "type: 'NESTEROV'")))->type(), "Nesterov");
  EXPECT_STREQ(Solver::Create(parse_solver(dot_solver(kW0, "type: 'rmsprop'")))->type(), "RMSProp");
  EXPECT_STREQ(Solver::Create(parse_solver(dot_solver(kW0, "type: 'adagrad'")))->type(), "AdaGrad");
  const std::string message =
      error_of([] { Solver::Create(parse_solver(dot_solver(kW0, "type: 'AdaMax'"))); });
  EXPECT_NE(message.find("unknown solver type 'AdaMax'"), std::string::npos) << message;
  EXPECT_NE(message.find("Adam"), std::string::npos) << message;
}

TEST_F(SolverTest, ClipGradientsByGlobalNorm) {
  const std::vector<float> w0 = {0, 0, 0};
  const std::vector<float> grad = {3, 4, 0};  // norm 5
  expect_near_all(run_dot("base_lr: 1 clip_gradients: 1", w0, grad, 1), {-0.6, -0.8, 0});
  expect_near_all(run_dot("base_lr: 1 clip_gradients: 10", w0, grad, 1), {-3, -4, 0});
  expect_near_all(run_dot("base_lr: 1", w0, grad, 1), {-3, -4, 0});
}

TEST_F(SolverTest, IterSizeMatchesLargerBatch) {
  const std::string settings =
      " base_lr: 0.05 momentum: 0.9 weight_decay: 0.001 clip_gradients: 100";
  auto accumulated = Solver::Create(parse_solver(regression_net(4, false) + settings + " iter_size: 2"));
  auto large_batch = Solver::Create(parse_solver(regression_net(8, false) + settings));
  accumulated->Step(5);
  large_batch->Step(5);
  const std::vector<float> a = test::solver_state(*accumulated);
  const std::vector<float> b = test::solver_state(*large_batch);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_NEAR(a[i], b[i], 1e-5f) << "element " << i;
  EXPECT_NE(a[0], 0.0f);  // training moved the weights
}

TEST_F(SolverTest, TrainingReducesLoss) {
  auto solver = Solver::Create(
      parse_solver(regression_net(16, false) + " base_lr: 0.2 momentum: 0.9 average_loss: 5"));
  solver->Step(5);
  const float early = solver->smoothed_loss();
  solver->Step(100);
  EXPECT_LT(solver->smoothed_loss(), 0.01f * early);
  EXPECT_NEAR(param_values(*solver, 0)[1], kTrueWeights[1], 0.05);
}

// ---------------------------------------------------------------------------------------------
// Failures

TEST_F(SolverTest, NanLossStopsTraining) {
  auto solver = Solver::Create(parse_solver(dot_solver({1, 1, 1}, "base_lr: 0.01")));
  set_input(solver->net(), "c", {1, 2, 3});
  solver->Step(2);
  set_input(solver->net(), "c", {1, std::numeric_limits<float>::quiet_NaN(), 3});
  const std::string message = error_of([&] { solver->Step(1); });
  EXPECT_NE(message.find("loss is NaN at iteration 2 (last finite loss "), std::string::npos) << message;
  EXPECT_NE(message.find("try a lower base_lr or clip_gradients"), std::string::npos) << message;
  set_input(solver->net(), "c", {1, std::numeric_limits<float>::infinity(), 3});
  EXPECT_NE(error_of([&] { solver->Step(1); }).find("loss is Inf at iteration 2"), std::string::npos);
}

TEST_F(SolverTest, NanTestOutputIsAnError) {
  auto solver = Solver::Create(parse_solver(dot_solver({1, 1, 1}, "test_iter: 1 test_interval: 10")));
  ASSERT_EQ(solver->test_nets().size(), 1u);
  set_input(*solver->test_nets()[0], "c", {std::numeric_limits<float>::quiet_NaN(), 0, 0});
  const std::string message = error_of([&] { solver->Test(0); });
  EXPECT_NE(message.find("test net #0 output 'dot_loss' is NaN at iteration 0"), std::string::npos)
      << message;
}

TEST_F(SolverTest, NetConfigurationErrors) {
  const auto message = [](const std::string& text) {
    return error_of([&] { Solver::Create(parse_solver(text)); });
  };
  EXPECT_NE(message("base_lr: 0.1").find("names no train net"), std::string::npos);
  const std::string net = "net_param { name: 'n' " + input_layer("c", 3) + " }";
  EXPECT_NE(message(net + " train_net_param { name: 'm' }").find("several train nets"), std::string::npos);
  EXPECT_NE(message(net + " test_iter: 5").find("test_interval"), std::string::npos);
  EXPECT_NE(message("train_net_param { name: 'n' } test_net_param { name: 'a' } "
                    "test_net_param { name: 'b' } test_iter: 5 test_interval: 1")
                .find("2 test net(s) (test_net/test_net_param) but 1 test_iter"),
            std::string::npos);
  EXPECT_NE(message(net + " test_iter: 1 test_iter: 1 test_interval: 1 test_state { stage: 'x' }")
                .find("test_state"),
            std::string::npos);
  EXPECT_NE(message(net + " snapshot_format: HDF5")
                .find("HDF5 snapshots are not supported; use BINARYPROTO"),
            std::string::npos);
  EXPECT_NE(message(net + " iter_size: 0").find("iter_size"), std::string::npos);
}

TEST_F(SolverTest, TestNetsFromGenericNetAndStates) {
  // One generic net tested twice; the second test net gets stage 'b', which adds a layer.
  const std::string text =
      "net_param { name: 'n' " + input_layer("c", 3) + dot_layer("dot", "c", {1, 2, 3}) +
      " layer { name: 'c2' type: 'Input' top: 'c2' input_param { shape { dim: 3 } } "
      "include { stage: 'b' } }"
      " layer { name: 'extra' type: 'TestDotLoss' bottom: 'c2' top: 'extra_loss' "
      "include { stage: 'b' } } } test_iter: 2 test_iter: 1 test_interval: 100 "
      "test_state { } test_state { stage: 'b' }";
  auto solver = Solver::Create(parse_solver(text));
  ASSERT_EQ(solver->test_nets().size(), 2u);
  EXPECT_EQ(solver->test_nets()[0]->phase(), TEST);
  EXPECT_FALSE(solver->test_nets()[0]->has_layer("extra"));
  EXPECT_TRUE(solver->test_nets()[1]->has_layer("extra"));
  set_input(*solver->test_nets()[0], "c", {1, 1, 1});
  const TestResult result = solver->Test(0);
  ASSERT_EQ(result.size(), 1u);
  EXPECT_EQ(result[0].first, "dot_loss");
  EXPECT_FLOAT_EQ(result[0].second, 6.0f);
  // The test net shares the train net's weights.
  solver->net().learnable_params()[0]->mutable_cpu_data()[0] = 11;
  EXPECT_FLOAT_EQ(solver->Test(0)[0].second, 16.0f);
  EXPECT_EQ(solver->TestAll().size(), 2u);
}

// ---------------------------------------------------------------------------------------------
// Callbacks and requests

TEST_F(SolverTest, CallbacksRunAroundTheUpdate) {
  auto solver = Solver::Create(parse_solver(dot_solver(kW0, "base_lr: 0.1 iter_size: 2")));
  set_input(solver->net(), "c", kGrad);
  std::vector<std::string> events;
  solver->add_callback([&] { events.push_back("start " + std::to_string(solver->iter())); },
                       [&] {
                         // Raw gradients summed over iter_size passes, weights not yet updated.
                         const Blob& param = *solver->net().learnable_params()[0];
                         EXPECT_FLOAT_EQ(param.cpu_diff()[0], 2 * kGrad[0]);
                         events.push_back("ready " + std::to_string(solver->iter()));
                       });
  solver->Step(2);
  EXPECT_EQ(events, (std::vector<std::string>{"start 0", "ready 0", "start 1", "ready 1"}));
}

TEST_F(SolverTest, RequestStopAndSnapshot) {
  TempDir dir;
  auto solver = Solver::Create(parse_solver(
      dot_solver(kW0, "base_lr: 0.1 max_iter: 100 snapshot_prefix: '" + (dir / "run") + "'")));
  set_input(solver->net(), "c", kGrad);
  solver->add_callback(
      [&] {
        if (solver->iter() == 1) solver->request_snapshot();
        if (solver->iter() == 3) solver->request_stop();
      },
      nullptr);
  solver->Solve();
  EXPECT_TRUE(solver->stopped_early());
  EXPECT_EQ(solver->iter(), 4);
  EXPECT_TRUE(fs::exists(dir / "run_iter_2.solverstate"));  // requested during iteration 1
  EXPECT_TRUE(fs::exists(dir / "run_iter_4.solverstate"));  // snapshot_after_train on stop
  // The request is consumed: the next Step runs normally.
  solver->Step(2);
  EXPECT_EQ(solver->iter(), 6);
  EXPECT_FALSE(solver->stopped_early());
}

TEST_F(SolverTest, LogsTrainingProgress) {
  auto solver = Solver::Create(parse_solver(dot_solver(kW0, "base_lr: 0.1 display: 1")));
  set_input(solver->net(), "c", kGrad);
  FLAGS_minloglevel = google::GLOG_INFO;
  testing::internal::CaptureStderr();
  solver->Step(1);
  const std::string log = testing::internal::GetCapturedStderr();
  EXPECT_NE(log.find("Iteration 0, loss = -6"), std::string::npos) << log;
  EXPECT_NE(log.find("    Train net output #0: dot_loss = -6 (* 1 = -6 loss)"), std::string::npos) << log;
  EXPECT_NE(log.find("Iteration 0, lr = 0.1"), std::string::npos) << log;
}

// ---------------------------------------------------------------------------------------------
// Snapshots and resuming

TEST_F(SolverTest, SnapshotFiles) {
  TempDir dir;
  auto solver = Solver::Create(parse_solver(dot_solver(
      kW0, "base_lr: 0.1 momentum: 0.9 max_iter: 5 snapshot: 2 snapshot_prefix: '" + (dir / "run") + "'")));
  set_input(solver->net(), "c", kGrad);
  solver->Solve();
  for (const char* name : {"run_iter_2.caffemodel", "run_iter_2.solverstate", "run_iter_4.caffemodel",
                           "run_iter_4.solverstate", "run_iter_5.caffemodel", "run_iter_5.solverstate"}) {
    EXPECT_TRUE(fs::exists(dir / name)) << name;
  }
  // Atomic writes leave no temporary files behind.
  int files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) {
    ++files;
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 6);

  SolverState state;
  read_proto_from_binary_file(dir / "run_iter_5.solverstate", &state);
  EXPECT_EQ(state.iter(), 5);
  EXPECT_EQ(state.learned_net(), dir / "run_iter_5.caffemodel");
  EXPECT_EQ(state.solver_type(), "SGD");
  ASSERT_EQ(state.history_size(), 1);
  EXPECT_FLOAT_EQ(state.history(0).data(0), solver->history()[0]->cpu_data()[0]);

  NetParameter model;
  read_proto_from_binary_file(dir / "run_iter_5.caffemodel", &model);
  bool found = false;
  for (const LayerParameter& layer : model.layer()) {
    if (layer.name() != "dot") continue;
    found = true;
    ASSERT_EQ(layer.blobs_size(), 1);
    for (int i = 0; i < 3; ++i) EXPECT_EQ(layer.blobs(0).data(i), param_values(*solver, 0)[i]);
  }
  EXPECT_TRUE(found);

  const SnapshotFiles again = solver->Snapshot();
  EXPECT_EQ(again.solverstate, dir / "run_iter_5.solverstate");
  EXPECT_EQ(again.caffemodel, dir / "run_iter_5.caffemodel");
}

TEST_F(SolverTest, SnapshotFolderMustExist) {
  const std::string message = error_of([] {
    Solver::Create(parse_solver(dot_solver(kW0, "snapshot: 10 snapshot_prefix: '/nonexistent/dir/x'")));
  });
  EXPECT_NE(message.find("cannot write to folder '/nonexistent/dir'"), std::string::npos) << message;
}

// Training N iterations straight equals N/2, snapshot, restore into a fresh solver, N/2 — bit
// for bit (weights and history), including data batches and random masks keyed by the step.
void expect_exact_resume(const std::string& settings) {
  TempDir dir;
  const SolverParameter param = parse_solver(regression_net(4, true) + settings +
                                             " snapshot_prefix: '" + (dir / "half") + "'");
  auto straight = Solver::Create(param);
  straight->Step(6);

  auto first_half = Solver::Create(param);
  first_half->Step(3);
  const SnapshotFiles files = first_half->Snapshot();

  auto resumed = Solver::Create(param);
  resumed->Restore(files.solverstate);
  EXPECT_EQ(resumed->iter(), 3);
  resumed->Step(3);
  EXPECT_EQ(resumed->iter(), 6);
  const std::vector<float> a = test::solver_state(*straight);
  const std::vector<float> b = test::solver_state(*resumed);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << settings;
  EXPECT_NE(a[0], 0.0f);
}

TEST_F(SolverTest, ResumeIsExactSgd) {
  expect_exact_resume("base_lr: 0.05 momentum: 0.9 weight_decay: 0.01 iter_size: 2 "
                      "lr_policy: 'multistep' gamma: 0.5 stepvalue: 2 stepvalue: 4");
}

TEST_F(SolverTest, ResumeIsExactAdam) {
  expect_exact_resume("type: 'Adam' base_lr: 0.01 momentum: 0.9 momentum2: 0.999");
}

TEST_F(SolverTest, ResumeIsExactNesterovAndRMSProp) {
  expect_exact_resume("type: 'Nesterov' base_lr: 0.05 momentum: 0.9 clip_gradients: 0.5");
  expect_exact_resume("type: 'RMSProp' base_lr: 0.01 rms_decay: 0.95");
}

TEST_F(SolverTest, RestoreRejectsOtherSolverType) {
  TempDir dir;
  const std::string net = regression_net(4, false) + " snapshot_prefix: '" + (dir / "s") + "'";
  auto adam = Solver::Create(parse_solver(net + " type: 'Adam' momentum: 0.9"));
  adam->Step(1);
  const SnapshotFiles files = adam->Snapshot();
  auto sgd = Solver::Create(parse_solver(net));
  const std::string message = error_of([&] { sgd->Restore(files.solverstate); });
  EXPECT_NE(message.find("written by the Adam solver, but this solver is SGD"), std::string::npos)
      << message;
  EXPECT_EQ(sgd->iter(), 0);
}

TEST_F(SolverTest, RestoreRejectsCaffemodel) {
  TempDir dir;
  auto solver = Solver::Create(parse_solver(regression_net(4, false) + " snapshot_prefix: '" + (dir / "s") + "'"));
  const SnapshotFiles files = solver->Snapshot();
  std::string message = error_of([&] { solver->Restore(files.caffemodel); });
  EXPECT_NE(message.find("use --weights"), std::string::npos) << message;
  // Recognised by content too, whatever the file is called.
  fs::copy_file(files.caffemodel, dir / "weights.bin");
  message = error_of([&] { solver->Restore(dir / "weights.bin"); });
  EXPECT_NE(message.find("is a .caffemodel (trained weights), not a .solverstate"), std::string::npos)
      << message;
}

TEST_F(SolverTest, RestoreRejectsMismatchedHistory) {
  TempDir dir;
  auto small = Solver::Create(parse_solver(dot_solver(kW0, "snapshot_prefix: '" + (dir / "s") + "'")));
  const SnapshotFiles files = small->Snapshot();
  auto large = Solver::Create(parse_solver(dot_solver({1, 2, 3, 4}, "")));
  std::string message = error_of([&] { large->Restore(files.solverstate); });
  EXPECT_NE(message.find("history blob 0 has shape 3 (3) but learnable parameter 0"), std::string::npos)
      << message;

  SolverState foreign;  // e.g. written by another tool: no type, no history
  foreign.set_iter(7);
  foreign.set_learned_net(files.caffemodel);
  foreign.set_current_step(0);
  write_proto_to_binary_file(foreign, dir / "foreign.solverstate");
  message = error_of([&] { small->Restore(dir / "foreign.solverstate"); });
  EXPECT_NE(message.find("holds 0 history blob(s), but the SGD solver of net 'dot' needs 1"),
            std::string::npos)
      << message;
}

TEST_F(SolverTest, RestoreFindsMovedSnapshotFolder) {
  TempDir dir;
  fs::create_directory(dir / "old");
  auto solver = Solver::Create(parse_solver(dot_solver(kW0, "base_lr: 0.1 snapshot_prefix: '" + (dir / "old/run") + "'")));
  set_input(solver->net(), "c", kGrad);
  solver->Step(2);
  solver->Snapshot();
  fs::rename(dir / "old", dir / "new");
  auto resumed = Solver::Create(parse_solver(dot_solver({0, 0, 0}, "")));
  resumed->Restore(dir / "new/run_iter_2.solverstate");
  EXPECT_EQ(resumed->iter(), 2);
  EXPECT_EQ(param_values(*resumed, 0), param_values(*solver, 0));
  fs::remove(dir / "new/run_iter_2.caffemodel");
  const std::string message = error_of([&] { resumed->Restore(dir / "new/run_iter_2.solverstate"); });
  EXPECT_NE(message.find("which were not found"), std::string::npos) << message;
}

TEST_F(SolverTest, WeightsFieldInitializesNets) {
  TempDir dir;
  auto trained = Solver::Create(parse_solver(dot_solver({4, 5, 6}, "snapshot_prefix: '" + (dir / "t") + "'")));
  const SnapshotFiles files = trained->Snapshot();
  auto solver = Solver::Create(parse_solver(dot_solver({0, 0, 0}, "weights: '" + files.caffemodel + "'")));
  EXPECT_EQ(param_values(*solver, 0), (std::vector<float>{4, 5, 6}));
  const std::string message = error_of(
      [&] { Solver::Create(parse_solver(dot_solver(kW0, "weights: '" + files.solverstate + "'"))); });
  EXPECT_NE(message.find("is a solver state, not weights"), std::string::npos) << message;
}

// ---------------------------------------------------------------------------------------------
// Solver files

TEST_F(SolverTest, LoadSolverParamResolvesPathsBesideTheFile) {
  TempDir dir;
  fs::create_directory(dir / "model");
  std::ofstream(dir / "model/net.prototxt") << "name: 'n' " << input_layer("c", 3) << dot_layer("dot", "c", kW0);
  std::ofstream(dir / "model/solver.prototxt") << "net: 'net.prototxt' base_lr: 0.1 random_seed: 1234";
  const SolverParameter param = load_solver_param(dir / "model/solver.prototxt");
  EXPECT_EQ(param.net(), dir / "model/net.prototxt");
  EXPECT_EQ(param.snapshot_prefix(), dir / "model/solver");
  auto solver = Solver::Create(dir / "model/solver.prototxt");
  EXPECT_EQ(solver->net().name(), "n");
  EXPECT_EQ(random_seed(), 1234u);

  std::ofstream(dir / "model/missing.prototxt") << "net: 'nowhere.prototxt'";
  const std::string message = error_of([&] { load_solver_param(dir / "model/missing.prototxt"); });
  EXPECT_NE(message.find("net 'nowhere.prototxt' not found (looked in the current directory and in '"),
            std::string::npos)
      << message;
  std::ofstream(dir / "model/broken.prototxt") << "base_lr: 0.1\nmax_iter: many\n";
  EXPECT_NE(error_of([&] { load_solver_param(dir / "model/broken.prototxt"); }).find("broken.prototxt:2:"),
            std::string::npos);
}

// ---------------------------------------------------------------------------------------------
// GPU

TEST_F(SolverTest, GpuUpdatesMatchCpu) {
  SKIP_IF_NO_GPU();
  for (const char* settings : {"base_lr: 0.05 momentum: 0.9 weight_decay: 0.01",
                               "type: 'Nesterov' base_lr: 0.05 momentum: 0.9 clip_gradients: 0.5",
                               "type: 'AdaGrad' base_lr: 0.05 regularization_type: 'L1' weight_decay: 0.01",
                               "type: 'RMSProp' base_lr: 0.01", "type: 'Adam' base_lr: 0.01 momentum: 0.9"}) {
    const SolverParameter param = parse_solver(regression_net(8, true) + " " + settings);
    auto cpu = Solver::Create(param);
    cpu->Step(4);
    std::vector<float> gpu_state;
    {
      test::GpuModeScope gpu_mode;
      auto gpu = Solver::Create(param);
      gpu->Step(4);
      gpu_state = test::solver_state(*gpu);
    }
    const std::vector<float> cpu_state = test::solver_state(*cpu);
    ASSERT_EQ(cpu_state.size(), gpu_state.size());
    for (size_t i = 0; i < cpu_state.size(); ++i) {
      EXPECT_NEAR(cpu_state[i], gpu_state[i], 1e-5f * std::max(1.0f, std::abs(cpu_state[i])))
          << settings << " element " << i;
    }
  }
}

}  // namespace
}  // namespace caffe
