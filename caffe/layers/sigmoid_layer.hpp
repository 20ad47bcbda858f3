#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// Sigmoid:  y = 1 / (1 + exp(-x));   dL/dx = dL/dy * y * (1 - y).
// The gradient needs only y, so the layer works in place.
class SigmoidLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "Sigmoid"; }

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;
};

struct SigmoidForward {
  const float* x;
  float* y;
  // 0.5 · tanh(x / 2) + 0.5 is the logistic function without exp overflow for large |x|.
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = 0.5f * tanhf(0.5f * x[i]) + 0.5f; }
};

struct SigmoidBackward {
  const float* y;
  const float* dy;
  float* dx;
  CAFFE_HOST_DEVICE void operator()(long long i) const { dx[i] = dy[i] * y[i] * (1.0f - y[i]); }
};

}  // namespace caffe
