#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// Slice: cuts the bottom along slice_param.axis (legacy slice_dim) into consecutive pieces, one
// per top: top t takes [p_t, p_{t+1}) of the axis, with p_0 = 0, the slice points, and the
// axis size (no slice points: equal parts).  Backward copies each top's gradient into its piece.
// The copies are strided row copies (cudaMemcpy2D on the device), so each pass has one body for
// both modes, using the mode-dispatching blob accessors.
class SliceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Slice"; }
  int ExactNumBottomBlobs() const override { return 1; }
  int MinTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    SplitData(Mode::CPU, bottom, top);
  }
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override {
    SplitData(Mode::GPU, bottom, top);
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (propagate_down[0]) AssembleDiff(Mode::CPU, top, bottom);
  }
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    if (propagate_down[0]) AssembleDiff(Mode::GPU, top, bottom);
  }

 private:
  void SplitData(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void AssembleDiff(Mode mode, const BlobVec& top, const BlobVec& bottom);

  AxisSplit split_;
  std::vector<int> lengths_;  // length of each piece along the axis
};

}  // namespace caffe
