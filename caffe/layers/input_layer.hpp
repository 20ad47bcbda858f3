#pragma once

#include "caffe/core/layer.hpp"

namespace caffe {

// Input: tops whose shapes come from input_param.shape and whose values the user writes
// (pycaffe, tools).  Forward and Backward do nothing.
class InputLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Input"; }
  int ExactNumBottomBlobs() const override { return 0; }
  int MinTopBlobs() const override { return 1; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;
  void Reshape(const BlobVec&, const BlobVec&) override {}

 protected:
  void Forward_cpu(const BlobVec&, const BlobVec&) override {}
  void Forward_gpu(const BlobVec&, const BlobVec&) override {}
  void Backward_cpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}
  void Backward_gpu(const BlobVec&, const std::vector<bool>&, const BlobVec&) override {}
};

}  // namespace caffe
