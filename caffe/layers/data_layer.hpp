#pragma once

#include "caffe/layers/datum_batch_layer.hpp"

namespace caffe {

// Data: reads Datum records from an LMDB (`data_param.source`) and emits
//   top[0] = N x C x H' x W' transformed values (see DataTransformer), top[1] = N labels.
// Batch b (b = forward_count()) holds records (rand_skip + b*N + k) mod num_records, k < N, in
// key order, so a run resumed at any iteration reads exactly the batches it would have.  In
// data-parallel training, rank r of K reads stream positions r, r + K, ... (data_shard.hpp).
// Unlike BVLC Caffe, rand_skip is a fixed offset (not a random one) for that reason.
// Encoded records (convert_imageset --encoded) are decoded on the prefetch thread, to
// transform_param's force_color / force_gray (data_param.force_encoded_color means force_color)
// or else the image's own channels.
class DataLayer : public DatumBatchLayer {
 public:
  using DatumBatchLayer::DatumBatchLayer;
  const char* type() const override { return "Data"; }

  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

  // Records in the database when the layer was set up.
  size_t num_records() const { return num_records_; }

 private:
  size_t num_records_ = 0;
};

}  // namespace caffe
