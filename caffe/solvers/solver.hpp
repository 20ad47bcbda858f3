// Solver: trains a Net from a SolverParameter.  Each iteration zeroes the parameter gradients,
// runs iter_size forward/backward passes (accumulating gradients), and lets the update rule
// (SGD, Nesterov, AdaGrad, RMSProp, AdaDelta, Adam: one subclass each, chosen by `type`) change
// the weights.  Around that: learning-rate policies, periodic testing, loss display, snapshots
// (.caffemodel + .solverstate) and exact resumption from them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "caffe/core/blob.hpp"
#include "caffe/core/net.hpp"
#include "caffe/solvers/param_update.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

// Named outputs of one test pass: the mean over test_iter batches of every element of every
// output blob ("accuracy", or "name[j]" for element j of a non-scalar output), then the
// perplexities (see OutputAccumulator).
using TestResult = std::vector<std::pair<std::string, float>>;

// One value a net reports: element `element` of an output blob, or a perplexity.
struct ReportedOutput {
  std::string name;       // the output blob's name, or "perplexity"
  int element = -1;       // index into a non-scalar output blob; -1 otherwise
  float value = 0;
  float loss_weight = 0;  // of a loss output; 0 otherwise
  bool derived = false;   // a perplexity: computed from a loss output, not read from a blob

  // Unique name: `name`, or "name[j]" for element j of a non-scalar output.
  std::string key() const;
  // "name = value", plus " (* w = w*value loss)" for a loss output, as Caffe prints it.
  std::string describe() const;
};

// The layers whose perplexity a net reports: SoftmaxWithLoss layers with
// loss_param.report_perplexity.  Errors if report_perplexity is set on another layer type or on
// a loss that is not a mean per position (normalization NONE, or BATCH_SIZE, which the legacy
// `normalize: false` means).
std::vector<int> perplexity_layers(const Net& net);

// The gradient density of one layer that reports one (Layer::GradientDensity: GradSparsify).
struct LayerGradientDensity {
  std::string layer;
  double density = 0;      // fraction of non-zeros in the bottom gradient it wrote
  long long elements = 0;  // its bottom's element count (the weight in the mean)
};

// One entry per layer of `net` that reports a density, in net order (layers that have not run a
// backward yet are left out).
std::vector<LayerGradientDensity> gradient_densities(const Net& net);
// Σ density · elements / Σ elements (0 for an empty list).
double weighted_mean_density(const std::vector<LayerGradientDensity>& densities);
// Logs the densities, one line per layer then the weighted mean (nothing for an empty list):
//     Gradient density layer conv2_gs = 0.152344 (204800 elements)
//     Gradient density mean = 0.142 (element-weighted over 4 layers)
// The solver's display and `caffe time` print these lines; scripts parse them.
void log_gradient_densities(const std::vector<LayerGradientDensity>& densities);

// Sums a net's outputs over forward passes, for the solver's test passes, its training display
// and `caffe test` (one place, so that they all report the same list).  The report holds every
// element of every output blob, in output order, then one perplexity exp(mean loss) for each
// SoftmaxWithLoss layer with loss_param.report_perplexity (named "perplexity", or
// "<loss top>_perplexity" when the net has several).  The loss is a mean per position, so when
// every pass has the same number of positions (T x N tokens of sequence data) the mean over
// the passes is the mean cross-entropy of every token evaluated, and its exp the perplexity.
class OutputAccumulator {
 public:
  // Errors as perplexity_layers does.
  explicit OutputAccumulator(const Net& net);
  // Adds the values the outputs hold now: call after each Forward.
  void Add();
  int passes() const { return passes_; }
  // The values of the last Add (a perplexity is exp of that pass's loss).
  std::vector<ReportedOutput> Latest() const;
  // The means over all Adds so far (a perplexity is exp of the mean loss).
  std::vector<ReportedOutput> Means() const;

 private:
  // The report for per-element totals over `passes` passes.
  std::vector<ReportedOutput> Report(const std::vector<double>& totals, int passes) const;

  const Net& net_;
  std::vector<std::string> names_;          // per output blob
  std::vector<float> loss_weights_;         // per output blob
  std::vector<int> counts_;                 // per output blob: its element count at the start
  std::vector<const Blob*> perplexity_losses_;
  std::vector<std::string> perplexity_names_;
  std::vector<double> sums_;    // per output element, then per perplexity loss
  std::vector<double> latest_;  // the same, for the last Add
  int passes_ = 0;
};

// The two files one snapshot writes.
struct SnapshotFiles {
  std::string caffemodel;
  std::string solverstate;
};

class Solver {
 public:
  using Callback = std::function<void()>;

  // Creates the solver named by param.type() ("SGD", "Nesterov", "AdaGrad", "RMSProp",
  // "AdaDelta", "Adam"; case-insensitive, so the legacy spellings "sgd", "adagrad", ... work
  // too).
  static std::unique_ptr<Solver> Create(const SolverParameter& param);
  // Reads a solver prototxt (see load_solver_param) and creates its solver.
  static std::unique_ptr<Solver> Create(const std::string& solver_path);

  // Builds the train net and the test nets.  Relative net paths are taken as they are; use
  // load_solver_param to resolve them against a solver file's folder.
  explicit Solver(const SolverParameter& param);
  virtual ~Solver() = default;
  Solver(const Solver&) = delete;
  Solver& operator=(const Solver&) = delete;

  // The update rule's name as registered ("SGD", "Adam", ...).
  virtual const char* type() const = 0;

  // Trains until max_iter (after restoring `resume_file` when given), snapshots at the end
  // (snapshot_after_train) and runs the final test pass when it is due.
  void Solve(const std::string& resume_file = "");
  // Runs `iters` training iterations (testing and snapshotting when due).
  void Step(int iters);
  // Loads a .solverstate: iteration, weights (its learned_net) and update history.  A file
  // that is not a whole snapshot of this net and solver (a .caffemodel, a truncated or corrupt
  // file, another net's) is an error naming it.
  void Restore(const std::string& solverstate_path);
  // Writes <prefix>_iter_N.caffemodel and <prefix>_iter_N.solverstate (each atomically, the
  // weights first).  A failure (a full disk) is an error naming the file and the last complete
  // snapshot, which stays intact; the solver's state in memory is unchanged.
  SnapshotFiles Snapshot();
  // Runs test_iter[id] batches through test net `id` and logs and returns the mean outputs
  // (OutputAccumulator).  Every pass reads the same batches: pass b sets the test net's
  // forward counter to b (set_step(iter, b)), so batch-indexed data such as HDF5Data reads
  // batches 0 .. test_iter-1, from the start of the data, and a sequence net is evaluated on
  // the same rows each time (an LSTM's carried state resets at row 0, where cont is 0).
  TestResult Test(int test_net_id);
  std::vector<TestResult> TestAll();
  // Applies the update rule once to the gradients the parameters hold now (normalised by
  // iter_size, clipped, regularised, at the learning rate of the current iteration), without
  // advancing the iteration.  Step calls it after each iteration's passes.
  void ApplyUpdate();

  Net& net() { return *net_; }
  const Net& net() const { return *net_; }
  const std::vector<std::unique_ptr<Net>>& test_nets() const { return test_nets_; }
  int iter() const { return iter_; }
  const SolverParameter& param() const { return param_; }
  // The learning rate the next update uses (lr_policy at the current iteration).
  float learning_rate() const;
  // Update history (momentum, squared-gradient sums, ...): the rule's buffers, set by set, each
  // set holding one blob per learnable parameter.
  const std::vector<std::unique_ptr<Blob>>& history() const { return history_; }
  // Smoothed training loss: the mean over the last average_loss iterations.
  float smoothed_loss() const { return smoothed_loss_; }

  // on_start runs at the start of every iteration, before the forward passes;
  // on_gradients_ready after the gradients are accumulated, before the update.  Either may be
  // empty.  (Python callbacks and the data-parallel trainer hook in here.)
  void add_callback(Callback on_start, Callback on_gradients_ready);
  // on_iteration_end runs after the update, with iter() advanced, before a due snapshot (the
  // data-parallel trainer averages weights here).
  void add_iteration_end_callback(Callback on_iteration_end);
  // Let a data-parallel trainer keep every process's update history in one .solverstate:
  // on_snapshot edits the state Snapshot writes (filled, not yet written), on_restore the state
  // Restore read (not yet checked or applied).  Either may be empty.
  using StateHook = std::function<void(SolverState&)>;
  void set_state_hooks(StateHook on_snapshot, StateHook on_restore);

  // Asynchronous requests, honoured at the end of the current iteration (safe to call from a
  // signal handler or another thread; the library installs no signal handlers itself).
  // Stop ends Step early; Solve then snapshots (snapshot_after_train) and returns.
  void request_stop() { stop_requested_ = true; }
  void request_snapshot() { snapshot_requested_ = true; }
  // Whether the last Step/Solve ended because of request_stop.
  bool stopped_early() const { return stopped_early_; }

 protected:
  // Called by the rule's constructor: `sets` zero-filled history blobs per learnable parameter.
  void AllocateHistory(int sets);
  Blob& learnable_param(int param_id) const { return *net_->learnable_params()[param_id]; }
  Blob& history_blob(int set, int param_id) const {
    return *history_[set * net_->learnable_params().size() + param_id];
  }
  // Weight, diff and history pointers of one parameter, on the current device.
  UpdateBuffers buffers(int param_id, bool second_set = false) const;
  // Settings checks for the rules' constructors.
  void RequireNoMomentum() const;
  void RequireFraction(const char* field, float value) const;  // value in [0, 1)
  // Applies the rule to one parameter blob.
  virtual void UpdateParam(const ParamStep& step) = 0;

  SolverParameter param_;
  int iter_ = 0;

 private:
  void CheckParam() const;
  void InitTrainNet();
  void InitTestNets();
  void LoadWeights(const std::string& caffemodel_paths);
  // One iteration's forward/backward passes; returns the loss averaged over iter_size.
  float ForwardBackward();
  // Global gradient scale that brings the L2 norm down to clip_gradients (1 when not needed).
  float ClipScale(float normalization, bool log);
  void UpdateSmoothedLoss(float loss);
  void DisplayTrainOutputs() const;
  std::string SnapshotPath(const char* extension) const;
  // Restore's check that the state's history fits this solver and net (count and shapes).
  void CheckHistoryShapes(const SolverState& state, const std::string& solverstate_path) const;
  bool DisplayDue() const { return param_.display() > 0 && iter_ % param_.display() == 0; }

  std::unique_ptr<Net> net_;
  std::vector<std::unique_ptr<Net>> test_nets_;
  std::vector<std::unique_ptr<Blob>> history_;
  std::vector<Callback> on_start_;
  std::vector<Callback> on_gradients_ready_;
  std::vector<Callback> on_iteration_end_;
  StateHook on_snapshot_;
  StateHook on_restore_;
  std::vector<float> recent_losses_;  // ring of the last average_loss losses
  size_t losses_seen_ = 0;
  float smoothed_loss_ = 0;
  float last_finite_loss_ = 0;
  bool has_finite_loss_ = false;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> snapshot_requested_{false};
  bool stopped_early_ = false;
  std::string last_solverstate_;  // written by the last Snapshot, or read by Restore
};

// Reads a solver prototxt for training from that file: relative net, test_net, train_net and
// weights paths that do not exist from the current directory are looked up beside the solver
// file; a missing snapshot_prefix defaults to the solver file's path without its extension.
SolverParameter load_solver_param(const std::string& solver_path);

// ---- registry of update rules ----
using SolverFactory = std::function<std::unique_ptr<Solver>(const SolverParameter&)>;

class SolverRegistry {
 public:
  static void Add(const std::string& type, SolverFactory factory);
  // Creates param.type(); unknown types are an error listing the known ones.
  static std::unique_ptr<Solver> Create(const SolverParameter& param);
  // The registered spelling of a type matched case-insensitively ("adam" -> "Adam"); errors
  // when unknown.
  static std::string CanonicalType(const std::string& type);
  static std::vector<std::string> Types();  // sorted
};

struct SolverRegisterer {
  SolverRegisterer(const std::string& type, SolverFactory factory) {
    SolverRegistry::Add(type, std::move(factory));
  }
};

}  // namespace caffe

// REGISTER_SOLVER("SGD", SGDSolver);
#define REGISTER_SOLVER(type_name, SolverClass)                                            \
  static const ::caffe::SolverRegisterer solver_registerer_##SolverClass(                  \
      type_name, [](const ::caffe::SolverParameter& param) -> std::unique_ptr<::caffe::Solver> { \
        return std::make_unique<SolverClass>(param);                                       \
      })
