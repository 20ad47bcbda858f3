#include "caffe/layers/tanh_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void TanHLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, bottom[0]->count(),
           TanHForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode)});
}

void TanHLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  for_each(mode, top[0]->count(),
           TanHBackward{top[0]->data_on(mode), top[0]->diff_on(mode),
                        bottom[0]->mutable_diff_on(mode)});
}

REGISTER_LAYER("TanH", TanHLayer);

}  // namespace caffe
