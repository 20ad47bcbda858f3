#include "caffe/layers/input_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

void InputLayer::LayerSetUp(const BlobVec& /*bottom*/, const BlobVec& top) {
  const InputParameter& param = layer_param_.input_param();
  const int shapes = param.shape_size();
  if (shapes != 1 && shapes != static_cast<int>(top.size())) {
    fail("has ", top.size(), " top(s) but ", shapes, " input_param shape(s); give one shape, or one per top");
  }
  for (size_t i = 0; i < top.size(); ++i) top[i]->Reshape(param.shape(shapes == 1 ? 0 : i));
}

REGISTER_LAYER("Input", InputLayer);

}  // namespace caffe
