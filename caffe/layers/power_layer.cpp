#include "caffe/layers/power_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void PowerLayer::LayerSetUp(const BlobVec& bottom, const BlobVec& top) {
  const PowerParameter& param = layer_param_.power_param();
  function_ = PowerFunction{param.power(), param.scale(), param.shift()};
  if (top[0] == bottom[0] && !function_.constant_derivative()) {
    fail("cannot run in place with power ", param.power(), " and scale ", param.scale(),
         ": the gradient needs the input, which the output overwrites; give the top its own "
         "name");
  }
}

void PowerLayer::ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) {
  for_each(mode, bottom[0]->count(),
           PowerForward{bottom[0]->data_on(mode), top[0]->mutable_data_on(mode), function_},
           kComputeMinChunk);
}

void PowerLayer::BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) {
  // In place (allowed only for a constant derivative) x reads the output, which is not used.
  for_each(mode, bottom[0]->count(),
           PowerBackward{bottom[0]->data_on(mode), top[0]->diff_on(mode),
                         bottom[0]->mutable_diff_on(mode), function_},
           kComputeMinChunk);
}

REGISTER_LAYER("Power", PowerLayer);

}  // namespace caffe
