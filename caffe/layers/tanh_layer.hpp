#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// y = tanh(x);   dL/dx = dL/dy · (1 - y²).
struct HyperbolicTangent {
  static CAFFE_HOST_DEVICE float value(float x) { return tanhf(x); }
  static CAFFE_HOST_DEVICE float gradient(float dy, float y) { return dy * (1.0f - y * y); }
};

// TanH: tanh element-wise.  The gradient needs only y, so the layer works in place.
class TanHLayer : public OutputActivationLayer<HyperbolicTangent> {
 public:
  using OutputActivationLayer::OutputActivationLayer;
  const char* type() const override { return "TanH"; }
  bool PreservesZeros() const override { return true; }  // tanh(0) = 0
};

}  // namespace caffe
