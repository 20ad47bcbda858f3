#include "caffe/layers/axis_broadcast.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GRID_GPU(caffe::BroadcastAffine);
CAFFE_FOR_EACH_GPU(caffe::ElementProduct);
