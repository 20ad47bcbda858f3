#include "caffe/solvers/rmsprop_solver.hpp"

namespace caffe {

RMSPropSolver::RMSPropSolver(const SolverParameter& param) : Solver(param) {
  RequireNoMomentum();
  RequireFraction("rms_decay", param_.rms_decay());
  AllocateHistory(1);
}

void RMSPropSolver::UpdateParam(const ParamStep& step) {
  run_update(mode(), learnable_param(step.param_id).count(),
             RMSPropUpdate{buffers(step.param_id), step.gradient, step.rate, param_.delta(),
                           param_.rms_decay()});
}

REGISTER_SOLVER("RMSProp", RMSPropSolver);

}  // namespace caffe
