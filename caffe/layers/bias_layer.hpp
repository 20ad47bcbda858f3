#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_broadcast.hpp"
#include "caffe/layers/channel_sums.hpp"

namespace caffe {

// Bias: y = x + b, b broadcast over the axes of x it does not span
// (caffe/layers/axis_broadcast.hpp).  With one bottom, b is a learned blob spanning x's axes
// [axis, axis + num_axes) (filler default constant 0); with two, b is bottom 1, whose shape gives
// the spanned axes.  Backward: dx = dy, db = Σ dy over the axes b does not span.  In-place use is
// allowed.
class BiasLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Bias"; }
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
  Blob& BiasOperand(const BlobVec& bottom) const {
    return bias_is_bottom_ ? *bottom[1] : *blobs_[0];
  }

  bool bias_is_bottom_ = false;
  AxisSplit split_;
  ChannelSums sums_;
};

}  // namespace caffe
