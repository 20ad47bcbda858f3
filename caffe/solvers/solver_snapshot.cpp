// Snapshots: writing the .caffemodel and .solverstate of an iteration, and resuming from a
// .solverstate (with the checks that name what was passed instead, and where it came from).
#include <glog/logging.h>

#include <filesystem>
#include <set>
#include <sstream>

#include "caffe/core/net_upgrade.hpp"
#include "caffe/solvers/lr_policy.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/solvers/solver_text.hpp"
#include "caffe/util/io.hpp"

namespace caffe {
namespace fs = std::filesystem;
using solver_text::ends_with;
using solver_text::join;
using solver_text::lowercase;

std::string Solver::SnapshotPath(const char* extension) const {
  return param_.snapshot_prefix() + "_iter_" + std::to_string(iter_) + extension;
}

SnapshotFiles Solver::Snapshot() {
  SnapshotFiles files{SnapshotPath(".caffemodel"), SnapshotPath(".solverstate")};
  try {
    // The weights go first, so that a solverstate never refers to a missing model.
    LOG(INFO) << "Snapshotting to binary proto file " << files.caffemodel;
    net_->Save(files.caffemodel, param_.snapshot_diff());
    SolverState state;
    state.set_iter(iter_);
    state.set_learned_net(files.caffemodel);
    state.set_current_step(multistep_index(param_, iter_));
    state.set_solver_type(type());
    state.set_random_seed(random_seed());
    for (const auto& blob : history_) blob->ToProto(state.add_history());
    if (on_snapshot_) on_snapshot_(state);
    LOG(INFO) << "Snapshotting solver state to binary proto file " << files.solverstate;
    write_proto_to_binary_file(state, files.solverstate);
  } catch (const Error& error) {
    // Each file is written atomically (write_file_atomically), so the earlier snapshots are
    // whole: say which one a resumed run starts from.
    fail("snapshot of iteration ", iter_, " failed: ", error.what(), "; ",
         last_solverstate_.empty()
             ? std::string("this run has written no earlier snapshot")
             : "the last complete snapshot, '" + last_solverstate_ +
                   "', is intact: resume from it (caffe train --snapshot, pycaffe "
                   "solver.restore)");
  }
  last_solverstate_ = files.solverstate;
  return files;
}

namespace {

[[noreturn]] void fail_weights_as_state(const std::string& path) {
  fail("'", path,
       "' is a .caffemodel (trained weights), not a .solverstate; to start training "
       "from these weights use --weights ",
       path, " (pycaffe: solver.net.copy_from)");
}

// Reads a .solverstate, refusing what is not one: a .caffemodel, an HDF5 state, an empty or
// cut-short file.  Protobuf parses any prefix of a message that ends between two fields, so
// completeness is checked by what every writer puts last: BVLC's and ours write current_step
// after the history, and ours solver_type and random_seed after that.
SolverState read_solverstate(const std::string& path) {
  if (ends_with(path, ".caffemodel")) fail_weights_as_state(path);
  if (ends_with(path, ".h5")) {
    fail("'", path, "': HDF5 snapshots are not supported; use BINARYPROTO");
  }
  const std::string bytes = read_file(path);
  if (bytes.empty()) fail("'", path, "' is empty, not a solver state (truncated?)");
  SolverState state;
  parse_binary_proto(bytes, path, &state);
  if (!state.has_learned_net() && state.history_size() == 0) {
    // Protobuf accepts a NetParameter as a (nearly empty) SolverState: look closer.
    NetParameter weights;
    if (weights.ParseFromString(bytes) && weights.layer_size() > 0) fail_weights_as_state(path);
  }
  const char* missing = !state.has_current_step()                             ? "current_step"
                        : state.has_solver_type() && !state.has_random_seed() ? "random_seed"
                                                                              : nullptr;
  if (missing) {
    fail("'", path, "' is incomplete: its ", bytes.size(), " bytes end before the ", missing,
         " field that every snapshot writes (truncated?)");
  }
  return state;
}

// learned_net as written, else relative to the solverstate's folder, else the file of that
// name beside the solverstate (a snapshot folder that was moved).
std::string locate_learned_net(const std::string& learned_net, const std::string& state_path) {
  if (fs::exists(learned_net)) return learned_net;
  const fs::path state_dir = fs::path(state_path).parent_path();
  std::vector<std::string> tried = {learned_net};
  for (const fs::path& candidate :
       {state_dir / learned_net, state_dir / fs::path(learned_net).filename()}) {
    if (fs::exists(candidate)) return candidate.string();
    tried.push_back(candidate.string());
  }
  fail("solverstate '", state_path, "' refers to weights '", learned_net,
       "', which were not found (tried ", join(tried), ")");
}

// Reads the snapshot's weights, which must cover every layer of `net` that has weights: a
// snapshot of this net holds them all, so a gap is a file cut short between two layers (which
// protobuf parses) or another net's weights.
NetParameter read_learned_net(const Net& net, const std::string& weights_path,
                              const std::string& state_path) {
  NetParameter weights;
  try {
    read_proto_from_binary_file(weights_path, &weights);
  } catch (const Error& error) {
    fail("solverstate '", state_path, "': its weights: ", error.what());
  }
  upgrade_net_logged(&weights, weights_path);
  std::set<std::string> stored;
  for (const LayerParameter& layer : weights.layer()) {
    if (layer.blobs_size() > 0) stored.insert(layer.name());
  }
  for (size_t l = 0; l < net.layers().size(); ++l) {
    if (net.layers()[l]->blobs().empty() || stored.count(net.layer_names()[l])) continue;
    fail("solverstate '", state_path, "' refers to weights '", weights_path,
         "', which hold no weights for layer '", net.layer_names()[l], "' of net '", net.name(),
         "' (truncated, or written for another net?)");
  }
  return weights;
}

}  // namespace

void Solver::Restore(const std::string& solverstate_path) {
  LOG(INFO) << "Resuming from " << solverstate_path;
  SolverState state = read_solverstate(solverstate_path);
  if (on_restore_) on_restore_(state);
  if (state.has_solver_type() && lowercase(state.solver_type()) != lowercase(type())) {
    fail("'", solverstate_path, "' was written by the ", state.solver_type(),
         " solver, but this solver is ", type(), "; set type: \"", state.solver_type(),
         "\" in the solver prototxt to resume it");
  }
  CheckHistoryShapes(state, solverstate_path);
  if (state.has_learned_net()) {
    const std::string weights_path = locate_learned_net(state.learned_net(), solverstate_path);
    net_->CopyTrainedLayersFrom(read_learned_net(*net_, weights_path, solverstate_path));
  }
  for (size_t i = 0; i < history_.size(); ++i) {
    history_[i]->FromProto(state.history(static_cast<int>(i)), /*reshape=*/false);
  }
  iter_ = state.iter();
  if (state.has_random_seed() && state.random_seed() != random_seed()) {
    // Continue the snapshotted run's random streams, not this process's.
    set_random_seed(state.random_seed());
    net_->ReseedRandomStreams(state.random_seed());
    for (const auto& test_net : test_nets_) test_net->ReseedRandomStreams(state.random_seed());
  }
  last_solverstate_ = solverstate_path;
}

void Solver::CheckHistoryShapes(const SolverState& state,
                                const std::string& solverstate_path) const {
  const size_t params = net_->learnable_params().size();
  const size_t stored = static_cast<size_t>(state.history_size());
  if (stored != history_.size()) {
    // A data-parallel run stores one history per process (caffe/parallel/data_parallel.hpp).
    const bool per_process =
        !history_.empty() && stored > history_.size() && stored % history_.size() == 0;
    std::ostringstream hint;
    if (per_process) {
      hint << "; it looks like the snapshot of a data-parallel run of " << stored / history_.size()
           << " processes: resume it with mpirun -np " << stored / history_.size();
    } else {
      hint << "; was it written for another net or solver type?";
    }
    fail("'", solverstate_path, "' holds ", stored, " history blob(s), but the ", type(),
         " solver of net '", net_->name(), "' needs ", history_.size(), " (",
         params ? history_.size() / params : 0, " per learnable parameter, ", params,
         " parameters)", hint.str());
  }
  for (size_t i = 0; i < history_.size(); ++i) {
    if (!history_[i]->ShapeEquals(state.history(static_cast<int>(i)))) {
      fail("'", solverstate_path, "': history blob ", i, " has shape ",
           shape_string(proto_shape(state.history(static_cast<int>(i)))),
           " but learnable parameter ", i % params, " of net '", net_->name(), "' has shape ",
           history_[i]->shape_string(), "; was it written for another net?");
    }
  }
}

}  // namespace caffe
