#include "caffe/layers/absval_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::AbsValForward);
CAFFE_FOR_EACH_GPU(caffe::AbsValBackward);
