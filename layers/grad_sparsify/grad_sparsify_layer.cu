#include "caffe/util/block_sum.cuh"
#include "layers/grad_sparsify/grad_sparsify_layer.hpp"

CAFFE_BLOCK_SUM_GPU(caffe::GradientMagnitude);
CAFFE_BLOCK_SUM_GPU(caffe::SparsifyGroup);
