#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// AbsVal: y = |x|;   dL/dx = sign(x) · dL/dy (0 at x = 0).
// The gradient needs the sign of x, which |x| has lost, so the layer cannot run in place.
class AbsValLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "AbsVal"; }
  bool PreservesZeros() const override { return true; }  // |0| = 0
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;
};

struct AbsValForward {
  const float* x;
  float* y;
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = fabsf(x[i]); }
};

struct AbsValBackward {
  const float* x;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = x[i] > 0 ? dy[i] : (x[i] < 0 ? -dy[i] : 0.0f);
  }
};

}  // namespace caffe
