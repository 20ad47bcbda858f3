#include "caffe/layers/tanh_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

REGISTER_LAYER("TanH", TanHLayer);

}  // namespace caffe
