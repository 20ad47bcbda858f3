#include "caffe/layers/absval_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void AbsValLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  if (top[0] == bottom[0]) {
    fail(
        "cannot run in place: the gradient needs the sign of the input, which |x| loses; give "
        "the top its own name");
  }
}

void AbsValLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, bottom[0]->count(),
           AbsValForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode)});
}

void AbsValLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  for_each(mode, bottom[0]->count(),
           AbsValBackward{bottom[0]->data_on(mode), top[0]->diff_on(mode),
                          bottom[0]->mutable_diff_on(mode)});
}

REGISTER_LAYER("AbsVal", AbsValLayer);

}  // namespace caffe
