#include "caffe/layers/relu_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::ReLUForward);
CAFFE_FOR_EACH_GPU(caffe::ReLUBackward);
