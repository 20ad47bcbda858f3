#include "caffe/layers/dropout_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

// out_i = in_i * scale where uniform_at(key, i) >= ratio, else 0.  Forward applies it to the data,
// Backward to the gradients.
void apply_mask(int count, uint64_t key, float ratio, float scale, const float* in, float* out) {
  for (int i = 0; i < count; ++i) {
    out[i] = uniform_at(key, static_cast<uint64_t>(i)) >= ratio ? in[i] * scale : 0.0f;
  }
}

}  // namespace

void DropoutLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& /*top*/) {
  ratio_ = layer_param_.dropout_param().dropout_ratio();
  if (!(ratio_ >= 0.0f && ratio_ < 1.0f)) {
    fail("dropout_ratio must be in [0, 1), got ", ratio_);
  }
  scale_ = 1.0f / (1.0f - ratio_);
}

void DropoutLayer::Forward_cpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  if (phase_ != TRAIN) {
    cpu_copy(count, bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
    return;
  }
  mask_key_ = step_key();
  apply_mask(count, mask_key_, ratio_, scale_, bottom[0]->cpu_data(), top[0]->mutable_cpu_data());
}

void DropoutLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int count = top[0]->count();
  if (phase_ != TRAIN) {
    cpu_copy(count, top[0]->cpu_diff(), bottom[0]->mutable_cpu_diff());
    return;
  }
  apply_mask(count, mask_key_, ratio_, scale_, top[0]->cpu_diff(), bottom[0]->mutable_cpu_diff());
}

REGISTER_LAYER("Dropout", DropoutLayer);

}  // namespace caffe
