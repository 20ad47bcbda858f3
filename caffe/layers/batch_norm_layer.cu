#include "caffe/layers/batch_norm_layer.hpp"
#include "caffe/util/device.cuh"

namespace caffe {

void BatchNormLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  ForwardOn(Mode::GPU, bottom, top);
}

void BatchNormLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                  const BlobVec& bottom) {
  if (propagate_down[0]) BackwardOn(Mode::GPU, top, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GRID_GPU(caffe::WriteTerms<caffe::SquaredDeviationTerms>);
CAFFE_FOR_EACH_GRID_GPU(caffe::Normalize);
CAFFE_FOR_EACH_GPU(caffe::InverseStd);
CAFFE_FOR_EACH_GPU(caffe::GlobalStatistics);
CAFFE_FOR_EACH_GPU(caffe::MovingSums);
CAFFE_FOR_EACH_GPU(caffe::MovingScaleFactor);
CAFFE_FOR_EACH_GRID_GPU(caffe::BatchNormInputGradient);
