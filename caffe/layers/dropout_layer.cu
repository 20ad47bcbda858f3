#include "caffe/layers/dropout_layer.hpp"
#include "caffe/util/device_loop.cuh"
#include "caffe/util/math_functions.hpp"
#include "caffe/util/random_device.cuh"

namespace caffe {
namespace {

// The CPU path's mask (dropout_layer.cpp), bit for bit: u_i >= p.
void apply_mask_gpu(int count, uint64_t key, float ratio, float scale, const float* in,
                    float* out) {
  launch_elementwise(count, [=] __device__(long long i) {
    out[i] = device_uniform_at(key, static_cast<uint64_t>(i)) >= ratio ? in[i] * scale : 0.0f;
  });
}

}  // namespace

void DropoutLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  const int count = bottom[0]->count();
  if (phase_ != TRAIN) {
    gpu_copy(count, bottom[0]->gpu_data(), top[0]->mutable_gpu_data());
    return;
  }
  mask_key_ = step_key();
  apply_mask_gpu(count, mask_key_, ratio_, scale_, bottom[0]->gpu_data(),
                 top[0]->mutable_gpu_data());
}

void DropoutLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  const int count = top[0]->count();
  if (phase_ != TRAIN) {
    gpu_copy(count, top[0]->gpu_diff(), bottom[0]->mutable_gpu_diff());
    return;
  }
  apply_mask_gpu(count, mask_key_, ratio_, scale_, top[0]->gpu_diff(),
                 bottom[0]->mutable_gpu_diff());
}

}  // namespace caffe
