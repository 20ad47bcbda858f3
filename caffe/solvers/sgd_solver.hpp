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

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the SGD update over a parameter blob (history = V).
struct SgdUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float momentum;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float velocity = momentum * buffers.history[i] + rate * g;
    buffers.history[i] = velocity;
    buffers.diff[i] = velocity;
    buffers.weight[i] -= velocity;
  }
};

}  // namespace caffe
