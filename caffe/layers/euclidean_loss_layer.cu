#include "caffe/layers/euclidean_loss_layer.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {

void EuclideanLossLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  gpu_sub(count, bottom[0]->gpu_data(), bottom[1]->gpu_data(), difference_.mutable_gpu_data());
  const float sum_sq = gpu_dot(count, difference_.gpu_data(), difference_.gpu_data());
  top[0]->mutable_cpu_data()[0] = loss_from(sum_sq, *bottom[0]);
}

void EuclideanLossLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                      const BlobVec& bottom) {
  for (int i = 0; i < 2; ++i) {
    if (!propagate_down[i]) continue;
    float* diff = bottom[i]->mutable_gpu_diff();
    gpu_copy(difference_.count(), difference_.gpu_data(), diff);
    gpu_scal(difference_.count(), gradient_scale(top, bottom, i), diff);
  }
}

}  // namespace caffe
