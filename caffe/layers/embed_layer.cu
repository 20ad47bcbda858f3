#include "caffe/layers/embed_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

void EmbedLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void EmbedLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GRID_GPU(caffe::EmbedLookup);
CAFFE_FOR_EACH_GRID_GPU(caffe::EmbedScatterAdd);
