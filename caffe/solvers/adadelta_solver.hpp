#pragma once

#include "caffe/solvers/solver.hpp"

namespace caffe {

// AdaDelta (Zeiler 2012), with the decay rho = momentum and epsilon = delta:
//   G ← rho · G + (1 − rho) · g²,
//   v = sqrt(U + delta) / sqrt(G + delta) · g,
//   U ← rho · U + (1 − rho) · v²,
//   W ← W − lr · v,
// lr = base_lr × lr_mult under the lr_policy (Zeiler's method has none: BVLC's examples use
// base_lr 1).  History as BVLC stores it: set 0 holds G (the squared gradients) for every
// parameter, set 1 holds U (the squared updates, before lr), so solverstates match.
class AdaDeltaSolver : public Solver {
 public:
  explicit AdaDeltaSolver(const SolverParameter& param);
  const char* type() const override { return "AdaDelta"; }

 protected:
  void UpdateParam(const ParamStep& step) override;
};

// One fused pass of the AdaDelta update over a parameter blob (history = G, history2 = U).
struct AdaDeltaUpdate {
  UpdateBuffers buffers;
  RegularizedGradient gradient;
  float rate;
  float delta;
  float rho;

  CAFFE_HOST_DEVICE void operator()(long long i) const {
    const float g = gradient(buffers.diff[i], buffers.weight[i]);
    const float squared_gradients = rho * buffers.history[i] + (1.0f - rho) * g * g;
    const float update = sqrtf((buffers.history2[i] + delta) / (squared_gradients + delta)) * g;
    const float step = rate * update;
    buffers.history[i] = squared_gradients;
    buffers.history2[i] = rho * buffers.history2[i] + (1.0f - rho) * update * update;
    buffers.diff[i] = step;
    buffers.weight[i] -= step;
  }
};

}  // namespace caffe
