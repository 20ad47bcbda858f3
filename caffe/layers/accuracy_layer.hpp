#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// Accuracy: the fraction of positions whose label is among the top_k scores along
// accuracy_param.axis.  A class outranks the label when its score is higher, or equal with a
// lower class id (ties resolve as argmax does); the position is correct when fewer than top_k
// classes outrank its label.  Positions labelled ignore_label do not count.  Optional second
// top: per-class accuracy [C] (0 for a class with no positions).  No gradient: asking for one
// is an error.  On the GPU the ranking (which reads every score) runs on the device and the
// tally (one flag per position) on the host.
class AccuracyLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Accuracy"; }
  int ExactNumBottomBlobs() const override { return 2; }
  int MinTopBlobs() const override { return 1; }
  int MaxTopBlobs() const override { return 2; }
  bool AllowForceBackward(int /*bottom_index*/) const override { return false; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
#endif

 private:
  // Writes the tops from correct_ (host side, both modes).
  void Tally(const BlobVec& bottom, const BlobVec& top, int valid_count);

  AxisSplit split_;
  IgnoreLabel ignore_;
  int top_k_ = 1;
  Blob correct_;  // per position: 1 if its label is in the top k, else 0 (also when ignored)
};

// Whether `label` is among the top_k of the `classes` scores at scores[c * stride].
CAFFE_HOST_DEVICE inline bool label_in_top_k(const float* scores, long long stride, int classes,
                                             int label, int top_k) {
  const float target = scores[label * stride];
  int outranking = 0;
  for (int c = 0; c < classes && outranking < top_k; ++c) {
    const float score = scores[c * stride];
    if (score > target || (score == target && c < label)) ++outranking;
  }
  return outranking < top_k;
}

}  // namespace caffe
