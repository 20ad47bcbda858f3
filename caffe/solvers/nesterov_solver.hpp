#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// Nesterov's accelerated gradient, in Caffe's form: with V' = momentum · V + lr · g,
//   W ← W − ((1 + momentum) · V' − momentum · V),   V ← V'.
class NesterovSolver : public Solver {
 public:
  explicit NesterovSolver(const SolverParameter& param);
  const char* type() const override { return "Nesterov"; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the Nesterov update over a parameter blob (history = V).
struct NesterovUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float momentum;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float previous = buffers.history[i];
    const float velocity = momentum * previous + rate * g;
    const float step = (1.0f + momentum) * velocity - momentum * previous;
    buffers.history[i] = velocity;
    buffers.diff[i] = step;
    buffers.weight[i] -= step;
  }
};

}  // namespace caffe
