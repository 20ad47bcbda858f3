#include "caffe/layers/embed_layer.hpp"
#include "caffe/util/device_loop.cuh"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

// out[p, :] = weight[id_p, :] (+ bias) for the ids (already checked on the host).
void lookup_rows(long long count, int width, const float* ids, const float* weight,
                 const float* bias, float* out) {
  launch_elementwise(count, [=] __device__(long long i) {
    const long long position = i / width;
    const int j = static_cast<int>(i % width);
    const float value = weight[static_cast<long long>(ids[position]) * width + j];
    out[i] = bias ? value + bias[j] : value;
  });
}

// weight_diff[id_p, :] += top_diff[p, :]; repeated ids add into the same row concurrently.
void scatter_add_rows(long long count, int width, const float* ids, const float* top_diff,
                      float* weight_diff) {
  launch_elementwise(count, [=] __device__(long long i) {
    const long long position = i / width;
    const int j = static_cast<int>(i % width);
    atomicAdd(weight_diff + static_cast<long long>(ids[position]) * width + j, top_diff[i]);
  });
}

}  // namespace

void EmbedLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  CheckIds(*bottom[0]);
  lookup_rows(top[0]->count(), num_output_, bottom[0]->gpu_data(), blobs_[0]->gpu_data(),
              bias_term_ ? blobs_[1]->gpu_data() : nullptr, top[0]->mutable_gpu_data());
}

void EmbedLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  RejectIdGradient(propagate_down);
  const int positions = bottom[0]->count();
  const float* top_diff = top[0]->gpu_diff();
  if (param_propagate_down(0)) {
    scatter_add_rows(top[0]->count(), num_output_, bottom[0]->gpu_data(), top_diff,
                     blobs_[0]->mutable_gpu_diff());
  }
  if (bias_term_ && param_propagate_down(1) && positions > 0) {
    gpu_gemv(Trans::Yes, positions, num_output_, 1.0f, top_diff, ones_.gpu_data(), 1.0f,
             blobs_[1]->mutable_gpu_diff());
  }
}

}  // namespace caffe
