#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// AdaGrad: per-element step sizes shrinking with the accumulated squared gradient:
//   H ← H + g²,   W ← W − lr · g / (sqrt(H) + delta).
class AdaGradSolver : public Solver {
 public:
  explicit AdaGradSolver(const SolverParameter& param);
  const char* type() const override { return "AdaGrad"; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the AdaGrad update over a parameter blob (history = H).
struct AdaGradUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float delta;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float squares = buffers.history[i] + g * g;
    const float step = rate * g / (sqrtf(squares) + delta);
    buffers.history[i] = squares;
    buffers.diff[i] = step;
    buffers.weight[i] -= step;
  }
};

}  // namespace caffe
