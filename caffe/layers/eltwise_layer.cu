#include "caffe/layers/eltwise_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

// ElementProduct (PROD) is instantiated for the device in axis_broadcast.cu.
void EltwiseLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void EltwiseLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GPU(caffe::ScaledCopy);
CAFFE_FOR_EACH_GPU(caffe::ScaledSum);
CAFFE_FOR_EACH_GPU(caffe::ArgMaxStart);
CAFFE_FOR_EACH_GPU(caffe::ArgMaxUpdate);
CAFFE_FOR_EACH_GPU(caffe::ArgMaxGradient);
CAFFE_FOR_EACH_GPU(caffe::ProductQuotientGradient);
