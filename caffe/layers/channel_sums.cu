#include "caffe/layers/channel_sums.hpp"
#include "caffe/util/device.cuh"

// The terms functors shared by several layers; a layer's own ones are instantiated beside it.
CAFFE_FOR_EACH_GRID_GPU(caffe::WriteTerms<caffe::ValueTerms>);
CAFFE_FOR_EACH_GRID_GPU(caffe::WriteTerms<caffe::ProductAndValueTerms>);
