#include "caffe/layers/sigmoid_cross_entropy_loss_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

void SigmoidCrossEntropyLossLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void SigmoidCrossEntropyLossLayer::Backward_gpu(const BlobVec& top,
                                                const std::vector<bool>& propagate_down,
                                                const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GPU(caffe::SigmoidCrossEntropyTerms);
CAFFE_FOR_EACH_GPU(caffe::SigmoidCrossEntropyGradient);
