#pragma once

#include <memory>

#include "caffe/core/layer.hpp"
#include "caffe/data/data_transformer.hpp"
#include "caffe/data/datum_prefetcher.hpp"

namespace caffe {

// Data: reads Datum records from an LMDB (`data_param.source`) and emits
//   top[0] = N x C x H' x W' transformed values (see DataTransformer), top[1] = N labels.
// Batch b (b = forward_count()) holds records (rand_skip + b*N + k) mod num_records, k < N, in
// key order, so a run resumed at any iteration reads exactly the batches it would have.
// Unlike BVLC Caffe, rand_skip is a fixed offset (not a random one) for that reason.
class DataLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Data"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

  // Records in the database when the layer was set up.
  size_t num_records() const { return num_records_; }

 protected:
  // The GPU path is the CPU one: the batch is decoded on the host and SyncedMemory copies it
  // to the device when the next layer reads it there.
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}

 private:
  int batch_size_ = 0;
  size_t num_records_ = 0;
  std::unique_ptr<DataTransformer> transformer_;
  std::unique_ptr<DatumPrefetcher> prefetcher_;  // last: its thread stops before the rest goes
};

}  // namespace caffe
