#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// RMSProp: steps scaled by a running mean of squared gradients:
//   H ← rms_decay · H + (1 − rms_decay) · g²,   W ← W − lr · g / (sqrt(H) + delta).
class RMSPropSolver : public Solver {
 public:
  explicit RMSPropSolver(const SolverParameter& param);
  const char* type() const override { return "RMSProp"; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the RMSProp update over a parameter blob (history = H).
struct RMSPropUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float delta;
  float rms_decay;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float mean_square = rms_decay * buffers.history[i] + (1.0f - rms_decay) * g * g;
    const float step = rate * g / (sqrtf(mean_square) + delta);
    buffers.history[i] = mean_square;
    buffers.diff[i] = step;
    buffers.weight[i] -= step;
  }
};

}  // namespace caffe
