#include "caffe/layers/prelu_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::PReLUForward);
CAFFE_FOR_EACH_GPU(caffe::PReLUBackward);
CAFFE_FOR_EACH_GPU(caffe::PReLUSlopeTerms);
