#include "caffe/layers/base_conv_layer.hpp"

namespace caffe {

// The GPU path is the CPU one with the GPU's engine (cuDNN, or im2col + cuBLAS).
void BaseConvolutionLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void BaseConvolutionLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe
