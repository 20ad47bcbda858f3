#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// y = (shift + scale · x)^power and its derivative, from power_param.
struct PowerFunction {
  float power;
  float scale;
  float shift;

  CAFFE_HOST_DEVICE float value(float x) const {
    const float base = shift + scale * x;
    if (power == 1.0f) return base;
    if (power == 2.0f) return base * base;
    return powf(base, power);
  }
  // dy/dx = power · scale · base^(power − 1).  The constant cases come first, so that no
  // pow(0, negative) (infinite) is ever multiplied by a zero factor into a NaN: scale 0 or
  // power 0 make y constant, power 1 makes it affine, power 2 needs no pow at all.
  CAFFE_HOST_DEVICE float derivative(float x) const {
    if (scale == 0.0f || power == 0.0f) return 0.0f;
    if (power == 1.0f) return scale;
    const float base = shift + scale * x;
    if (power == 2.0f) return 2.0f * scale * base;
    return power * scale * powf(base, power - 1.0f);
  }
  // Whether the derivative is the same for every x (then backward need not see x).
  bool constant_derivative() const { return scale == 0.0f || power == 0.0f || power == 1.0f; }
};

// Power: y = (shift + scale · x)^power;   dL/dx = dL/dy · power · scale · (shift + scale ·
// x)^(power − 1). Runs in place only when that derivative does not depend on x (power 0 or 1, or
// scale 0).
class PowerLayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "Power"; }
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;

 private:
  PowerFunction function_{1.0f, 1.0f, 0.0f};
};

struct PowerForward {
  const float* x;
  float* y;
  PowerFunction function;
  CAFFE_HOST_DEVICE void operator()(long long i) const { y[i] = function.value(x[i]); }
};

struct PowerBackward {
  const float* x;
  const float* dy;
  float* dx;
  PowerFunction function;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = dy[i] * function.derivative(x[i]);
  }
};

}  // namespace caffe
