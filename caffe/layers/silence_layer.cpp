#include "caffe/layers/silence_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

void SilenceLayer::Backward_cpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (propagate_down[b]) cpu_set(bottom[b]->count(), 0.0f, bottom[b]->mutable_cpu_diff());
  }
}

void SilenceLayer::Backward_gpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (propagate_down[b]) gpu_set(bottom[b]->count(), 0.0f, bottom[b]->mutable_gpu_diff());
  }
}

REGISTER_LAYER("Silence", SilenceLayer);

}  // namespace caffe
