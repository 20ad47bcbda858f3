#include "caffe/layers/elu_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ELULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  alpha_ = layer_param_.elu_param().alpha();
  if (alpha_ < 0 && top[0] == bottom[0]) {
    // With alpha < 0 negative inputs give positive outputs, so backward could no longer tell
    // from y which inputs were positive.
    fail("cannot run in place with alpha ", alpha_, " < 0; give the top its own name");
  }
}

void ELULayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, bottom[0]->count(),
           ELUForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode), alpha_},
           kComputeMinChunk);
}

void ELULayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  for_each(mode, bottom[0]->count(),
           ELUBackward{bottom[0]->data_on(mode), top[0]->data_on(mode), top[0]->diff_on(mode),
                       bottom[0]->mutable_diff_on(mode), alpha_});
}

REGISTER_LAYER("ELU", ELULayer);

}  // namespace caffe
