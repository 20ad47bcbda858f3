// Data-parallel training splits every training record stream over the K processes of a job
// (BVLC's multi-GPU split): process r of K reads stream positions r, r + K, r + 2K, ..., that is
// records i ≡ r (mod K) of the stream that runs through the source epoch after epoch.  The
// readers of the Data, HDF5Data and ImageData layers map the i-th record they read to
// shard.position(i); TEST-phase layers always read the whole stream.
#pragma once

#include <cstdint>

#include "proto/caffe.pb.h"

namespace caffe {

struct DataShard {
  uint64_t rank = 0;   // this process's index, < count
  uint64_t count = 1;  // processes sharing the stream

  // The stream position of the shard's `local`-th record.
  uint64_t position(uint64_t local) const { return local * count + rank; }
};

// The shard that training data layers set up from now on read (process-wide; the MPI trainer
// sets it before it builds the nets).  Errors unless count >= 1 and rank < count.
void set_training_shard(DataShard shard);
DataShard training_shard();

// The shard a data layer of `phase` reads: the training shard in TRAIN, the whole stream in TEST.
DataShard data_shard(Phase phase);

}  // namespace caffe
