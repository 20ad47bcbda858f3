#include "caffe/layers/bnll_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::ActivationForward<caffe::SoftPlus>);
CAFFE_FOR_EACH_GPU(caffe::ActivationBackward<caffe::SoftPlus>);
