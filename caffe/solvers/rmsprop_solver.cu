#include "caffe/solvers/rmsprop_solver.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::RMSPropUpdate);
