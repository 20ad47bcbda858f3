#include "caffe/solvers/solver.hpp"

#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <map>
#include <sstream>

#include "caffe/solvers/lr_policy.hpp"
#include "caffe/util/io.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace fs = std::filesystem;

// ------------------------------------------------------------------------------------------
// Registry

namespace {

std::map<std::string, SolverFactory>& solver_factories() {
  static std::map<std::string, SolverFactory> instance;
  return instance;
}

std::string lowercase(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

bool ends_with(const std::string& text, const std::string& suffix) {
  return text.size() >= suffix.size() &&
         text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string join(const std::vector<std::string>& parts) {
  std::string text;
  for (const std::string& part : parts) text += (text.empty() ? "" : ", ") + part;
  return text;
}

}  // namespace

void SolverRegistry::Add(const std::string& type, SolverFactory factory) {
  const bool inserted = solver_factories().emplace(type, std::move(factory)).second;
  if (!inserted) fail("solver type '", type, "' is registered twice");
}

std::vector<std::string> SolverRegistry::Types() {
  std::vector<std::string> types;
  for (const auto& entry : solver_factories()) types.push_back(entry.first);
  return types;
}

std::string SolverRegistry::CanonicalType(const std::string& type) {
  for (const auto& entry : solver_factories()) {
    if (lowercase(entry.first) == lowercase(type)) return entry.first;
  }
  fail("unknown solver type '", type, "'. Known types: ", join(Types()));
}

std::unique_ptr<Solver> SolverRegistry::Create(const SolverParameter& param) {
  return solver_factories().at(CanonicalType(param.type()))(param);
}

std::unique_ptr<Solver> Solver::Create(const SolverParameter& param) {
  return SolverRegistry::Create(param);
}

std::unique_ptr<Solver> Solver::Create(const std::string& solver_path) {
  return Create(load_solver_param(solver_path));
}

// ------------------------------------------------------------------------------------------
// Solver files

namespace {

// `path` as it is when it exists (or is absolute), else beside the solver file.
std::string resolve_beside(const std::string& path, const fs::path& solver_dir,
                           const std::string& what, const std::string& solver_path) {
  if (path.empty() || fs::path(path).is_absolute() || fs::exists(path)) return path;
  const fs::path beside = solver_dir / path;
  if (!solver_dir.empty() && fs::exists(beside)) return beside.string();
  fail("solver '", solver_path, "': ", what, " '", path,
       "' not found (looked in the current directory",
       solver_dir.empty() ? "" : " and in '" + solver_dir.string() + "'", ")");
}

}  // namespace

SolverParameter load_solver_param(const std::string& solver_path) {
  SolverParameter param = read_solver_param(solver_path);
  const fs::path solver_dir = fs::path(solver_path).parent_path();
  const auto resolve = [&](const std::string& path, const char* what) {
    return resolve_beside(path, solver_dir, what, solver_path);
  };
  if (param.has_net()) param.set_net(resolve(param.net(), "net"));
  if (param.has_train_net()) param.set_train_net(resolve(param.train_net(), "train_net"));
  for (int i = 0; i < param.test_net_size(); ++i) {
    param.set_test_net(i, resolve(param.test_net(i), "test_net"));
  }
  for (int i = 0; i < param.weights_size(); ++i) {
    param.set_weights(i, resolve(param.weights(i), "weights"));
  }
  if (!param.has_snapshot_prefix()) {
    // Caffe users expect snapshots beside the solver, named after it.
    param.set_snapshot_prefix((solver_dir / fs::path(solver_path).stem()).string());
  } else {
    const fs::path prefix_dir = fs::path(param.snapshot_prefix()).parent_path();
    if (!prefix_dir.empty() && prefix_dir.is_relative() && !fs::exists(prefix_dir) &&
        !solver_dir.empty() && fs::exists(solver_dir / prefix_dir)) {
      param.set_snapshot_prefix((solver_dir / param.snapshot_prefix()).string());
    }
  }
  return param;
}

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

UpdateBuffers Solver::buffers(int param_id, bool second_moment) const {
  Blob& param = learnable_param(param_id);
  const Mode on = mode();
  return UpdateBuffers{param.mutable_data_on(on), param.mutable_diff_on(on),
                       history_blob(0, param_id).mutable_data_on(on),
                       second_moment ? history_blob(1, param_id).mutable_data_on(on) : nullptr};
}

void Solver::add_callback(Callback on_start, Callback on_gradients_ready) {
  if (on_start) on_start_.push_back(std::move(on_start));
  if (on_gradients_ready) on_gradients_ready_.push_back(std::move(on_gradients_ready));
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
    loss += net_->ForwardBackward();
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

void Solver::DisplayTrainOutputs() const {
  LOG(INFO) << "Iteration " << iter_ << ", loss = " << smoothed_loss_;
  OutputAccumulator current(*net_);
  current.Add();
  const std::vector<ReportedOutput> outputs = current.Latest();
  for (size_t k = 0; k < outputs.size(); ++k) {
    LOG(INFO) << "    Train net output #" << k << ": " << outputs[k].describe();
  }
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

// ------------------------------------------------------------------------------------------
// Reported outputs

std::string ReportedOutput::key() const {
  return element < 0 ? name : name + "[" + std::to_string(element) + "]";
}

std::string ReportedOutput::describe() const {
  std::ostringstream line;
  line << name << " = " << value;
  if (loss_weight != 0.0f) line << " (* " << loss_weight << " = " << loss_weight * value << " loss)";
  return line.str();
}

std::vector<int> perplexity_layers(const Net& net) {
  std::vector<int> layers;
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const LayerParameter& layer = net.layers()[l]->layer_param();
    if (!layer.loss_param().report_perplexity()) continue;
    if (std::string(net.layers()[l]->type()) != "SoftmaxWithLoss") {
      fail("layer '", layer.name(), "' (", net.layers()[l]->type(),
           "): loss_param.report_perplexity applies to SoftmaxWithLoss layers only");
    }
    const LossParameter& loss = layer.loss_param();
    const bool per_position = loss.has_normalize()
                                  ? loss.normalize()
                                  : loss.normalization() == LossParameter::VALID ||
                                        loss.normalization() == LossParameter::FULL;
    if (!per_position) {
      fail("layer '", layer.name(), "' (SoftmaxWithLoss): loss_param.report_perplexity needs a "
           "loss that is the mean over positions (normalization VALID or FULL), so that its exp "
           "is a perplexity; remove `normalization`/`normalize` or set normalization: VALID");
    }
    layers.push_back(static_cast<int>(l));
  }
  return layers;
}

OutputAccumulator::OutputAccumulator(const Net& net)
    : net_(net), names_(net.output_blob_names()), loss_weights_(net.output_loss_weights()) {
  for (const Blob* output : net.output_blobs()) counts_.push_back(output->count());
  const std::vector<int> layers = perplexity_layers(net);
  for (int l : layers) {
    const std::string& top = net.layers()[l]->layer_param().top(0);
    perplexity_losses_.push_back(net.top_vecs()[l][0]);
    perplexity_names_.push_back(layers.size() == 1 ? "perplexity" : top + "_perplexity");
  }
}

void OutputAccumulator::Add() {
  latest_.clear();
  const std::vector<Blob*>& outputs = net_.output_blobs();
  for (size_t o = 0; o < outputs.size(); ++o) {
    if (outputs[o]->count() != counts_[o]) {
      fail("output '", names_[o], "' changed size between passes (", counts_[o], " -> ",
           outputs[o]->count(), " values); its mean is undefined");
    }
    const float* values = outputs[o]->cpu_data();
    latest_.insert(latest_.end(), values, values + counts_[o]);
  }
  for (const Blob* loss : perplexity_losses_) latest_.push_back(loss->cpu_data()[0]);
  if (sums_.empty()) sums_.assign(latest_.size(), 0.0);
  for (size_t i = 0; i < latest_.size(); ++i) sums_[i] += latest_[i];
  ++passes_;
}

std::vector<ReportedOutput> OutputAccumulator::Latest() const { return Report(latest_, 1); }

std::vector<ReportedOutput> OutputAccumulator::Means() const { return Report(sums_, passes_); }

std::vector<ReportedOutput> OutputAccumulator::Report(const std::vector<double>& totals,
                                                      int passes) const {
  std::vector<ReportedOutput> report;
  if (totals.empty()) return report;  // nothing added yet
  size_t index = 0;
  for (size_t o = 0; o < names_.size(); ++o) {
    for (int j = 0; j < counts_[o]; ++j, ++index) {
      const float mean = static_cast<float>(totals[index] / passes);
      report.push_back({names_[o], counts_[o] == 1 ? -1 : j, mean, loss_weights_[o], false});
    }
  }
  for (size_t p = 0; p < perplexity_names_.size(); ++p, ++index) {
    const float perplexity = static_cast<float>(std::exp(totals[index] / passes));
    report.push_back({perplexity_names_[p], -1, perplexity, 0.0f, true});
  }
  return report;
}

// ------------------------------------------------------------------------------------------
// Testing

std::vector<TestResult> Solver::TestAll() {
  std::vector<TestResult> results;
  for (size_t id = 0; id < test_nets_.size() && !stop_requested_; ++id) {
    LOG(INFO) << "Iteration " << iter_ << ", Testing net (#" << id << ")";
    results.push_back(Test(static_cast<int>(id)));
  }
  return results;
}

TestResult Solver::Test(int test_net_id) {
  if (test_net_id < 0 || test_net_id >= static_cast<int>(test_nets_.size())) {
    fail("Test(", test_net_id, "): the solver has ", test_nets_.size(), " test net(s)");
  }
  Net& test_net = *test_nets_[test_net_id];
  test_net.ShareTrainedLayersWith(*net_);
  const int batches = param_.test_iter(test_net_id);
  OutputAccumulator accumulator(test_net);
  double loss_sum = 0;
  for (int batch = 0; batch < batches; ++batch) {
    if (stop_requested_) {
      LOG(INFO) << "Test interrupted.";
      return {};
    }
    // Every test pass reads the same batches, so results do not depend on when tests ran.
    test_net.set_step(iter_, static_cast<uint64_t>(batch));
    float loss = 0;
    test_net.Forward(&loss);
    loss_sum += loss;
    accumulator.Add();
  }
  if (param_.test_compute_loss()) LOG(INFO) << "Test loss: " << loss_sum / batches;

  TestResult results;
  const std::vector<ReportedOutput> means = accumulator.Means();
  for (size_t k = 0; k < means.size(); ++k) {
    LOG(INFO) << "    Test net output #" << k << ": " << means[k].describe();
    // A perplexity may overflow where its (finite) loss is merely large: judge the loss.
    if (!means[k].derived && !std::isfinite(means[k].value)) {
      fail("test net #", test_net_id, " output '", means[k].key(), "' is ",
           std::isnan(means[k].value) ? "NaN" : "Inf", " at iteration ", iter_,
           "; try a lower base_lr or clip_gradients");
    }
    results.emplace_back(means[k].key(), means[k].value);
  }
  return results;
}

// ------------------------------------------------------------------------------------------
// Snapshots

std::string Solver::SnapshotPath(const char* extension) const {
  return param_.snapshot_prefix() + "_iter_" + std::to_string(iter_) + extension;
}

SnapshotFiles Solver::Snapshot() {
  SnapshotFiles files{SnapshotPath(".caffemodel"), SnapshotPath(".solverstate")};
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
  LOG(INFO) << "Snapshotting solver state to binary proto file " << files.solverstate;
  write_proto_to_binary_file(state, files.solverstate);
  return files;
}

namespace {

[[noreturn]] void fail_weights_as_state(const std::string& path) {
  fail("'", path, "' is a .caffemodel (trained weights), not a .solverstate; to start training "
       "from these weights use --weights ", path, " (pycaffe: solver.net.copy_from)");
}

// learned_net as written, else relative to the solverstate's folder, else the file of that
// name beside the solverstate (a snapshot folder that was moved).
std::string locate_learned_net(const std::string& learned_net, const std::string& state_path) {
  if (fs::exists(learned_net)) return learned_net;
  const fs::path state_dir = fs::path(state_path).parent_path();
  std::vector<std::string> tried = {learned_net};
  for (const fs::path& candidate : {state_dir / learned_net, state_dir / fs::path(learned_net).filename()}) {
    if (fs::exists(candidate)) return candidate.string();
    tried.push_back(candidate.string());
  }
  fail("solverstate '", state_path, "' refers to weights '", learned_net,
       "', which were not found (tried ", join(tried), ")");
}

}  // namespace

void Solver::Restore(const std::string& solverstate_path) {
  LOG(INFO) << "Resuming from " << solverstate_path;
  if (ends_with(solverstate_path, ".caffemodel")) fail_weights_as_state(solverstate_path);
  if (ends_with(solverstate_path, ".h5")) {
    fail("'", solverstate_path, "': HDF5 snapshots are not supported; use BINARYPROTO");
  }
  SolverState state;
  read_proto_from_binary_file(solverstate_path, &state);
  if (!state.has_learned_net() && state.history_size() == 0) {
    // Protobuf accepts a NetParameter as a (nearly empty) SolverState: look closer.
    NetParameter weights;
    if (weights.ParseFromString(read_file(solverstate_path)) && weights.layer_size() > 0) {
      fail_weights_as_state(solverstate_path);
    }
  }
  if (state.has_solver_type() && lowercase(state.solver_type()) != lowercase(type())) {
    fail("'", solverstate_path, "' was written by the ", state.solver_type(),
         " solver, but this solver is ", type(), "; set type: \"", state.solver_type(),
         "\" in the solver prototxt to resume it");
  }
  const size_t params = net_->learnable_params().size();
  if (static_cast<size_t>(state.history_size()) != history_.size()) {
    fail("'", solverstate_path, "' holds ", state.history_size(), " history blob(s), but the ",
         type(), " solver of net '", net_->name(), "' needs ", history_.size(), " (",
         params ? history_.size() / params : 0, " per learnable parameter, ", params,
         " parameters); was it written for another net or solver type?");
  }
  for (size_t i = 0; i < history_.size(); ++i) {
    if (!history_[i]->ShapeEquals(state.history(static_cast<int>(i)))) {
      fail("'", solverstate_path, "': history blob ", i, " has shape ",
           shape_string(proto_shape(state.history(static_cast<int>(i)))), " but learnable parameter ",
           i % params, " of net '", net_->name(), "' has shape ", history_[i]->shape_string(),
           "; was it written for another net?");
    }
  }
  if (state.has_learned_net()) {
    net_->CopyTrainedLayersFrom(locate_learned_net(state.learned_net(), solverstate_path));
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
}

}  // namespace caffe
