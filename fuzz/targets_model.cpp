// Fuzz targets for the model files: net and solver prototxt, the legacy upgrade, caffemodels,
// solverstates and dropout schedules (see fuzz/targets.hpp).
#include <climits>
#include <memory>
#include <stdexcept>

#include "caffe/core/layer_registry.hpp"
#include "caffe/core/net.hpp"
#include "caffe/core/net_upgrade.hpp"
#include "caffe/parallel/history_snapshot.hpp"
#include "caffe/solvers/lr_policy.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/solvers/solver_upgrade.hpp"
#include "caffe/util/io.hpp"
#include "fuzz/target_support.hpp"
#include "layers/approx_dropout/dropout_schedule.hpp"

namespace caffe {
namespace fuzz {
namespace {

constexpr char kFixedCaffemodel[] = "fixed.caffemodel";
// A test net per test_iter entry is built: more than this many is refused (time, not memory).
constexpr int kMaxTestNets = 4;

NetParameter fixed_net_param() {
  NetParameter param;
  read_proto_from_text(kFixedNet, "the fixed fuzz net", &param);
  return param;
}

Net& fixed_net() {
  static Net net(fixed_net_param());
  return net;
}

// SGD with momentum (one history blob per parameter) over the fixed net, whose weights are saved
// in the scratch folder as kFixedCaffemodel, the learned_net of the seed solverstates.
std::unique_ptr<Solver> make_fixed_solver() {
  const RandomSeedScope seed;
  SolverParameter param;
  param.set_type("SGD");
  param.set_base_lr(0.1f);
  param.set_momentum(0.9f);
  param.set_lr_policy("step");
  param.set_stepsize(10);
  param.set_gamma(0.5f);
  param.set_snapshot_prefix(scratch_dir() + "/fixed");
  *param.mutable_train_net_param() = fixed_net_param();
  std::unique_ptr<Solver> created = Solver::Create(param);
  created->net().Save(scratch_dir() + "/" + kFixedCaffemodel);
  return created;
}

Solver& fixed_solver() {
  static const std::unique_ptr<Solver> solver = make_fixed_solver();
  return *solver;
}

// The same solver as rank 1 of a 2-process data-parallel job, which takes its own history set
// from the state (caffe/parallel/history_snapshot.hpp) before restoring it.
Solver& fixed_rank_solver() {
  static const std::unique_ptr<Solver> solver = [] {
    std::unique_ptr<Solver> created = make_fixed_solver();
    const size_t per_rank = created->history().size();
    created->set_state_hooks(nullptr, [per_rank](SolverState& state) {
      keep_rank_history(/*rank=*/1, /*ranks=*/2, per_rank, "fuzz.solverstate", &state);
    });
    return created;
  }();
  return *solver;
}

void evaluate_learning_rates(const SolverParameter& param) {
  for (int iter : {0, 1, 999, INT_MAX}) {
    learning_rate_at(param, iter);
    multistep_index(param, iter);
  }
}

}  // namespace

void net_text(const uint8_t* data, size_t size) {
  accept_or_reject([&] {
    const std::string origin = "fuzz.prototxt";
    NetParameter param;
    read_proto_from_text(std::string(as_text(data, size)), origin, &param);
    upgrade_net_logged(&param, origin);
    clear_file_names(&param);
    param.mutable_state()->set_phase(TEST);
    const BlobMemoryCap cap;
    Net net(param);
    net.Forward();
    net.Backward();
  });
}

void solver_text(const uint8_t* data, size_t size) {
  accept_or_reject([&] {
    const std::string origin = "fuzz_solver.prototxt";
    SolverParameter param;
    read_proto_from_text(std::string(as_text(data, size)), origin, &param);
    upgrade_solver_logged(&param, origin);
    // Nets and weights named by file would be read from disk; inline nets are built.
    if (param.has_net() || param.has_train_net() || param.test_net_size() > 0 ||
        param.weights_size() > 0 || param.test_iter_size() > kMaxTestNets) {
      return;
    }
    clear_file_names(&param);
    param.set_snapshot_prefix(scratch_dir() + "/solver");
    const RandomSeedScope seed;
    const BlobMemoryCap cap;
    const std::unique_ptr<Solver> solver = Solver::Create(param);
    evaluate_learning_rates(solver->param());
    solver->ApplyUpdate();
  });
}

void upgrade(const uint8_t* data, size_t size) {
  accept_or_reject([&] {
    NetParameter param;
    read_proto_from_text(std::string(as_text(data, size)), "fuzz_v1.prototxt", &param);
    const bool was_old = net_needs_upgrade(param);
    const std::vector<std::string> done = upgrade_net(&param);
    if (net_needs_upgrade(param)) throw std::logic_error("upgrade_net left an old form behind");
    if (!was_old && !done.empty()) throw std::logic_error("upgrade_net changed a current net");
  });
}

void caffemodel(const uint8_t* data, size_t size) {
  Net& net = fixed_net();
  const std::string path = write_scratch("fuzz.caffemodel", as_text(data, size));
  accept_or_reject([&] {
    const BlobMemoryCap cap;
    net.CopyTrainedLayersFrom(path);
    net.Forward();
  });
}

void solverstate(const uint8_t* data, size_t size) {
  // Restore reads the learned_net the state names: keep it to the scratch folder (a bare name
  // is looked up beside the state), so that the fuzzer cannot make it read /dev/zero.
  SolverState peek;
  peek.ParsePartialFromArray(data, static_cast<int>(size));
  if (peek.learned_net().find('/') != std::string::npos) return;
  const std::string path = write_scratch("fuzz.solverstate", as_text(data, size));
  for (Solver* solver : {&fixed_solver(), &fixed_rank_solver()}) {
    accept_or_reject([&] {
      const RandomSeedScope seed;
      const BlobMemoryCap cap;
      solver->Restore(path);
      solver->learning_rate();
    });
  }
}

void schedule(const uint8_t* data, size_t size) {
  const std::string path = write_scratch("fuzz.schedule", as_text(data, size));
  for (const auto pattern : {ApproxDropoutParameter::ROW, ApproxDropoutParameter::TILE}) {
    ApproxDropoutParameter param;
    param.set_pattern(pattern);
    param.set_schedule_file(path);
    for (const long long width : {1LL, 6LL, 1LL << 40}) {
      accept_or_reject([&] {
        const approx_dropout::DropoutSchedule schedule(param, width);
        for (int iteration : {0, 1, schedule.length(), INT_MAX}) schedule.pattern_at(iteration);
      });
    }
  }
  // As the layers read it: the pattern of the solver iteration, over output rows and tiles.
  for (const char* drop : {"pattern: ROW drop_side: OUTPUT", "pattern: TILE tile_size: 2"}) {
    accept_or_reject([&] {
      LayerParameter param;
      read_proto_from_text(std::string("name: 'ipad' type: 'InnerProductApproxDropout' ") +
                               "phase: TRAIN inner_product_param { num_output: 6 } " +
                               "approx_dropout_param { " + drop + " schedule_file: '" + path +
                               "' }",
                           "the schedule layer", &param);
      const std::unique_ptr<Layer> layer = LayerRegistry::Create(param);
      Blob bottom({2, 4});
      Blob top;
      layer->SetUp({&bottom}, {&top});
      for (int iteration : {0, 5}) {
        layer->set_step(iteration, static_cast<uint64_t>(iteration));
        layer->Forward({&bottom}, {&top});
      }
    });
  }
}

}  // namespace fuzz
}  // namespace caffe
