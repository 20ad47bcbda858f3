#include "caffe/layers/relu_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void ReLULayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  negative_slope_ = layer_param_.relu_param().negative_slope();
  if (negative_slope_ < 0 && top[0] == bottom[0]) {
    // y = s * x flips the sign of negative x, so the backward pass could no longer tell which
    // inputs were positive.
    fail("cannot run in place with negative_slope ", negative_slope_,
         " < 0; give the top its own name");
  }
}

void ReLULayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, bottom[0]->count(),
           ReLUForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode), negative_slope_});
}

void ReLULayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  for_each(mode, bottom[0]->count(),
           ReLUBackward{bottom[0]->data_on(mode), top[0]->diff_on(mode),
                        bottom[0]->mutable_diff_on(mode), negative_slope_});
}

REGISTER_LAYER("ReLU", ReLULayer);

}  // namespace caffe
