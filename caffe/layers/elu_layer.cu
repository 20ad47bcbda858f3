#include "caffe/layers/elu_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::ELUForward);
CAFFE_FOR_EACH_GPU(caffe::ELUBackward);
