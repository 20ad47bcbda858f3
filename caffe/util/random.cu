// Device instantiations of the random-number functors (caffe/util/random.hpp).
#include "caffe/util/device.cuh"
#include "caffe/util/random.hpp"

CAFFE_FOR_EACH_GPU(caffe::UniformFill);
