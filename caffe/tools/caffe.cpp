// caffe: the command-line front end Caffe users know.
//   caffe train --solver S.prototxt [--snapshot X.solverstate | --weights A.caffemodel,B.caffemodel]
//   mpirun -np K caffe train --solver S.prototxt [--codec dynamic|fixed:B|fp16|none]
//       [--codec_c 6] [--codec_M 4] [--codec_F 0.03] [--sync model_average|gradient_allreduce]
//       [--sync_interval N]
//   caffe test --model NET.prototxt --weights W.caffemodel [--iterations 50]
//   caffe time --model NET.prototxt [--iterations 50] [--phase TRAIN|TEST]
//   caffe device_query
// Every error becomes one line "caffe: <message>" on stderr and exit status 1.
#include <gflags/gflags.h>
#include <glog/logging.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#ifdef CAFFE_USE_CUDA
#include <cuda_runtime.h>
#endif

#include "caffe/core/common.hpp"
#include "caffe/core/cuda_context.hpp"
#include "caffe/core/net.hpp"
#include "caffe/parallel/data_parallel.hpp"
#include "caffe/parallel/mpi_context.hpp"
#include "caffe/solvers/solver.hpp"

DEFINE_string(solver, "", "train: the solver prototxt");
DEFINE_string(model, "", "test, time: the net prototxt");
DEFINE_string(snapshot, "", "train: a .solverstate to resume from (excludes --weights)");
DEFINE_string(weights, "",
              "train, test: .caffemodel file(s) to start from, comma-separated (excludes --snapshot)");
DEFINE_string(gpu, "", "run on this CUDA device (\"0\"), or \"all\"; default: the CPU (train: the "
                       "solver's solver_mode)");
DEFINE_int32(iterations, 50, "test, time: batches to run; train: overrides max_iter when given");
DEFINE_string(phase, "", "test, time: the net phase, TRAIN or TEST (test: TEST, time: TRAIN)");
DEFINE_int32(level, 0, "the net state's level");
DEFINE_string(stage, "", "the net state's stages, comma-separated");
// stop: finish the iteration, snapshot (when snapshot_after_train), exit 0; snapshot: snapshot
// after the iteration and train on; none: only say that the signal came.
DEFINE_string(sigint_effect, "stop",
              "train: what SIGINT (Ctrl-C) does: stop (snapshot if snapshot_after_train, then "
              "exit 0), snapshot (and train on) or none");
DEFINE_string(sighup_effect, "snapshot",
              "train: what SIGHUP does: stop (snapshot if snapshot_after_train, then exit 0), "
              "snapshot (and train on) or none");
DEFINE_int32(threads, 0,
             "CPU threads for BLAS (sets OPENBLAS_NUM_THREADS and CAFFE_NUM_THREADS); 0: keep the "
             "environment's choice");
// Data-parallel training (under mpirun): caffe/parallel/data_parallel.hpp.
DEFINE_string(codec, "dynamic",
              "train under mpirun: how weights (or gradients) travel: dynamic, "
              "fixed:B (B = 1..16), fp16 or none");
DEFINE_int32(codec_c, 6, "train under mpirun, codec dynamic: bits N = round(entropy) + c");
DEFINE_int32(codec_M, 4,
             "train under mpirun, codec dynamic: bits of the sampled quantization "
             "whose entropy is measured");
DEFINE_double(codec_F, 0.03, "train under mpirun, codec dynamic: fraction of the weights sampled");
DEFINE_string(sync, "model_average",
              "train under mpirun: model_average (average weights every --sync_interval "
              "iterations) or gradient_allreduce (average gradients every iteration)");
DEFINE_int32(sync_interval, 0,
             "train under mpirun, model_average: iterations between weight "
             "averages; 0: one epoch of a process's share of the data");
DEFINE_bool(log_weight_hash, false,
            "train under mpirun: log every process's weight hash after "
            "each sync (a check that they agree)");

namespace {

using caffe::fail;

const char kUsage[] =
    "the ApproxCaffe command line\n"
    "usage: caffe <command> [flags]\n\n"
    "commands:\n"
    "  train         train a model:    caffe train --solver S.prototxt [--snapshot X.solverstate |\n"
    "                                  --weights A.caffemodel[,B.caffemodel]] [--gpu 0|all]\n"
    "                data-parallel:    mpirun -np K caffe train --solver S.prototxt\n"
    "                                  [--codec dynamic|fixed:B|fp16|none] [--codec_c 6]\n"
    "                                  [--codec_M 4] [--codec_F 0.03] [--sync_interval N]\n"
    "                                  [--sync model_average|gradient_allreduce]\n"
    "  test          score a model:    caffe test --model NET.prototxt --weights W.caffemodel\n"
    "                                  [--iterations 50] [--gpu 0]\n"
    "  time          time each layer:  caffe time --model NET.prototxt [--iterations 50]\n"
    "                                  [--phase TRAIN|TEST] [--gpu 0]\n"
    "  device_query  list the CUDA devices\n\n"
    "'caffe --helpshort' lists the flags.";

// A command line mistake: reported with the usage text.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

void require_flag(const std::string& value, const char* command, const char* flag,
                  const char* what) {
  if (value.empty()) throw UsageError(std::string(command) + " needs --" + flag + " (" + what + ")");
}

std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream stream(text);
  std::string part;
  while (std::getline(stream, part, ',')) {
    if (!part.empty()) parts.push_back(part);
  }
  return parts;
}

bool flag_given(const char* name) { return !gflags::GetCommandLineFlagInfoOrDie(name).is_default; }

// ---- process setup ----

void configure_threads() {
  if (FLAGS_threads < 0) throw UsageError("--threads must be >= 0");
  int threads = FLAGS_threads;
  if (threads > 0) {
    const std::string value = std::to_string(threads);
    setenv("OPENBLAS_NUM_THREADS", value.c_str(), 1);
    setenv("CAFFE_NUM_THREADS", value.c_str(), 1);
  } else if (const char* env = std::getenv("CAFFE_NUM_THREADS")) {
    char* end = nullptr;
    const long parsed = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || parsed <= 0) {
      fail("CAFFE_NUM_THREADS='", env, "' is not a positive number");
    }
    threads = static_cast<int>(parsed);
  }
  // OpenBLAS reads OPENBLAS_NUM_THREADS itself when it loads.
  if (threads > 0) caffe::set_blas_threads(threads);
  LOG(INFO) << "BLAS: " << caffe::blas_info();
}

// The devices --gpu names: none, "all", or a comma-separated list of ids.
std::vector<int> requested_gpus() {
  std::vector<int> ids;
  if (FLAGS_gpu == "all") {
    for (int id = 0; id < caffe::gpu_count(); ++id) ids.push_back(id);
    if (ids.empty()) fail("--gpu all: no CUDA device is present");
    return ids;
  }
  for (const std::string& part : split_commas(FLAGS_gpu)) {
    char* end = nullptr;
    const long id = std::strtol(part.c_str(), &end, 10);
    if (*end != '\0' || id < 0) throw UsageError("--gpu '" + FLAGS_gpu + "': give device ids like 0 or 0,1, or all");
    ids.push_back(static_cast<int>(id));
  }
  return ids;
}

void select_mode(const std::vector<int>& gpus) {
  if (gpus.empty()) {
    caffe::set_mode(caffe::Mode::CPU);
    LOG(INFO) << "Using the CPU.";
    return;
  }
  if (gpus.size() > 1) {
    fail("--gpu ", FLAGS_gpu, ": one process trains on one GPU; for data-parallel training over ",
         gpus.size(), " GPUs use caffe.parallel (mpirun)");
  }
  caffe::set_device(gpus[0]);
  caffe::set_mode(caffe::Mode::GPU);
  LOG(INFO) << "Using GPU " << gpus[0];
}

caffe::Phase phase_from_flag(caffe::Phase default_phase) {
  if (FLAGS_phase.empty()) return default_phase;
  if (FLAGS_phase == "TRAIN") return caffe::TRAIN;
  if (FLAGS_phase == "TEST") return caffe::TEST;
  throw UsageError("--phase '" + FLAGS_phase + "': use TRAIN or TEST");
}

std::unique_ptr<caffe::Net> load_net(caffe::Phase phase) {
  return std::make_unique<caffe::Net>(FLAGS_model, phase, FLAGS_level, split_commas(FLAGS_stage));
}

void copy_weights(caffe::Net& net, const std::string& paths) {
  for (const std::string& path : split_commas(paths)) {
    if (path.size() > 12 && path.compare(path.size() - 12, 12, ".solverstate") == 0) {
      fail("'", path, "' is a solver state, not weights; resume training from it with --snapshot");
    }
    LOG(INFO) << "Copying weights from " << path;
    net.CopyTrainedLayersFrom(path);
  }
}

// ---- signals (train) ----

enum class SignalEffect { kStop, kSnapshot, kNone };

SignalEffect parse_effect(const std::string& value, const char* flag) {
  if (value == "stop") return SignalEffect::kStop;
  if (value == "snapshot") return SignalEffect::kSnapshot;
  if (value == "none") return SignalEffect::kNone;
  throw UsageError(std::string("--") + flag + " '" + value + "': use stop, snapshot or none");
}

std::atomic<caffe::Solver*> g_signalled_solver{nullptr};
SignalEffect g_sigint_effect = SignalEffect::kStop;
SignalEffect g_sighup_effect = SignalEffect::kSnapshot;

void write_stderr(const char* message) {
  // write(2) is async-signal-safe; glog is not.
  const ssize_t ignored = write(STDERR_FILENO, message, std::strlen(message));
  (void)ignored;
}

extern "C" void handle_signal(int signal_number) {
  caffe::Solver* solver = g_signalled_solver.load();
  if (!solver) return;
  switch (signal_number == SIGINT ? g_sigint_effect : g_sighup_effect) {
    case SignalEffect::kStop:
      write_stderr("caffe: stop requested; finishing the current iteration\n");
      solver->request_stop();
      break;
    case SignalEffect::kSnapshot:
      write_stderr("caffe: snapshot requested\n");
      solver->request_snapshot();
      break;
    case SignalEffect::kNone:  // said, so that a user sees the signal arrived
      write_stderr(signal_number == SIGINT ? "caffe: SIGINT ignored (--sigint_effect none)\n"
                                           : "caffe: SIGHUP ignored (--sighup_effect none)\n");
      break;
  }
}

// Routes SIGINT and SIGHUP to the solver for the lifetime of the object.  A second Ctrl-C
// after a stop request kills the process, as users expect.
class SignalRouting {
 public:
  SignalRouting(caffe::Solver& solver, SignalEffect on_sigint, SignalEffect on_sighup) {
    g_sigint_effect = on_sigint;
    g_sighup_effect = on_sighup;
    g_signalled_solver = &solver;
    install(SIGINT, on_sigint == SignalEffect::kStop, &previous_sigint_);
    install(SIGHUP, false, &previous_sighup_);
  }
  ~SignalRouting() {
    sigaction(SIGINT, &previous_sigint_, nullptr);
    sigaction(SIGHUP, &previous_sighup_, nullptr);
    g_signalled_solver = nullptr;
  }
  SignalRouting(const SignalRouting&) = delete;
  SignalRouting& operator=(const SignalRouting&) = delete;

 private:
  static void install(int signal_number, bool once, struct sigaction* previous) {
    struct sigaction action {};
    action.sa_handler = handle_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART | (once ? SA_RESETHAND : 0);
    sigaction(signal_number, &action, previous);
  }

  struct sigaction previous_sigint_ {};
  struct sigaction previous_sighup_ {};
};

// ---- commands ----

void check_train_flags() {
  require_flag(FLAGS_solver, "train", "solver", "the solver prototxt");
  if (!FLAGS_snapshot.empty() && !FLAGS_weights.empty()) {
    throw UsageError("give --snapshot (resume a run) or --weights (start from trained weights), "
                     "not both");
  }
}

// The solver file with the command line's changes.
caffe::SolverParameter train_solver_param() {
  caffe::SolverParameter param = caffe::load_solver_param(FLAGS_solver);
  if (flag_given("level")) param.mutable_train_state()->set_level(FLAGS_level);
  for (const std::string& stage : split_commas(FLAGS_stage)) {
    param.mutable_train_state()->add_stage(stage);
  }
  if (flag_given("iterations")) param.set_max_iter(FLAGS_iterations);
  for (const std::string& weights : split_commas(FLAGS_weights)) {
    if (weights.size() > 12 && weights.compare(weights.size() - 12, 12, ".solverstate") == 0) {
      fail("'", weights, "' is a solver state, not weights; resume training from it with --snapshot");
    }
    param.add_weights(weights);
  }
  return param;
}

// --gpu, else the solver's solver_mode.
void select_train_mode(const caffe::SolverParameter& param) {
  std::vector<int> gpus = requested_gpus();
  if (gpus.empty() && param.has_solver_mode() && param.solver_mode() == caffe::SolverParameter::GPU) {
    if (caffe::gpu_count() > 0) {
      gpus.push_back(param.device_id());
    } else {
      LOG(WARNING) << "The solver asks for solver_mode: GPU, but no CUDA device is present; "
                      "training on the CPU (pass --gpu to insist on a GPU).";
    }
  }
  select_mode(gpus);
}

const char* const kDataParallelFlags[] = {"codec",         "codec_c", "codec_M",        "codec_F",
                                          "sync_interval", "sync",    "log_weight_hash"};

caffe::DataParallelOptions data_parallel_options() {
  caffe::DataParallelOptions options;
  options.mode = caffe::parse_sync_mode(FLAGS_sync);
  caffe::set_codec_mode(FLAGS_codec, &options.codec);
  options.codec.c = FLAGS_codec_c;
  options.codec.sample_bits = FLAGS_codec_M;
  options.codec.sample_fraction = FLAGS_codec_F;
  options.sync_interval = FLAGS_sync_interval;
  options.log_weight_hash = FLAGS_log_weight_hash;
  return options;
}

// `caffe train` started by mpirun: every process runs this, one rank each.
int train_data_parallel_command() {
  const caffe::MpiContext mpi;
  return mpi.Run([&mpi] {
    caffe::train_data_parallel(mpi, [] {
      check_train_flags();
      caffe::DataParallelJob job{train_solver_param(), data_parallel_options(), FLAGS_snapshot};
      select_train_mode(job.solver);
      return job;
    });
  });
}

int train_command() {
  if (caffe::MpiContext::launched_by_mpirun()) return train_data_parallel_command();
  for (const char* flag : kDataParallelFlags) {
    if (flag_given(flag)) {
      throw UsageError(std::string("--") + flag +
                       " is for data-parallel training; start it with "
                       "mpirun -np K caffe train --solver S.prototxt --" +
                       flag + " ...");
    }
  }
  check_train_flags();
  const SignalEffect on_sigint = parse_effect(FLAGS_sigint_effect, "sigint_effect");
  const SignalEffect on_sighup = parse_effect(FLAGS_sighup_effect, "sighup_effect");
  const caffe::SolverParameter param = train_solver_param();
  select_train_mode(param);

  std::unique_ptr<caffe::Solver> solver = caffe::Solver::Create(param);
  SignalRouting signals(*solver, on_sigint, on_sighup);
  LOG(INFO) << "Starting Optimization";
  solver->Solve(FLAGS_snapshot);
  return 0;
}

int test_command() {
  require_flag(FLAGS_model, "test", "model", "the net prototxt");
  require_flag(FLAGS_weights, "test", "weights", "the trained .caffemodel");
  if (FLAGS_iterations <= 0) throw UsageError("--iterations must be > 0");
  select_mode(requested_gpus());
  std::unique_ptr<caffe::Net> net = load_net(phase_from_flag(caffe::TEST));
  copy_weights(*net, FLAGS_weights);
  LOG(INFO) << "Running for " << FLAGS_iterations << " iterations.";

  caffe::OutputAccumulator accumulator(*net);
  double loss_sum = 0;
  for (int batch = 0; batch < FLAGS_iterations; ++batch) {
    net->set_step(0, static_cast<uint64_t>(batch));
    float loss = 0;
    net->Forward(&loss);
    loss_sum += loss;
    accumulator.Add();
    for (const caffe::ReportedOutput& output : accumulator.Latest()) {
      LOG(INFO) << "Batch " << batch << ", " << output.name << " = " << output.value;
    }
  }
  LOG(INFO) << "Loss: " << loss_sum / FLAGS_iterations;
  for (const caffe::ReportedOutput& output : accumulator.Means()) {
    LOG(INFO) << output.describe();
  }
  return 0;
}

// Waits for queued device work so that wall-clock timings are per layer.
void synchronize_device() {
#ifdef CAFFE_USE_CUDA
  if (caffe::mode() == caffe::Mode::GPU) CUDA_CALL(cudaDeviceSynchronize());
#endif
}

double milliseconds_since(std::chrono::steady_clock::time_point start) {
  synchronize_device();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// The gradient-sparsifying layers' densities averaged over the timed iterations, in the lines
// of the solver's display (caffe::log_gradient_densities).
void log_mean_gradient_densities(const caffe::Net& net, const std::vector<double>& density_sum,
                                 int iterations) {
  std::vector<caffe::LayerGradientDensity> densities = caffe::gradient_densities(net);
  if (densities.empty()) return;
  LOG(INFO) << "Gradient densities (mean over " << iterations << " backward passes):";
  for (caffe::LayerGradientDensity& entry : densities) {
    const auto& names = net.layer_names();
    const size_t l = std::find(names.begin(), names.end(), entry.layer) - names.begin();
    entry.density = density_sum[l] / iterations;
  }
  caffe::log_gradient_densities(densities);
}

int time_command() {
  require_flag(FLAGS_model, "time", "model", "the net prototxt");
  if (FLAGS_iterations <= 0) throw UsageError("--iterations must be > 0");
  select_mode(requested_gpus());
  std::unique_ptr<caffe::Net> net = load_net(phase_from_flag(caffe::TRAIN));
  const int num_layers = static_cast<int>(net->layers().size());
  if (num_layers == 0) fail("'", FLAGS_model, "' has no layers in this phase");

  // One untimed pass: allocations and lazy initialisation happen here.
  LOG(INFO) << "Performing Forward";
  float initial_loss = 0;
  net->Forward(&initial_loss);
  LOG(INFO) << "Initial loss: " << initial_loss;
  LOG(INFO) << "Performing Backward";
  net->Backward();

  using Clock = std::chrono::steady_clock;
  std::vector<double> forward_ms(num_layers, 0.0), backward_ms(num_layers, 0.0);
  std::vector<double> density_sum(num_layers, 0.0);  // GradSparsify layers: Σ over iterations
  double forward_total = 0, backward_total = 0;
  const Clock::time_point benchmark_start = Clock::now();
  LOG(INFO) << "*** Benchmark begins ***";
  LOG(INFO) << "Testing for " << FLAGS_iterations << " iterations.";
  for (int iteration = 0; iteration < FLAGS_iterations; ++iteration) {
    net->set_step(0, static_cast<uint64_t>(iteration) + 1);
    const Clock::time_point iteration_start = Clock::now();
    for (int l = 0; l < num_layers; ++l) {
      const Clock::time_point start = Clock::now();
      net->ForwardFromTo(l, l);
      forward_ms[l] += milliseconds_since(start);
    }
    const double forward_done = milliseconds_since(iteration_start);
    for (int l = num_layers - 1; l >= 0; --l) {
      const Clock::time_point start = Clock::now();
      net->BackwardFromTo(l, l);
      backward_ms[l] += milliseconds_since(start);
      density_sum[l] += net->layers()[l]->GradientDensity().value_or(0.0);
    }
    const double iteration_ms = milliseconds_since(iteration_start);
    forward_total += forward_done;
    backward_total += iteration_ms - forward_done;
    LOG(INFO) << "Iteration: " << iteration + 1 << " forward-backward time: " << iteration_ms << " ms.";
  }
  LOG(INFO) << "Average time per layer: ";
  const double n = FLAGS_iterations;
  for (int l = 0; l < num_layers; ++l) {
    const std::string& name = net->layer_names()[l];
    LOG(INFO) << std::setw(12) << name << "\tforward: " << forward_ms[l] / n << " ms.";
    LOG(INFO) << std::setw(12) << name << "\tbackward: " << backward_ms[l] / n << " ms.";
  }
  log_mean_gradient_densities(*net, density_sum, FLAGS_iterations);
  LOG(INFO) << "Average Forward pass: " << forward_total / n << " ms.";
  LOG(INFO) << "Average Backward pass: " << backward_total / n << " ms.";
  LOG(INFO) << "Average Forward-Backward: " << (forward_total + backward_total) / n << " ms.";
  LOG(INFO) << "Total Time: " << milliseconds_since(benchmark_start) << " ms.";
  LOG(INFO) << "*** Benchmark ends ***";
  return 0;
}

int device_query_command() {
  LOG(INFO) << "Querying CUDA devices";
  std::cout << caffe::cuda::describe_devices() << std::flush;
  return 0;
}

}  // namespace

// libgomp (the threads of oneDNN's primitives) reads OMP_WAIT_POLICY once, when it loads.  Left
// unset, its idle threads spin between primitives and take the cores from OpenBLAS and from our
// own threads (LeNet on a busy 2-core machine: 217 ms per iteration against 70 with PASSIVE).
// So the tool runs itself again, once, with PASSIVE, unless the user chose a policy.
void prefer_passive_openmp_waits(char** argv) {
  if (std::getenv("OMP_WAIT_POLICY") != nullptr) return;
  setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
  execv("/proc/self/exe", argv);  // returns only if that failed: go on with libgomp's default
}

int main(int argc, char** argv) {
  prefer_passive_openmp_waits(argv);
  FLAGS_logtostderr = true;  // Caffe's habit: log lines on stderr, not in /tmp files
  gflags::SetUsageMessage(kUsage);
  gflags::SetVersionString("1.0");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  // Under mpirun, rank 0 logs for the job; the others log warnings and errors only.
  if (caffe::MpiContext::launch_rank() > 0) FLAGS_minloglevel = google::WARNING;

  const std::map<std::string, std::function<int()>> commands = {
      {"train", train_command},
      {"test", test_command},
      {"time", time_command},
      {"device_query", device_query_command}};
  try {
    if (argc != 2) throw UsageError(argc < 2 ? "no command given" : "give exactly one command");
    const auto command = commands.find(argv[1]);
    if (command == commands.end()) throw UsageError(std::string("unknown command '") + argv[1] + "'");
    configure_threads();
    return command->second();
  } catch (const UsageError& error) {
    std::cerr << "caffe: " << error.what() << "\n\n" << kUsage << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "caffe: " << error.what() << std::endl;
  }
  return 1;
}
