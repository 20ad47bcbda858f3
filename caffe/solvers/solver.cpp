// Solver: construction (settings checks, the train and test nets, initial weights, update
// history) and the training loop (Solve, Step, the forward/backward passes, the update).
// Reporting, snapshots and the registry are in solver_report.cpp, solver_snapshot.cpp and
// solver_registry.cpp.
#include "caffe/solvers/solver.hpp"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "caffe/solvers/lr_policy.hpp"
#include "caffe/solvers/solver_text.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace fs = std::filesystem;
using solver_text::ends_with;

// ------------------------------------------------------------------------------------------
// Construction

Solver::Solver(const SolverParameter& param) : param_(param) {
  LOG(INFO) << "Initializing solver from parameters:\n" << param_.DebugString();
  CheckParam();
  if (param_.random_seed() >= 0) set_random_seed(static_cast<uint64_t>(param_.random_seed()));
  InitTrainNet();
  InitTestNets();
  for (const std::string& weights : param_.weights()) LoadWeights(weights);
  if (param_.snapshot_prefix().empty()) {
    param_.set_snapshot_prefix(net_->name().empty() ? "solver" : net_->name());
  }
  const std::string snapshot_dir = fs::path(param_.snapshot_prefix()).parent_path().string();
  if (access(snapshot_dir.empty() ? "." : snapshot_dir.c_str(), W_OK) != 0) {
    if (param_.snapshot() > 0) {
      fail("snapshot_prefix \"", param_.snapshot_prefix(), "\": cannot write to folder '",
           snapshot_dir, "' (create it, or change snapshot_prefix)");
    }
    LOG(WARNING) << "snapshot_prefix \"" << param_.snapshot_prefix()
                 << "\": the folder is not writable, so snapshots will fail";
  }
  LOG(INFO) << "Solver scaffolding done.";
}

void Solver::CheckParam() const {
  const auto check_at_least = [](const char* field, int value, int minimum) {
    if (value < minimum) fail("solver ", field, " must be >= ", minimum, " (got ", value, ")");
  };
  check_at_least("iter_size", param_.iter_size(), 1);
  check_at_least("average_loss", param_.average_loss(), 1);
  check_at_least("max_iter", param_.max_iter(), 0);
  check_at_least("display", param_.display(), 0);
  check_at_least("snapshot", param_.snapshot(), 0);
  check_at_least("test_interval", param_.test_interval(), 0);
  for (int test_iter : param_.test_iter()) check_at_least("test_iter", test_iter, 1);
  check_lr_policy(param_);
  if (param_.regularization_type() != "L2" && param_.regularization_type() != "L1") {
    fail("unknown regularization_type \"", param_.regularization_type(), "\"; use \"L2\" or \"L1\"");
  }
  if (param_.snapshot_format() == SolverParameter::HDF5) {
    fail("HDF5 snapshots are not supported; use BINARYPROTO (snapshot_format: BINARYPROTO)");
  }
}

namespace {

// The net's own state, then the solver's state for it, on top of the phase.
NetParameter with_solver_state(NetParameter net_param, Phase phase, const NetState* extra) {
  NetState state;
  state.set_phase(phase);
  state.MergeFrom(net_param.state());
  if (extra) state.MergeFrom(*extra);
  *net_param.mutable_state() = state;
  return net_param;
}

// Builds a net, prefixing errors with which net of the solver it is.
std::unique_ptr<Net> build_net(const NetParameter& net_param, const std::string& description) {
  try {
    auto net = std::make_unique<Net>(net_param);
    perplexity_layers(*net);  // rejects a bad report_perplexity now, not at the first test
    return net;
  } catch (const Error& error) {
    fail(description, ": ", error.what());
  }
}

}  // namespace

void Solver::InitTrainNet() {
  const int sources = param_.has_net() + param_.has_net_param() + param_.has_train_net() +
                      param_.has_train_net_param();
  if (sources != 1) {
    fail(sources == 0 ? "the solver names no train net" : "the solver names several train nets",
         "; set exactly one of net, net_param, train_net, train_net_param");
  }
  NetParameter net_param;
  std::string description;
  if (param_.has_train_net_param()) {
    description = "train net (train_net_param)";
    net_param = param_.train_net_param();
  } else if (param_.has_train_net()) {
    description = "train net '" + param_.train_net() + "'";
    net_param = read_net_param(param_.train_net());
  } else if (param_.has_net_param()) {
    description = "train net (net_param)";
    net_param = param_.net_param();
  } else {
    description = "train net '" + param_.net() + "'";
    net_param = read_net_param(param_.net());
  }
  LOG(INFO) << "Creating " << description;
  net_ = build_net(with_solver_state(net_param, TRAIN,
                                     param_.has_train_state() ? &param_.train_state() : nullptr),
                   description);
}

void Solver::InitTestNets() {
  const bool has_generic = param_.has_net() || param_.has_net_param();
  const int specific = param_.test_net_param_size() + param_.test_net_size();
  const int test_iters = param_.test_iter_size();
  if (has_generic ? test_iters < specific : test_iters != specific) {
    fail("the solver has ", specific, " test net(s) (test_net/test_net_param) but ", test_iters,
         " test_iter value(s); give one test_iter per test net",
         has_generic ? " (extra test_iter values test the `net` in phase TEST)" : "");
  }
  const int instances = has_generic ? test_iters : specific;
  if (param_.test_state_size() > 0 && param_.test_state_size() != instances) {
    fail("the solver has ", instances, " test net(s) but ", param_.test_state_size(),
         " test_state(s); give none or one per test net");
  }
  if (instances > 0 && param_.test_interval() <= 0) {
    fail("the solver has ", instances,
         " test net(s) (test_iter is set) but test_interval is 0; set test_interval > 0 "
         "(iterations between tests) or remove test_iter");
  }
  NetParameter generic;
  if (instances > specific) {
    generic = param_.has_net_param() ? param_.net_param() : read_net_param(param_.net());
  }
  for (int i = 0; i < instances; ++i) {
    NetParameter net_param;
    std::string source;
    if (i < param_.test_net_param_size()) {
      source = "test_net_param";
      net_param = param_.test_net_param(i);
    } else if (i < specific) {
      source = "'" + param_.test_net(i - param_.test_net_param_size()) + "'";
      net_param = read_net_param(param_.test_net(i - param_.test_net_param_size()));
    } else {
      source = param_.has_net_param() ? "net_param" : "'" + param_.net() + "'";
      net_param = generic;
    }
    const std::string description = "test net #" + std::to_string(i) + " (" + source + ")";
    LOG(INFO) << "Creating " << description;
    test_nets_.push_back(build_net(
        with_solver_state(net_param, TEST,
                          param_.test_state_size() > 0 ? &param_.test_state(i) : nullptr),
        description));
    test_nets_.back()->ShareTrainedLayersWith(*net_);
  }
}

void Solver::LoadWeights(const std::string& caffemodel_path) {
  if (ends_with(caffemodel_path, ".solverstate")) {
    fail("'", caffemodel_path, "' is a solver state, not weights: resume from it with --snapshot ",
         caffemodel_path, " (Solver::Restore), or pass its .caffemodel as weights");
  }
  LOG(INFO) << "Copying weights from " << caffemodel_path;
  net_->CopyTrainedLayersFrom(caffemodel_path);
  // Layers that exist only in a test net get their weights too.
  for (const auto& test_net : test_nets_) test_net->CopyTrainedLayersFrom(caffemodel_path);
}

void Solver::AllocateHistory(int sets) {
  history_.clear();
  for (int set = 0; set < sets; ++set) {
    for (const Blob* param : net_->learnable_params()) {
      history_.push_back(std::make_unique<Blob>(param->shape()));
      cpu_set(param->count(), 0.0f, history_.back()->mutable_cpu_data());
    }
  }
}

void Solver::RequireNoMomentum() const {
  if (param_.momentum() != 0.0f) {
    fail("the ", type(), " solver does not use momentum (got momentum ", param_.momentum(),
         "); remove it from the solver");
  }
}

void Solver::RequireFraction(const char* field, float value) const {
  if (!(value >= 0.0f && value < 1.0f)) {
    fail("the ", type(), " solver needs ", field, " in [0, 1) (got ", value, ")");
  }
}

UpdateBuffers Solver::buffers(int param_id, bool second_set) const {
  Blob& param = learnable_param(param_id);
  const Mode on = mode();
  return UpdateBuffers{param.mutable_data_on(on), param.mutable_diff_on(on),
                       history_blob(0, param_id).mutable_data_on(on),
                       second_set ? history_blob(1, param_id).mutable_data_on(on) : nullptr};
}

void Solver::add_callback(Callback on_start, Callback on_gradients_ready) {
  if (on_start) on_start_.push_back(std::move(on_start));
  if (on_gradients_ready) on_gradients_ready_.push_back(std::move(on_gradients_ready));
}

void Solver::add_iteration_end_callback(Callback on_iteration_end) {
  if (on_iteration_end) on_iteration_end_.push_back(std::move(on_iteration_end));
}

void Solver::set_state_hooks(StateHook on_snapshot, StateHook on_restore) {
  on_snapshot_ = std::move(on_snapshot);
  on_restore_ = std::move(on_restore);
}

float Solver::learning_rate() const { return learning_rate_at(param_, iter_); }

// ------------------------------------------------------------------------------------------
// Training

void Solver::Solve(const std::string& resume_file) {
  LOG(INFO) << "Solving " << net_->name();
  LOG(INFO) << "Learning Rate Policy: " << lr_policy_name(param_);
  stopped_early_ = false;
  if (!resume_file.empty()) Restore(resume_file);
  Step(std::max(0, param_.max_iter() - iter_));
  if (param_.snapshot_after_train() && (param_.snapshot() == 0 || iter_ % param_.snapshot() != 0)) {
    Snapshot();
  }
  if (stopped_early_) {
    LOG(INFO) << "Optimization stopped early.";
    return;
  }
  if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0) TestAll();
  LOG(INFO) << "Optimization Done.";
}

void Solver::Step(int iters) {
  if (iters < 0) fail("Step(", iters, "): the number of iterations must be >= 0");
  const int stop_iter = iter_ + iters;
  stopped_early_ = false;
  while (iter_ < stop_iter) {
    net_->ClearParamDiffs();
    if (param_.test_interval() > 0 && iter_ % param_.test_interval() == 0 &&
        (iter_ > 0 || param_.test_initialization())) {
      TestAll();
      if (stop_requested_.exchange(false)) {
        stopped_early_ = true;
        break;
      }
    }
    for (const Callback& callback : on_start_) callback();
    const float loss = ForwardBackward();
    UpdateSmoothedLoss(loss);
    if (DisplayDue()) DisplayTrainOutputs();
    for (const Callback& callback : on_gradients_ready_) callback();
    ApplyUpdate();
    ++iter_;
    for (const Callback& callback : on_iteration_end_) callback();

    const bool snapshot_due = param_.snapshot() > 0 && iter_ % param_.snapshot() == 0;
    if (snapshot_requested_.exchange(false) || snapshot_due) Snapshot();
    if (stop_requested_.exchange(false)) {
      stopped_early_ = true;
      break;
    }
  }
}

float Solver::ForwardBackward() {
  const int passes = param_.iter_size();
  float loss = 0;
  for (int k = 0; k < passes; ++k) {
    // Keys dropout masks and data batches by (iteration, pass): a resumed run replays them.
    net_->set_step(iter_, static_cast<uint64_t>(iter_) * passes + k);
    try {
      loss += net_->ForwardBackward();
    } catch (const Error& error) {
      fail("iteration ", iter_, ": ", error.what());  // which step broke (a NaN gradient, ...)
    }
  }
  loss /= passes;
  if (!std::isfinite(loss)) {
    std::ostringstream last;
    if (has_finite_loss_) {
      last << "last finite loss " << last_finite_loss_;
    } else {
      last << "no finite loss before it";
    }
    fail("loss is ", std::isnan(loss) ? "NaN" : (loss > 0 ? "Inf" : "-Inf"), " at iteration ",
         iter_, " (", last.str(), "); try a lower base_lr or clip_gradients");
  }
  last_finite_loss_ = loss;
  has_finite_loss_ = true;
  return loss;
}

void Solver::UpdateSmoothedLoss(float loss) {
  const size_t window = static_cast<size_t>(param_.average_loss());
  if (recent_losses_.size() < window) {
    recent_losses_.push_back(loss);
  } else {
    recent_losses_[losses_seen_ % window] = loss;
  }
  ++losses_seen_;
  double sum = 0;
  for (float value : recent_losses_) sum += value;
  smoothed_loss_ = static_cast<float>(sum / recent_losses_.size());
}

float Solver::ClipScale(float normalization, bool log) {
  const float threshold = param_.clip_gradients();
  if (threshold < 0) return 1.0f;
  double sumsq = 0;
  for (size_t id = 0; id < net_->learnable_params().size(); ++id) {
    if (net_->params_lr()[id] != 0.0f) sumsq += net_->learnable_params()[id]->sumsq_diff();
  }
  const float norm = static_cast<float>(std::sqrt(sumsq)) * normalization;
  if (norm <= threshold) return 1.0f;
  const float scale = threshold / norm;
  if (log) {
    LOG(INFO) << "Gradient clipping: scaling down gradients (L2 norm " << norm << " > "
              << threshold << ") by scale factor " << scale;
  }
  return scale;
}

void Solver::ApplyUpdate() {
  const float rate = learning_rate();
  const bool display = DisplayDue();
  if (display) LOG(INFO) << "Iteration " << iter_ << ", lr = " << rate;
  // Gradients were summed over iter_size passes: average them (and clip) inside the update.
  const float normalization = 1.0f / static_cast<float>(param_.iter_size());
  const float scale = ClipScale(normalization, display) * normalization;
  const bool l1 = param_.regularization_type() == "L1";
  const std::vector<float>& lr_mults = net_->params_lr();
  const std::vector<float>& decay_mults = net_->params_weight_decay();
  for (size_t id = 0; id < net_->learnable_params().size(); ++id) {
    // Frozen parameters (lr_mult 0, e.g. BatchNorm statistics) are never touched.
    if (lr_mults[id] == 0.0f) continue;
    const RegularizedGradient gradient{scale, param_.weight_decay() * decay_mults[id], l1};
    UpdateParam(ParamStep{static_cast<int>(id), gradient, rate * lr_mults[id]});
  }
}

}  // namespace caffe
