#include "caffe/layers/bnll_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

REGISTER_LAYER("BNLL", BNLLLayer);

}  // namespace caffe
