// The AdaDelta update rule: a hand-computed two-step update, BVLC's history layout (every
// squared-gradient accumulator, then every squared-update accumulator), an exact snapshot /
// restore round trip, settings errors, the legacy enum solver_type, GPU against CPU.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/axis_layer_test_util.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::TempDir;

const std::vector<float> kC = {0.5f, -1.0f, 2.0f};  // the input, and so dL/dW
const std::vector<float> kW0 = {1.0f, -2.0f, 3.0f};
const float kB0 = 0.5f;  // bias; dL/db = 1

// loss = W·c + b: an InnerProduct whose output carries loss_weight 1, so the weight gradient is
// c and the bias gradient 1.
std::string linear_net() {
  return "net_param { name: 'linear' "
         "layer { name: 'c' type: 'Input' top: 'c' input_param { shape { dim: 1 dim: 3 } } } "
         "layer { name: 'ip' type: 'InnerProduct' bottom: 'c' top: 'y' loss_weight: 1 "
         "inner_product_param { num_output: 1 } "
         "blobs { shape { dim: 1 dim: 3 } data: 1 data: -2 data: 3 } "
         "blobs { shape { dim: 1 } data: 0.5 } } } ";
}

SolverParameter solver_param(const std::string& settings) {
  SolverParameter param;
  read_proto_from_text(linear_net() + settings, "<test solver>", &param);
  return param;
}

std::unique_ptr<Solver> make_solver(const std::string& settings) {
  auto solver = Solver::Create(solver_param(settings));
  test::set_values(solver->net().blob_by_name("c"), kC);
  return solver;
}

// One element's AdaDelta trajectory in double: weight, G and U after each step.
struct Trajectory {
  double weight, squared_gradients = 0, squared_updates = 0, last_step = 0;
  void step(double g, double lr, double rho, double delta) {
    squared_gradients = rho * squared_gradients + (1 - rho) * g * g;
    const double update =
        std::sqrt(squared_updates + delta) / std::sqrt(squared_gradients + delta) * g;
    squared_updates = rho * squared_updates + (1 - rho) * update * update;
    last_step = lr * update;
    weight -= last_step;
  }
};

class AdaDeltaSolverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_log_level_ = FLAGS_minloglevel;
    FLAGS_minloglevel = google::GLOG_WARNING;
    set_mode(Mode::CPU);
  }
  void TearDown() override {
    FLAGS_minloglevel = saved_log_level_;
    set_mode(Mode::CPU);
  }
  int saved_log_level_ = 0;
};

TEST_F(AdaDeltaSolverTest, TwoStepsByHand) {
  const double lr = 0.5, rho = 0.9, delta = 1e-4;
  auto solver = make_solver("type: 'AdaDelta' base_lr: 0.5 momentum: 0.9 delta: 1e-4");
  EXPECT_STREQ(solver->type(), "AdaDelta");
  solver->Step(2);

  std::vector<Trajectory> w;
  for (float w0 : kW0) w.push_back({w0});
  Trajectory b{kB0};
  for (int step = 0; step < 2; ++step) {
    for (int i = 0; i < 3; ++i) w[i].step(kC[i], lr, rho, delta);
    b.step(1.0, lr, rho, delta);
  }
  // History: [G(W), G(b), U(W), U(b)], as BVLC lays it out.
  ASSERT_EQ(solver->history().size(), 4u);
  const Blob& weights = *solver->net().learnable_params()[0];
  const Blob& bias = *solver->net().learnable_params()[1];
  EXPECT_EQ(solver->history()[0]->shape(), weights.shape());
  EXPECT_EQ(solver->history()[1]->shape(), bias.shape());
  EXPECT_EQ(solver->history()[2]->shape(), weights.shape());
  EXPECT_EQ(solver->history()[3]->shape(), bias.shape());
  // Float against double: relative 1e-6, and weights to 1e-6 absolute (they are near 1).
  const auto near = [](float actual, double expected) {
    EXPECT_NEAR(actual, expected, 1e-6 * std::max(1.0, std::fabs(expected)));
    EXPECT_NEAR(actual / expected, 1.0, 1e-5);
  };
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    near(weights.cpu_data()[i], w[i].weight);
    near(solver->history()[0]->cpu_data()[i], w[i].squared_gradients);
    near(solver->history()[2]->cpu_data()[i], w[i].squared_updates);
    near(weights.cpu_diff()[i], w[i].last_step);  // the step just taken, lr · v
  }
  near(bias.cpu_data()[0], b.weight);
  near(solver->history()[1]->cpu_data()[0], b.squared_gradients);
  near(solver->history()[3]->cpu_data()[0], b.squared_updates);
  near(bias.cpu_diff()[0], b.last_step);
}

TEST_F(AdaDeltaSolverTest, FirstStepIsSqrtDeltaSized) {
  // With U = 0 the first update is sqrt(delta / (G + delta)) · g: tiny, the known slow start of
  // AdaDelta that base_lr 1 leaves as it is.
  auto solver = make_solver("type: 'AdaDelta' base_lr: 1 momentum: 0.95 delta: 1e-6");
  solver->Step(1);
  const Blob& weights = *solver->net().learnable_params()[0];
  for (int i = 0; i < 3; ++i) {
    const double g = kC[i];
    const double expected = std::sqrt(1e-6 / (0.05 * g * g + 1e-6)) * g;
    EXPECT_NEAR(kW0[i] - weights.cpu_data()[i], expected, 1e-6) << i;  // W is near 1: float
    EXPECT_NEAR(weights.cpu_diff()[i] / expected, 1.0, 1e-5) << i;
  }
}

TEST_F(AdaDeltaSolverTest, SnapshotRestoreRoundTrip) {
  TempDir dir;
  const std::string settings =
      "type: 'AdaDelta' base_lr: 1 momentum: 0.9 delta: 1e-3 "
      "weight_decay: 0.01 snapshot_prefix: '" +
      (dir / "ada") + "'";
  auto straight = make_solver(settings);
  straight->Step(4);

  auto first_half = make_solver(settings);
  first_half->Step(2);
  const SnapshotFiles files = first_half->Snapshot();
  // On disk: the type, and four history blobs in the same order.
  SolverState state;
  read_proto_from_binary_file(files.solverstate, &state);
  EXPECT_EQ(state.solver_type(), "AdaDelta");
  ASSERT_EQ(state.history_size(), 4);
  EXPECT_EQ(state.history(0).data(0), first_half->history()[0]->cpu_data()[0]);
  EXPECT_EQ(state.history(3).data(0), first_half->history()[3]->cpu_data()[0]);

  auto resumed = make_solver(settings);
  resumed->Restore(files.solverstate);
  EXPECT_EQ(resumed->iter(), 2);
  resumed->Step(2);
  const std::vector<float> a = test::solver_state(*straight);
  const std::vector<float> b = test::solver_state(*resumed);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0);

  // An AdaGrad solver (one history set) refuses the AdaDelta state.
  auto adagrad = make_solver("type: 'AdaGrad' snapshot_prefix: '" + (dir / "g") + "'");
  test::expect_error([&] { adagrad->Restore(files.solverstate); },
                     {"written by the AdaDelta solver"});
}

TEST_F(AdaDeltaSolverTest, SettingsErrors) {
  test::expect_error([] { make_solver("type: 'AdaDelta' momentum: 1"); },
                     {"AdaDelta solver needs momentum (the decay rho) in [0, 1)", "got 1"});
  test::expect_error([] { make_solver("type: 'AdaDelta' momentum: 0.9 delta: 0"); },
                     {"AdaDelta solver needs delta > 0", "got 0"});
}

TEST_F(AdaDeltaSolverTest, LegacyEnumSolverTypeCreatesIt) {
  // The solver upgrade maps solver_type: ADADELTA to type "AdaDelta" (tested with the upgrade);
  // here the rule it names exists and is built.
  auto solver = make_solver("solver_type: ADADELTA momentum: 0.9");
  EXPECT_STREQ(solver->type(), "AdaDelta");
  EXPECT_EQ(solver->history().size(), 4u);
  EXPECT_STREQ(make_solver("type: 'adadelta' momentum: 0.9")->type(), "AdaDelta");
}

TEST_F(AdaDeltaSolverTest, GpuMatchesCpu) {
  SKIP_IF_NO_GPU();
  const std::string settings =
      "type: 'AdaDelta' base_lr: 1 momentum: 0.9 delta: 1e-4 "
      "weight_decay: 0.01 regularization_type: 'L1'";
  auto cpu = make_solver(settings);
  cpu->Step(3);
  std::vector<float> gpu_state;
  {
    test::GpuModeScope gpu_mode;
    auto gpu = make_solver(settings);
    gpu->Step(3);
    gpu_state = test::solver_state(*gpu);
  }
  const std::vector<float> cpu_state = test::solver_state(*cpu);
  ASSERT_EQ(cpu_state.size(), gpu_state.size());
  for (size_t i = 0; i < cpu_state.size(); ++i) {
    EXPECT_NEAR(cpu_state[i], gpu_state[i], 1e-5f * std::max(1.0f, std::fabs(cpu_state[i]))) << i;
  }
}

}  // namespace
}  // namespace caffe
