#include "caffe/data/data_shard.hpp"

#include "caffe/core/common.hpp"

namespace caffe {
namespace {

DataShard& current_training_shard() {
  static DataShard shard;
  return shard;
}

}  // namespace

void set_training_shard(DataShard shard) {
  if (shard.count == 0 || shard.rank >= shard.count) {
    fail("data shard ", shard.rank, " of ", shard.count, ": need 0 <= rank < count");
  }
  current_training_shard() = shard;
}

DataShard training_shard() { return current_training_shard(); }

DataShard data_shard(Phase phase) { return phase == TRAIN ? training_shard() : DataShard{}; }

}  // namespace caffe
