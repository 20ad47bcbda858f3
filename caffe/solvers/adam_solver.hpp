#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// Adam (Kingma & Ba), with beta1 = momentum, beta2 = momentum2, epsilon = delta:
//   M ← β1·M + (1−β1)·g,   V ← β2·V + (1−β2)·g²,
//   W ← W − lr · sqrt(1−β2^t)/(1−β1^t) · M / (sqrt(V) + delta),   t = iteration + 1.
class AdamSolver : public Solver {
 public:
  explicit AdamSolver(const SolverParameter& param);
  const char* type() const override { return "Adam"; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the Adam update over a parameter blob (history = M, history2 = V).
// `rate` already includes the bias correction.
struct AdamUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float delta;
  float beta1;
  float beta2;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float mean = beta1 * buffers.history[i] + (1.0f - beta1) * g;
    const float variance = beta2 * buffers.history2[i] + (1.0f - beta2) * g * g;
    const float step = rate * mean / (sqrtf(variance) + delta);
    buffers.history[i] = mean;
    buffers.history2[i] = variance;
    buffers.diff[i] = step;
    buffers.weight[i] -= step;
  }
};

}  // namespace caffe
