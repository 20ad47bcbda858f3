// The data-parallel trainer: setup and agreement, the sync schedule (Solver callbacks), weight
// and gradient exchanges, hashes for tests, and snapshots with every rank's history.
#include "caffe/parallel/data_parallel.hpp"

#include <glog/logging.h>
#include <zlib.h>

#include <algorithm>
#include <cstdlib>
#include <iomanip>
#include <memory>
#include <random>
#include <sstream>
#include <thread>

#include "caffe/data/data_shard.hpp"
#include "caffe/layers/data_layer.hpp"
#include "caffe/layers/hdf5_data_layer.hpp"
#include "caffe/layers/image_data_layer.hpp"
#include "caffe/parallel/history_snapshot.hpp"
#include "caffe/parallel/rank_agreement.hpp"
#include "caffe/parallel/weight_exchange.hpp"
#include "caffe/solvers/lr_policy.hpp"
#include "caffe/solvers/solver.hpp"
#include "caffe/util/random.hpp"

namespace caffe {
namespace {

std::string codec_description(const CodecOptions& codec) {
  std::ostringstream text;
  text << codec_mode_name(codec.kind, codec.fixed_bits);
  if (codec.kind == CodecKind::kDynamic) {
    text << " c=" << codec.c << " M=" << codec.sample_bits << " F=" << codec.sample_fraction
         << " ceiling=" << codec.ceiling;
  }
  return text.str();
}

// "<layer>[<index>]" for each learnable parameter, after the first layer that holds it.
std::vector<std::string> learnable_param_names(const Net& net) {
  const std::vector<Blob*>& params = net.learnable_params();
  std::vector<std::string> names(params.size());
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const auto& blobs = net.layers()[l]->blobs();
    for (size_t j = 0; j < blobs.size(); ++j) {
      const auto found = std::find(params.begin(), params.end(), blobs[j].get());
      if (found == params.end()) continue;
      std::string& name = names[found - params.begin()];
      if (name.empty()) name = net.layer_names()[l] + "[" + std::to_string(j) + "]";
    }
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (names[i].empty()) names[i] = "learnable parameter " + std::to_string(i);
  }
  return names;
}

// The records one pass over the first sharded data layer of a net reads, and its batch size
// (records 0 when the net has none).
struct TrainingData {
  uint64_t records = 0;
  uint64_t batch = 0;
};

TrainingData training_data(const Net& net) {
  for (size_t l = 0; l < net.layers().size(); ++l) {
    const Layer* layer = net.layers()[l].get();
    uint64_t records = 0;
    if (const auto* data = dynamic_cast<const DataLayer*>(layer)) {
      records = data->num_records();
    } else if (const auto* hdf5 = dynamic_cast<const HDF5DataLayer*>(layer)) {
      records = hdf5->num_rows();
    } else if (const auto* images = dynamic_cast<const ImageDataLayer*>(layer)) {
      records = images->num_images();
    }
    if (records > 0) return {records, static_cast<uint64_t>(net.top_vecs()[l][0]->shape(0))};
  }
  return {};
}

// Each rank of a host gets its share of the host's cores for BLAS and element-wise passes,
// unless the user chose a thread count (--threads, CAFFE_NUM_THREADS, OPENBLAS_NUM_THREADS).
void share_cores(const MpiContext& mpi) {
  if (std::getenv("CAFFE_NUM_THREADS") || std::getenv("OPENBLAS_NUM_THREADS")) return;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  set_blas_threads(std::max(1, cores / mpi.local_size()));
  LOG(INFO) << mpi.local_size() << " process(es) on this host share its " << cores
            << " core(s): " << blas_threads() << " thread(s) each (--threads sets another count)";
}

uint64_t rank0_random_seed(const MpiContext& mpi) {
  std::random_device device;
  uint64_t seed = (uint64_t{device()} << 31) ^ device();
  mpi.Broadcast(&seed, sizeof(seed));
  return seed;
}

class DataParallelTrainer {
 public:
  explicit DataParallelTrainer(const MpiContext& mpi) : mpi_(mpi), exchange_(mpi) {}

  void SetUp(const std::function<DataParallelJob()>& setup);
  void Train();

 private:
  // This rank's part of SetUp; returns what the ranks must agree on.
  SetupDescription SetUpLocally(const std::function<DataParallelJob()>& setup, uint64_t seed);
  void CheckOptions() const;
  // Takes the schedule from the user's solver settings and leaves testing and snapshotting to
  // rank 0 (whose snapshot_after_train the trainer does itself, after gathering histories).
  void TakeSchedule(SolverParameter* param);
  // Sets sync_interval_ and sync_plan_.
  void ResolveSyncInterval();
  SetupDescription Describe() const;
  void LogPlan() const;

  // The exchanged arrays: every learnable blob's data (model_average) or the diffs of those
  // with lr_mult != 0 (gradient_allreduce), or their data (hashes).
  std::vector<ExchangedArray> Arrays(bool diffs) const;
  bool SyncDue(int iter) const;
  bool DisplayDue(int iter) const { return display_ > 0 && iter % display_ == 0; }
  void OnGradientsReady();
  void OnIterationEnd();
  void LogWeightHashes(int iter) const;
  // Gathers every rank's history for the snapshot of this iteration (all ranks).
  void GatherHistories();

  const MpiContext& mpi_;
  WeightExchange exchange_;
  DataParallelOptions options_;
  std::unique_ptr<Solver> solver_;
  std::vector<std::string> param_names_;
  int max_iter_ = 0;
  int snapshot_ = 0;
  bool snapshot_after_train_ = false;
  int test_interval_ = 0;
  int display_ = 0;
  int sync_interval_ = 1;
  std::string sync_plan_;  // "model_average every N iterations (why)"
  ExchangeStats pending_;  // gradient exchanges not yet logged
  Gathered histories_;     // rank 0: every rank's history, for the snapshot of histories_iter_
  int histories_iter_ = -1;
};

void DataParallelTrainer::SetUp(const std::function<DataParallelJob()>& setup) {
  if (mpi_.rank() != 0) FLAGS_minloglevel = std::max(FLAGS_minloglevel, 1);  // warnings, errors
  const uint64_t seed = rank0_random_seed(mpi_);
  std::string error;
  SetupDescription description;
  try {
    description = SetUpLocally(setup, seed);
  } catch (const std::exception& failure) {
    error = failure.what();
    if (error.empty()) error = "setup failed";
  }
  agree_on_setup(mpi_, error, description);
  // Identical starting weights whatever the fillers did (a resumed job has them already).
  for (Blob* param : solver_->net().learnable_params()) {
    mpi_.Broadcast(param->mutable_cpu_data(), param->count() * sizeof(float));
  }
  // Dropout masks and crops differ across ranks as their data does.
  if (mpi_.rank() > 0) {
    solver_->net().ReseedRandomStreams(hash_combine(random_seed(), mpi_.rank()));
  }
  if (options_.mode == SyncMode::kGradientAllReduce) {
    solver_->add_callback(nullptr, [this] { OnGradientsReady(); });
  }
  solver_->add_iteration_end_callback([this] { OnIterationEnd(); });
  LogPlan();
}

SetupDescription DataParallelTrainer::SetUpLocally(const std::function<DataParallelJob()>& setup,
                                                   uint64_t seed) {
  DataParallelJob job = setup();
  options_ = job.options;
  CheckOptions();
  SolverParameter& param = job.solver;
  // Every rank must draw the same initial weights and data orders.
  if (param.random_seed() < 0) param.set_random_seed(static_cast<int64_t>(seed >> 1));
  TakeSchedule(&param);
  share_cores(mpi_);
  set_training_shard({static_cast<uint64_t>(mpi_.rank()), static_cast<uint64_t>(mpi_.size())});
  solver_ = Solver::Create(param);
  param_names_ = learnable_param_names(solver_->net());
  const size_t per_rank = solver_->history().size();
  Solver::StateHook store_histories;
  if (mpi_.rank() == 0) {
    store_histories = [this](SolverState& state) {
      CHECK_EQ(histories_iter_, solver_->iter()) << "histories were not gathered for the snapshot";
      append_rank_histories(histories_, &state);
    };
  }
  const std::string resume = job.resume_file;
  solver_->set_state_hooks(store_histories, [this, per_rank, resume](SolverState& state) {
    keep_rank_history(mpi_.rank(), mpi_.size(), per_rank, resume, &state);
  });
  if (!resume.empty()) solver_->Restore(resume);
  ResolveSyncInterval();
  return Describe();
}

void DataParallelTrainer::CheckOptions() const {
  check_codec_options(options_.codec, "codec settings (--codec_M, --codec_F)");
  if (options_.sync_interval < 0) fail("--sync_interval must be >= 0 (0: one epoch)");
  if (options_.mode == SyncMode::kGradientAllReduce && options_.sync_interval > 0) {
    fail(
        "--sync_interval applies to --sync model_average; gradient_allreduce exchanges "
        "gradients every iteration");
  }
}

void DataParallelTrainer::TakeSchedule(SolverParameter* param) {
  max_iter_ = param->max_iter();
  snapshot_ = param->snapshot();
  snapshot_after_train_ = param->snapshot_after_train();
  test_interval_ = param->test_interval();
  display_ = param->display();
  param->set_snapshot_after_train(false);
  if (mpi_.rank() == 0) return;
  param->set_snapshot(0);
  param->clear_test_net();
  param->clear_test_net_param();
  param->clear_test_iter();
  param->clear_test_state();
  param->set_test_interval(0);
}

void DataParallelTrainer::ResolveSyncInterval() {
  std::ostringstream text;
  int interval = options_.sync_interval;
  if (options_.mode == SyncMode::kGradientAllReduce) {
    interval = 1;
    text << "gradient_allreduce every iteration";
  } else if (interval > 0) {
    text << "model_average every " << interval << " iterations";
  } else {
    const TrainingData data = training_data(solver_->net());
    if (data.records > 0) {
      const uint64_t shard = (data.records + mpi_.size() - 1) / mpi_.size();
      const uint64_t per_iteration = data.batch * solver_->param().iter_size();
      interval =
          static_cast<int>(std::max<uint64_t>(1, (shard + per_iteration - 1) / per_iteration));
      text << "model_average every " << interval
           << " iterations (one epoch of a rank's shard: " << shard << " of " << data.records
           << " records, " << per_iteration << " per iteration)";
    } else {
      interval = kDefaultSyncInterval;
      text << "model_average every " << interval
           << " iterations (the default: the train net has no Data, HDF5Data or ImageData "
              "layer to size an epoch by)";
    }
  }
  sync_interval_ = interval;
  sync_plan_ = text.str();
}

SetupDescription DataParallelTrainer::Describe() const {
  const SolverParameter& param = solver_->param();
  SetupDescription description;
  description.emplace_back("the sync schedule", sync_plan_);
  description.emplace_back("the codec", codec_description(options_.codec));
  std::ostringstream solver;
  solver << solver_->type() << ", iter_size " << param.iter_size() << ", random_seed "
         << param.random_seed() << ", iterations " << solver_->iter() << " to " << max_iter_
         << ", test_interval " << test_interval_ << ", snapshot " << snapshot_
         << ", snapshot_after_train " << snapshot_after_train_ << ", display " << display_;
  description.emplace_back("the solver", solver.str());
  const Net& net = solver_->net();
  for (size_t i = 0; i < param_names_.size(); ++i) {
    std::ostringstream value;
    value << "shape " << net.learnable_params()[i]->shape_string() << ", lr_mult "
          << net.params_lr()[i];
    description.emplace_back("learnable blob '" + param_names_[i] + "'", value.str());
  }
  return description;
}

void DataParallelTrainer::LogPlan() const {
  LOG(INFO) << "Data-parallel training on " << mpi_.size() << " process(es): " << sync_plan_
            << ", codec " << codec_description(options_.codec) << "; rank r reads training "
            << "records i = r (mod " << mpi_.size() << "); rank 0 tests, logs and snapshots";
}

std::vector<ExchangedArray> DataParallelTrainer::Arrays(bool diffs) const {
  const Net& net = solver_->net();
  const bool trainable_only = options_.mode == SyncMode::kGradientAllReduce;
  std::vector<ExchangedArray> arrays;
  for (size_t i = 0; i < net.learnable_params().size(); ++i) {
    if (trainable_only && net.params_lr()[i] == 0.0f) continue;
    Blob* blob = net.learnable_params()[i];
    arrays.push_back({param_names_[i], diffs ? blob->mutable_cpu_diff() : blob->mutable_cpu_data(),
                      blob->shape(), static_cast<size_t>(blob->count())});
  }
  return arrays;
}

bool DataParallelTrainer::SyncDue(int iter) const {
  const auto every = [iter](int interval) { return interval > 0 && iter % interval == 0; };
  return every(sync_interval_) || every(test_interval_) || every(snapshot_) || iter == max_iter_;
}

void DataParallelTrainer::OnGradientsReady() {
  pending_.Add(exchange_.Average(Arrays(true), options_.codec, solver_->iter()));
}

void DataParallelTrainer::OnIterationEnd() {
  const int iter = solver_->iter();
  bool synced = options_.mode == SyncMode::kGradientAllReduce;
  if (synced && (DisplayDue(iter) || iter == max_iter_)) {
    LOG(INFO) << "Iteration " << iter << ", gradient exchange ("
              << codec_description(options_.codec) << "), mean of " << pending_.exchanges << ": "
              << pending_.describe();
    pending_ = ExchangeStats();
  }
  if (options_.mode == SyncMode::kModelAverage && SyncDue(iter)) {
    const ExchangeStats stats = exchange_.Average(Arrays(false), options_.codec, iter);
    LOG(INFO) << "Iteration " << iter << ", weight sync (" << codec_description(options_.codec)
              << "): " << stats.describe();
    synced = true;
  }
  if (synced && options_.log_weight_hash) LogWeightHashes(iter);
  if (snapshot_ > 0 && iter % snapshot_ == 0) GatherHistories();
}

void DataParallelTrainer::LogWeightHashes(int iter) const {
  uLong crc = crc32_z(0, nullptr, 0);
  for (const ExchangedArray& array : Arrays(false)) {
    crc = crc32_z(crc, reinterpret_cast<const Bytef*>(array.values), array.count * sizeof(float));
  }
  const auto hash = static_cast<uint32_t>(crc);
  const Gathered hashes = mpi_.GatherToRoot(reinterpret_cast<const uint8_t*>(&hash), sizeof(hash));
  if (mpi_.rank() != 0) return;
  std::ostringstream line;
  line << "Iteration " << iter << ", weight hashes:" << std::hex << std::setfill('0');
  for (int r = 0; r < mpi_.size(); ++r) {
    uint32_t value = 0;
    std::copy_n(hashes.data(r), sizeof(value), reinterpret_cast<uint8_t*>(&value));
    line << " rank " << std::dec << r << std::hex << " " << std::setw(8) << value;
  }
  LOG(INFO) << line.str();
}

void DataParallelTrainer::GatherHistories() {
  const std::vector<uint8_t> mine = pack_history(*solver_);
  histories_ = mpi_.GatherToRoot(mine.data(), mine.size());
  histories_iter_ = solver_->iter();
}

void DataParallelTrainer::Train() {
  LOG(INFO) << "Solving " << solver_->net().name();
  LOG(INFO) << "Learning Rate Policy: " << lr_policy_name(solver_->param());
  solver_->Step(std::max(0, max_iter_ - solver_->iter()));
  const int iter = solver_->iter();
  if (snapshot_after_train_ && (snapshot_ == 0 || iter % snapshot_ != 0)) {
    GatherHistories();
    if (mpi_.rank() == 0) solver_->Snapshot();
  }
  if (mpi_.rank() == 0 && test_interval_ > 0 && iter % test_interval_ == 0) solver_->TestAll();
  LOG(INFO) << "Optimization Done.";
}

}  // namespace

SyncMode parse_sync_mode(const std::string& name) {
  if (name == "model_average") return SyncMode::kModelAverage;
  if (name == "gradient_allreduce") return SyncMode::kGradientAllReduce;
  fail("unknown sync mode '", name, "': use model_average or gradient_allreduce");
}

const char* sync_mode_name(SyncMode mode) {
  return mode == SyncMode::kModelAverage ? "model_average" : "gradient_allreduce";
}

void train_data_parallel(const MpiContext& mpi, const std::function<DataParallelJob()>& setup) {
  DataParallelTrainer trainer(mpi);
  trainer.SetUp(setup);
  trainer.Train();
}

}  // namespace caffe
