#include "layers/approx_dropout/inner_product_approx_dropout_layer.hpp"

namespace caffe {

// The GPU path runs the CPU path's products and gathers on cuBLAS and the device primitives.
void InnerProductApproxDropoutLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(approx_dropout::kGpuApproxOps, bottom, top);
}

void InnerProductApproxDropoutLayer::Backward_gpu(const BlobVec& top,
                                                  const std::vector<bool>& propagate_down,
                                                  const BlobVec& bottom) {
  BackwardOn(approx_dropout::kGpuApproxOps, top, propagate_down, bottom);
}

}  // namespace caffe
