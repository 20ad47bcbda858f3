#include "caffe/solvers/adadelta_solver.hpp"
#include "caffe/util/device.cuh"

CAFFE_FOR_EACH_GPU(caffe::AdaDeltaUpdate);
