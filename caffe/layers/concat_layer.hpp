#pragma once

#include <vector>

#include "caffe/core/layer.hpp"
#include "caffe/layers/axis_split.hpp"

namespace caffe {

// Concat: joins the bottoms along concat_param.axis (legacy concat_dim), in order; all other
// axes must agree.  Backward copies each bottom's piece of the top gradient back to it.
// The copies are strided row copies (cudaMemcpy2D on the device), so each pass has one body for
// both modes, using the mode-dispatching blob accessors.
class ConcatLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Concat"; }
  int MinBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 1; }
  void Reshape(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override {
    AssembleData(Mode::CPU, bottom, top);
  }
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override {
    AssembleData(Mode::GPU, bottom, top);
  }
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    SplitDiff(Mode::CPU, top, propagate_down, bottom);
  }
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override {
    SplitDiff(Mode::GPU, top, propagate_down, bottom);
  }

 private:
  void AssembleData(Mode mode, const BlobVec& bottom, const BlobVec& top);
  void SplitDiff(Mode mode, const BlobVec& top, const std::vector<bool>& propagate_down,
                 const BlobVec& bottom);

  AxisSplit split_;  // of the top
  int axis_ = 1;
};

}  // namespace caffe
