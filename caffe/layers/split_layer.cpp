#include "caffe/layers/split_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/math_functions.hpp"

namespace caffe {
namespace {

// bottom diff = sum of the tops' diffs, with the copy/axpy of one device and its diff pointers.
template <typename DiffOf, typename MutableDiffOf>
void sum_top_diffs(const BlobVec& top, Blob* bottom, decltype(&cpu_copy) copy,
                   decltype(&cpu_axpy) axpy, DiffOf diff_of, MutableDiffOf mutable_diff_of) {
  const int count = bottom->count();
  float* sum = mutable_diff_of(bottom);
  copy(count, diff_of(top[0]), sum);
  for (size_t t = 1; t < top.size(); ++t) axpy(count, 1.0f, diff_of(top[t]), sum);
}

}  // namespace

void SplitLayer::Reshape(const BlobVec& bottom, const BlobVec& top) {
  for (size_t t = 0; t < top.size(); ++t) {
    if (top[t] == bottom[0]) fail("top ", t, " is the bottom itself; Split cannot run in place");
    top[t]->ReshapeLike(*bottom[0]);
    top[t]->ShareData(*bottom[0]);
  }
}

void SplitLayer::Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  sum_top_diffs(top, bottom[0], cpu_copy, cpu_axpy, [](const Blob* b) { return b->cpu_diff(); },
                [](Blob* b) { return b->mutable_cpu_diff(); });
}

void SplitLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  sum_top_diffs(top, bottom[0], gpu_copy, gpu_axpy, [](const Blob* b) { return b->gpu_diff(); },
                [](Blob* b) { return b->mutable_gpu_diff(); });
}

REGISTER_LAYER("Split", SplitLayer);

}  // namespace caffe
