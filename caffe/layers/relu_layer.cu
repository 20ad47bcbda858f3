#include "caffe/layers/relu_layer.hpp"
#include "caffe/util/device_loop.cuh"

namespace caffe {
namespace {

// Free functions: nvcc does not allow device lambdas inside protected members.
void relu_forward_gpu(int count, float slope, const float* x, float* y) {
  launch_elementwise(count, [=] __device__(long long i) { y[i] = x[i] > 0 ? x[i] : slope * x[i]; });
}

void relu_backward_gpu(int count, float slope, const float* x, const float* dy, float* dx) {
  launch_elementwise(count,
                     [=] __device__(long long i) { dx[i] = x[i] > 0 ? dy[i] : slope * dy[i]; });
}

}  // namespace

void ReLULayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  relu_forward_gpu(bottom[0]->count(), negative_slope_, bottom[0]->gpu_data(),
                   top[0]->mutable_gpu_data());
}

void ReLULayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  // bottom data is the top itself when in place (same sign, see the class comment).
  relu_backward_gpu(bottom[0]->count(), negative_slope_, bottom[0]->gpu_data(), top[0]->gpu_diff(),
                    bottom[0]->mutable_gpu_diff());
}

}  // namespace caffe
