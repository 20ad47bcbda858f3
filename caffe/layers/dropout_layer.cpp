#include "caffe/layers/dropout_layer.hpp"

#include <string>

#include "caffe/core/layer_registry.hpp"

namespace caffe {
void DropoutLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  ratio_ = layer_param_.dropout_param().dropout_ratio();
  if (!(ratio_ >= 0.0f && ratio_ < 1.0f)) {
    fail("dropout_ratio must be in [0, 1), got ", ratio_);
  }
  scale_ = 1.0f / (1.0f - ratio_);
  threshold_ = uniform_bits_threshold(ratio_);
}

void DropoutLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  const float* in = bottom[0]->data_on(mode);
  float* out = top[0]->mutable_data_on(mode);
  if (phase_ != TRAIN) {
    blas(mode).copy(count, in, out);
    return;
  }
  mask_key_ = step_key();
  mask_count_ = count;
  if (mode == Mode::CPU) {
    kept_.resize(count);
    for_each(mode, count, DropoutMask{mask_key_, threshold_, kept_.data()}, kComputeMinChunk);
    for_each(mode, count, DropoutApplyKept{kept_.data(), scale_, in, out}, kComputeMinChunk);
  } else {
    kept_.clear();  // a host Backward after this forward draws the mask again
    for_each(mode, count, DropoutDraw{mask_key_, threshold_, scale_, in, out}, kComputeMinChunk);
  }
}

void DropoutLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  const int count = top[0]->count();
  const float* top_diff = top[0]->diff_on(mode);
  float* bottom_diff = bottom[0]->mutable_diff_on(mode);
  if (phase_ != TRAIN) {
    blas(mode).copy(count, top_diff, bottom_diff);
    return;
  }
  if (mask_count_ != count) {
    fail("backward needs the mask of a forward pass over the same ", count,
         " units; run forward first (the last forward drew ",
         mask_count_ < 0 ? std::string("none") : std::to_string(mask_count_), ")");
  }
  if (mode == Mode::CPU && kept_.size() == static_cast<size_t>(count)) {
    for_each(mode, count, DropoutApplyKept{kept_.data(), scale_, top_diff, bottom_diff},
             kComputeMinChunk);
  } else {  // the forward ran on the GPU: draw the same mask again
    for_each(mode, count, DropoutDraw{mask_key_, threshold_, scale_, top_diff, bottom_diff},
             kComputeMinChunk);
  }
}

REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace caffe
