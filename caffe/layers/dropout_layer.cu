#include "caffe/layers/dropout_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::DropoutDraw);
