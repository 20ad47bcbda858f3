#include "caffe/layers/split_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/layers/eltwise_layer.hpp"
#include "caffe/util/device.hpp"

namespace caffe {
namespace {

// bottom diff = sum of the tops' diffs, on `mode`'s device.
void sum_top_diffs(Mode mode, const BlobVec& top, Blob* bottom) {
  std::vector<const float*> diffs;
  for (const Blob* y : top) diffs.push_back(y->diff_on(mode));
  weighted_sum(mode, bottom->count(), diffs, std::vector<float>(diffs.size(), 1.0f),
               bottom->mutable_diff_on(mode));
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
  sum_top_diffs(Mode::CPU, top, bottom[0]);
}

void SplitLayer::Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                              const BlobVec& bottom) {
  if (!propagate_down[0]) return;
  sum_top_diffs(Mode::GPU, top, bottom[0]);
}

REGISTER_LAYER("Split", SplitLayer);

}  // namespace caffe
