#pragma once

#include <cmath>

#include "caffe/layers/neuron_layer.hpp"

namespace caffe {

// ELU (Clevert et al.), alpha = elu_param.alpha:
//   y = x for x > 0, alpha · (exp(x) − 1) otherwise;   dL/dx = dL/dy · (x > 0 ? 1 : y + alpha).
// In place, x > 0 is read from y, which has the same sign as x when alpha >= 0.
class ELULayer : public NeuronLayer {
 public:
  using NeuronLayer::NeuronLayer;
  const char* type() const override { return "ELU"; }
  bool PreservesZeros() const override { return true; }  // alpha · (exp(0) − 1) = 0
  void LayerSetUp(const BlobVec& bottom, const BlobVec& top) override;

 protected:
  void ForwardOn(Mode mode, const BlobVec& bottom, const BlobVec& top) override;
  void BackwardOn(Mode mode, const BlobVec& top, const BlobVec& bottom) override;

 private:
  float alpha_ = 1;
};

struct ELUForward {
  const float* x;
  float* y;
  float alpha;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float value = x[i];
    y[i] = value > 0 ? value : alpha * expm1f(value);  // expm1f: exact near 0, unlike exp − 1
  }
};

// x is the top itself when in place (same sign, see the class comment).
struct ELUBackward {
  const float* x;
  const float* y;
  const float* dy;
  float* dx;
  float alpha;
  CAFFE_HOST_DEVICE void operator()(long long i) const {
    dx[i] = x[i] > 0 ? dy[i] : dy[i] * (y[i] + alpha);
  }
};

}  // namespace caffe
