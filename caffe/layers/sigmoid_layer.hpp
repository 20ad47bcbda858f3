#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// y = 1 / (1 + exp(-x)), computed as 0.5 · tanh(x / 2) + 0.5: the same function without exp
// overflow for large |x|;  dL/dx = dL/dy · y · (1 - y).
struct Logistic {
  static CAFFE_HOST_DEVICE float value(float x) { return 0.5f * tanhf(0.5f * x) + 0.5f; }
  static CAFFE_HOST_DEVICE float gradient(float dy, float y) { return dy * y * (1.0f - y); }
};

// Sigmoid: the logistic function element-wise.  The gradient needs only y, so the layer works in
// place.
class SigmoidLayer : public OutputActivationLayer<Logistic> {
 public:
  using OutputActivationLayer::OutputActivationLayer;
  const char* type() const override { return "Sigmoid"; }
};

}  // namespace caffe
