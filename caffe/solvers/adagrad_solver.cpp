#include "caffe/solvers/adagrad_solver.hpp"

namespace caffe {

AdaGradSolver::AdaGradSolver(const SolverParameter& param) : Solver(param) {
  RequireNoMomentum();
  AllocateHistory(1);
}

void AdaGradSolver::UpdateParam(const ParamStep& step) {
  run_update(mode(), learnable_param(step.param_id).count(),
             AdaGradUpdate{buffers(step.param_id), step.gradient, step.rate, param_.delta()});
}

REGISTER_SOLVER("AdaGrad", AdaGradSolver);

}  // namespace caffe
