#include "caffe/layers/silence_layer.hpp"

#include "caffe/core/layer_registry.hpp"
#include "caffe/util/device.hpp"

namespace caffe {

namespace {
// The bottoms get a zero gradient: nothing downstream of Silence depends on them.
void clear_bottom_diffs(Mode mode, const std::vector<bool>& propagate_down, const BlobVec& bottom) {
  for (size_t b = 0; b < bottom.size(); ++b) {
    if (propagate_down[b])
      blas(mode).set(bottom[b]->count(), 0.0f, bottom[b]->mutable_diff_on(mode));
  }
}
}  // namespace

void SilenceLayer::Backward_cpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  clear_bottom_diffs(Mode::CPU, propagate_down, bottom);
}

void SilenceLayer::Backward_gpu(const BlobVec& /*top*/, const std::vector<bool>& propagate_down,
                                const BlobVec& bottom) {
  clear_bottom_diffs(Mode::GPU, propagate_down, bottom);
}

REGISTER_LAYER("Silence", SilenceLayer);

}  // namespace caffe
