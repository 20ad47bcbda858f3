#include "caffe/layers/sigmoid_layer.hpp"

#include "caffe/core/layer_registry.hpp"

namespace caffe {

REGISTER_LAYER("Sigmoid", SigmoidLayer);

}  // namespace caffe
