// The device side of SparseConvBackward: its element-wise functors as kernels.
#include "caffe/util/device.cuh"
#include "caffe/util/sparse_backward.hpp"

CAFFE_FOR_EACH_GPU(caffe::SparseWeightGradient);
CAFFE_FOR_EACH_GPU(caffe::SparseBiasGradient);
CAFFE_FOR_EACH_GPU(caffe::SparseInputGradient);
