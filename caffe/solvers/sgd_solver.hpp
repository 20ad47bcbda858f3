#pragma once

#include "caffe/solvers/deferred_decay.hpp"
#include "caffe/solvers/solver.hpp"

namespace caffe {

// Stochastic gradient descent with momentum, in Caffe's form:
//   V ← momentum · V + lr · g,   W ← W − V,
// where g is the averaged (and clipped) gradient plus weight_decay × decay_mult × (W or sign W).
// With L2 decay, the rows a layer gives no gradient (Layer::ParamRowsWithGradient) take their
// steps late, in closed form (DeferredDecay), within each Step.
class SGDSolver : public Solver {
 public:
  explicit SGDSolver(const SolverParameter& param);
  const char* type() const override { return "SGD"; }
  bool SkipsRowsWithoutGradient() const override;

 protected:
  void UpdateParam(const ParamStep& step) override;
  void CatchUpRows(const GradientRows& rows) override;
  void SettleRows() override;
  void EndRows() override;

 private:
  DeferredDecay deferred_;
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
