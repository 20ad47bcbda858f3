#include "caffe/core/cuda_context.hpp"
#include "caffe/layers/accuracy_layer.hpp"

namespace caffe {
namespace {

// One thread per position; the labels were validated on the host.
__global__ void top_k_flags(AxisSplit split, IgnoreLabel ignore, int top_k, const float* scores,
                            const float* labels, float* correct) {
  CUDA_KERNEL_LOOP(position, static_cast<long long>(split.outer) * split.inner) {
    const int label = static_cast<int>(labels[position]);
    correct[position] = !ignore.matches(label) &&
                        label_in_top_k(scores + split.offset_at(position, 0), split.inner,
                                       split.axis_dim, label, top_k);
  }
}

}  // namespace

void AccuracyLayer::Forward_gpu(const BlobVec& bottom, const BlobVec& top) {
  const int valid_count = count_valid_labels(*bottom[1], split_, ignore_);
  const int positions = split_.positions();
  if (positions > 0) {
    top_k_flags<<<cuda::blocks_for(positions), cuda::kThreadsPerBlock>>>(
        split_, ignore_, top_k_, bottom[0]->gpu_data(), bottom[1]->gpu_data(),
        correct_.mutable_gpu_data());
    CUDA_KERNEL_CHECK();
  }
  Tally(bottom, top, valid_count);
}

}  // namespace caffe
