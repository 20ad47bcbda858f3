#include "caffe/layers/power_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::PowerForward);
CAFFE_FOR_EACH_GPU(caffe::PowerBackward);
