#include "caffe/solvers/adadelta_solver.hpp"

namespace caffe {

AdaDeltaSolver::AdaDeltaSolver(const SolverParameter& param) : Solver(param) {
  RequireFraction("momentum (the decay rho)", param_.momentum());
  if (!(param_.delta() > 0.0f)) {
    // The first update is sqrt(delta / (G + delta)) · g: with delta 0 no weight would ever move.
    fail("the AdaDelta solver needs delta > 0 (got ", param_.delta(), ")");
  }
  AllocateHistory(2);
}

void AdaDeltaSolver::UpdateParam(const ParamStep& step) {
  run_update(mode(), learnable_param(step.param_id).count(),
             AdaDeltaUpdate{buffers(step.param_id, /*second_set=*/true), step.gradient, step.rate,
                            param_.delta(), param_.momentum()});
}

REGISTER_SOLVER("AdaDelta", AdaDeltaSolver);

}  // namespace caffe
