#pragma once

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// ReLU (leaky when relu_param.negative_slope = s is non-zero):
//   y = x for x > 0, s * x otherwise;   dL/dx = dL/dy * (x > 0 ? 1 : s).
// In place, x > 0 is read from y, which has the same sign as x when s >= 0.
class ReLULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "ReLU"; }
  bool PreservesZeros() const override { return true; }  // ReLU(0) = s * 0 = 0
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

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
  float negative_slope_ = 0;
};

}  // namespace caffe
