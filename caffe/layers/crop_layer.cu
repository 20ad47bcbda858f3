#include "caffe/layers/crop_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

void CropLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void CropLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GPU(caffe::CropGather);
CAFFE_FOR_EACH_GPU(caffe::CropScatter);
