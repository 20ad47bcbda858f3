#pragma once

#include <cmath>

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
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;
};

struct TanHForward {
  const float* x;
  float* y;
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = tanhf(x[i]); }
};

struct TanHBackward {
  const float* y;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const { dx[i] = dy[i] * (1.0f - y[i] * y[i]); }
};

}  // namespace caffe
