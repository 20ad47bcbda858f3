#include "caffe/parallel/history_snapshot.hpp"

#include <glog/logging.h>

#include <cstring>

namespace caffe {

std::vector<uint8_t> pack_history(const Solver& solver) {
  size_t values = 0;
  for (const auto& blob : solver.history()) values += blob->count();
  std::vector<uint8_t> bytes(values * sizeof(float));
  uint8_t* out = bytes.data();
  for (const auto& blob : solver.history()) {
    const size_t size = blob->count() * sizeof(float);
    if (size > 0) std::memcpy(out, blob->cpu_data(), size);
    out += size;
  }
  return bytes;
}

void append_rank_histories(const Gathered& histories, SolverState* state) {
  const int per_rank = state->history_size();
  const int ranks = static_cast<int>(histories.offsets.size()) - 1;
  for (int r = 1; r < ranks; ++r) {
    const uint8_t* values = histories.data(r);
    size_t offset = 0;
    for (int i = 0; i < per_rank; ++i) {
      BlobProto* blob = state->add_history();
      *blob->mutable_shape() = state->history(i).shape();
      const int count = state->history(i).data_size();
      blob->mutable_data()->Resize(count, 0.0f);
      const size_t size = static_cast<size_t>(count) * sizeof(float);
      CHECK_LE(offset + size, histories.size(r)) << "rank " << r << "'s history is too short";
      if (size > 0) std::memcpy(blob->mutable_data()->mutable_data(), values + offset, size);
      offset += size;
    }
    CHECK_EQ(offset, histories.size(r)) << "rank " << r << "'s history is too long";
  }
}

void keep_rank_history(int rank, int ranks, size_t per_rank, const std::string& state_path,
                       SolverState* state) {
  const size_t stored = static_cast<size_t>(state->history_size());
  if (per_rank == 0 || stored % per_rank != 0) return;
  const size_t sets = stored / per_rank;
  if (sets != static_cast<size_t>(ranks)) {
    fail("'", state_path, "' holds the update history of ", sets, " process(es)",
         sets == 1 ? " (plain caffe train, or mpirun -np 1)" : "", ", but this job has ", ranks,
         "; resume it with the same number of processes (mpirun -np ", sets, ")");
  }
  google::protobuf::RepeatedPtrField<BlobProto> own(
      state->history().begin() + rank * per_rank, state->history().begin() + (rank + 1) * per_rank);
  state->mutable_history()->Swap(&own);
}

}  // namespace caffe
