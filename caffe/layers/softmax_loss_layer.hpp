#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// The score gradient in one pass over the probabilities, on either device (grid form of
// for_each over positions x classes): dx = scale (p - onehot(label)), 0 where the label is
// ignored.
struct SoftmaxLossGradient {
  AxisSplit split;
  IgnoreLabel ignore;
  float scale;
  const float* labels;  // one per position
  const float* prob;
  float* diff;

  CAFFE_HOST_DEVICE void operator()(int position, int c) const {
    const int label = static_cast<int>(labels[position]);
    const long long at = split.offset_at(position, c);
    const float one_hot = c == label ? 1.0f : 0.0f;
    diff[at] = ignore.matches(label) ? 0.0f : scale * (prob[at] - one_hot);
  }
};

// SoftmaxWithLoss: cross-entropy of p = softmax(scores) along softmax_param.axis against
// integer class labels (bottom 1, one per position):
//   loss = -(1/Z) sum_{positions n not ignored} log p_n[label_n]
// with Z from loss_param.normalization: VALID (default: the non-ignored positions, so the loss
// is the mean cross-entropy), FULL (all positions), BATCH_SIZE (the outer count), NONE (1);
// without `normalization`, the legacy `normalize` maps true to VALID and false to BATCH_SIZE
// (caffe/layers/loss_normalization.hpp).  Z is at least 1.
// Backward (scores only): dx_n = w/Z (p_n - onehot(label_n)), zero at ignored positions.
// An optional second top receives p; it is an output only (no gradient flows back from it).
class SoftmaxWithLossLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "SoftmaxWithLoss"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }
  bool IsLoss() const override { return true; }
  bool AllowForceBackward(int bottom_index) const override { return bottom_index == 0; }
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
  void BackwardOn(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                  const BlobVec& bottom);
  // Z above, from the valid-label count of the last forward pass.
  float normalizer() const;
  // Errors if the labels are asked for a gradient; returns whether the scores want one.
  static bool wants_score_gradient(const std::vector<bool>& propagate_down);

  AxisSplit split_;
  IgnoreLabel ignore_;
  LossParameter::NormalizationMode normalization_ = LossParameter::VALID;
  Blob prob_;         // softmax of the scores
  Blob loss_terms_;   // per-position -log p[label] (device path only)
  int valid_count_ = 0;
};

}  // namespace caffe
