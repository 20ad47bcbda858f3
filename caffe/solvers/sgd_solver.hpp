#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// Stochastic gradient descent with momentum, in Caffe's form:
//   V ← momentum · V + lr · g,   W ← W − V,
// where g is the averaged (and clipped) gradient plus weight_decay × decay_mult × (W or sign W).
class SGDSolver : public Solver {
 public:
  explicit SGDSolver(const SolverParameter& param);
  const char* type() const override { return "SGD"; }
  bool SkipsRowsWithoutGradient() const override { return true; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the SGD update over a parameter blob (history = V).
struct SgdUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float momentum;

  CAFFE_HOST_DEVICE void operator()(long long i) const { step(i, buffers.diff[i]); }
  // A row without gradient (update_rows): raw = 0 is not read from the diff.
  CAFFE_HOST_DEVICE void zero_gradient(long long i) const { step(i, 0.0f); }
  CAFFE_HOST_DEVICE void step(long long i, float raw) const {
    const float g = gradient(raw, buffers.weight[i]);
    const float velocity = momentum * buffers.history[i] + rate * g;
    buffers.history[i] = velocity;
    buffers.diff[i] = velocity;
    buffers.weight[i] -= velocity;
  }
};

}  // namespace caffe
