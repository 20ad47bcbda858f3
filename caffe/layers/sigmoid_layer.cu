#include "caffe/layers/sigmoid_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::ActivationForward<caffe::Logistic>);
CAFFE_FOR_EACH_GPU(caffe::ActivationBackward<caffe::Logistic>);
