#pragma once

#include <memory>
#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/data/data_transformer.hpp"
#include "caffe/data/datum_prefetcher.hpp"

namespace caffe {

// What the Data and ImageData layers share: a prefetched stream of datum batches, each emitted
// as top[0] = N x C x H' x W' transformed values (see DataTransformer) and top[1] = N labels.
// Forward pass b (forward_count()) takes batch b, and its random crops and flips are keyed by
// step_key(), so a run resumed at any iteration reads and transforms exactly what it would have.
class DatumBatchLayer : public Layer {
 public:
  using Layer::Layer;
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }

  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  // For the derived LayerSetUp, once it knows the C x H x W of its (decoded) datums: sets up the
  // transform and starts reading up to `depth` batches ahead with `reader`.
  void StartBatches(const TransformationParameter& transform, int batch_size,
                    const std::vector<int>& datum_shape, std::unique_ptr<DatumBatchReader> reader,
                    size_t depth);

  // The GPU path is the CPU one: the batch is transformed on the host and SyncedMemory copies
  // it to the device when the next layer reads it there.
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}

 private:
  int batch_size_ = 0;
  std::unique_ptr<DataTransformer> transformer_;
  std::unique_ptr<DatumPrefetcher> prefetcher_;  // last: its thread stops before the rest goes
};

}  // namespace caffe
