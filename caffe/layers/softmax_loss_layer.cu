#include <cfloat>

#include "caffe/core/cuda_context.hpp"
#include "caffe/layers/softmax_layer.hpp"
#include "caffe/layers/softmax_loss_layer.hpp"
#include "caffe/util/device.cuh"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

// One thread per position; the labels were validated on the host.
__global__ void cross_entropy_terms(AxisSplit split, IgnoreLabel ignore, const float* prob,
                                    const float* labels, float* terms) {
  CUDA_KERNEL_LOOP(position, static_cast<long long>(split.outer) * split.inner) {
    const int label = static_cast<int>(labels[position]);
    terms[position] =
        ignore.matches(label) ? 0.0f : -logf(fmaxf(prob[split.offset_at(position, label)], FLT_MIN));
  }
}

}  // namespace

void SoftmaxWithLossLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  valid_count_ = count_valid_labels(*bottom[1], split_, ignore_);
  softmax_forward_gpu(split_, bottom[0]->gpu_data(), prob_.mutable_gpu_data());
  const int positions = split_.positions();
  if (positions > 0) {
    cross_entropy_terms<<<cuda::blocks_for(positions), cuda::kThreadsPerBlock>>>(
        split_, ignore_, prob_.gpu_data(), bottom[1]->gpu_data(), loss_terms_.mutable_gpu_data());
    CUDA_KERNEL_CHECK();
  }
  // Every term is >= 0, so their sum is their absolute sum.
  const float loss = positions > 0 ? blas(Mode::GPU).asum(positions, loss_terms_.gpu_data()) : 0.0f;
  top[0]->mutable_cpu_data()[0] = loss / normalizer();
  if (top.size() > 1)
    blas(Mode::GPU).copy(prob_.count(), prob_.gpu_data(), top[1]->mutable_gpu_data());
}

void SoftmaxWithLossLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                                        const BlobVec& bottom) {
  BackwardOn(Mode::GPU, top, propagate_down, bottom);
}

}  // namespace caffe

CAFFE_FOR_EACH_GRID_GPU(caffe::SoftmaxLossGradient);
