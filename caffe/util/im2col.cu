#include "caffe/util/device.cuh"
#include "caffe/util/im2col.hpp"

CAFFE_FOR_EACH_GRID_GPU(caffe::Im2colRow);
CAFFE_FOR_EACH_GRID_GPU(caffe::Col2imPixel);
