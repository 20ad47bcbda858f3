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
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;

 private:
  float negative_slope_ = 0;
};

// select_value (caffe/util/device.hpp): the sign of inputs after Dropout or BatchNorm is random,
// which a branch would mispredict.
struct ReLUForward {
  const float* x;
  float* y;
  float slope;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float value = x[i];
    y[i] = select_value(value > 0, value, slope * value);
  }
};

// x may be the top itself when in place (same sign, see the class comment).
struct ReLUBackward {
  const float* x;
  const float* dy;
  float* dx;
  float slope;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float gradient = dy[i];
    dx[i] = select_value(x[i] > 0, gradient, slope * gradient);
  }
};

}  // namespace caffe
