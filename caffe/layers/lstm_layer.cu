#include "caffe/layers/lstm_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

void LSTMLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void LSTMLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GRID_GPU(caffe::lstm::ForwardStep);
CAFFE_FOR_EACH_GRID_GPU(caffe::lstm::BackwardStep);
CAFFE_FOR_EACH_GRID_GPU(caffe::lstm::ScaleRows);
