#include "caffe/layers/bias_layer.hpp"

namespace caffe {

// BroadcastAffine, the only functor this layer runs, is instantiated for the device in
// axis_broadcast.cu.
void BiasLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void BiasLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe
