// Snapshots that cannot be trusted are refused, and a snapshot that cannot be written says so:
// a .solverstate or its weights cut short at every length (protobuf parses any prefix that ends
// between two fields), garbage, and a write that fails (the whole-process tests, with kills and
// a full disk, are tests/python/test_crash_safety.py).
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

namespace fs = std::filesystem;
using test::error_of;
using test::TempDir;

// Two InnerProduct layers (four learnable blobs) with Dropout between them, on a fixed Input.
std::string mlp_solver(const std::string& prefix) {
  return R"(
    net_param {
      name: "mlp"
      layer { name: "in" type: "Input" top: "x" top: "y"
              input_param { shape { dim: 4 dim: 5 } shape { dim: 4 dim: 3 } } }
      layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h"
              inner_product_param { num_output: 6 weight_filler { type: "gaussian" std: 0.5 }
                                    bias_filler { type: "constant" value: 0.1 } } }
      layer { name: "drop" type: "Dropout" bottom: "h" top: "h" }
      layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "p"
              inner_product_param { num_output: 3 weight_filler { type: "gaussian" std: 0.5 } } }
      layer { name: "loss" type: "EuclideanLoss" bottom: "p" bottom: "y" top: "loss" }
    }
    base_lr: 0.05 momentum: 0.9 random_seed: 3 snapshot_prefix: ")" +
         prefix + "\"";
}

std::unique_ptr<Solver> make_solver(const std::string& prefix) {
  SolverParameter param;
  read_proto_from_text(mlp_solver(prefix), "<test solver>", &param);
  auto solver = Solver::Create(param);
  Net& net = solver->net();
  for (const char* input : {"x", "y"}) {
    Blob* blob = net.blob_by_name(input);
    for (int i = 0; i < blob->count(); ++i) blob->mutable_cpu_data()[i] = 0.1f * (i % 7) - 0.3f;
  }
  return solver;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class SnapshotSafetyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_log_level_ = FLAGS_minloglevel;
    FLAGS_minloglevel = google::GLOG_ERROR;  // a thousand restores log a thousand lines
    set_mode(Mode::CPU);
    auto trained = make_solver(dir_ / "run");
    trained->Step(3);
    files_ = trained->Snapshot();
    expected_ = test::solver_state(*trained);
  }
  void TearDown() override { FLAGS_minloglevel = saved_log_level_; }

  TempDir dir_;
  SnapshotFiles files_;
  std::vector<float> expected_;  // the state the snapshot holds
  int saved_log_level_ = 0;
};

TEST_F(SnapshotSafetyTest, SolverstateCutShortAtAnyLengthIsRefused) {
  const std::string bytes = read_file(files_.solverstate);
  // Cut just before our two fields, a state is exactly what BVLC's writer produces: that one
  // length is a valid snapshot (this process's random seed is the solver's random_seed).
  SolverState bvlc;
  read_proto_from_binary_file(files_.solverstate, &bvlc);
  bvlc.clear_solver_type();
  bvlc.clear_random_seed();
  const size_t bvlc_length = bvlc.ByteSizeLong();
  ASSERT_LT(bvlc_length, bytes.size());

  const std::string cut = dir_ / "cut.solverstate";
  auto solver = make_solver(dir_ / "other");
  const std::vector<float> untouched = test::solver_state(*solver);
  for (size_t length = 0; length < bytes.size(); ++length) {
    write_bytes(cut, bytes.substr(0, length));
    if (length == bvlc_length) continue;
    const std::string message = error_of([&] { solver->Restore(cut); });
    ASSERT_TRUE(contains(message, "'" + cut + "'")) << "length " << length << ": " << message;
    ASSERT_EQ(solver->iter(), 0) << "length " << length;
  }
  EXPECT_TRUE(same_bits(test::solver_state(*solver), untouched)) << "a refused state changed nothing";

  write_bytes(cut, bytes.substr(0, bvlc_length));
  solver->Restore(cut);
  EXPECT_EQ(solver->iter(), 3);
  EXPECT_TRUE(same_bits(test::solver_state(*solver), expected_));
}

TEST_F(SnapshotSafetyTest, WeightsCutShortAreRefusedOrWhole) {
  const std::string weights = read_file(files_.caffemodel);
  SolverState state;
  read_proto_from_binary_file(files_.solverstate, &state);
  const std::string cut_weights = dir_ / "cut.caffemodel";
  state.set_learned_net(cut_weights);
  write_proto_to_binary_file(state, dir_ / "cut.solverstate");

  int refused = 0;
  for (size_t length = 0; length < weights.size(); ++length) {
    write_bytes(cut_weights, weights.substr(0, length));
    auto solver = make_solver(dir_ / "other");
    std::string message;
    try {
      solver->Restore(dir_ / "cut.solverstate");
    } catch (const Error& error) {
      message = error.what();
    }
    if (message.empty()) {
      // Only the layers without weights (the loss) were cut off.
      EXPECT_TRUE(same_bits(test::solver_state(*solver), expected_)) << "length " << length;
      continue;
    }
    ++refused;
    ASSERT_TRUE(contains(message, cut_weights)) << "length " << length << ": " << message;
    ASSERT_TRUE(contains(message, "cut.solverstate")) << message;
  }
  EXPECT_GT(refused, 0);
}

TEST_F(SnapshotSafetyTest, LayerCutOffNamesTheLayer) {
  NetParameter weights;
  read_proto_from_binary_file(files_.caffemodel, &weights);
  while (weights.layer_size() > 0 && weights.layer(weights.layer_size() - 1).name() != "ip2") {
    weights.mutable_layer()->RemoveLast();
  }
  weights.mutable_layer()->RemoveLast();  // ends between drop and ip2
  write_proto_to_binary_file(weights, files_.caffemodel);
  auto solver = make_solver(dir_ / "other");
  const std::string message = error_of([&] { solver->Restore(files_.solverstate); });
  EXPECT_TRUE(contains(message, "hold no weights for layer 'ip2' of net 'mlp'")) << message;
  EXPECT_TRUE(contains(message, files_.caffemodel)) << message;
}

TEST_F(SnapshotSafetyTest, GarbageIsRefused) {
  std::mt19937 random(11);
  const std::string path = dir_ / "garbage.solverstate";
  auto solver = make_solver(dir_ / "other");
  for (int trial = 0; trial < 50; ++trial) {
    std::string bytes(1 + random() % 300, '\0');
    for (char& byte : bytes) byte = static_cast<char>(random() & 0xff);
    write_bytes(path, bytes);
    const std::string message = error_of([&] { solver->Restore(path); });
    ASSERT_TRUE(contains(message, "'" + path + "'")) << "trial " << trial << ": " << message;
  }
  write_bytes(path, "");
  EXPECT_TRUE(contains(error_of([&] { solver->Restore(path); }), "is empty")) << path;
  EXPECT_EQ(solver->iter(), 0);
}

TEST_F(SnapshotSafetyTest, FailedSnapshotNamesTheFileAndTheLastWholeSnapshot) {
  auto solver = make_solver(dir_ / "run");
  solver->Restore(files_.solverstate);
  solver->Step(1);
  // A folder where the weights go: the temporary file is written, the rename fails.
  fs::create_directories(dir_ / "run_iter_4.caffemodel/in_the_way");
  const std::string message = error_of([&] { solver->Snapshot(); });
  EXPECT_TRUE(contains(message, "snapshot of iteration 4 failed: cannot write '" +
                                    (dir_ / "run_iter_4.caffemodel") + "'"))
      << message;
  EXPECT_TRUE(
      contains(message, "the last complete snapshot, '" + files_.solverstate + "', is intact"))
      << message;
  EXPECT_FALSE(fs::exists(dir_ / "run_iter_4.solverstate"));
  for (const std::string& name : dir_.entries()) EXPECT_FALSE(contains(name, ".tmp")) << name;

  // The solver carries on, and its next snapshot is whole.
  fs::remove_all(dir_ / "run_iter_4.caffemodel");
  solver->Step(1);
  const SnapshotFiles next = solver->Snapshot();
  auto resumed = make_solver(dir_ / "run");
  resumed->Restore(next.solverstate);
  EXPECT_TRUE(same_bits(test::solver_state(*resumed), test::solver_state(*solver)));
}

}  // namespace
}  // namespace caffe
