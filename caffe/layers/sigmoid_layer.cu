#include "caffe/layers/sigmoid_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::SigmoidForward);
CAFFE_FOR_EACH_GPU(caffe::SigmoidBackward);
