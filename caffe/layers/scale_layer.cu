#include "caffe/layers/scale_layer.hpp"

namespace caffe {

// The functors this layer runs (BroadcastAffine, ElementProduct) are instantiated for the device
// in axis_broadcast.cu.
void ScaleLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void ScaleLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe
