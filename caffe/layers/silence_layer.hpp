#pragma once

#include "caffe/core/layer.hpp"

namespace caffe {

// Silence: consumes blobs that nothing else uses, so the net does not report them as outputs.
// No tops; the gradient of its bottoms is zero.
class SilenceLayer : public Layer {
 public:
  using Layer::Layer;
  const char* type() const override { return "Silence"; }
  int MinBottomBlobs() const override { return 1; }
  int ExactNumTopBlobs() const override { return 0; }
  void Reshape(const BlobVec&, const BlobVec&) override {}

 protected:
  void Forward_cpu(const BlobVec&, const BlobVec&) override {}
  void Forward_gpu(const BlobVec&, const BlobVec&) override {}
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
};

}  // namespace caffe
