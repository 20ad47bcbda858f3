#include "caffe/layers/datum_batch_layer.hpp"

#include <utility>

#include "caffe/util/random.hpp"

namespace caffe {

void DatumBatchLayer::StartBatches(const TransformationParameter& transform, int batch_size,
                                   const std::vector<int>& datum_shape,
                                   std::unique_ptr<DatumBatchReader> reader, size_t depth) {
  prefetcher_.reset();  // a second SetUp must not leave the old reader running
  batch_size_ = batch_size;
  transformer_ = std::make_unique<DataTransformer>(transform, phase());
  transformer_->SetDatumShape(datum_shape[0], datum_shape[1], datum_shape[2]);
  prefetcher_ = std::make_unique<DatumPrefetcher>(std::move(reader), depth);
}

void DatumBatchLayer::Reshape(const BlobVec& /*bottom*/, const BlobVec& top) {
  std::vector<int> data_shape = transformer_->output_shape();
  data_shape.insert(data_shape.begin(), batch_size_);
  top[0]->Reshape(data_shape);
  if (top.size() > 1) top[1]->Reshape(std::vector<int>{batch_size_});
}

void DatumBatchLayer::Forward_cpu(const BlobVec& /*bottom*/, const BlobVec& top) {
  const DatumBatch batch = prefetcher_->Take(forward_count());
  // The transform runs here rather than in the prefetch thread because its random crop and
  // mirror are keyed by this pass's step_key(); it writes straight into the top, which is the
  // copy a prefetched float batch would need anyway.
  const uint64_t key = step_key();
  const int item_count = transformer_->output_count();
  float* data = top[0]->mutable_cpu_data();
  for (int k = 0; k < batch_size_; ++k) {
    transformer_->Transform(batch.datums[k], hash_combine(key, k),
                            data + static_cast<size_t>(k) * item_count);
  }
  if (top.size() > 1) {
    float* labels = top[1]->mutable_cpu_data();
    for (int k = 0; k < batch_size_; ++k) labels[k] = static_cast<float>(batch.datums[k].label());
  }
}

}  // namespace caffe
