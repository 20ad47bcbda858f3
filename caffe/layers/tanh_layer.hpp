#pragma once

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// TanH:  y = tanh(x);   dL/dx = dL/dy * (1 - y^2).
// The gradient needs only y, so the layer works in place.
class TanHLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "TanH"; }
  bool PreservesZeros() const override { return true; }  // tanh(0) = 0

 protected:
  void Forward_cpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_cpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#ifdef CAFFE_USE_CUDA
  void Forward_gpu(const BlobVec& bottom, const BlobVec& top) override;
  void Backward_gpu(const BlobVec& top, const std::vector<bool>& propagate_down,
                    const BlobVec& bottom) override;
#endif
};

}  // namespace caffe
