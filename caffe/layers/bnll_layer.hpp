#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// y = log(1 + exp(x)), written as x + log(1 + exp(−x)) for x > 0 so that exp never overflows;
// dL/dx = dL/dy · sigmoid(x).  Since exp(−y) = 1 / (1 + exp(x)) = 1 − sigmoid(x), the gradient
// is dL/dy · (1 − exp(−y)): it needs only y.
struct SoftPlus {
  static CAFFE_HOST_DEVICE float value(float x) {
    return x > 0 ? x + log1pf(expf(-x)) : log1pf(expf(x));
  }
  static CAFFE_HOST_DEVICE float gradient(float dy, float y) { return -dy * expm1f(-y); }
};

// BNLL ("binomial normal log likelihood"): softplus element-wise.  The gradient needs only y, so
// the layer works in place.
class BNLLLayer : public OutputActivationLayer<SoftPlus> {
 public:
  using OutputActivationLayer::OutputActivationLayer;
  const char* type() const override { return "BNLL"; }
};

}  // namespace caffe
