#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_broadcast.hpp"
#include "caffe/layers/channel_sums.hpp"

namespace caffe {

// Scale: y = x ⊙ s (+ b with bias_term), s broadcast over the axes of x it does not span
// (caffe/layers/axis_broadcast.hpp).  With one bottom, s is a learned blob spanning x's axes
// [axis, axis + num_axes) (filler default constant 1); with two, s is bottom 1, whose shape gives
// the spanned axes.  b is a learned blob of s's shape (bias_filler default constant 0).
// Backward: dx = dy ⊙ s, ds = Σ dy ⊙ x, db = Σ dy (sums over the axes s does not span).
// In-place use is allowed (x is kept for ds).
class ScaleLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Scale"; }
  int MinBottomBlobs() const override { return 1; }
  int MaxBottomBlobs() const override { return 2; }
  int ExactNumTopBlobs() const override { return 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif

 private:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  Blob& ScaleOperand(const BlobVec& bottom) const {
    return scale_is_bottom_ ? *bottom[1] : *blobs_[0];
  }

  bool scale_is_bottom_ = false;
  int bias_index_ = -1;  // index of b in blobs_, -1 without bias_term
  AxisSplit split_;
  ChannelSums sums_;
  Blob saved_input_;  // x, when the forward overwrote it in place
};

}  // namespace caffe
