#include "caffe/layers/tanh_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::TanHForward);
CAFFE_FOR_EACH_GPU(caffe::TanHBackward);
