// Data-parallel training over the ranks of an MPI job (`mpirun -np K caffe train`), with the
// compressed weight exchange of Øland & Raj (codec.hpp):
// - every rank builds the same solver; the training data layers of rank r read records
//   i ≡ r (mod K) of their stream (data_shard.hpp); rank 0 alone tests, logs and snapshots,
//   the other ranks log warnings and errors only;
// - model_average (the paper): each rank trains on its shard for sync_interval iterations,
//   then the ranks average their weights through compressed packages (weight_exchange.hpp).
//   The update history (momentum) stays local to each rank.  A sync also comes before every
//   test and snapshot and at the last iteration, so tests, snapshots and the final model are
//   the average;
// - gradient_allreduce: every iteration, before the update, the ranks average their gradients
//   through the same packages (synchronous SGD with an effective batch of K x the net's), so
//   weights and update history stay identical on every rank.
// Setup errors and settings that differ across ranks end the job with one message before any
// rank trains (rank_agreement.hpp); a snapshot holds every rank's update history
// (history_snapshot.hpp) and resumes exactly, with the same K only.
#pragma once

#include <functional>
#include <string>

#include "caffe/parallel/codec.hpp"
#include "caffe/parallel/mpi_context.hpp"
#include "proto/caffe.pb.h"

namespace caffe {

enum class SyncMode { kModelAverage, kGradientAllReduce };

// "model_average" or "gradient_allreduce"; caffe::Error naming both otherwise.
SyncMode parse_sync_mode(const std::string& name);
const char* sync_mode_name(SyncMode mode);

// Without a training set size to go by, model_average syncs every this many iterations.
constexpr int kDefaultSyncInterval = 100;

struct DataParallelOptions {
  SyncMode mode = SyncMode::kModelAverage;
  CodecOptions codec;            // its seed is chosen per exchange
  int sync_interval = 0;         // model_average: iterations between syncs; 0: one shard epoch
  bool log_weight_hash = false;  // rank 0 logs every rank's weight hash after each sync
};

struct DataParallelJob {
  SolverParameter solver;
  DataParallelOptions options;
  std::string resume_file;  // a .solverstate to resume from, or empty
};

// Trains the job `setup` describes on the ranks of `mpi`.  `setup` runs on every rank (reading
// the solver file and the flags, choosing the device); its errors are setup errors.  Errors
// are caffe::Errors, AgreedErrors where every rank raises them alike (see MpiContext::Run).
void train_data_parallel(const MpiContext& mpi, const std::function<DataParallelJob()>& setup);

}  // namespace caffe
