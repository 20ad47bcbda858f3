#include "caffe/layers/tanh_layer.hpp"
#include "caffe/util/device_loop.cuh"

namespace caffe {
namespace {

// Free functions: nvcc does not allow device lambdas inside protected members.
void tanh_forward_gpu(int count, const float* x, float* y) {
  launch_elementwise(count, [=] __device__(long long i) { y[i] = tanhf(x[i]); });
}

void tanh_backward_gpu(int count, const float* y, const float* dy, float* dx) {
  launch_elementwise(count, [=] __device__(long long i) { dx[i] = dy[i] * (1.0f - y[i] * y[i]); });
}

}  // namespace

void TanHLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  tanh_forward_gpu(bottom[0]->count(), bottom[0]->gpu_data(), top[0]->mutable_gpu_data());
}

void TanHLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                             const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  tanh_backward_gpu(top[0]->count(), top[0]->gpu_data(), top[0]->gpu_diff(),
                    bottom[0]->mutable_gpu_diff());
}

}  // namespace caffe
