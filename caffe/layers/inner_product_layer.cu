#include "caffe/layers/inner_product_layer.hpp"

namespace caffe {

// The GPU path is the CPU one's sequence of products on cuBLAS (see inner_product_layer.cpp),
// including the skipping of known-zero input columns.
void InnerProductLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void InnerProductLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                     const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe
