#include "caffe/layers/tanh_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::ActivationForward<caffe::HyperbolicTangent>);
CAFFE_FOR_EACH_GPU(caffe::ActivationBackward<caffe::HyperbolicTangent>);
