#include "caffe/layers/pooling_layer.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GRID_GPU(caffe::MaxPoolForward);
CAFFE_FOR_EACH_GRID_GPU(caffe::MaxPoolBackward);
CAFFE_FOR_EACH_GRID_GPU(caffe::AvePoolForward);
CAFFE_FOR_EACH_GRID_GPU(caffe::AvePoolBackward);
CAFFE_FOR_EACH_GPU(caffe::MaskAsFloat);
