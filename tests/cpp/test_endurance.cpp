// Endurance: creating and destroying nets and solvers a thousand times keeps the process's
// resident memory flat (a leak of a few kilobytes per net shows up as megabytes here).  The
// net reads an LMDB (an environment, a cursor and a prefetch thread per Data layer), drops
// units at random and is trained and tested, so every kind of resource a net holds is made
// and freed each time.  tests/python/test_endurance.py does the same through pycaffe and for
// a long `caffe train`.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>

#include "caffe/data/db_lmdb.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/io.hpp"
#include "tests/cpp/test_util.hpp"

namespace caffe {
namespace {

using test::TempDir;

constexpr int kWarmUpLoops = 50;
constexpr int kLoops = 1000;
constexpr double kAllowedGrowthMiB = 20.0;

// VmRSS of this process, in MiB.
double resident_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  ADD_FAILURE() << "/proc/self/status has no VmRSS line";
  return 0;
}

// 16 one-channel 8x8 images with labels 0..3.
void write_lmdb(const std::string& path) {
  db::LmdbEnvironment environment(path, db::LmdbEnvironment::Access::READ_WRITE);
  db::LmdbWriter writer(environment);
  for (int i = 0; i < 16; ++i) {
    Datum datum;
    datum.set_channels(1);
    datum.set_height(8);
    datum.set_width(8);
    datum.set_data(std::string(64, static_cast<char>(16 * i)));
    datum.set_label(i % 4);
    char key[16];
    std::snprintf(key, sizeof(key), "%08d", i);
    writer.put(key, datum.SerializeAsString());
  }
  writer.commit();
}

std::string solver_text(const std::string& source, const std::string& prefix) {
  return R"(
    net_param {
      name: "mlp"
      layer { name: "data" type: "Data" top: "x" top: "label"
              transform_param { scale: 0.00390625 }
              data_param { source: ")" +
         source + R"(" batch_size: 4 backend: LMDB } }
      layer { name: "ip1" type: "InnerProduct" bottom: "x" top: "h"
              inner_product_param { num_output: 512 weight_filler { type: "xavier" } } }
      layer { name: "relu" type: "ReLU" bottom: "h" top: "h" }
      layer { name: "drop" type: "Dropout" bottom: "h" top: "h" }
      layer { name: "ip2" type: "InnerProduct" bottom: "h" top: "p"
              inner_product_param { num_output: 4 weight_filler { type: "xavier" } } }
      layer { name: "accuracy" type: "Accuracy" bottom: "p" bottom: "label" top: "accuracy"
              include { phase: TEST } }
      layer { name: "loss" type: "SoftmaxWithLoss" bottom: "p" bottom: "label" top: "loss" }
    }
    test_iter: 1 test_interval: 2 test_initialization: false
    base_lr: 0.01 momentum: 0.9 max_iter: 2 snapshot_after_train: false  # no disk syncs
    snapshot_prefix: ")" +
         prefix + "\"";
}

class EnduranceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    saved_log_level_ = FLAGS_minloglevel;
    FLAGS_minloglevel = google::GLOG_WARNING;
    set_mode(Mode::CPU);
    write_lmdb(dir_ / "db");
    read_proto_from_text(solver_text(dir_ / "db", dir_ / "run"), "<endurance solver>", &param_);
  }
  void TearDown() override { FLAGS_minloglevel = saved_log_level_; }

  // One solver (a train and a test net) trained and tested, and one net run on its own.
  void CreateUseAndDestroy() const {
    std::unique_ptr<Solver> solver = Solver::Create(param_);
    solver->Solve();
    NetParameter net_param = param_.net_param();
    net_param.mutable_state()->set_phase(TEST);
    Net net(net_param);
    net.Forward();
  }

  TempDir dir_;
  SolverParameter param_;
  int saved_log_level_ = 0;
};

TEST_F(EnduranceTest, CreatingAndDestroyingNetsAndSolversKeepsMemoryFlat) {
  for (int i = 0; i < kWarmUpLoops; ++i) CreateUseAndDestroy();
  const double before = resident_mib();
  for (int i = 0; i < kLoops; ++i) CreateUseAndDestroy();
  const double after = resident_mib();
  std::cout << "RSS over " << kLoops << " solvers and nets: " << before << " MiB -> " << after
            << " MiB (growth " << after - before << " MiB)" << std::endl;
  RecordProperty("rss_before_mib", std::to_string(before));
  RecordProperty("rss_after_mib", std::to_string(after));
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer keeps freed blocks in a quarantine of up to 256 MiB, so resident memory grows
  // by design; in that build the loops run for LeakSanitizer, which checks for leaks at exit.
  GTEST_SKIP() << "RSS is not a leak measure under AddressSanitizer (LeakSanitizer checks leaks)";
#endif
  EXPECT_LT(after - before, kAllowedGrowthMiB);
}

}  // namespace
}  // namespace caffe
