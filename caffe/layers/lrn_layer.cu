#include "caffe/layers/lrn_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GRID_GPU(caffe::LrnForward);
CAFFE_FOR_EACH_GPU(caffe::LrnRatio);
CAFFE_FOR_EACH_GRID_GPU(caffe::LrnBackward);
